"""The interpreter: decisions straight from the typed IR, with no code generation.

It walks the IR once, at load, turning each condition into a tree of closures; `decide` then
validates the request and tries the rules in order. It is the engine for hot reloads and
debugging, and the checker replays every witness through it (`holds`, `evaluate`).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from typing import Any

from ..ir import expr as e
from ..ir.policy import Model, Policy
from . import runtime as rt
from .checks import SignalCheck, checks
from .lowering import split_deep
from .plan import Ladder, cost_terms, decision_fields, has_input_tokens, ladder

Env = dict[str, Any]
Closure = Callable[[Env, Model | None], Any]

_MISSING = object()
_ORDER = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt,
          ">=": operator.ge}
NO_RULE = rt.Decision(None, None, (), None, None)
"""What `decide` returns when no rule takes a request (only a policy with E204 can do that)."""


class Interpreter:
    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.signal_checks = checks(policy, "signal")
        self.outcome_checks = checks(policy, "outcome")
        self._validators = {
            "signal": [(c.name, c.required, c.default, validator(c)) for c in self.signal_checks],
            "outcome": [(c.name, c.required, c.default, validator(c)) for c in self.outcome_checks],
        }
        self._signal_names = frozenset(c.name for c in self.signal_checks)
        self._outcome_names = frozenset(c.name for c in self.outcome_checks)
        self._input_tokens = has_input_tokens(policy)
        self._models = {m.name: m for m in policy.models}
        self._rules = []
        self._ladders: dict[str, Ladder] = {}
        self._edges: dict[str, tuple[Closure, ...]] = {}
        for rule in policy.route:
            test = self.compile(rule.condition) if rule.condition is not None else None
            plan = ladder(policy, rule)
            self._ladders[rule.name] = plan
            self._edges[rule.name] = tuple(self.compile(x) for x in plan.edges)
            self._rules.append((test, rt.Decision(*decision_fields(policy, rule)), plan.reads_signals))

    # ---- decisions ----------------------------------------------------------------------------

    def decide(self, signals: Mapping[str, Any], *, validate: bool = True, strict: bool = False) -> rt.Decision:
        env = self.validate(signals, "signal", strict) if validate else self._fill(signals, self.signal_checks)
        for test, decision, reads_signals in self._rules:
            if test is None or test(env, None):
                if reads_signals:
                    return rt.Decision(decision.rule, decision.model, decision.steps, decision.max_output,
                                       decision.reject, env)
                return decision
        return NO_RULE

    def escalate(self, decision, current_model: str, outcomes: Mapping[str, Any], *,
                 validate: bool = True, strict: bool = False) -> str | None:
        """The next step when the edge from `current_model`'s step holds, else None."""
        plan = self._ladders.get(decision.rule)
        if plan is None:
            raise ValueError(f"rule {decision.rule!r} is not in policy {self.policy.name!r}")
        at = plan.index.get(current_model)
        if at is None:
            raise rt._not_serving(current_model, decision.rule)
        if at >= len(plan.edges):
            return None
        seen = self.validate(outcomes, "outcome", strict) if validate else self._fill(outcomes, self.outcome_checks)
        env = dict(getattr(decision, "_signals", None) or {})
        env.update(seen)
        return plan.steps[at + 1] if self._edges[decision.rule][at](env, None) else None

    # ---- validation ---------------------------------------------------------------------------

    def validate(self, values: Any, role: str, strict: bool = False) -> Env:
        """The request's values checked against their declarations, defaults filled (section 5)."""
        values = rt._request(values, role)
        get = values.get
        env: Env = {}
        for name, required, default, check in self._validators[role]:
            value = get(name, _MISSING)
            if value is _MISSING:
                if required:
                    raise rt._missing(role, name)
                env[name] = default
            else:
                env[name] = check(value)
        if strict:
            known = self._signal_names if role == "signal" else self._outcome_names
            for name in values:
                if name not in known:
                    raise rt._unknown_key(role, name)
        return env

    @staticmethod
    def _fill(values: Mapping[str, Any], found: tuple[SignalCheck, ...]) -> Env:
        return {c.name: values[c.name] if c.required else values.get(c.name, c.default) for c in found}

    # ---- expressions --------------------------------------------------------------------------

    def holds(self, expr: e.Expr, env: Env, model: Model | None = None) -> bool:
        return bool(self.evaluate(expr, env, model))

    def evaluate(self, expr: e.Expr, env: Env, model: Model | None = None) -> Any:
        """One expression's value for validated values (and, in invariants, a serving model)."""
        return self.compile(expr)(env, model)

    def compile(self, expr: e.Expr) -> Closure:
        """A closure computing `expr`; deep expressions are split first (backends/lowering.py)."""
        pieces, rest = split_deep(expr)
        if not pieces:
            return self._closure(rest)
        steps = [(index, self._closure(piece)) for index, piece in pieces]
        final = self._closure(rest)

        def run(env: Env, model: Model | None) -> Any:
            env = dict(env)
            for index, step in steps:
                env[_local(index)] = step(env, model)
            return final(env, model)

        return run

    def _closure(self, x: e.Expr) -> Closure:
        match x:
            case e.Const(value=value):
                return lambda env, model: value
            case e.SignalRef(name=name):
                return lambda env, model: env[name]
            case e.Local(index=index):
                key = _local(index)
                return lambda env, model: env[key]
            case e.ModelAttr(field=field):
                return lambda env, model: getattr(model, field)
            case e.CostOf(model=name):
                terms = cost_terms(self._models[name])
                per, fixed = terms.per_input_token, terms.fixed
                if not self._input_tokens:  # bounded by the model's context (section 4)
                    worst = self._models[name].context * per + fixed
                    return lambda env, model: worst
                return lambda env, model: env["input_tokens"] * per + fixed
            case e.Not(operand=operand):
                inner = self._closure(operand)
                return lambda env, model: not inner(env, model)
            case e.BoolOp(op="and", operands=operands):
                parts = [self._closure(o) for o in operands]

                def all_of(env, model):
                    for part in parts:
                        if not part(env, model):
                            return False
                    return True

                return all_of
            case e.BoolOp(op="or", operands=operands):
                parts = [self._closure(o) for o in operands]

                def any_of(env, model):
                    for part in parts:
                        if part(env, model):
                            return True
                    return False

                return any_of
            case e.Compare(op=op, left=left, right=right):
                lf, rf = self._closure(left), self._closure(right)
                if left.type.kind == "set":
                    return lambda env, model: rt._set_compare(op, lf(env, model), rf(env, model))
                test = _ORDER[op]
                return lambda env, model: test(lf(env, model), rf(env, model))
            case e.InSet(element=element, members=members, negated=negated):
                inner, allowed = self._closure(element), frozenset(members)
                return lambda env, model: (inner(env, model) in allowed) != negated
            case e.InRange(element=element, low=low, high=high, negated=negated):
                inner, lo, hi = self._closure(element), self._closure(low), self._closure(high)
                return lambda env, model: (lo(env, model) <= inner(env, model) <= hi(env, model)) != negated
            case e.HasLabel(element=element, container=container, negated=negated):
                inner, labels = self._closure(element), self._closure(container)
                return lambda env, model: rt._has_label(inner(env, model), labels(env, model)) != negated
            case e.Sum(terms=terms, signs=signs):
                parts = [(sign, self._closure(t)) for sign, t in zip(signs, terms)]

                def total(env, model):
                    value = 0
                    for sign, part in parts:
                        value = value + part(env, model) if sign > 0 else value - part(env, model)
                    return value

                return total
            case e.Scale(factor=factor, operand=operand):
                inner = self._closure(operand)
                return lambda env, model: factor * inner(env, model)
        raise AssertionError(f"no closure for {x.kind}")


def _local(index: int) -> str:
    return f"@local{index}"  # '@' cannot start a signal name, so these keys never collide


def validator(check: SignalCheck) -> Callable[[Any], Any]:
    """A closure validating one signal: the exact type inside the domain passes at once;
    everything else goes to the runtime's `_check`, as in compiled modules."""
    role, name, spec, kind = check.role, check.name, check.spec, check.kind
    low, high = check.low, check.high

    def slow(value):
        return rt._check(role, name, value, spec)

    if kind == "bool":
        return lambda v: v if v.__class__ is bool else slow(v)
    if kind == "enum":
        members = frozenset(check.members)
        return lambda v: v if v.__class__ is str and v in members else slow(v)
    exact = (float, int) if kind == "float" else (int,)

    def numeric(v):
        if v.__class__ in exact and (low is None or v >= low) and (high is None or v <= high) and v - v == 0:
            return v
        return slow(v)

    return numeric
