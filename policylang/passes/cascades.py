"""Section 7 cascades: an escalation to a lower tier (W306) and one that can never happen (W206),
each at its edge. The shape of a cascade (E305) is checked with the types."""

from __future__ import annotations

from ..analysis.encode import as_bool
from ..analysis.facts import Facts
from ..codes import W206, W306
from ..diagnostics import Diagnostic, diagnostic


def check_cascades(facts: Facts) -> list[Diagnostic]:
    """W306 for each edge that climbs to a lower tier, W206 for each whose condition no
    outcome can meet (outcomes within their declared domains)."""
    found: list[Diagnostic] = []
    policy = facts.policy
    facts.with_outcomes(0)  # the solver, and z3, only if a question needs them
    holds: dict[str, bool] = {}  # by the condition's term: a thousand cascades share a few thresholds
    for cascade in policy.cascades:
        for edge in cascade.edges:
            source, target = policy.model(edge.source), policy.model(edge.target)
            if target.tier < source.tier:
                found.append(diagnostic(
                    W306,
                    f"cascade {cascade.name} escalates from '{source.name}' (tier {source.tier}) down to "
                    f"'{target.name}' (tier {target.tier})",
                    edge.span,
                    help="a cascade climbs to stronger models; swap the steps, or use a fallback for failures",
                ))
            term = as_bool(facts.encoder.encode(edge.condition, step=0))
            shape = term.sexpr()
            if shape not in holds:
                holds[shape] = facts.solver.satisfiable(term)
            if not holds[shape]:
                found.append(diagnostic(
                    W206,
                    f"cascade {cascade.name} never escalates from '{source.name}' to '{target.name}': "
                    f"`{facts.text(edge.condition.span)}` can never hold",
                    edge.span,
                    help="fix the condition (outcomes have the domains they are declared with), or delete the edge",
                ))
    return found
