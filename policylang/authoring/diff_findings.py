"""What `diff` says of the checker's findings (section 9.5, revision 3): every error and warning
the new version has that the old did not, with its code, location and message, so that a
pull request that breaks an invariant or a budget is seen where the change is reviewed.

A finding of NEW is new when OLD has no finding with the same code, severity and message (as
many times): locations are not compared, since an edit above a rule moves every line below
it, and a message names what it is about (the rule, the model, the invariant) without a line.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from ..diagnostics import Diagnostic, as_json_object
from ..passes import analyze_policy
from ..policy import Policy


@dataclass(frozen=True)
class Findings:
    """The findings NEW brings: `added` (in NEW's order), and how many errors and warnings NEW
    has in all (new or not)."""

    added: tuple[Diagnostic, ...]
    errors: int
    warnings: int

    @property
    def added_errors(self) -> int:
        """How many of the new findings are errors."""
        return sum(d.is_error for d in self.added)

    def as_dict(self) -> dict[str, Any]:
        return {"added": [as_json_object(d) for d in self.added], "errors_in_new": self.errors,
                "warnings_in_new": self.warnings}


def every_finding(policy: Policy) -> list[Diagnostic]:
    """Every finding `policyc lint` reports for a policy that loaded without front-end errors:
    those of loading (front-end warnings) and those of the analyses of sections 6 and 7, each
    once, in file order."""
    found = {d.identity: d for d in [*policy.diagnostics, *analyze_policy(policy.ir, dict(policy.sources))]}
    files = {name: i for i, name in enumerate(policy.sources)}
    return sorted(found.values(), key=lambda d: (files.get(d.span.file, len(files)), d.span.start, d.code))


def findings(old: Policy, new: Policy) -> Findings:
    """The findings NEW has and OLD has not (matched by code, severity and message, counting
    repeats), with NEW's totals. Guarantees: every finding of `policyc lint NEW` that
    `policyc lint OLD` does not also report is in `added`."""
    before = Counter(_identity(d) for d in every_finding(old))
    after = every_finding(new)
    added = []
    for d in after:
        key = _identity(d)
        if before[key] > 0:
            before[key] -= 1
        else:
            added.append(d)
    errors = sum(d.is_error for d in after)
    return Findings(tuple(added), errors, len(after) - errors)


def _identity(d: Diagnostic) -> tuple[str, str, str]:
    return (d.code, d.severity.value, d.message)
