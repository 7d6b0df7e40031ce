"""Hypothesis strategies that write random, valid `.route` policies small enough to brute-force.

Every policy drawn here has no syntax, name or type error (no E0xx, no E1xx): the analyses of
sections 6 and 7 always run on it. Each strategy returns a `GeneratedPolicy`, which is both the
text and its structure: the declared signals with their domains, the rules in order, the
default. With that, a test can

- enumerate every request of a finite domain (`GeneratedPolicy.requests()`), and so decide the
  exact answer of every rule check by brute force;
- re-render the policy without one rule (`without(i)`), to see whether deleting it changes a
  decision (W205), or with one rule alone before a default (`alone(i)`), to see whether its
  condition can hold at all (W202);
- draw requests from a domain that is not finite (`requests_of(policy)`), for float signals.

The strategies:

`finite_policies()`
    ints in small ranges (`a: int in 0..4`, `d: int in -2..2`, `input_tokens: int in 0..6`),
    a bool and a three-member enum; at most 5 * 5 * 7 * 2 * 3 = 1,050 requests. Conditions mix
    `and`/`or`/`not`, every comparison, constants inside and outside the domain (some not
    integral: `a < 2.5`), `in {..}` and `in LO..HI` (empty ranges too), thresholds, and linear
    arithmetic (`a + d > 3`, `a - 2 * d <= 1`, `-d >= input_tokens`).
`float_policies()`
    the same shapes over `float in 0.0..1.0`, `float in -1.0..1.0` and an unbounded float, with
    float constants and coefficients; not enumerable (use `requests_of`).
`enum_keyed_policies()`
    a route keyed on one enum of 5-30 members (`==`, `!=`, `in`, `not in`), interleaved with
    rules that do not test it: the shape of multi-tenant policies, which the checker indexes.

Targets are 2-4 models, a cascade sometimes, and `reject "r1"` / `reject "r2"`; caps
`with max_output = N` never exceed the target's (entry model's) max_output (E111), and include
exactly that max_output, which decides the same as no cap. With `extras=True` a policy may
also carry what section 7 checks: fallbacks, cost and latency budgets (some too tight on
purpose), invariants on model fields, and models whose context is smaller than the largest
`input_tokens`, so that E301, E302, E303 and E304 (with their witnesses) come up often.

Names, so that nothing clashes: signals `a b c d f g h input_tokens k`, members `x y z` and
`t0..t29`, outcomes `q ok tries`, models `m0..m3`, cascade `up`, rules `r1..rN`, threshold
`lim`, invariants `inv0..`. Every rule sits on its own line, so a diagnostic's line names it.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from decimal import Decimal
from fractions import Fraction
from typing import Any

from hypothesis import strategies as st

# ---- the structure of a generated policy -----------------------------------------------------


@dataclass(frozen=True)
class Signal:
    """A declared signal. `values` lists its whole domain when it is finite, else None."""

    name: str
    kind: str  # "int", "float", "bool", "enum"
    low: Any = None  # int or Decimal bounds of a number, None when unbounded
    high: Any = None
    members: tuple[str, ...] = ()
    default: str | None = None  # the default's text, if any

    @property
    def type_text(self) -> str:
        if self.kind == "bool":
            return "bool"
        if self.kind == "enum":
            return "enum {" + ", ".join(self.members) + "}"
        if self.low is None:
            return self.kind
        if self.kind == "money":
            return f"money in ${format(Decimal(self.low).normalize(), 'f')}..${format(Decimal(self.high).normalize(), 'f')}"
        if self.kind == "duration":
            return f"duration in {format(Decimal(self.low).normalize(), 'f')}s..{format(Decimal(self.high).normalize(), 'f')}s"
        return f"{self.kind} in {number(self.low, self.kind)}..{number(self.high, self.kind)}"

    @property
    def declaration(self) -> str:
        default = f" = {self.default}" if self.default is not None else ""
        return f"signal {self.name}: {self.type_text}{default}"

    @property
    def values(self) -> tuple[Any, ...] | None:
        if self.kind == "bool":
            return (False, True)
        if self.kind == "enum":
            return self.members
        if self.kind == "int" and self.low is not None:
            return tuple(range(self.low, self.high + 1))
        return None

    @property
    def numeric(self) -> bool:
        return self.kind in ("int", "float")


@dataclass(frozen=True)
class Model:
    name: str
    tier: int
    input_price: int  # dollars per million tokens
    output_price: int
    context: int
    max_output: int
    latency: str
    regions: str | None = None  # "{eu}" or None (anywhere)

    @property
    def declaration(self) -> str:
        regions = f", regions = {self.regions}" if self.regions else ""
        return (f'model {self.name} {{ id = "v/{self.name}", tier = {self.tier}, '
                f"input_per_mtok = ${self.input_price}, output_per_mtok = ${self.output_price}, "
                f"context = {self.context}, max_output = {self.max_output}, "
                f"latency = {self.latency}{regions} }}")


@dataclass(frozen=True)
class Rule:
    """One route entry: `name` is "default" for the default (whose condition is None)."""

    name: str
    condition: str | None
    target: str  # a model's or cascade's name, or `reject "r1"`
    cap: int | None = None

    @property
    def line(self) -> str:
        cap = f" with max_output = {self.cap}" if self.cap is not None else ""
        if self.condition is None:
            return f"  default -> {self.target}{cap}"
        return f"  rule {self.name} when {self.condition} -> {self.target}{cap}"


@dataclass(frozen=True)
class GeneratedPolicy:
    """A random policy: its declarations, rules and default, rendered by `text`."""

    signals: tuple[Signal, ...]
    models: tuple[Model, ...]
    rules: tuple[Rule, ...]
    default: Rule | None
    declarations: tuple[str, ...] = ()  # outcomes, thresholds, cascades, fallbacks, budgets, ...
    constants: tuple[Any, ...] = ()  # the numbers the conditions compare with, for drawing requests
    anchor: tuple[tuple[str, Fraction], ...] = ()  # the point many comparisons pass through
    name: str = "gen"

    @property
    def text(self) -> str:
        lines = [f"policy {self.name}", ""]
        lines += [s.declaration for s in self.signals]
        lines += [m.declaration for m in self.models]
        lines += list(self.declarations)
        lines += ["", "route {"]
        lines += [r.line for r in self.rules]
        if self.default is not None:
            lines.append(self.default.line)
        lines += ["}", ""]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.text

    @property
    def finite(self) -> bool:
        return all(s.values is not None for s in self.signals)

    @property
    def request_count(self) -> int:
        count = 1
        for s in self.signals:
            count *= len(s.values)
        return count

    def requests(self) -> Iterator[dict[str, Any]]:
        """Every request of the domain, each signal given explicitly (finite domains only)."""
        if not self.finite:
            raise ValueError("the policy has a signal with an infinite domain")
        names = [s.name for s in self.signals]
        for values in itertools.product(*(s.values for s in self.signals)):
            yield dict(zip(names, values))

    def without(self, index: int) -> GeneratedPolicy:
        """The same policy with rule `index` deleted (W205: does anything change?)."""
        return replace(self, rules=self.rules[:index] + self.rules[index + 1 :])

    def only(self, indices: list[int]) -> GeneratedPolicy:
        """The rules at `indices`, in that order, then a default that rejects: the last of them
        fires exactly where its condition holds and none of the others' does (W201's cover)."""
        return replace(self, rules=tuple(self.rules[i] for i in indices),
                       default=Rule("default", None, 'reject "r1"'))

    def alone(self, index: int) -> GeneratedPolicy:
        """Rule `index` alone, then a default: it fires exactly where its condition holds (W202)."""
        return self.only([index])


# ---- literals ------------------------------------------------------------------------------------


def number(value: Any, kind: str = "int") -> str:
    """A numeric literal: ints as ints, floats always with digits on both sides of the dot."""
    if kind == "int" and isinstance(value, int):
        return str(value)
    text = format(Decimal(value).normalize(), "f") if not isinstance(value, int) else str(value)
    if "." not in text:
        text += ".0"
    return text


def _constant_text(value: Fraction | int | Decimal) -> str:
    if isinstance(value, Fraction):  # always a finite decimal here: tenths times decimal coefficients
        value = value.numerator if value.denominator == 1 else Decimal(value.numerator) / value.denominator
    if isinstance(value, int):
        return str(value)
    return number(Decimal(value))


# ---- conditions ----------------------------------------------------------------------------------


@dataclass
class _Context:
    """What conditions may refer to while one policy is drawn; collects the constants used.

    `anchor` is one point of the domain (a value per numeric signal, tenths for floats) that
    many comparisons pass through: constants are often a term's exact value there, so that rules
    meet at shared boundaries, where covers, gaps and rounding go wrong."""

    signals: tuple[Signal, ...]
    floats: bool  # float constants and coefficients
    anchor: dict[str, Fraction]
    threshold: int | None = None  # `lim`, when declared
    constants: list[Any] = field(default_factory=list)

    def numeric(self) -> list[Signal]:
        return [s for s in self.signals if s.numeric]

    def of_kind(self, kind: str) -> list[Signal]:
        return [s for s in self.signals if s.kind == kind]


_INT_COEFFICIENTS = (1, 1, 1, 1, 2, 3, -1, -2)
_FLOAT_COEFFICIENTS = (Decimal("0.5"), Decimal("1.5"), Decimal("0.1"), Decimal("-0.5"), Decimal("0.3"))
_FLOAT_CONSTANTS = tuple(Decimal(n) / 10 for n in range(-15, 21)) + (
    Decimal("0.25"), Decimal("0.75"), Decimal("0.33"), Decimal("1.05"), Decimal("-0.05"))


def _bounds(s: Signal) -> tuple[Fraction, Fraction]:
    """Bounds used only to pick interesting constants; unbounded floats pretend to be in -3..3."""
    if s.low is None:
        return Fraction(-3), Fraction(3)
    return Fraction(s.low), Fraction(s.high)


@st.composite
def _anchor(draw, signals: tuple[Signal, ...]) -> dict[str, Fraction]:
    point = {}
    for s in signals:
        if s.numeric:
            lo, hi = _bounds(s)
            scale = 1 if s.kind == "int" else 10
            point[s.name] = Fraction(draw(st.integers(int(lo * scale), int(hi * scale))), scale)
    return point


@dataclass(frozen=True)
class _Term:
    """A linear term's text, a rough range of its values, and its exact value at the anchor."""

    text: str
    low: Fraction
    high: Fraction
    at_anchor: Fraction


@st.composite
def _linear(draw, ctx: _Context) -> _Term:
    """A linear term over 1-3 numeric signals (`a`, `2 * d - a + 1`, `-(f + 0.5 * g)`)."""
    numeric = ctx.numeric()
    chosen = draw(st.lists(st.sampled_from(numeric), min_size=1, max_size=min(3, len(numeric)),
                           unique_by=lambda s: s.name))
    parts: list[str] = []
    low = high = at_anchor = Fraction(0)
    for position, s in enumerate(chosen):
        if len(chosen) == 1 and draw(st.integers(0, 2)) > 0:
            coefficient: Any = 1
        elif ctx.floats and draw(st.integers(0, 3)) == 0:
            coefficient = draw(st.sampled_from(_FLOAT_COEFFICIENTS))
        else:
            coefficient = draw(st.sampled_from(_INT_COEFFICIENTS))
        lo, hi = _bounds(s)
        c = Fraction(coefficient)
        low, high = low + min(c * lo, c * hi), high + max(c * lo, c * hi)
        at_anchor += c * ctx.anchor[s.name]
        magnitude = _constant_text(abs(coefficient))
        if magnitude == "1":
            body = s.name
        else:  # either side of the `*`
            body = f"{magnitude} * {s.name}" if draw(st.booleans()) else f"{s.name} * {magnitude}"
        if position == 0:
            parts.append(f"-{body}" if coefficient < 0 else body)
        else:
            parts.append(("- " if coefficient < 0 else "+ ") + body)
    if draw(st.integers(0, 4)) == 0:  # a constant offset
        offset = draw(st.integers(-2, 2))
        if offset:
            parts.append(f"- {-offset}" if offset < 0 else f"+ {offset}")
            low, high, at_anchor = low + offset, high + offset, at_anchor + offset
    text = " ".join(parts)
    if len(parts) > 1 and draw(st.integers(0, 5)) == 0:
        factor = draw(st.sampled_from((2, -1)))
        text = f"({text}) * {factor}" if factor > 0 else f"-({text})"
        low, high = (low * factor, high * factor) if factor > 0 else (-high, -low)
        at_anchor *= factor
    return _Term(text, low, high, at_anchor)


@st.composite
def _constant(draw, ctx: _Context, term: _Term) -> str:
    """A constant for a term: its value at the anchor, inside its range, at the edges, just
    outside, not integral (`a < 2.5`), far away, or the threshold `lim`."""
    choice = draw(st.integers(0, 11))
    if choice <= 3:
        value: Any = term.at_anchor
    elif choice == 4:
        value = draw(st.sampled_from((-100, 100, 1000)))
    elif ctx.floats and choice <= 7:
        value = draw(st.sampled_from(_FLOAT_CONSTANTS))
    elif choice == 8:
        value = Decimal(draw(st.integers(int(term.low) - 2, int(term.high) + 2))) + Decimal("0.5")
    elif choice == 9 and ctx.threshold is not None:
        ctx.constants.append(ctx.threshold)
        return "lim"
    else:
        value = draw(st.integers(int(term.low) - 2, int(term.high) + 2))
    ctx.constants.append(value)
    return _constant_text(value)


_ORDERS = ("<", "<=", ">", ">=", "==", "!=")


@st.composite
def _comparison(draw, ctx: _Context) -> str:
    shape = draw(st.integers(0, 4))
    if shape <= 2:  # term OP constant, either side
        term = draw(_linear(ctx))
        constant = draw(_constant(ctx, term))
        op = draw(st.sampled_from(_ORDERS))
        return f"{term.text} {op} {constant}" if shape < 2 else f"{constant} {op} {term.text}"
    if shape == 3:  # term in LO..HI (empty ranges too)
        term = draw(_linear(ctx))
        lo, hi = draw(_constant(ctx, term)), draw(_constant(ctx, term))
        negated = "not in" if draw(st.integers(0, 3)) == 0 else "in"
        return f"{term.text} {negated} {lo}..{hi}"
    left, right = draw(_linear(ctx)), draw(_linear(ctx))  # term OP term
    return f"{left.text} {draw(st.sampled_from(_ORDERS))} {right.text}"


@st.composite
def _enum_test(draw, s: Signal) -> str:
    shape = draw(st.integers(0, 9))
    if shape <= 1:
        return f"{s.name} == {draw(st.sampled_from(s.members))}"
    if shape == 2:
        return f"{s.name} != {draw(st.sampled_from(s.members))}"
    members = draw(st.lists(st.sampled_from(s.members), min_size=0 if shape == 9 else 1,
                            max_size=max(1, len(s.members) - 1), unique=True))
    negated = "not in" if shape in (6, 7) else "in"
    return f"{s.name} {negated} {{{', '.join(members)}}}"


@st.composite
def _bool_test(draw, s: Signal) -> str:
    return draw(st.sampled_from((s.name, s.name, f"not {s.name}", f"{s.name} == true", f"{s.name} != false",
                                 f"{s.name} == false")))


@st.composite
def _atom(draw, ctx: _Context) -> str:
    options = []
    if ctx.numeric():
        options += ["number"] * 4
    if ctx.of_kind("enum"):
        options += ["enum"] * 2
    if ctx.of_kind("bool"):
        options += ["bool"] * 2
    if draw(st.integers(0, 3)) == 0:
        options.append("literal")
    match draw(st.sampled_from(options)):
        case "number":
            return draw(_comparison(ctx))
        case "enum":
            return draw(_enum_test(draw(st.sampled_from(ctx.of_kind("enum")))))
        case "bool":
            return draw(_bool_test(draw(st.sampled_from(ctx.of_kind("bool")))))
    return draw(st.sampled_from(("true", "false")))


@st.composite
def condition(draw, ctx: _Context, depth: int = 2) -> str:
    """A random condition: an atom, or `and`/`or`/`not` of smaller ones (fully parenthesised)."""
    if depth == 0 or draw(st.booleans()):
        return draw(_atom(ctx))
    shape = draw(st.sampled_from(("and", "and", "or", "or", "not")))
    if shape == "not":
        return f"not ({draw(condition(ctx, depth - 1))})"
    parts = draw(st.lists(condition(ctx, depth - 1), min_size=2, max_size=3))
    return "(" + f" {shape} ".join(parts) + ")"


# ---- signals, models, targets --------------------------------------------------------------------


@st.composite
def _finite_signals(draw) -> tuple[Signal, ...]:
    high_a = draw(st.integers(1, 4))
    pool = [
        Signal("a", "int", 0, high_a, default=draw(st.sampled_from((None, None, "0")))),
        Signal("b", "bool", default=draw(st.sampled_from((None, None, "false", "true")))),
        Signal("c", "enum", members=("x", "y", "z"), default=draw(st.sampled_from((None, None, "y")))),
        Signal("d", "int", -2, 2),
        Signal("input_tokens", "int", 0, 6),
    ]
    chosen = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=len(pool), unique_by=lambda s: s.name))
    return tuple(sorted(chosen, key=pool.index))


@st.composite
def _float_signals(draw) -> tuple[Signal, ...]:
    floats = [
        Signal("f", "float", Decimal("0.0"), Decimal("1.0")),
        Signal("g", "float", Decimal("-1.0"), Decimal("1.0"), default=draw(st.sampled_from((None, "0.5")))),
        Signal("h", "float"),
    ]
    others = [Signal("a", "int", 0, 4), Signal("b", "bool"), Signal("c", "enum", members=("x", "y", "z"))]
    chosen = draw(st.lists(st.sampled_from(floats), min_size=1, max_size=3, unique_by=lambda s: s.name))
    chosen += draw(st.lists(st.sampled_from(others), max_size=3, unique_by=lambda s: s.name))
    order = [s.name for s in floats + others]
    return tuple(sorted(chosen, key=lambda s: order.index(s.name)))


_MAX_OUTPUTS = (4, 8, 8, 10, 16)


@st.composite
def _models(draw, extras: bool) -> tuple[Model, ...]:
    count = draw(st.integers(2, 4))
    models = []
    for n in range(count):
        small_context = extras and draw(st.integers(0, 3)) == 0
        models.append(Model(
            name=f"m{n}",
            tier=draw(st.integers(0, 3)),
            input_price=draw(st.integers(0, 5)),
            output_price=draw(st.integers(0, 5)),
            context=draw(st.integers(3, 8)) if small_context else 1000,
            max_output=draw(st.sampled_from(_MAX_OUTPUTS)),
            latency=draw(st.sampled_from(("1s", "2s", "500ms"))),
            regions="{eu}" if extras and draw(st.booleans()) else None,
        ))
    return tuple(models)


_OUTCOMES = ("outcome q: float in 0.0..1.0 = 1.0", "outcome ok: bool = true", "outcome tries: int in 0..3 = 0")


@st.composite
def _edge_condition(draw, ctx: _Context) -> str:
    """An escalation condition on outcomes, sometimes with a signal; sometimes never true (W206)."""
    outcome = draw(st.sampled_from(("q < 0.5", "q <= 0.9", "not ok", "tries >= 2", "tries > 3",
                                    "q < 0.5 or not ok", "ok and tries >= 1")))
    if draw(st.integers(0, 2)) == 0:
        return f"{outcome} and {draw(_atom(ctx))}" if draw(st.booleans()) else f"{draw(_atom(ctx))} or {outcome}"
    return outcome


@dataclass(frozen=True)
class _Cascade:
    steps: tuple[str, ...]
    edges: tuple[str, ...]

    @property
    def declaration(self) -> str:
        edges = " ".join(f"{a} -> {b} when {cond}" for a, b, cond in zip(self.steps, self.steps[1:], self.edges))
        return f"cascade up {{ {edges} }}"


@st.composite
def _cascade(draw, ctx: _Context, models: tuple[Model, ...]) -> _Cascade:
    steps = draw(st.permutations([m.name for m in models]))[: draw(st.integers(2, min(3, len(models))))]
    edges = tuple(draw(_edge_condition(ctx)) for _ in steps[1:])
    return _Cascade(tuple(steps), edges)


@st.composite
def _target(draw, models: tuple[Model, ...], cascade: _Cascade | None) -> tuple[str, int | None]:
    """A target and a cap (or None): never above the (entry) model's max_output."""
    kinds = ["model"] * 4 + ["reject"] * 2 + (["cascade"] * 2 if cascade is not None else [])
    kind = draw(st.sampled_from(kinds))
    if kind == "reject":
        return f'reject "{draw(st.sampled_from(("r1", "r2")))}"', None
    if kind == "cascade":
        name, entry = "up", next(m for m in models if m.name == cascade.steps[0])
    else:
        entry = draw(st.sampled_from(models))
        name = entry.name
    cap = None
    if draw(st.integers(0, 2)) == 0:
        cap = draw(st.sampled_from((entry.max_output, 1, max(1, entry.max_output // 2), entry.max_output - 1)))
        cap = max(cap, 1)
    return name, cap


@st.composite
def _section7(draw, ctx: _Context, models: tuple[Model, ...]) -> list[str]:
    """Fallbacks (acyclic: only to a later model), budgets and invariants."""
    found = []
    errors = ("unavailable", "rate_limited", "timeout")
    for i, m in enumerate(models[:-1]):
        if draw(st.integers(0, 2)) == 0:
            to = draw(st.sampled_from(models[i + 1 :]))
            found.append(f"fallback {m.name} -> {to.name} on {draw(st.sampled_from(errors))}")
    for _ in range(draw(st.integers(0, 2))):
        when = f" when {draw(_atom(ctx))}" if draw(st.booleans()) else ""
        if draw(st.booleans()):
            bound = draw(st.sampled_from(("$0.00001", "$0.00003", "$0.0001", "$0.01", "$1")))
            found.append(f"budget cost <= {bound}{when}")
        else:
            bound = draw(st.sampled_from(("500ms", "1s", "2s", "3s", "10s")))
            found.append(f"budget latency <= {bound}{when}")
    for n in range(draw(st.integers(0, 2))):
        when = f"when {draw(_atom(ctx))} " if draw(st.booleans()) else ""
        require = draw(st.sampled_from(("model.tier >= 1", "model.tier >= 2", "model.max_output <= 8",
                                        "model.regions <= {eu}", f'model.id != "v/{models[0].name}"',
                                        "model.context >= 5")))
        found.append(f"invariant inv{n}: {when}require {require}")
    return found


# ---- policies ------------------------------------------------------------------------------------


@st.composite
def _policy(draw, signals: tuple[Signal, ...], floats: bool, extras: bool, max_rules: int,
            rule_condition=None) -> GeneratedPolicy:
    declarations: list[str] = []
    threshold = None
    if not floats and draw(st.integers(0, 3)) == 0:
        threshold = draw(st.integers(0, 4))
        declarations.append(f"threshold lim = {threshold}")
    ctx = _Context(signals, floats, draw(_anchor(signals)), threshold)
    models = draw(_models(extras))
    cascade = None
    if draw(st.integers(0, 3)) == 0:
        cascade = draw(_cascade(ctx, models))
        declarations += list(_OUTCOMES)
        declarations.append(cascade.declaration)
    if extras:
        declarations += draw(_section7(ctx, models))
    rules = []
    make_condition = rule_condition or (lambda: condition(ctx))
    for n in range(draw(st.integers(1, max_rules))):
        target, cap = draw(_target(models, cascade))
        rules.append(Rule(f"r{n + 1}", draw(make_condition()), target, cap))
    default = None
    if draw(st.booleans()):
        target, cap = draw(_target(models, cascade))
        default = Rule("default", None, target, cap)
    return GeneratedPolicy(signals, models, tuple(rules), default, tuple(declarations), tuple(ctx.constants),
                           tuple(ctx.anchor.items()))


def finite_policies(*, extras: bool = False, max_rules: int = 8) -> st.SearchStrategy[GeneratedPolicy]:
    """Policies over small int ranges, a bool and an enum: every request can be enumerated."""
    return _finite_signals().flatmap(lambda signals: _policy(signals, False, extras, max_rules))


def float_policies(*, extras: bool = False, max_rules: int = 8) -> st.SearchStrategy[GeneratedPolicy]:
    """Policies with float signals (bounded and unbounded): draw requests with `requests_of`."""
    return _float_signals().flatmap(lambda signals: _policy(signals, True, extras, max_rules))


def any_policies(*, extras: bool = False, max_rules: int = 8) -> st.SearchStrategy[GeneratedPolicy]:
    return st.one_of(finite_policies(extras=extras, max_rules=max_rules),
                     float_policies(extras=extras, max_rules=max_rules))


@st.composite
def _enum_keyed(draw, max_rules: int) -> GeneratedPolicy:
    members = tuple(f"t{n}" for n in range(draw(st.integers(5, 30))))
    key = Signal("k", "enum", members=members)
    signals = (key, Signal("a", "int", 0, 4), Signal("b", "bool"))
    anchor = draw(_anchor(signals))
    ctx = _Context(signals[1:], False, anchor)
    keyed_ctx = _Context(signals, False, anchor)

    @st.composite
    def keyed(draw) -> str:
        shape = draw(st.integers(0, 9))
        member = draw(st.sampled_from(members))
        if shape <= 3:
            test = f"k == {member}"
        elif shape == 4:
            test = f"k != {member}"
        else:
            chosen = draw(st.lists(st.sampled_from(members), min_size=1, max_size=6, unique=True))
            test = f"k {'not in' if shape == 9 else 'in'} {{{', '.join(chosen)}}}"
        mixed = draw(st.integers(0, 3))
        if mixed == 0:
            return f"{test} and {draw(_atom(ctx))}"
        if mixed == 1 and draw(st.integers(0, 2)) == 0:
            return f"({test} or {draw(condition(keyed_ctx, 1))})"
        return test

    def rule_condition():
        return st.one_of(keyed(), keyed(), keyed(), condition(ctx, 1))

    return draw(_policy(signals, False, False, max_rules, rule_condition))


def enum_keyed_policies(*, max_rules: int = 12) -> st.SearchStrategy[GeneratedPolicy]:
    """Routes keyed on an enum `k` of 5-30 members (`t0`, `t1`, ...) by `==`, `!=`, `in` and
    `not in`, alone or with other tests, interleaved with rules on `a` (int 0..4) and `b` (bool)
    that do not test `k`; at most 30 * 5 * 2 = 300 requests, so they can be enumerated too."""
    return _enum_keyed(max_rules)


# ---- hand-written policies, for @example pins ---------------------------------------------------

STANDARD_SIGNALS = {s.name: s for s in (
    Signal("a", "int", 0, 4), Signal("b", "bool"), Signal("c", "enum", members=("x", "y", "z")),
    Signal("d", "int", -2, 2), Signal("input_tokens", "int", 0, 6),
    Signal("f", "float", Decimal("0.0"), Decimal("1.0")), Signal("g", "float", Decimal("-1.0"), Decimal("1.0")),
    Signal("h", "float"),
)}
"""The signals the strategies draw from, by name, at their widest domains."""


def example_policy(signals: str, rules: list[tuple[str, str]], default: str | None = None) -> GeneratedPolicy:
    """A policy written by hand in the generator's terms, to pin a falsifying example:
    `example_policy("f g", [("f + g > 0.3", "m0")], default="m1")` declares signals `f` and `g`
    (`STANDARD_SIGNALS`), two plain models `m0` and `m1`, rules `r1..` and the default."""
    models = tuple(Model(f"m{n}", 0, 0, 0, 1000, 4, "1s") for n in range(2))
    return GeneratedPolicy(
        signals=tuple(STANDARD_SIGNALS[name] for name in signals.split()),
        models=models,
        rules=tuple(Rule(f"r{n + 1}", cond, target) for n, (cond, target) in enumerate(rules)),
        default=None if default is None else Rule("default", None, default),
    )


# ---- requests for domains that are not finite ----------------------------------------------------


def _runtime(s: Signal, value: Fraction) -> Any:
    return int(value) if s.kind == "int" else float(value)


def _value(s: Signal, constants: tuple[Any, ...], anchor: dict[str, Fraction]) -> st.SearchStrategy[Any]:
    if s.values is not None:
        return st.sampled_from(s.values)
    lo = None if s.low is None else float(s.low)
    hi = None if s.high is None else float(s.high)
    near = sorted({float(c) for c in constants if not isinstance(c, str)}
                  | {v for v in (lo, hi) if v is not None} | {0.0})
    near = [v for v in near if (lo is None or v >= lo) and (hi is None or v <= hi)]
    spread = st.floats(-5.0 if lo is None else lo, 5.0 if hi is None else hi, allow_nan=False, allow_infinity=False)
    tenths = st.integers(-50 if lo is None else int(lo * 10), 50 if hi is None else int(hi * 10)).map(lambda n: n / 10)
    return st.one_of(st.just(_runtime(s, anchor[s.name])), st.sampled_from(near), tenths, spread)


def requests_of(policy: GeneratedPolicy) -> st.SearchStrategy[dict[str, Any]]:
    """Valid requests of a generated policy. Floats lean on the anchor (where the policy's
    boundaries meet; often the whole request is the anchor), its constants, bounds and tenths."""
    anchor = dict(policy.anchor)
    at_anchor = st.fixed_dictionaries({
        s.name: st.just(_runtime(s, anchor[s.name])) if s.name in anchor else st.sampled_from(s.values)
        for s in policy.signals})
    anywhere = st.fixed_dictionaries({s.name: _value(s, policy.constants, anchor) for s in policy.signals})
    return st.one_of(at_anchor, anywhere)
