"""The analyses of sections 6 and 7, in the order they run: a new check is one module and one
line in `ANALYSES`. Each is `Facts -> list[Diagnostic]` and asks the policy's shared `Facts`.

The pipeline imports this module only to analyse; z3 loads with the first question the boxes
leave to the solver, the interpreter with the first witness replayed.
"""

from __future__ import annotations

from collections.abc import Callable

from ..analysis.facts import Facts, ReplayEngine, WitnessMismatch
from ..analysis.solver import SolverError, Undecided
from ..codes import E900, E901
from ..diagnostics import Diagnostic, diagnostic
from ..ir.policy import CheckedPolicy
from ..progress import report
from ..source import Source
from .budgets import check_budgets
from .cascades import check_cascades
from .context import check_context
from .fallbacks import check_fallbacks
from .invariants import check_invariants
from .rules import check_rules

Analysis = Callable[[Facts], list[Diagnostic]]

_CHECKS = {
    "check_fallbacks": "fallbacks (E307, E308)", "check_cascades": "cascades (W206, W306)",
    "check_rules": "rules (W201-W205)", "check_context": "context windows (E303)",
    "check_budgets": "budgets (E301, E302)", "check_invariants": "invariants (E304)",
}
"""What each analysis checks, for E901's message."""

ANALYSES: tuple[Analysis, ...] = (
    check_fallbacks,  # E307, E308
    check_cascades,  # W206, W306
    check_rules,  # W201, W202, W203, E204, W205
    check_context,  # E303
    check_budgets,  # E301, E302
    check_invariants,  # E304
)


def _interpreter(policy: CheckedPolicy) -> ReplayEngine:
    """The interpreter that replays witnesses, imported when the first one is replayed: a
    policy with no finding never loads it."""
    from ..backends.python.interpreter import Interpreter

    return Interpreter(policy)


def run_analyses(policy: CheckedPolicy, sources: dict[str, Source], *, warnings: bool = True) -> list[Diagnostic]:
    """Every finding of `ANALYSES` (only errors with `warnings=False`); witnesses are replayed
    through the interpreter, which works on a policy with errors too. A checker bug is E900,
    and the other checks' findings stand."""
    facts = Facts(policy, sources, _interpreter, warnings=warnings)
    found: list[Diagnostic] = []
    for analysis in ANALYSES:
        report(analysis.__name__.removeprefix("check_"))  # the stage; rules also counts its rules
        try:
            found += analysis(facts)
        except Undecided as exc:  # --timeout: said where, and the other checks go on
            found.append(diagnostic(
                E901, f"{_CHECKS.get(analysis.__name__, analysis.__name__)} not decided in time: the solver stopped "
                      f"at a question about this condition ({exc})", exc.span or policy.span,
                help="raise --timeout, or simplify the condition; the other checks' findings stand",
            ))
        except (WitnessMismatch, SolverError) as exc:  # a checker bug: say so, never guess
            found.append(diagnostic(
                E900, f"internal checker error in {analysis.__name__}: {exc}", policy.span,
                help="please report this with the policy; the other checks' findings stand",
            ))
    return found if warnings else [d for d in found if d.is_error]
