"""Section 7 context windows: a model that may serve a request (a rule's target, a step of its
cascade, or a fallback of those) whose input_tokens can exceed its context window is E303.
"""

from __future__ import annotations

from typing import Any

from ..analysis.costs import model_named
from ..analysis.facts import Facts, WitnessMismatch
from ..analysis.solver import NoDouble
from ..codes import E303
from ..diagnostics import Diagnostic, Related, diagnostic
from ..ir.boxes import Interval
from ..ir.policy import Model, Rule


def check_context(facts: Facts) -> list[Diagnostic]:
    """E303 for each model that may serve some request (at a step the climb reaches, or as a
    fallback of one) with more input_tokens than its context window: once per rule and model,
    at the most tokens the rule lets through, with a witness replayed through the engine."""
    if not facts.has_input_tokens:
        return []  # each model's context bounds input_tokens by definition (section 4)
    found: list[Diagnostic] = []
    tokens = facts.encoder.var("input_tokens")
    for rule in facts.routed:
        climb = facts.climb(rule)
        index = facts.rule_index(rule)
        box = facts.hulls[index] if index is not None else facts.domain
        reach = box.get("input_tokens") if box else None
        assert reach is None or isinstance(reach, Interval)  # input_tokens is a number
        reported: set[str] = set()
        known, upper = facts.tokens_upper(rule)
        for k, step in enumerate(climb.steps):
            if not climb.reachable[k]:
                continue
            for name in facts.serving(step):
                model = model_named(facts.policy, name)
                if name in reported or (reach is not None and reach.high is not None and reach.high <= model.context):
                    continue
                if k == 0 and known and upper is not None and upper <= model.context:
                    continue  # exact boxes: nothing this rule takes exceeds the window
                region = (*climb.regions[k], tokens > model.context)
                if not facts.solver.satisfiable(*region):
                    continue
                most = facts.solver.maximum(tokens, *region)
                top = int(most) if most is not None else None
                pinned = (tokens == top,) if top is not None else ()
                try:
                    witness = facts.witness(*region, *pinned, steps=k)
                except NoDouble:
                    continue  # only a float no request can carry reaches it
                if witness is None:
                    raise WitnessMismatch(f"no witness where the solver found {name} past its context")
                _, path = facts.replay(witness, rule, steps=k)
                if path[-1] != step or witness["input_tokens"] <= model.context:
                    raise WitnessMismatch(f"witness {witness} does not reach {name} past its context")
                reported.add(name)
                found.append(_finding(rule, step, model, witness, top))
    return found


def _finding(rule: Rule, step: str, model: Model, witness: dict[str, Any], top: int | None) -> Diagnostic:
    role = f"'{model.name}'" if model.name == step else f"'{model.name}' (a fallback of '{step}')"
    if top is None:
        what = (f"rule {rule.name} may send any number of input_tokens to {role}: input_tokens has no "
                f"upper limit where the rule fires, and its context window is {model.context:,} tokens")
        help = (f"declare a range for input_tokens, or send inputs over {model.context:,} tokens elsewhere "
                "with a rule above")
    else:
        what = (f"rule {rule.name} may send input_tokens = {top:,} to {role}, whose context window is "
                f"{model.context:,} tokens")
        help = f"send inputs over {model.context:,} tokens elsewhere with a rule above"
        if model.name != step:
            help += f", or give '{step}' a fallback with a larger context window"
    return diagnostic(E303, what, rule.span, witness=witness,
                      related=[Related(message=f"model '{model.name}'", span=model.span)], help=help)
