"""The registry of diagnostic codes (docs/language.md section 8): each code's title, default severity,
and what every diagnostic of it carries (a witness request, a `help` line).

Passes name codes by these constants (`codes.W201`), never by bare strings, so a typo is an
import error; tests derive their sets from `CODES` instead of keeping copies.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Code:
    """One diagnostic code. `witness`: every diagnostic of it carries a witness request;
    `help`: every one carries a `help:` line with a fix."""

    code: str
    title: str
    severity: Severity
    witness: bool = False
    help: bool = False

    @property
    def name(self) -> str:
        """A SARIF-style rule name: the title in PascalCase."""
        return "".join(word.capitalize() for word in self.title.replace("-", " ").split())

    @property
    def is_syntax(self) -> bool:
        """E001-E099."""
        return self.code.startswith("E0")

    @property
    def is_front_end(self) -> bool:
        """Syntax, names and types (E0xx, E1xx): what blocks the analyses."""
        return self.code[1] in "01"

    def __str__(self) -> str:
        return self.code


_E, _W = Severity.ERROR, Severity.WARNING

# syntax
E001 = Code("E001", "unexpected token", _E)
E002 = Code("E002", "unexpected character", _E)
E003 = Code("E003", "unterminated string", _E)
E004 = Code("E004", "bad literal", _E)
E005 = Code("E005", "unexpected end of file", _E)
E006 = Code("E006", "nesting too deep", _E, help=True)
E007 = Code("E007", "misplaced construct", _E)
E008 = Code("E008", "file is not UTF-8 text", _E, help=True)
E009 = Code("E009", "file cannot be read", _E)
# names and types
E101 = Code("E101", "unknown name", _E)
E102 = Code("E102", "duplicate name", _E)
E103 = Code("E103", "kind mismatch", _E)
E104 = Code("E104", "unknown enum member", _E)
E105 = Code("E105", "outcome outside a cascade", _E)
E106 = Code("E106", "import not found", _E)
E107 = Code("E107", "import cycle", _E, help=True)
E108 = Code("E108", "value outside a domain", _E)
E109 = Code("E109", "missing model field", _E, help=True)
E110 = Code("E110", "unknown model field", _E, help=True)
E111 = Code("E111", "cap above max_output", _E, help=True)
E112 = Code("E112", "route block count", _E)
# rule analysis
W201 = Code("W201", "rule never fires", _W, help=True)
W202 = Code("W202", "condition never holds", _W, help=True)
W203 = Code("W203", "default never fires", _W, help=True)
E204 = Code("E204", "request with no rule", _E, witness=True, help=True)
W205 = Code("W205", "redundant rule", _W, help=True)
W206 = Code("W206", "escalation never happens", _W, help=True)
# budgets, context, invariants, cascades, fallbacks
E301 = Code("E301", "cost over budget", _E, witness=True, help=True)
E302 = Code("E302", "latency over budget", _E, witness=True, help=True)
E303 = Code("E303", "context window exceeded", _E, witness=True, help=True)
E304 = Code("E304", "invariant violated", _E, witness=True, help=True)
E305 = Code("E305", "malformed cascade", _E)
W306 = Code("W306", "escalation to a lower tier", _W, help=True)
E307 = Code("E307", "fallback cycle", _E, help=True)
E308 = Code("E308", "two fallbacks for one error", _E, help=True)
# the checker itself
E900 = Code("E900", "internal checker error", _E, help=True)

CODES: dict[str, Code] = {c.code: c for c in (
    E001, E002, E003, E004, E005, E006, E007, E008, E009,
    E101, E102, E103, E104, E105, E106, E107, E108, E109, E110, E111, E112,
    W201, W202, W203, E204, W205, W206,
    E301, E302, E303, E304, E305, W306, E307, E308,
    E900,
)}
"""Every code, by its text."""

ANALYSIS_CODES: tuple[Code, ...] = tuple(c for c in CODES.values() if c.code[1] in "23")
"""What the analyses of sections 6 and 7 may report (E305 and E308 included)."""


def lookup(code: str) -> Code:
    """The registered code with this text; KeyError for an unknown one."""
    return CODES[code]
