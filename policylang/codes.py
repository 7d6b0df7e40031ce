"""The registry of diagnostic codes: each code's title and default severity (LANGUAGE.md §8)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Code:
    code: str
    title: str
    severity: Severity

    @property
    def name(self) -> str:
        """A SARIF-style rule name: the title in PascalCase."""
        return "".join(word.capitalize() for word in self.title.replace("-", " ").split())


_E, _W = Severity.ERROR, Severity.WARNING

CODES: dict[str, Code] = {
    c.code: c
    for c in (
        # syntax
        Code("E001", "unexpected token", _E),
        Code("E002", "unexpected character", _E),
        Code("E003", "unterminated string", _E),
        Code("E004", "bad literal", _E),
        Code("E005", "unexpected end of file", _E),
        Code("E006", "nesting too deep", _E),
        Code("E007", "misplaced construct", _E),
        Code("E008", "file is not UTF-8 text", _E),
        # names and types
        Code("E101", "unknown name", _E),
        Code("E102", "duplicate name", _E),
        Code("E103", "kind mismatch", _E),
        Code("E104", "unknown enum member", _E),
        Code("E105", "outcome outside a cascade", _E),
        Code("E106", "import not found", _E),
        Code("E107", "import cycle", _E),
        Code("E108", "value outside a domain", _E),
        Code("E109", "missing model field", _E),
        Code("E110", "unknown model field", _E),
        Code("E111", "cap above max_output", _E),
        Code("E112", "route block count", _E),
        # rule analysis
        Code("W201", "rule never fires", _W),
        Code("W202", "condition never holds", _W),
        Code("W203", "default never fires", _W),
        Code("E204", "request with no rule", _E),
        Code("W205", "redundant rule", _W),
        Code("W206", "escalation never happens", _W),
        # budgets, context, invariants, cascades, fallbacks
        Code("E301", "cost over budget", _E),
        Code("E302", "latency over budget", _E),
        Code("E303", "context window exceeded", _E),
        Code("E304", "invariant violated", _E),
        Code("E305", "malformed cascade", _E),
        Code("W306", "escalation to a lower tier", _W),
        Code("E307", "fallback cycle", _E),
        Code("E308", "two fallbacks for one error", _E),
        # the checker itself
        Code("E900", "internal checker error", _E),
    )
}


def lookup(code: str) -> Code:
    return CODES[code]
