"""The interpreter: decisions straight from the typed IR, with no code generation.

It walks the IR once, at load, into a plan: each condition a tree of closures (the reference
closures here, one case per node; the shapes most conditions are made of take the cheaper
closures of fast_paths.py, which compute the same values), each signal's type test as data, the
route as steps (and, for a keyed route, a chain of steps per value of the key). `decide` then
validates the request and tries the steps in order; without validation the request over the
defaults is the environment, and nothing is checked. It is the engine for hot reloads and
debugging, and the checker replays every witness through it (`holds`, `evaluate`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypeAlias, assert_never

from ...ir import expr as e
from ...ir.policy import CheckedPolicy, Model, Rule
from ...ir import values
from . import support as rt
from .checks import SignalCheck, checks
from .fast_paths import ORDER, Closure, Env, FastTest, fast_closure, fast_test
from .index import plan_dispatch
from .lowering import split_deep
from .plan import Ladder, cost_terms, exact_arithmetic, fallback_table, has_input_tokens, ladder, serving_models

Step: TypeAlias = tuple[Closure | None, rt.Decision, bool]
"""One rule as `decide` tries it: its test (None: always), its decision, whether the decision
carries the signals its escalations read."""

_MISSING = object()
NO_RULE = rt.Decision(None, None, (), None, (), None)
"""What `decide` returns when no rule takes a request (only a policy with E204 can do that)."""


class Interpreter:
    """A policy's engine that runs the typed IR as closures; decides as its compiled module does."""

    def __init__(self, policy: CheckedPolicy) -> None:
        self.policy = policy
        self.signal_checks = checks(policy, "signal")
        self.outcome_checks = checks(policy, "outcome")
        self._defaults = {role: {c.name: c.default for c in found if not c.required}
                          for role, found in (("signal", self.signal_checks), ("outcome", self.outcome_checks))}
        self._fast: dict[str, tuple[dict[str, FastTest], dict[str, Any], int]] = {
            role: ({c.name: fast_test(c) for c in found}, self._defaults[role], len(found))
            for role, found in (("signal", self.signal_checks), ("outcome", self.outcome_checks))}
        """Per role: each declaration's fast test, the defaults, how many are declared."""
        self._signal_defaults = self._defaults["signal"]
        self._signal_names = frozenset(c.name for c in self.signal_checks)
        self._outcome_names = frozenset(c.name for c in self.outcome_checks)
        self._input_tokens = has_input_tokens(policy)
        self._models = {m.name: m for m in policy.models}
        self._serving = frozenset(serving_models(policy))
        self._fallbacks = fallback_table(policy)
        self._ladders: dict[str, Ladder] = {}
        self._edges: dict[str, tuple[Closure, ...]] = {}
        for rule in policy.route:
            plan = ladder(policy, rule)
            self._ladders[rule.name] = plan
            self._edges[rule.name] = tuple(self.compile(x) for x in plan.edges)
        route = policy.route
        dispatch = plan_dispatch(policy)
        self._key = dispatch.key if dispatch else None
        self._paths: dict[str, tuple[Step, ...]] = {}
        """For a keyed route, each value of the key's steps: before, its chain, after."""
        if dispatch is None:
            self._route = tuple(self._steps(range(len(route))))
        else:  # see backends/index.py: each value of the key meets only the rules it can fire
            before = self._steps(dispatch.before)
            after = self._steps([*dispatch.after, *range(len(policy.rules), len(route))])
            other = [self._step(route[i], condition) for i, condition in dispatch.other.rules]
            self._route = (*before, *other, *after)  # a value that is no member (only unvalidated)
            for chain in dispatch.chains:
                path = (*before, *(self._step(route[i], condition) for i, condition in chain.rules), *after)
                self._paths.update((member, path) for member in chain.members)

    # ---- decisions ----------------------------------------------------------------------------

    def _step(self, rule: Rule, condition: e.Expr | None) -> Step:
        test = self.compile(condition) if condition is not None else None
        return test, rt.Decision(*self.policy.decision_of(rule)), self._ladders[rule.name].reads_signals

    def _steps(self, positions: Iterable[int]) -> list[Step]:
        route = self.policy.route
        return [self._step(route[i], route[i].condition) for i in positions]

    def decide(self, signals: Mapping[str, Any], *, validate: bool = True, strict: bool = False) -> rt.Decision:
        """The decision of the first rule that holds for the validated request (section 5);
        `validate=False` trusts the request as given, `strict` refuses unknown keys (R004).
        NO_RULE when no rule takes it (only a policy with a gap, E204)."""
        # trusted: the request over the defaults, one merge in C (cheaper, measured, than
        # reading each absent signal's default where a test first needs it)
        env = self.validate(signals, "signal", strict) if validate else {**self._signal_defaults, **signals}
        steps = self._route if self._key is None else self._paths.get(env[self._key], self._route)
        for test, decision, reads_signals in steps:
            if test is None or test(env, None):
                if reads_signals:  # the decision carries what its escalations will read, every signal
                    carried = env if validate else self._fill(signals, self.signal_checks)
                    return rt.Decision(decision.rule, decision.model, decision.steps, decision.max_output,
                                       decision.caps, decision.reject, carried)
                return decision
        return NO_RULE

    def escalate(self, decision: Any, step: int | str, outcomes: Mapping[str, Any], *,
                 validate: bool = True) -> str | None:
        """The next step's model when the edge leaving the answered step holds for these
        outcomes (and the decision's signals), else None. `step` is the index in
        `decision.steps` of the step that answered, whether its model or a fallback did; a
        model's name where it means one step. Outcomes are validated in strict mode always."""
        plan = self._ladders.get(decision.rule)
        if plan is None:
            raise ValueError(f"rule {decision.rule!r} is not in policy {self.policy.name!r}")
        at = rt._step_of(decision.rule, plan.steps, plan.serves, step)
        if validate:  # checked at every step, the last too: a typo must never pass silently
            seen = self.validate(outcomes, "outcome", True)
        if at >= len(plan.edges):
            return None
        if not validate:
            seen = self._fill(outcomes, self.outcome_checks)
        env = dict(getattr(decision, "_signals", None) or {})
        env.update(seen)
        return plan.steps[at + 1] if self._edges[decision.rule][at](env, None) else None

    def fallback(self, model: str, error: str) -> str | None:
        """The model declared to serve when `model` fails with `error`, or None (section 5)."""
        return rt._fallback_of(self._fallbacks, self._serving, model, error)

    # ---- validation ---------------------------------------------------------------------------

    def validate(self, values: Any, role: str, strict: bool = False) -> Env:
        """The request's values checked against their declarations, defaults filled (section 5).

        The common case costs what the request holds, not what the policy declares: defaults
        are valid, so only the values given are looked at, each by one exact-class-and-range
        test (`fast_paths.fast_test`), the rest (an int for a float, a float for money) by runtime
        `_check`. Anything unusual (a fault, a missing required signal, a key that names no
        signal in strict mode) takes `_validate_in_order`, which finds the first fault in
        declaration order exactly as section 5 says.
        """
        if values.__class__ is not dict:
            values = rt._request(values, role)
        fast, defaults, count = self._fast[role]
        env = defaults.copy()
        for name, value in values.items():
            test = fast.get(name)
            if test is None:
                if strict:
                    return self._validate_in_order(values, role, strict)
                continue  # not a signal: ignored outside strict mode
            cls, low, high, members, spec = test
            if value.__class__ is not cls or not (low <= value <= high if members is None else value in members):
                try:
                    value = rt._check(role, name, value, spec)
                except rt.RequestError:  # some signal is at fault: the first in declaration order says which
                    return self._validate_in_order(values, role, strict)
            env[name] = value
        if len(env) != count:  # a required signal is missing: only declared names are in env
            return self._validate_in_order(values, role, strict)
        return env

    def _validate_in_order(self, values: dict[Any, Any], role: str, strict: bool) -> Env:
        get = values.get
        fast, defaults, _ = self._fast[role]
        env: Env = {}
        for name, (cls, low, high, members, spec) in fast.items():  # in declaration order
            value = get(name, _MISSING)
            if value is _MISSING:  # an absent optional signal is its default, valid as declared (E108)
                if name not in defaults:
                    raise rt._missing(role, name)
                value = defaults[name]
            elif value.__class__ is not cls or not (low <= value <= high if members is None else value in members):
                value = rt._check(role, name, value, spec)
            env[name] = value
        if strict:
            known = self._signal_names if role == "signal" else self._outcome_names
            for name in values:
                if name not in known:
                    raise rt._unknown_key(role, name, known)
        return env

    @staticmethod
    def _fill(values: Mapping[str, Any], found: tuple[SignalCheck, ...]) -> Env:
        return {c.name: values[c.name] if c.required else values.get(c.name, c.default) for c in found}

    # ---- expressions --------------------------------------------------------------------------

    def holds(self, expr: e.InvariantExpr, env: Env, model: Model | None = None) -> bool:
        """Whether a condition holds for validated values (and, in invariants, a serving model)."""
        return bool(self.evaluate(expr, env, model))

    def evaluate(self, expr: e.InvariantExpr, env: Env, model: Model | None = None) -> Any:
        """One expression's value for validated values (and, in invariants, a serving model)."""
        return self.compile(expr)(env, model)

    def compile(self, expr: e.InvariantExpr) -> Closure:
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

    def _closure(self, x: e.AnyExpr) -> Closure:
        fast = fast_closure(x, self._closure)  # the same value, cheaper (fast_paths.py)
        return fast if fast is not None else self._reference(x)

    def _reference(self, x: e.AnyExpr) -> Closure:
        """The reference closure of `x`: one case per node, as section 4 defines its value
        (its subexpressions may take fast paths)."""
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
                if not self._input_tokens:  # bounded by the model's context (section 4)
                    worst = terms.at(self._models[name].context)
                    return lambda env, model: worst
                return lambda env, model: terms.at(env["input_tokens"])
            case e.Not(operand=operand):
                inner = self._closure(operand)
                return lambda env, model: not inner(env, model)
            case e.BoolOp(op="and", operands=operands):
                parts = [self._closure(o) for o in operands]

                def all_of(env: Env, model: Model | None) -> bool:
                    for part in parts:
                        if not part(env, model):
                            return False
                    return True

                return all_of
            case e.BoolOp(operands=operands):  # op == "or", the only other
                parts = [self._closure(o) for o in operands]

                def any_of(env: Env, model: Model | None) -> bool:
                    for part in parts:
                        if part(env, model):
                            return True
                    return False

                return any_of
            case e.Compare(op=op, left=left, right=right):
                lf, rf = self._closure(left), self._closure(right)
                if left.type.kind == "set":
                    return lambda env, model: values.compare_sets(op, lf(env, model), rf(env, model))
                test = ORDER[op]
                if exact_arithmetic(left) or exact_arithmetic(right):  # exact decimals, as the checker
                    dec = values.exact
                    return lambda env, model: test(dec(lf(env, model)), dec(rf(env, model)))
                return lambda env, model: test(lf(env, model), rf(env, model))
            case e.InSet(element=element, members=members, negated=negated):
                inner, allowed = self._closure(element), frozenset(members)
                return lambda env, model: (inner(env, model) in allowed) != negated
            case e.InRange(element=element, low=low, high=high, negated=negated):
                inner, lo, hi = self._closure(element), self._closure(low), self._closure(high)
                if any(exact_arithmetic(p) for p in (element, low, high)):
                    dec = values.exact
                    return lambda env, model: (dec(lo(env, model)) <= dec(inner(env, model))
                                               <= dec(hi(env, model))) != negated
                return lambda env, model: (lo(env, model) <= inner(env, model) <= hi(env, model)) != negated
            case e.HasLabel(element=element, container=container, negated=negated):
                inner, labels = self._closure(element), self._closure(container)
                return lambda env, model: values.has_label(inner(env, model), labels(env, model)) != negated
            case e.Sum(terms=terms, signs=signs) if x.type.kind in ("money", "duration", "float"):
                parts = [self._closure(t) for t in terms]  # exact: float terms read by their repr
                dec, add = values.exact, values.exact_sum
                return lambda env, model: add([dec(part(env, model)) for part in parts], signs)
            case e.Sum(terms=terms, signs=signs):
                parts = [self._closure(t) for t in terms]
                return lambda env, model: values.number_sum([part(env, model) for part in parts], signs)
            case e.Scale(factor=factor, operand=operand) if x.type.kind in ("money", "duration", "float"):
                inner, exact_factor, dec = self._closure(operand), values.exact(factor), values.exact
                return lambda env, model: values.EXACT.multiply(exact_factor, dec(inner(env, model)))
            case e.Scale(factor=factor, operand=operand):
                inner = self._closure(operand)
                return lambda env, model: factor * inner(env, model)
            case _:
                assert_never(x)


def _local(index: int) -> str:
    return f"@local{index}"  # '@' cannot start a signal name, so these keys never collide
