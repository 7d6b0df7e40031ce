"""Worst-case cost and latency of a rule's calls, exact (section 7).

A call to model m costs `input_tokens x m.input_per_mtok / 1e6 + cap x m.output_per_mtok / 1e6`
with `cap = min(rule cap, m.max_output)`. A failed call costs nothing, so a step costs the most
over the models its fallbacks can reach; a climb sums its steps. A step's latency is the longest
sum of latencies along a path of its fallbacks; a climb sums its steps. Where `input_tokens` is
not declared, each model's context window bounds it.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from ..ir.policy import Model, Policy, Rule
from .solver import decimal_of

MILLION = 1_000_000


@dataclass(frozen=True)
class Part:
    """One step of a climb: the models along the fallback chain to the costliest, and its value."""

    chain: tuple[str, ...]
    value: Fraction

    @property
    def label(self) -> str:
        return "→".join(self.chain)


def cap_of(rule: Rule, model: Model) -> int:
    return model.max_output if rule.cap is None else min(rule.cap, model.max_output)


def call_cost(rule: Rule, model: Model, tokens: int | None) -> Fraction:
    """One call's price; `tokens=None` means input_tokens is not declared: the context bounds it."""
    tokens = model.context if tokens is None else tokens
    return (Fraction(tokens) * Fraction(model.input_per_mtok)
            + Fraction(cap_of(rule, model)) * Fraction(model.output_per_mtok)) / MILLION


def chains(policy: Policy, start: str) -> dict[str, tuple[str, ...]]:
    """Every model reachable from `start` through fallbacks, with the shortest chain to it."""
    found = {start: (start,)}
    queue = [start]
    while queue:
        current = queue.pop(0)
        for target in policy.fallback_targets(current):
            if target not in found:
                found[target] = found[current] + (target,)
                queue.append(target)
    return found


def step_cost(policy: Policy, rule: Rule, step: str, tokens: int | None) -> Part:
    best: Part | None = None
    for name, chain in chains(policy, step).items():
        value = call_cost(rule, policy.model(name), tokens)
        if best is None or value > best.value:
            best = Part(chain, value)
    return best


def climb_cost(policy: Policy, rule: Rule, steps: tuple[str, ...], tokens: int | None) -> tuple[Fraction, list[Part]]:
    parts = [step_cost(policy, rule, step, tokens) for step in steps]
    return sum((p.value for p in parts), Fraction(0)), parts


def most_tokens_within(policy: Policy, rule: Rule, steps: tuple[str, ...], bound: Fraction) -> int | None:
    """The most input_tokens the climb can read and still cost at most `bound` (-1: not even 0
    tokens fit); None when no number of tokens is too many (every input price is zero)."""
    def cost(x: int) -> Fraction:
        return climb_cost(policy, rule, steps, x)[0]

    if cost(0) > bound:
        return -1
    if cost(1) == cost(0) and all(policy.model(m).input_per_mtok == 0
                                  for s in steps for m in chains(policy, s)):
        return None
    low, high = 0, 1
    while cost(high) <= bound:
        low, high = high, high * 2
    while high - low > 1:  # cost(low) <= bound < cost(high)
        middle = (low + high) // 2
        if cost(middle) <= bound:
            low = middle
        else:
            high = middle
    return low


def largest_cap_within(policy: Policy, rule: Rule, steps: tuple[str, ...], tokens: int | None,
                       bound: Fraction) -> int | None:
    """The largest `with max_output` that would keep the climb within `bound`, if any."""
    def cost(cap: int) -> Fraction:
        return climb_cost(policy, rule.model_copy(update={"cap": cap}), steps, tokens)[0]

    top = max(policy.model(m).max_output for s in steps for m in chains(policy, s))
    if cost(1) > bound:
        return None
    low, high = 1, top
    if cost(high) <= bound:
        return high
    while high - low > 1:
        middle = (low + high) // 2
        if cost(middle) <= bound:
            low = middle
        else:
            high = middle
    return low


def step_latency(policy: Policy, step: str) -> Part | None:
    """The longest chain of failures and its total latency; None where fallbacks loop (E307)."""
    memo: dict[str, Part | None] = {}

    def longest(model: str, visiting: frozenset) -> Part | None:
        if model in visiting:
            return None
        if model in memo:
            return memo[model]
        own = Fraction(policy.model(model).latency)
        best = Part((model,), own)
        for target in policy.fallback_targets(model):
            rest = longest(target, visiting | {model})
            if rest is None:
                memo[model] = None
                return None
            if own + rest.value > best.value:
                best = Part((model, *rest.chain), own + rest.value)
        memo[model] = best
        return best

    return longest(step, frozenset())


def money(value: Fraction) -> str:
    """$0.344, $0.50, $12.00: exact, at least cents."""
    d = decimal_of(value)
    if d is None:
        d = Decimal(value.numerator) / Decimal(value.denominator)
    d = d.normalize()
    if d.as_tuple().exponent > -2:
        d = d.quantize(Decimal("0.01"))
    return f"${format(d, 'f')}"


def seconds(value: Fraction) -> str:
    d = decimal_of(value) or Decimal(float(value))
    return f"{format(d.normalize(), 'f')}s"
