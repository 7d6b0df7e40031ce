"""policylang: LLM routing policies as checked programs.

The public API, and the only one: load a `.route` file, decide with either engine, escalate
through cascades, compile to a standalone module.

    import policylang
    policy = policylang.load("support_desk.route")      # raises PolicyError with diagnostics
    decision = policy.decide({"task": "classify", "input_tokens": 300})
    policy.escalate(decision, 0, {"confidence": 0.4})   # step 0 answered -> "mid"
    policy.fallback("fast", "unavailable")               # -> "backup", or None
    source = policy.to_python()

Each name below is imported on first use (PEP 562), so that `import policylang`, and a command
such as `policyc lint`, load only the parts they use: not the code generator and Jinja2 when
nothing is compiled, not the solver when nothing is analysed, not DuckDB when nothing is
simulated. `from policylang import load` works as always; the imports under TYPE_CHECKING give
type checkers the same names.
"""

from typing import TYPE_CHECKING

from ._version import __version__

if TYPE_CHECKING:
    from .authoring.format import format_source
    from .diagnostics import Diagnostic, Related
    from .linting import LintResult, lint
    from .policy import Decision, Policy, PolicyError, RequestError, load, loads
    from .simulation import simulate

_HOMES = {
    "Decision": "policy",
    "Diagnostic": "diagnostics",
    "LintResult": "linting",
    "Policy": "policy",
    "PolicyError": "policy",
    "Related": "diagnostics",
    "RequestError": "policy",
    "format_source": "authoring.format",
    "lint": "linting",
    "load": "policy",
    "loads": "policy",
    "simulate": "simulation",
}
"""Each public name and the module (under policylang) that defines it."""

__all__ = [  # written out, not derived from _HOMES, so that type checkers read it (the tests compare the two)
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
    """A public name, imported from its module on first use and kept here after that; or a
    subpackage (`policylang.authoring`), imported on first use as `import policylang` once
    imported some of them."""
    from importlib import import_module
    from importlib.util import find_spec

    home = _HOMES.get(name)
    if home is None:
        if name.isidentifier() and not name.startswith("__") and find_spec(f"{__name__}.{name}") is not None:
            return import_module(f"{__name__}.{name}")
        raise AttributeError(f"module 'policylang' has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The module's names, the public ones not yet imported included."""
    return sorted({*globals(), *_HOMES})
