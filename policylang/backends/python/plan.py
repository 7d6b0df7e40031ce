"""Facts both engines derive from a policy the same way: ladders, costs, decisions."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ...ir import expr as e
from ...ir.node import walk
from ...ir.policy import CascadeTarget, CheckedPolicy, Model, Rule
from ...ir.values import EXACT



@dataclass(frozen=True)
class Ladder:
    """What `escalate` needs for one rule: its steps, the edges between them, and the steps
    each model that can answer may stand for (its own step, and each step it is a fallback of)."""

    steps: tuple[str, ...]
    edges: tuple[e.Expr, ...]
    serves: dict[str, tuple[int, ...]]
    reads_signals: bool


def ladder(policy: CheckedPolicy, rule: Rule) -> Ladder:
    """The ladder of `rule`: no edges unless it sends to a cascade; every model that can answer
    a step (the step's own, and each in its fallback closure) maps to the steps it may stand for."""
    steps = policy.steps(rule)
    edges: tuple[e.Expr, ...] = ()
    if isinstance(rule.target, CascadeTarget):
        edges = tuple(edge.condition for edge in policy.cascade(rule.target.cascade).edges)
    serves: dict[str, list[int]] = {}
    for at, model in enumerate(steps):
        for answering in (model, *policy.fallback_closure(model)):
            if at not in serves.setdefault(answering, []):
                serves[answering].append(at)
    return Ladder(steps, edges, {m: tuple(at) for m, at in serves.items()}, any(reads_signals(x) for x in edges))


def serving_models(policy: CheckedPolicy) -> list[str]:
    """Every model that may serve some request: targets, cascade steps, their fallbacks."""
    found: list[str] = []
    for rule in policy.route:
        for step in policy.steps(rule):
            for model in [step, *policy.fallback_closure(step)]:
                if model not in found:
                    found.append(model)
    return found


def fallback_table(policy: CheckedPolicy) -> dict[str, dict[str, str]]:
    """FALLBACKS[model][error]: the model that serves when `model` fails with `error`; the
    first declared where two are (E308)."""
    table: dict[str, dict[str, str]] = {}
    for fb in policy.fallbacks:
        for error in fb.errors:
            table.setdefault(fb.source, {}).setdefault(error, fb.target)
    return table


def narrow_number(value: Any) -> Any:
    """A finite Decimal constant as the int or the float of the same value, where one exists
    (else the value as it is): Python compares ints, floats and Decimals by their exact values,
    so every comparison gives the same answer, and an int or a float compares several times
    faster than a Decimal. Both engines compare constants in this form."""
    if isinstance(value, Decimal) and value.is_finite():
        if value == value.to_integral_value():
            return int(value)
        if Decimal(float(value)) == value:
            return float(value)
    return value


def exact_arithmetic(x: e.AnyExpr) -> bool:
    """Float arithmetic, which both engines compute in exact decimals (each float read by its
    repr), so that `0.1 + 0.2 > 0.3` is false at runtime as it is in the checker."""
    return isinstance(x, (e.Sum, e.Scale)) and x.type.kind == "float"


def reads_signals(expr: e.Expr) -> bool:
    """Whether `expr` reads a request signal (not only outcomes and constants)."""
    return any(isinstance(x, e.SignalRef) and x.role == "signal" for x in walk(expr))


def signals_read(expr: e.Expr) -> list[str]:
    """The signals and outcomes `expr` reads, each once, in the order it first reads them;
    `cost(...)` reads input_tokens."""
    names: list[str] = []
    for x in walk(expr):
        if isinstance(x, e.SignalRef) and x.name not in names:
            names.append(x.name)
        if isinstance(x, e.CostOf) and "input_tokens" not in names:
            names.append("input_tokens")
    return names


@dataclass(frozen=True)
class CostTerms:
    """cost(MODEL) = input_tokens x per_input_token + fixed, exact (section 4)."""

    per_input_token: Decimal
    fixed: Decimal

    def at(self, tokens: int) -> Decimal:
        """The exact cost of a call with this many input tokens."""
        return EXACT.add(EXACT.multiply(tokens, self.per_input_token), self.fixed)


def cost_terms(model: Model) -> CostTerms:
    """cost(model)'s terms, exact: prices per million tokens scaled to one token."""
    return CostTerms(
        per_input_token=model.input_per_mtok.scaleb(-6),
        fixed=EXACT.multiply(model.max_output, model.output_per_mtok).scaleb(-6),
    )


def has_input_tokens(policy: CheckedPolicy) -> bool:
    """Whether the policy declares the `input_tokens` signal that cost() reads."""
    return any(s.name == "input_tokens" and s.role == "signal" for s in policy.signals)
