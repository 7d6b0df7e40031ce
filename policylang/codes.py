"""The registry of diagnostic codes (docs/language.md section 8): each code's title, default severity,
and what every diagnostic of it carries (a witness request, a `help` line).

Passes name codes by these constants (`codes.W201`), never by bare strings, so a typo is an
import error; tests derive their sets from `CODES` instead of keeping copies.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Literal, get_args

DiagnosticCode = Literal[
    "E001", "E002", "E003", "E004", "E005", "E006", "E007", "E008", "E009", "E101", "E102", "E103",
    "E104", "E105", "E106", "E107", "E108", "E109", "E110", "E111", "E112", "W201", "W202", "W203",
    "E204", "W205", "W206", "E301", "E302", "E303", "E304", "E305", "W306", "E307", "E308", "E900",
    "E901",
]
"""The text of every registered diagnostic code: `Diagnostic.code` is one (the registry below
and this list are checked to agree when this module is imported)."""

RequestCodeText = Literal["R001", "R002", "R003", "R004"]
"""The text of a request error's code (section 5.2)."""


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Code:
    """One diagnostic code. `witness`: every diagnostic of it carries a witness request;
    `help`: every one carries a `help:` line with a fix."""

    code: DiagnosticCode
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
E901 = Code("E901", "not decided in time", _E, help=True)

CODES: dict[str, Code] = {c.code: c for c in (
    E001, E002, E003, E004, E005, E006, E007, E008, E009,
    E101, E102, E103, E104, E105, E106, E107, E108, E109, E110, E111, E112,
    W201, W202, W203, E204, W205, W206,
    E301, E302, E303, E304, E305, W306, E307, E308,
    E900, E901,
)}
"""Every code, by its text."""

if set(CODES) != set(get_args(DiagnosticCode)):
    raise ImportError(f"codes.py: DiagnosticCode and CODES disagree: {set(CODES) ^ set(get_args(DiagnosticCode))}")

ANALYSIS_CODES: tuple[Code, ...] = tuple(c for c in CODES.values() if c.code[1] in "23")
"""What the analyses of sections 6 and 7 may report (E305 and E308 included)."""


def lookup(code: str) -> Code:
    """The registered code with this text; KeyError for an unknown one."""
    return CODES[code]


@dataclass(frozen=True)
class RequestCode:
    """A request error's code (section 5.2): what `decide` and `escalate` raise, and the SQL
    target reports, for a request or an outcome object that does not fit the declared signals.
    Never a finding on a policy, so apart from `CODES`."""

    code: RequestCodeText
    title: str

    def __str__(self) -> str:
        return self.code


R001 = RequestCode("R001", "a required signal is missing")
R002 = RequestCode("R002", "a value has the wrong type, or the request is not a mapping")
R003 = RequestCode("R003", "a value lies outside its domain")
R004 = RequestCode("R004", "a key names no signal")

REQUEST_CODES: dict[str, RequestCode] = {c.code: c for c in (R001, R002, R003, R004)}
"""Every request error's code, by its text. The compiled modules spell these texts themselves
(standard library only: `backends/python/support.py` is copied into each)."""
