"""The parts of a diff report that `diff.py` and the climbs' comparison (`diff_climbs.py`) both
build: a route entry of one version, the logged traffic along one pair of entries, and the
error a witness that does not replay raises. Apart, so that neither module imports the other.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ..jsontext import decimal_text
from ..source import Span


class DiffError(RuntimeError):
    """A witness that would not replay as the change it stands for: a bug in diff, reported
    as such and never as a finding."""


@dataclass(frozen=True)
class Entry:
    """A route entry of one version: a rule, the default, or (no default) no rule at all."""

    rule: str | None
    span: Span | None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"rule": self.rule}
        if self.span is not None:
            out.update(file=self.span.file, line=self.span.line, column=self.span.column)
        return out

    @property
    def label(self) -> str:
        return "no rule" if self.rule is None else "default" if self.rule == "default" else f"rule {self.rule}"


@dataclass
class PairTraffic:
    """Logged requests that move along one pair, and what they cost before and after."""

    requests: int = 0
    cost_before: Decimal = Decimal(0)
    cost_after: Decimal = Decimal(0)

    def as_dict(self) -> dict[str, Any]:
        return {"requests": self.requests, "cost_before": decimal_text(self.cost_before.normalize()),
                "cost_after": decimal_text(self.cost_after.normalize())}
