"""Worst-case cost and latency of a rule's calls, exact (section 7).

A call to model m costs `input_tokens x m.input_per_mtok / 1e6 + cap x m.output_per_mtok / 1e6`
with `cap = rule.cap_for(m)`, min(rule cap, m.max_output). A failed call costs nothing, so a
step costs the most over the models its fallbacks can reach; a climb sums its steps. A step's latency is the longest
sum of latencies along a path of its fallbacks; a climb sums its steps. Where `input_tokens` is
not declared, each model's context window bounds it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from ..ir.policy import CheckedPolicy, Model, Rule
from ..ir.values import decimal_of

MILLION = 1_000_000


@dataclass(frozen=True)
class Part:
    """One step of a climb: the models along the fallback chain to the costliest, and its value."""

    chain: tuple[str, ...]
    value: Fraction

    @property
    def label(self) -> str:
        """The chain as a message shows it: `fast→frontier`."""
        return "→".join(self.chain)


_GRAPH: tuple[object, dict[str, tuple[str, ...]]] = ((), {})
"""The fallback graph of the policy asked about last, by the identity of its fallbacks."""


def fallback_targets(policy: CheckedPolicy, model: str) -> tuple[str, ...]:
    """`policy.fallback_targets(model)` from a table built once per policy, not a scan of every
    fallback at each call (a policy of 1,000 models in a fallback tree asks thousands of times)."""
    global _GRAPH
    fallbacks, graph = _GRAPH
    if fallbacks is not policy.fallbacks:
        graph = {}
        for f in policy.fallbacks:
            targets = graph.get(f.source, ())
            if f.target not in targets:
                graph[f.source] = (*targets, f.target)
        _GRAPH = (policy.fallbacks, graph)
    return graph.get(model, ())


_MODELS: tuple[object, dict[str, Model]] = ((), {})
"""The models of the policy asked about last, by name, by the identity of its model list."""


def model_named(policy: CheckedPolicy, name: str) -> Model:
    """`policy.model(name)` from a table built once per policy, not a scan of every model."""
    global _MODELS
    models, table = _MODELS
    if models is not policy.models:
        table = {}
        for m in policy.models:
            table.setdefault(m.name, m)  # the first declared, as policy.model finds it
        _MODELS = (policy.models, table)
    found = table.get(name)
    return found if found is not None else policy.model(name)  # StopIteration as it says


def fallback_closure(policy: CheckedPolicy, model: str) -> list[str]:
    """`policy.fallback_closure(model)`, over `fallback_targets`: every model that can serve when
    `model` fails, nearest first, each once, `model` itself never."""
    seen: list[str] = []
    queue = list(fallback_targets(policy, model))
    while queue:
        current = queue.pop(0)
        if current != model and current not in seen:
            seen.append(current)
            queue.extend(fallback_targets(policy, current))
    return seen


def chains(policy: CheckedPolicy, start: str) -> dict[str, tuple[str, ...]]:
    """Every model reachable from `start` through fallbacks, with the shortest chain to it."""
    found: dict[str, tuple[str, ...]] = {start: (start,)}
    queue = [start]
    while queue:
        current = queue.pop(0)
        for target in fallback_targets(policy, current):
            if target not in found:
                found[target] = found[current] + (target,)
                queue.append(target)
    return found


@dataclass(frozen=True)
class Option:
    """One model that may answer for a step: its cost is `per_token x tokens + fixed`."""

    chain: tuple[str, ...]
    per_token: Fraction
    fixed: Fraction
    context: int


class StepCosts:
    """The cost of each step of a climb as a function of input_tokens, precomputed.

    Prices are decimals, so every cost is an integer number of `1 / scale` dollars: the searches
    below run on integers, exactly.
    """

    def __init__(self, policy: CheckedPolicy, rule: Rule, steps: tuple[str, ...]) -> None:
        self.steps = [
            [Option(chain, Fraction(m.input_per_mtok) / MILLION,
                    Fraction(rule.cap_for(m)) * Fraction(m.output_per_mtok) / MILLION, m.context)
             for name, chain in chains(policy, step).items()
             for m in (model_named(policy, name),)]
            for step in steps
        ]
        self.scale = 1
        for options in self.steps:
            for o in options:
                self.scale = math.lcm(self.scale, o.per_token.denominator, o.fixed.denominator)
        self._scaled = [[(int(o.per_token * self.scale), int(o.fixed * self.scale)) for o in options]
                        for options in self.steps]
        self._totals: dict[int | None, Fraction] = {}

    def _scaled_total(self, tokens: int) -> int:
        return sum(max(p * tokens + f for p, f in options) for options in self._scaled)

    def parts(self, tokens: int | None) -> list[Part]:
        """Each step's costliest option; `tokens=None`: each model's context bounds input_tokens."""
        out = []
        for options in self.steps:
            best = max(options, key=lambda o: o.per_token * (o.context if tokens is None else tokens) + o.fixed)
            x = best.context if tokens is None else tokens
            out.append(Part(best.chain, best.per_token * x + best.fixed))
        return out

    def total(self, tokens: int | None) -> Fraction:
        """The climb's worst-case cost at `tokens` input tokens (None: each context window);
        remembered per `tokens` (the rules sending requests one way share a StepCosts)."""
        found = self._totals.get(tokens)
        if found is None:
            found = self._totals[tokens] = sum((p.value for p in self.parts(tokens)), Fraction(0))
        return found

    def most_tokens_within(self, bound: Fraction) -> int | None:
        """The most input_tokens that keep the climb within `bound` (-1: not even 0 do); None
        when no number of tokens is too many (every input price is zero)."""
        limit = math.floor(bound * self.scale)  # an integer total fits iff it is <= floor(bound x scale)
        within = self._scaled_total
        if within(0) > limit:
            return -1
        if all(p == 0 for options in self._scaled for p, _ in options):
            return None
        return largest(lambda x: within(x) <= limit, 0)


def largest_cap_within(policy: CheckedPolicy, rule: Rule, steps: tuple[str, ...], tokens: int | None,
                       bound: Fraction) -> int | None:
    """The largest `with max_output` that would keep the climb within `bound`, if any."""
    def cost(cap: int) -> Fraction:
        return StepCosts(policy, rule.model_copy(update={"cap": cap}), steps).total(tokens)

    top = max(model_named(policy, m).max_output for s in steps for m in chains(policy, s))
    if cost(1) > bound:
        return None
    return largest(lambda cap: cap <= top and cost(cap) <= bound, 1)


def largest(fits: Callable[[int], bool], low: int) -> int:
    """The largest integer from `low` up that `fits`, for a `fits` true at `low` that turns
    false somewhere above it and stays false: doubling, then bisection."""
    high = low + 1
    while fits(high):
        low, high = high, high * 2
    while high - low > 1:  # fits(low), not fits(high)
        middle = (low + high) // 2
        if fits(middle):
            low = middle
        else:
            high = middle
    return low


def step_latency(policy: CheckedPolicy, step: str) -> Part:
    """The longest chain of failures from `step` and its total latency (each failed call takes
    its model's full latency). A chain never calls a model twice: a caller walking fallbacks
    stops at a model it already tried (section 5), so loops (E307) end too."""
    def longest(model: str, tried: frozenset[str]) -> Part:
        own = Fraction(model_named(policy, model).latency)
        best = Part((model,), own)
        for target in fallback_targets(policy, model):
            if target in tried:
                continue
            rest = longest(target, tried | {target})
            if own + rest.value > best.value:
                best = Part((model, *rest.chain), own + rest.value)
        return best

    return longest(step, frozenset({step}))


def money(value: Fraction) -> str:
    """$0.344, $0.50, $12.00: exact, at least cents."""
    d = decimal_of(value)
    if d is None:
        d = Decimal(value.numerator) / Decimal(value.denominator)
    d = d.normalize()
    if int(d.as_tuple().exponent) > -2:  # finite: the exponent is an int
        d = d.quantize(Decimal("0.01"))
    return f"${format(d, 'f')}"


def seconds(value: Fraction) -> str:
    """2s, 0.25s: exact where the value is a decimal."""
    d = decimal_of(value) or Decimal(float(value))
    return f"{format(d.normalize(), 'f')}s"
