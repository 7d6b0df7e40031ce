"""Section 7 budgets: each rule's worst-case cost (E301) and latency (E302) under each budget's
`when`, over every step its cascade can reach there. The breakdown names each step's costliest
model along its fallbacks, and the witness is replayed before it is reported.
"""

from __future__ import annotations

from fractions import Fraction

from ..analysis import costs
from ..analysis.encode import Z3Term, as_bool
from ..analysis.facts import Facts, Terms, WitnessMismatch
from ..analysis.solver import NoDouble
from ..ir.boxes import Box, hull, meet
from ..codes import E301, E302
from ..diagnostics import Diagnostic, Related, diagnostic
from ..ir.policy import Budget, Rule


def check_budgets(facts: Facts) -> list[Diagnostic]:
    """For each budget and each rule that sends requests to a model: E301 when the climb's
    worst-case cost can exceed the bound where the budget applies, E302 when its latency can;
    each with a witness replayed through the engine and, for cost, the fixes that would do."""
    found: list[Diagnostic] = []
    for budget in facts.policy.budgets:
        when = (as_bool(facts.encoder.encode(budget.condition)),) if budget.condition is not None else ()
        for rule in facts.routed:
            check = _cost if budget.metric == "cost" else _latency
            finding = check(facts, rule, budget, when)
            if finding is not None:
                found.append(finding)
    return found


def _costs(facts: Facts, rule: Rule, steps: tuple[str, ...], bound: Fraction) -> tuple[costs.StepCosts, int | None]:
    """(the climb's costs, the most input_tokens within `bound`), shared by rules that send
    requests the same way (a thousand tenant rules use a handful of models and caps)."""
    key = ("costs", steps, rule.cap, bound)
    found: tuple[costs.StepCosts, int | None] | None = facts.memo.get(key)
    if found is None:
        prefix = costs.StepCosts(facts.policy, rule, steps)
        found = facts.memo[key] = (prefix, prefix.most_tokens_within(bound))
    return found


def _reached(facts: Facts, rule: Rule, budget: Budget, when: Terms) -> list[int]:
    """The steps the climb reaches somewhere the budget applies, as prefix lengths - 1."""
    climb = facts.climb(rule)
    index = facts.rule_index(rule)
    box = facts.hulls[index] if index is not None else facts.domain
    if budget.condition is not None and meet(box, hull(budget.condition)) is None:
        return []
    return [k for k in range(len(climb.steps))
            if climb.reachable[k] and facts.solver.satisfiable(*climb.regions[k], *when)]


def _where(facts: Facts, budget: Budget) -> str:
    return f" for requests where {facts.text(budget.condition.span)}" if budget.condition is not None else ""


def _related(budget: Budget) -> list[Related]:
    return [Related(message="the budget", span=budget.span)]


# ---- cost -------------------------------------------------------------------------------------


def _cost(facts: Facts, rule: Rule, budget: Budget, when: Terms) -> Diagnostic | None:
    bound = Fraction(budget.bound)
    policy, climb = facts.policy, facts.climb(rule)
    declared = facts.encoder.has_input_tokens
    full, _ = _costs(facts, rule, climb.steps, bound)
    ceiling = facts.tokens_bound(rule)
    if not declared or ceiling is not None:  # cheap first: the whole ladder at the hull's bound
        if full.total(int(ceiling) if declared and ceiling is not None else None) <= bound:
            return None
    if budget.condition is not None and meet(_box(facts, rule), hull(budget.condition)) is None:
        return None
    tokens: Z3Term = facts.encoder.var("input_tokens") if declared else None
    worst: tuple[Fraction | None, int, int | None] | None = None  # (cost or None when unbounded, k, input_tokens at the worst)
    for k in range(len(climb.steps)):
        if not climb.reachable[k]:
            break
        prefix, limit = _costs(facts, rule, climb.steps[: k + 1], bound)
        if not declared:
            value = prefix.total(None)
            region = (*climb.regions[k], *when)
            if value > bound and facts.solver.satisfiable(*region) and \
                    (worst is None or (worst[0] is not None and value > worst[0])):
                worst = (value, k, None)
            continue
        if limit is None:
            continue
        if k == 0:
            known, upper = facts.tokens_upper(rule, budget.condition)
            if known and upper is not None and upper <= limit:
                continue  # exact boxes: no request this rule takes is that long
        region = (*climb.regions[k], *when)
        if not facts.solver.satisfiable(*region, tokens > limit):
            continue
        top = facts.solver.maximum(tokens, *region)
        if top is None:
            worst = (None, k, limit)
            break
        value = prefix.total(int(top))
        if worst is None or (worst[0] is not None and value > worst[0]):  # an unbounded worst ends the loop
            worst = (value, k, int(top))
    if worst is None:
        return None
    try:
        return _cost_finding(facts, rule, budget, when, bound, *worst)
    except NoDouble:
        return None  # only a float no request can carry costs that much


def _box(facts: Facts, rule: Rule) -> Box | None:
    index = facts.rule_index(rule)
    return facts.hulls[index] if index is not None else facts.domain


def _cost_finding(facts: Facts, rule: Rule, budget: Budget, when: Terms, bound: Fraction, value: Fraction | None,
                  k: int, top: int | None) -> Diagnostic:
    policy, climb = facts.policy, facts.climb(rule)
    steps = climb.steps[: k + 1]
    prefix = costs.StepCosts(policy, rule, steps)
    region = (*climb.regions[k], *when)
    declared = facts.encoder.has_input_tokens
    tokens: Z3Term = facts.encoder.var("input_tokens") if declared else None
    if value is None:  # unbounded: `top` holds the limit, and any request past it shows it
        witness = facts.witness(*region, tokens > top, steps=k)
    else:
        witness = facts.witness(*region, *((tokens == top,) if top is not None else ()), steps=k)
    if witness is None:
        raise WitnessMismatch(f"no witness where the solver found rule {rule.name} over the budget")
    facts.replay(witness, rule, steps=k)
    if value is None:
        return diagnostic(
            E301,
            f"rule {rule.name} has no bounded cost: input_tokens has no upper limit where it fires"
            f"{_where(facts, budget)}, so it may exceed the budget {costs.money(bound)}",
            rule.span, witness=witness, related=_related(budget),
            help="declare a range for input_tokens (int in 0..200_000), or reject long inputs with a rule above",
        )
    replayed = prefix.total(witness["input_tokens"] if declared else None)
    if replayed != value or replayed <= bound:
        raise WitnessMismatch(f"witness {witness} costs {replayed}, not {value}")
    breakdown = " + ".join(f"{p.label} {costs.money(p.value)}" for p in prefix.parts(top if declared else None))
    at = f" at input_tokens = {top}" if declared else " at each model's full context window"
    return diagnostic(
        E301,
        f"rule {rule.name} may cost {costs.money(value)} ({breakdown}{at}) over the budget "
        f"{costs.money(bound)}{_where(facts, budget)}",
        rule.span, witness=witness, related=_related(budget),
        help=_cost_help(facts, rule, prefix, steps, top if declared else None, bound),
    )


def _cost_help(facts: Facts, rule: Rule, prefix: costs.StepCosts, steps: tuple[str, ...], top: int | None,
               bound: Fraction) -> str:
    policy = facts.policy
    fixes = []
    limit = prefix.most_tokens_within(bound) if top is not None else None
    if limit is not None and limit >= 0:
        fixes.append(f"bound input_tokens to {limit:,} with a rule above")
    cap = costs.largest_cap_within(policy, rule, steps, top, bound)
    if cap is not None:
        fixes.append(f"lower this rule's max_output to {cap:,}")
    fixes.append(f"raise the budget above {costs.money(bound)}" if not fixes else "")
    return ", or ".join(f for f in fixes if f)


# ---- latency ----------------------------------------------------------------------------------


def _latency(facts: Facts, rule: Rule, budget: Budget, when: Terms) -> Diagnostic | None:
    bound = Fraction(budget.bound)
    climb = facts.climb(rule)
    parts = [costs.step_latency(facts.policy, step) for step in climb.steps]
    reached = _reached(facts, rule, budget, when)
    violating = [k for k in reached if sum((p.value for p in parts[: k + 1]), Fraction(0)) > bound]
    if not violating:
        return None
    k = max(violating)  # latency only grows with each step
    taken = parts[: k + 1]
    total = sum((p.value for p in taken), Fraction(0))
    try:
        witness = facts.witness(*climb.regions[k], *when, steps=k)
    except NoDouble:
        return None  # only a float no request can carry climbs that far
    if witness is None:
        raise WitnessMismatch(f"no witness where the solver found rule {rule.name} over the budget")
    facts.replay(witness, rule, steps=k)
    breakdown = " + ".join(f"{p.label} {costs.seconds(p.value)}" for p in taken)
    return diagnostic(
        E302,
        f"rule {rule.name} may take {costs.seconds(total)} ({breakdown}) over the budget "
        f"{costs.seconds(bound)}{_where(facts, budget)}",
        rule.span, witness=witness, related=_related(budget),
        help="use faster models or fallbacks for these requests, climb fewer steps, or raise the budget",
    )
