"""Section 7 invariants: for every request satisfying an invariant's `when`, every model that may
serve it (target, cascade steps, their fallbacks) must satisfy `require`; else E304 with the
witness and the model.
"""

from __future__ import annotations

from ..analysis.encode import Z3OnFirstUse, as_bool
from ..analysis.costs import model_named
from ..analysis.facts import Facts, WitnessMismatch
from ..analysis.solver import NoDouble
from ..ir.boxes import hull, meet
from ..codes import E304
from ..diagnostics import Diagnostic, Related, diagnostic
from typing import TYPE_CHECKING, Any

from ..ir.policy import Invariant, Model, Rule

if TYPE_CHECKING:
    import z3
else:
    z3 = Z3OnFirstUse(globals())  # loaded by the first question the boxes leave to the solver


def check_invariants(facts: Facts) -> list[Diagnostic]:
    """E304 for each invariant, rule and model that may serve (a step the climb reaches, or a
    fallback of one) where some request the invariant applies to reaches a model that breaks
    `require`: once per rule and model, with a witness replayed through the engine."""
    found: list[Diagnostic] = []
    for invariant in facts.policy.invariants:
        when = (as_bool(facts.encoder.encode(invariant.condition)),) if invariant.condition is not None else ()
        scope = hull(invariant.condition) if invariant.condition is not None else {}
        for rule in facts.routed:
            index = facts.rule_index(rule)
            box = facts.hulls[index] if index is not None else facts.domain
            if meet(box, scope) is None:
                continue
            climb = facts.climb(rule)
            reported: set[str] = set()
            for k, step in enumerate(climb.steps):
                if not climb.reachable[k]:
                    continue
                for name in facts.serving(step):
                    if name in reported:
                        continue
                    model = model_named(facts.policy, name)
                    requirement = facts.encoder.encode(invariant.requirement, model=model)
                    if requirement is True:
                        continue
                    broken = z3.Not(requirement) if not isinstance(requirement, bool) else z3.BoolVal(True)
                    region = (*climb.regions[k], *when, broken)
                    try:
                        witness = facts.witness(*region, steps=k)
                    except NoDouble:
                        continue  # only a float no request can carry breaks it
                    if witness is None:
                        continue
                    _, path = facts.replay(witness, rule, steps=k)
                    holds_when = invariant.condition is None or facts.holds_for(invariant.condition, witness)
                    if path[-1] != step or not holds_when or facts.holds_for(invariant.requirement, witness, model):
                        raise WitnessMismatch(f"witness {witness} does not break invariant {invariant.name} on {name}")
                    reported.add(name)
                    found.append(_finding(facts, invariant, rule, step, model, witness))
    return found


def _finding(facts: Facts, invariant: Invariant, rule: Rule, step: str, model: Model,
             witness: dict[str, Any]) -> Diagnostic:
    role = f"'{model.name}'" if model.name == step else f"'{model.name}' (a fallback of '{step}')"
    return diagnostic(
        E304,
        f"invariant {invariant.name} fails: rule {rule.name} may send requests to {role}, for which "
        f"`{facts.text(invariant.requirement.span)}` is false",
        rule.span,
        witness=witness,
        related=[Related(message=f"invariant {invariant.name}", span=invariant.span),
                 Related(message=f"model '{model.name}'", span=model.span)],
        help="route these requests to models that satisfy the invariant, and give those models fallbacks that do too",
    )
