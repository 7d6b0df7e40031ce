"""policylang: LLM routing policies as checked programs.

The public API, and the only one: load a `.route` file, decide with either engine, escalate
through cascades, compile to a standalone module.

    import policylang
    policy = policylang.load("support_desk.route")      # raises PolicyError with diagnostics
    decision = policy.decide({"task": "classify", "input_tokens": 300})
    policy.escalate(decision, 0, {"confidence": 0.4})   # step 0 answered -> "mid"
    policy.fallback("fast", "unavailable")               # -> "backup", or None
    source = policy.to_python()
"""

from typing import TYPE_CHECKING

from ._version import __version__
from .authoring.format import format_source
from .diagnostics import Diagnostic, Related
from .linting import LintResult, lint
from .policy import Decision, Policy, PolicyError, RequestError, load, loads

if TYPE_CHECKING:  # imported on first use, below: this gives it its type
    from .simulation import simulate

__all__ = [
    "__version__",
    "Decision",
    "Diagnostic",
    "LintResult",
    "Policy",
    "PolicyError",
    "Related",
    "RequestError",
    "format_source",
    "lint",
    "load",
    "loads",
    "simulate",
]


def __getattr__(name: str) -> object:
    """`policylang.simulate`, imported on first use (its engines load DuckDB only when run)."""
    if name == "simulate":
        from .simulation import simulate

        return simulate
    raise AttributeError(f"module 'policylang' has no attribute {name!r}")
