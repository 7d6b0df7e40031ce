"""The checking pipeline: load, resolve, type-check, then the analyses, each a plain function.

`FRONT_END` turns text into a checked `Policy`; `ANALYSES` are `Policy -> list[Diagnostic]`
passes that run only on a policy with no syntax, name or type error (section 6). A new check
is one module and one line in `ANALYSES`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from ..analysis.facts import Facts, WitnessMismatch
from ..analysis.solver import SolverError
from ..diagnostics import Diagnostic, diagnostic, has_errors
from ..ir.policy import Policy
from ..source import Source
from .budgets import check_budgets
from .cascades import check_cascades
from .context import check_context
from .fallbacks import check_fallbacks
from .imports import Program, load
from .invariants import check_invariants
from .resolve import resolve
from .rules import check_rules
from .typecheck import typecheck

Analysis = Callable[[Facts], list[Diagnostic]]

ANALYSES: tuple[Analysis, ...] = (
    check_fallbacks,  # E307
    check_cascades,  # W206, W306
    check_rules,  # W201, W202, W203, E204, W205
    check_context,  # E303
    check_budgets,  # E301, E302
    check_invariants,  # E304
)
"""Section 6 and 7 checks, in the order they run; each asks the shared `Facts` of the policy."""


@dataclass
class Checked:
    """What checking a policy found: the policy (None when it has front-end errors) and the findings."""

    policy: Policy | None
    diagnostics: list[Diagnostic]
    sources: dict[str, Source]

    @property
    def ok(self) -> bool:
        return not has_errors(self.diagnostics)


@contextmanager
def recursion_headroom(limit: int = 20_000) -> Iterator[None]:
    """Expressions may nest 1,000 levels (syntax/parser.py); the passes recurse over them."""
    before = sys.getrecursionlimit()
    sys.setrecursionlimit(max(before, limit))
    try:
        yield
    finally:
        sys.setrecursionlimit(before)


def check(source: Source, decode_error: Diagnostic | None = None, *, analyze: bool = True) -> Checked:
    """Every check on one top-level file and what it imports."""
    with recursion_headroom():
        program = load(source, decode_error)
        if has_errors(program.diagnostics):  # syntax errors: names and types would only echo them
            return _done(None, program.diagnostics, program)
        resolution = resolve(program)
        policy, type_errors = typecheck(resolution)
        diagnostics = program.diagnostics + resolution.diagnostics + type_errors
        if policy is None or not analyze or has_errors(diagnostics):
            return _done(policy, diagnostics, program)
        diagnostics += analyze_policy(policy, program.sources)
        return _done(policy, diagnostics, program)


def analyze_policy(policy: Policy, sources: dict[str, Source]) -> list[Diagnostic]:
    """Every analysis of sections 6 and 7 on a policy that has no front-end error."""
    facts = Facts(policy, sources)
    found: list[Diagnostic] = []
    for analysis in ANALYSES:
        try:
            found += analysis(facts)
        except (WitnessMismatch, SolverError) as exc:  # a checker bug: say so, never guess
            found.append(diagnostic(
                "E900", f"internal checker error in {analysis.__name__}: {exc}", policy.span,
                help="please report this with the policy; the other checks' findings stand",
            ))
    return found


def _done(policy: Policy | None, diagnostics: list[Diagnostic], program: Program) -> Checked:
    order = {unit.name: i for i, unit in enumerate(program.units)}
    unique = {(d.code, d.span.file, d.span.start, d.message): d for d in diagnostics}
    ranked = sorted(unique.values(), key=lambda d: (order.get(d.span.file, len(order)), d.span.start, d.code))
    return Checked(policy, ranked, program.sources)
