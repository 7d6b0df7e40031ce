"""What `diff` reports beside decisions (section 9.5): each budget's worst case before and
after, as the checker's E301 and E302 reckon it (section 7), and what changed that no decision
shows (a model's fields, fallbacks, a cascade's conditions)."""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from decimal import Decimal
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from ..backends.python.interpreter import Interpreter
from ..ir.node import Node, node_fields
from ..ir.policy import Budget, CheckedPolicy, Model, Rule
from ..ir.values import decimal_of
from ..jsontext import decimal_text
from ..policy import Policy
from ..source import Source, Span

if TYPE_CHECKING:
    from ..analysis.facts import Facts


def shape(node: object) -> object:
    """An IR value without its source spans: two conditions written alike anywhere have one."""
    if isinstance(node, Node):
        return (type(node).__name__, tuple((name, shape(getattr(node, name)))
                                           for name in node_fields(type(node))))
    if isinstance(node, Model):  # a dataclass, not a Node (ir/policy.py says why)
        return ("Model", tuple((f.name, getattr(node, f.name)) for f in fields(node) if f.name != "span"))
    if isinstance(node, tuple):
        return tuple(shape(item) for item in node)
    return node


@dataclass(frozen=True)
class Worst:
    """A budget's worst case in one version: the value (None: unbounded), the rule where it
    happens (None: no request the budget applies to is served)."""

    value: Fraction | None
    rule: str | None
    bounded: bool = True

    def text(self, metric: str) -> str:
        if self.rule is None:
            return "nothing served"
        if not self.bounded:
            return f"unbounded (rule {self.rule})"
        assert self.value is not None
        return f"{amount(self.value, metric)} (rule {self.rule})"

    def as_dict(self, metric: str) -> dict[str, Any]:
        value = None if self.value is None or not self.bounded else _amount_plain(self.value, metric)
        return {"worst": value, "unbounded": not self.bounded and self.rule is not None, "rule": self.rule}


@dataclass(frozen=True)
class BudgetDiff:
    metric: str
    text: str
    """`cost <= $1 when sync`, as the source writes it (new's wording where both have it)."""
    bound_before: Decimal | None
    bound_after: Decimal | None
    before: Worst | None
    after: Worst | None
    """None: the version has no such budget."""

    def as_dict(self) -> dict[str, Any]:
        def bound(b: Decimal | None) -> str | None:
            return None if b is None else decimal_text(b)
        return {"metric": self.metric, "budget": self.text, "bound_before": bound(self.bound_before),
                "bound_after": bound(self.bound_after),
                "before": self.before.as_dict(self.metric) if self.before is not None else None,
                "after": self.after.as_dict(self.metric) if self.after is not None else None}


def budgets(old: Policy, new: Policy) -> list[BudgetDiff]:
    """Each budget of either version with its worst case in each (None where a version has no
    such budget); budgets match by metric and condition."""
    olds, news = _budget_keys(old), _budget_keys(new)
    if not olds and not news:
        return []
    old_facts = _facts(old)
    old_worst = {id(b): budget_worst_case(old_facts, b) for b in old.ir.budgets}
    if shape(_routing(old.ir)) == shape(_routing(new.ir)):  # the same policy: the same worst cases
        new_worst = {id(b): old_worst[id(twin)] for b, twin in zip(new.ir.budgets, old.ir.budgets)}
    else:
        new_facts = _facts(new)
        new_worst = {id(b): budget_worst_case(new_facts, b) for b in new.ir.budgets}
    found = []
    matched: set[int] = set()
    for key, budget in olds:
        twin = next((n for n, (k, _) in enumerate(news) if k == key and n not in matched), None)
        other = None
        if twin is not None:
            matched.add(twin)
            other = news[twin][1]
        found.append(BudgetDiff(budget.metric, _budget_text(new if other is not None else old, other or budget),
                                budget.bound, other.bound if other is not None else None,
                                old_worst[id(budget)], new_worst[id(other)] if other is not None else None))
    for n, (key, budget) in enumerate(news):
        if n not in matched:
            found.append(BudgetDiff(budget.metric, _budget_text(new, budget), None, budget.bound, None,
                                    new_worst[id(budget)]))
    return found


def _routing(ir: CheckedPolicy) -> tuple[Any, ...]:
    """What a budget's worst case depends on."""
    return (ir.signals, ir.models, ir.cascades, ir.fallbacks, ir.budgets, ir.rules, ir.default)


def _budget_keys(policy: Policy) -> list[tuple[tuple[str, str], Budget]]:
    """Budgets match across versions by metric and condition; the bound may change."""
    return [((b.metric, _text(policy.sources, b.condition.span) if b.condition is not None else ""), b)
            for b in policy.ir.budgets]


def _budget_text(policy: Policy, budget: Budget) -> str:
    bound = amount(Fraction(budget.bound), budget.metric)
    when = f" when {_text(policy.sources, budget.condition.span)}" if budget.condition is not None else ""
    return f"{budget.metric} <= {bound}{when}"


def condition_text(policy: Policy, condition: Node) -> str:
    """A condition as the policy's source writes it, on one line."""
    return _text(policy.sources, condition.span)


def _text(sources: dict[str, Source], span: Span) -> str:
    source = sources.get(span.file)
    return " ".join(source.text[span.start : span.end].split()) if source is not None else "?"


def _facts(policy: Policy) -> Facts:
    from ..analysis.facts import Facts

    return Facts(policy.ir, policy.sources, Interpreter, warnings=False)


def budget_worst_case(facts: Facts, budget: Budget) -> Worst:
    """The most any request the budget applies to can cost (or take), over every rule that
    serves it and every step its cascade can reach there, each step at its costliest
    fallback (section 7): exact, as E301 and E302 reckon it."""
    from ..analysis import costs
    from ..analysis.encode import as_bool

    when = (as_bool(facts.encoder.encode(budget.condition)),) if budget.condition is not None else ()
    declared = facts.encoder.has_input_tokens
    tokens = facts.encoder.var("input_tokens") if declared else None
    best: Worst = Worst(None, None)

    def upper_bound(rule: Rule) -> Fraction | None:
        """A bound from the hull alone (None: none known), to try the costliest rules first
        and skip those that cannot beat the worst found so far."""
        steps = facts.climb(rule).steps
        if budget.metric == "latency":
            return sum((costs.step_latency(facts.policy, s).value for s in steps), Fraction(0))
        ceiling = facts.tokens_bound(rule)
        if declared and ceiling is None:
            return None
        most = int(ceiling) if declared and ceiling is not None else None
        return costs.StepCosts(facts.policy, rule, steps).total(most)

    bounds = {id(rule): upper_bound(rule) for rule in facts.routed}
    order = sorted(facts.routed, key=lambda r: (bounds[id(r)] is not None, -(bounds[id(r)] or 0)))
    for rule in order:
        bound = bounds[id(rule)]
        if best.value is not None and bound is not None and bound <= best.value:
            continue
        climb = facts.climb(rule)
        for k in range(len(climb.steps)):
            if not climb.reachable[k]:
                break
            known, top = facts.tokens_upper(rule, budget.condition) if k == 0 and declared else (False, None)
            if known and top == -1:
                break  # exact boxes: the rule serves no request the budget applies to
            region = (*climb.regions[k], *when) if not known else ()
            if not known and not facts.solver.satisfiable(*region):
                continue
            steps = climb.steps[: k + 1]
            if budget.metric == "latency":
                value: Fraction | None = sum((costs.step_latency(facts.policy, s).value for s in steps), Fraction(0))
            elif not declared:
                value = costs.StepCosts(facts.policy, rule, steps).total(None)
            else:
                if not known:
                    top = facts.solver.maximum(tokens, *region)
                if top is None:
                    return Worst(None, rule.name, bounded=False)
                value = costs.StepCosts(facts.policy, rule, steps).total(int(top))
            if best.rule is None or (value is not None and best.value is not None and value > best.value):
                best = Worst(value, rule.name)
    return best


def amount(value: Fraction, metric: str) -> str:
    """A cost as the checker words it ($0.344, at least cents), a latency in seconds (23s)."""
    from ..analysis import costs

    return costs.money(value) if metric == "cost" else costs.seconds(value)


def _amount_plain(value: Fraction, metric: str) -> str:
    """A worst case as an exact decimal string (prices and latencies are decimals)."""
    exact = decimal_of(value)
    assert exact is not None, f"a worst case that is no decimal: {value}"
    return decimal_text(exact.normalize())


def notes(old: Policy, new: Policy) -> list[str]:
    """What changed that no decision shows, one line each, sorted."""
    notes = []
    olds, news = {m.name: m for m in old.ir.models}, {m.name: m for m in new.ir.models}
    for name in olds.keys() & news.keys():
        a, b = olds[name], news[name]
        changed = [f for f in ("id", "tier", "input_per_mtok", "output_per_mtok", "context", "max_output",
                               "latency", "regions", "tags") if getattr(a, f) != getattr(b, f)]
        for f in changed:
            notes.append(f"model {name}: {f} {_field_text(getattr(a, f), f)} -> {_field_text(getattr(b, f), f)}")
    links = {side: {(fb.source, error, fb.target) for fb in p.ir.fallbacks for error in fb.errors}
             for side, p in (("old", old), ("new", new))}
    for source, error, target in sorted(links["old"] - links["new"]):
        notes.append(f"fallback {source} -> {target} on {error} removed")
    for source, error, target in sorted(links["new"] - links["old"]):
        notes.append(f"fallback {source} -> {target} on {error} added")
    cascades_old = {c.name: c for c in old.ir.cascades}
    for cascade in new.ir.cascades:
        before = cascades_old.get(cascade.name)
        if before is None:
            continue
        for edge in cascade.edges:
            twin = next((x for x in before.edges if (x.source, x.target) == (edge.source, edge.target)), None)
            if twin is None:
                continue
            was, now = _text(old.sources, twin.condition.span), _text(new.sources, edge.condition.span)
            if was != now:
                notes.append(f"cascade {cascade.name}: {edge.source} -> {edge.target} when {was}  now  when {now}")
        if before.steps != cascade.steps:
            notes.append(f"cascade {cascade.name}: steps {' -> '.join(before.steps)}  now  {' -> '.join(cascade.steps)}")
    return sorted(notes)


def _field_text(value: Any, name: str) -> str:
    if name in ("input_per_mtok", "output_per_mtok"):
        return f"${value}"
    if name == "latency":
        return f"{value}s"
    if name == "regions" and value is None:
        return "anywhere"
    if isinstance(value, frozenset):
        return "{" + ", ".join(sorted(value)) + "}"
    if isinstance(value, str):
        return json.dumps(value)
    return str(value)
