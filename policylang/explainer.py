"""Building an `Explanation`: why one request got its decision (section 9.2), as `opa eval
--explain` answers for Rego. `Policy.explain` asks this module; `policylang.authoring.explain`
renders what it builds for a terminal.

Each rule is tried in order, as `decide` tries them, and its condition is evaluated by the
interpreter over the validated request. For a rule that did not hold, the part that decided
it: the first false operand of an `and`, every operand of a false `or`, down to the
comparisons; for the rule that held, what made it hold (every operand of an `and`, the first
true operand of an `or`). Each such part carries its source text and location and the values
it read: signals, thresholds (inlined in the IR as constants, so named again from the source
text under the constant) and `cost(...)`. Then the decision, the climb that `@outcomes` calls
for, each step's fallbacks, and what the request costs: each call's price, and the worst case
over its cascade and fallbacks.

The rule an explanation says fired is the rule the chosen engine's `decide` returns, and each
climb step is the engine's `escalate`: where they disagree, explaining fails loudly (an
AssertionError), never silently.

This module sits below `policylang.policy` (it reads a policy through `Explainable`, the part
of `Policy` it needs), so that `Policy.explain` imports down, never up into the authoring tools.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Protocol

from .backends.python import EngineName
from .backends.python.support import Decision, RequestError, _shown as _shown_value
from .codes import R002
from .explanation import ClimbStep, Cost, Explanation, PricedCall, Reason, RuleTrace, StepFallbacks, WorstCase
from .ir import expr as e
from .ir.node import walk
from .ir.policy import CascadeTarget, CheckedPolicy, Model, Rule
from .ir.types import Type
from .ir.values import EXACT, decimal_of
from .jsontext import OUTCOMES_KEY, JsonValue
from .source import Source, Span

if TYPE_CHECKING:  # the interpreter comes with the policy explained: importing this module loads none
    from .backends.python.interpreter import Interpreter

__all__ = ["Explainable", "call_cost", "explain", "trimmed"]

OUTPUT_TOKENS_KEY = "@output_tokens"
INPUT_TOKENS_KEY = "@input_tokens"

_NAME = re.compile(r"(?<![0-9A-Za-z_$.])[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)?")
"""An identifier in source text; a unit after a number (`2s`, `250ms`) is none."""
_LITERAL_WORDS = frozenset({"true", "false"})


class Explainable(Protocol):
    """What explaining reads of a policy (`policylang.Policy` is one): its name, IR, sources,
    interpreter, and its engines' `decide` and `escalate`."""

    @property
    def name(self) -> str: ...

    @property
    def ir(self) -> CheckedPolicy: ...

    @property
    def sources(self) -> Mapping[str, Source]: ...

    @property
    def interpreter(self) -> Interpreter: ...

    def decide(self, signals: Mapping[str, JsonValue], *, engine: EngineName = "compiled", strict: bool = False,
               validate: bool = True) -> Decision: ...

    def escalate(self, decision: Decision, step: int | str, outcomes: Mapping[str, JsonValue], *,
                 engine: EngineName = "compiled") -> str | None: ...


def explain(policy: Explainable, request: Mapping[str, JsonValue], *, engine: EngineName = "compiled",
            all_rules: bool = False, strict: bool = False) -> Explanation:
    """Why `request` gets its decision from `policy` (section 9.2).

    `request` maps signals to values, and may hold `@outcomes` (the outcome objects observed
    after each step), `@output_tokens` and `@input_tokens` (for a policy that declares no
    input_tokens), as `policyc eval` and `simulate` read them. Guarantees: the decision is
    `policy.decide(..., engine=engine)`'s and the rule reported as fired is its rule; every
    rule before it is reported as not held (every rule with `all_rules`); each reason's
    `held` is what the interpreter evaluates that part to; the climb is the engine's
    `escalate`. A bad request is an Explanation with `error` set, never an exception.
    """
    try:  # anything with items() is a request, as `decide` takes it
        request = dict(request.items())
    except (AttributeError, TypeError, ValueError):
        return _refused(policy, request, RequestError(
            R002.code, None, f"a request is an object of signal names to values, not {_shown_value(request)}"))
    shown = request
    signals = {k: v for k, v in request.items() if not (isinstance(k, str) and k.startswith("@"))}
    outcomes = request.get(OUTCOMES_KEY)
    if outcomes is not None and not (isinstance(outcomes, list) and all(isinstance(o, Mapping) for o in outcomes)):
        return _refused(policy, shown, RequestError(
            R002.code, OUTCOMES_KEY, f"{OUTCOMES_KEY} is a list of objects of outcomes, one per step"))
    extra = {}
    for key in (OUTPUT_TOKENS_KEY, INPUT_TOKENS_KEY):
        if key in request:
            value = request[key]
            if value.__class__ is not int or value < 0:
                return _refused(policy, shown, RequestError(R002.code, key, f"{key} must be a whole number >= 0, got {_shown_value(value)}"))
            extra[key] = value
    try:
        env = policy.interpreter.validate(signals, "signal", strict)
        decision = policy.decide(signals, engine=engine, strict=strict)
    except RequestError as exc:
        return _refused(policy, shown, exc)
    context = _Context(policy)
    rules, fired = _trace_rules(context, env, all_rules)
    if fired != decision.rule:
        raise AssertionError(f"explain found rule {fired!r} where decide ({engine}) gives {decision.rule!r}: "
                             f"a bug, please report it with the policy and {shown!r}")
    rule = next((r for r in policy.ir.route if r.name == decision.rule), None)
    climb, path = _climb(context, policy, decision, rule, env, outcomes, engine)
    tokens = env.get("input_tokens") if context.has_input_tokens else extra.get(INPUT_TOKENS_KEY)
    return Explanation(
        policy=policy.name, request=shown, decision=decision, file=policy.ir.file, rules=rules, climb=climb, path=path,
        fallbacks=_fallbacks(policy.ir, decision),
        cost=_cost(context, rule, decision, path, env, tokens, extra.get(OUTPUT_TOKENS_KEY)),
        outcomes_given=outcomes is not None,
    )


def _refused(policy: Explainable, request: Any, error: RequestError) -> Explanation:
    declared = next((s.span for s in policy.ir.signals if s.name == error.signal), None)
    return Explanation(policy=policy.name, request=request if isinstance(request, dict) else {"": request},
                       decision=None, file=policy.ir.file, error=error, error_span=declared)


class _Context:
    """What explaining one policy reads: its sources, the interpreter, the declared types."""

    def __init__(self, policy: Explainable) -> None:
        self.ir: CheckedPolicy = policy.ir
        self.sources: Mapping[str, Source] = policy.sources
        self.interpreter = policy.interpreter
        self.types = {s.name: s.type for s in policy.ir.signals}
        self.has_input_tokens = any(s.name == "input_tokens" and s.role == "signal" for s in policy.ir.signals)

    def text(self, span: Span) -> str:
        source = self.sources.get(span.file)
        if source is None:
            return "?"
        return " ".join(source.text[span.start : span.end].split())

    def value(self, x: e.Expr, env: dict[str, Any]) -> Any:
        return self.interpreter.evaluate(x, env)


def _trace_rules(context: _Context, env: dict[str, Any], all_rules: bool) -> tuple[tuple[RuleTrace, ...], str | None]:
    traces: list[RuleTrace] = []
    fired: str | None = None
    for rule in context.ir.route:
        because: tuple[Reason, ...] = ()
        if rule.condition is None:
            held = True
        else:
            held = bool(context.value(rule.condition, env))
            because = tuple(_reasons(context, rule.condition, env, held))
        fires = held and fired is None
        if fires:
            fired = rule.name
        if fired is not None and not fires and not all_rules:
            break
        traces.append(RuleTrace(rule.name, rule.span, held, because, fires))
    return tuple(traces), fired


def _reasons(context: _Context, x: e.Expr, env: dict[str, Any], value: bool) -> list[Reason]:
    """The parts of `x` (whose value is `value`) that decided it, down to the comparisons."""
    match x:
        case e.BoolOp(op=op, operands=operands):
            decisive = (op == "and") != value  # a false `and`, a true `or`: the first operand that says so
            found: list[Reason] = []
            for operand in operands:
                held = bool(context.value(operand, env))
                if decisive:
                    if held == value:
                        return _reasons(context, operand, env, held)
                    continue
                found += _reasons(context, operand, env, held)
            return found
        case e.Not(operand=operand) if isinstance(operand, (e.BoolOp, e.Not)):
            return _reasons(context, operand, env, not value)
    return [_leaf(context, x, env, value)]


def _leaf(context: _Context, x: e.Expr, env: dict[str, Any], value: bool) -> Reason:
    values: dict[str, Any] = {}
    types: dict[str, Type] = {}
    for node in walk(x):
        if isinstance(node, e.SignalRef) and node.name not in values:
            values[node.name] = env[node.name]
            types[node.name] = node.type
        elif isinstance(node, e.CostOf):
            name = f"cost({node.model})"
            if name not in values:
                values[name] = context.value(node, env)
                types[name] = node.type
        elif isinstance(node, e.Const) and node.type.kind in ("int", "float", "money", "duration", "bool"):
            text = context.text(node.span)
            if any(word not in _LITERAL_WORDS for word in _NAME.findall(text)) and text not in values:
                values[text] = node.value  # a threshold (or an expression of them, folded)
                types[text] = node.type
    return Reason(context.text(x.span), x.span, value, values, x, types)


# ---- the climb and the fallbacks ------------------------------------------------------------


def _climb(context: _Context, policy: Explainable, decision: Decision, rule: Rule | None, env: dict[str, Any],
           outcomes: list[Mapping[str, Any]] | None, engine: EngineName) -> tuple[tuple[ClimbStep, ...], tuple[str, ...]]:
    if decision.model is None:
        return (), ()
    path = [decision.model]
    if outcomes is None or rule is None or not isinstance(rule.target, CascadeTarget):
        return (), tuple(path)  # nothing observed: the request stays on its first step
    steps: list[ClimbStep] = []
    edges = context.ir.cascade(rule.target.cascade).edges
    for k, edge in enumerate(edges):
        text = context.text(edge.condition.span)
        observed = outcomes[k] if outcomes is not None and k < len(outcomes) else None
        if observed is None:
            steps.append(ClimbStep(k, edge.source, edge.target, text, edge.span, None, None))
            break
        shown = dict(observed.items())
        try:
            seen = context.interpreter.validate(observed, "outcome", True)
            following = policy.escalate(decision, k, observed, engine=engine)
        except RequestError as exc:
            steps.append(ClimbStep(k, edge.source, edge.target, text, edge.span, shown, None, error=exc))
            break
        scope = {**env, **seen}
        held = bool(context.value(edge.condition, scope))
        if held != (following is not None):
            raise AssertionError(f"explain finds the edge {edge.source} -> {edge.target} {held}, but escalate "
                                 f"({engine}) answers {following!r}: a bug, please report it")
        steps.append(ClimbStep(k, edge.source, edge.target, text, edge.span, shown, held,
                               tuple(_reasons(context, edge.condition, scope, held))))
        if not held:
            break
        path.append(edge.target)
    return tuple(steps), tuple(path)


def _fallbacks(ir: CheckedPolicy, decision: Decision) -> tuple[StepFallbacks, ...]:
    found = []
    for k, model in enumerate(decision.steps):
        links: list[tuple[str, tuple[str, ...], str]] = []
        queue, seen = [model], {model}
        while queue:
            current = queue.pop(0)
            for fb in ir.fallbacks:
                if fb.source == current:
                    links.append((fb.source, fb.errors, fb.target))
                    if fb.target not in seen:
                        seen.add(fb.target)
                        queue.append(fb.target)
        found.append(StepFallbacks(k, model, tuple(links)))
    return tuple(found)


# ---- cost -------------------------------------------------------------------------------------


def call_cost(model: Model, input_tokens: int, output_tokens: int) -> Decimal:
    """The exact price of one answered call (sections 7 and 9.3): `input_tokens x
    input_per_mtok / 1e6 + output_tokens x output_per_mtok / 1e6`."""
    return trimmed(model.cost(input_tokens, output_tokens))


def trimmed(value: Decimal) -> Decimal:
    """The same amount without trailing zeros after the point: 0.0036105, not 0.003610500."""
    shorter = value.normalize(EXACT)
    return shorter if _exponent(shorter) <= 0 else shorter.quantize(Decimal(1))


def _exponent(value: Decimal) -> int:
    """A finite decimal's exponent (a price or a cost is never NaN or infinite)."""
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int), value
    return exponent


def _cost(context: _Context, rule: Rule | None, decision: Decision, path: tuple[str, ...], env: dict[str, Any],
          tokens: int | None, output_tokens: int | None) -> Cost:
    calls = []
    total = Decimal(0)
    for k, name in enumerate(path):
        model = context.ir.model(name)
        cap = decision.caps[k]
        out = cap if output_tokens is None else min(output_tokens, cap)
        price = call_cost(model, model.context if tokens is None else tokens, out)
        calls.append(PricedCall(k, name, cap, tokens, out, output_tokens is None, price,
                          model.input_per_mtok, model.output_per_mtok))
        total = trimmed(EXACT.add(total, price))
    worst = _worst_case(context, rule, env, tokens) if rule is not None and decision.model is not None else None
    return Cost(tuple(calls), total, worst)


def _worst_case(context: _Context, rule: Rule, env: dict[str, Any], tokens: int | None) -> WorstCase:
    from .analysis.costs import StepCosts  # exact prices per step, as the checker's E301

    steps = context.ir.steps(rule)[: _reachable_steps(context, rule, env)]
    parts = StepCosts(context.ir, rule, steps).parts(tokens)
    priced = tuple((p.label, _decimal(p.value)) for p in parts)
    total = trimmed(sum((value for _, value in priced), Decimal(0)))
    return WorstCase(total, priced, tokens)


def _reachable_steps(context: _Context, rule: Rule, env: dict[str, Any]) -> int:
    """How many steps of the rule's cascade some outcomes can climb to, for this request's
    signals (outcomes fresh at every step, as in section 7): the solver decides each edge."""
    if not isinstance(rule.target, CascadeTarget):
        return 1
    from .analysis.encode import Encoder, as_bool
    from .analysis.solver import Solver

    encoder = Encoder(context.ir)
    solver = Solver(encoder)
    fixed = [encoder.var(s.name) == encoder.value(s, env[s.name]) for s in context.ir.inputs]
    climbed: list[Any] = []
    edges = context.ir.cascade(rule.target.cascade).edges
    for k, edge in enumerate(edges):
        solver.with_outcomes(k)
        climbed.append(as_bool(encoder.encode(edge.condition, step=k)))
        if not solver.satisfiable(*fixed, *climbed):
            return k + 1
    return len(edges) + 1


def _decimal(value: Fraction) -> Decimal:
    """A price as the exact decimal it is (prices are decimals, so every cost is one)."""
    exact = decimal_of(value)
    assert exact is not None, f"a cost that is no decimal: {value}"
    return trimmed(exact)
