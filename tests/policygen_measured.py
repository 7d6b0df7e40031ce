"""Random valid policies over money and durations, and ints scaled by money and duration literals.

The other generators (`policygen`) compare numbers; these compare amounts and times, the kinds
whose arithmetic is exact decimals in every engine: `spend + n * $0.25 >= $1.5`,
`wait * 2 - pause < 3.5s`, `n * 0.5s >= 30s`, `credit in $0.1..$0.9`. Constants are often a
term's exact value at one anchor point, so that rules meet at their boundaries.

Signals: `spend: money in $0..$2`, `credit: money` (unbounded), `wait: duration in 0s..10s`,
`pause: duration` (unbounded), `n: int in 0..40`, `k: int in -5..5`, a bool `b` and an enum
`c`. Not finite: decide drawn requests (`tests/strategies.py`) or the witnesses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any

from hypothesis import strategies as st

import policygen as gen

SIGNALS = (
    gen.Signal("spend", "money", Decimal("0"), Decimal("2")),
    gen.Signal("credit", "money"),
    gen.Signal("wait", "duration", Decimal("0"), Decimal("10")),
    gen.Signal("pause", "duration"),
    gen.Signal("n", "int", 0, 40),
    gen.Signal("k", "int", -5, 5),
    gen.Signal("b", "bool"),
    gen.Signal("c", "enum", members=("x", "y", "z")),
)


def _decimal(value: Fraction | Decimal | int) -> Decimal:
    if isinstance(value, Fraction):  # always a finite decimal here: hundredths times decimal rates
        return Decimal(value.numerator) / Decimal(value.denominator)
    return Decimal(value)


def money_text(value: Fraction | Decimal | int) -> str:
    exact = _decimal(value)
    return f"{'-' if exact < 0 else ''}${format(abs(exact).normalize(), 'f')}"


def duration_text(value: Fraction | Decimal | int) -> str:
    exact = _decimal(value)
    sign = "-" if exact < 0 else ""
    millis = abs(exact) * 1000
    if millis == millis.to_integral_value() and millis % 1000:
        return f"{sign}{int(millis)}ms"
    return f"{sign}{format(abs(exact).normalize(), 'f')}s"


def number_text(value: int | Decimal) -> str:
    return str(value) if isinstance(value, int) else gen.number(value)


UNITS = {"money": money_text, "duration": duration_text}
NUMBER_COEFFICIENTS = (1, 1, 2, 3, -1, Decimal("0.5"), Decimal("1.5"), Decimal("-0.5"))
MONEY_RATES = (Decimal("0.5"), Decimal("0.25"), Decimal("1"), Decimal("0.05"), Decimal("2"), Decimal("-0.1"))
DURATION_RATES = (Decimal("0.5"), Decimal("0.25"), Decimal("1"), Decimal("2"), Decimal("0.001"), Decimal("-1"))


@dataclass
class Context:
    anchor: dict[str, Fraction]
    constants: list[Any] = field(default_factory=list)


def _bounds(s: gen.Signal) -> tuple[Fraction, Fraction]:
    return (Fraction(-3), Fraction(3)) if s.low is None else (Fraction(s.low), Fraction(s.high))


@st.composite
def anchor(draw) -> dict[str, Fraction]:
    point = {}
    for s in SIGNALS:
        if s.kind in ("money", "duration", "int"):
            lo, hi = _bounds(s)
            scale = 1 if s.kind == "int" else 100
            point[s.name] = Fraction(draw(st.integers(int(lo * scale), int(hi * scale))), scale)
    return point


@st.composite
def term(draw, ctx: Context, kind: str) -> tuple[str, Fraction, Fraction, Fraction]:
    """(text, rough low, rough high, value at the anchor) of a linear term of this kind."""
    measured = [s for s in SIGNALS if s.kind == kind]
    ints = [s for s in SIGNALS if s.kind == "int"]
    rates = MONEY_RATES if kind == "money" else DURATION_RATES
    parts, low, high, at = [], Fraction(0), Fraction(0), Fraction(0)
    for position in range(draw(st.integers(1, 3))):
        if draw(st.booleans()):  # a measured signal times a number
            s = draw(st.sampled_from(measured))
            c = draw(st.sampled_from(NUMBER_COEFFICIENTS))
            magnitude = number_text(abs(c))
            body = s.name if c == 1 else (f"{magnitude} * {s.name}" if draw(st.booleans()) else f"{s.name} * {magnitude}")
        else:  # an int times a unit literal: the shape that was mis-scaled (`n * 0.5s`)
            s = draw(st.sampled_from(ints))
            c = draw(st.sampled_from(rates))
            literal = UNITS[kind](abs(c))
            body = f"{s.name} * {literal}" if draw(st.booleans()) else f"{literal} * {s.name}"
        c = Fraction(c)
        lo, hi = _bounds(s)
        low, high = low + min(c * lo, c * hi), high + max(c * lo, c * hi)
        at += c * ctx.anchor[s.name]
        negative = c < 0
        if position == 0:
            parts.append(f"-{body}" if negative else body)
        else:
            parts.append(("- " if negative else "+ ") + body)
    if draw(st.integers(0, 3)) == 0:
        offset = Fraction(draw(st.sampled_from((Decimal("0.1"), Decimal("1"), Decimal("-0.25")))))
        parts.append(("- " if offset < 0 else "+ ") + UNITS[kind](abs(offset)))
        low, high, at = low + offset, high + offset, at + offset
    return " ".join(parts), low, high, at


@st.composite
def constant(draw, ctx: Context, kind: str, low: Fraction, high: Fraction, at: Fraction) -> str:
    choice = draw(st.integers(0, 5))
    if choice <= 2:
        value = at
    elif choice == 3:
        value = Fraction(draw(st.integers(int(low * 4) - 2, int(high * 4) + 2)), 4)
    elif choice == 4:
        value = Fraction(draw(st.sampled_from((0, 30, 1000))))
    else:
        value = Fraction(draw(st.integers(-300, 300)), 100)
    ctx.constants.append(value)
    return UNITS[kind](value)


OPS = ("<", "<=", ">", ">=", "==", "!=")


@st.composite
def comparison(draw, ctx: Context) -> str:
    kind = draw(st.sampled_from(("money", "duration")))
    text, low, high, at = draw(term(ctx, kind))
    shape = draw(st.integers(0, 5))
    if shape == 5:
        lo = draw(constant(ctx, kind, low, high, at))
        hi = draw(constant(ctx, kind, low, high, at))
        return f"{text} {'not in' if draw(st.booleans()) else 'in'} {lo}..{hi}"
    if shape == 4:
        other = draw(term(ctx, kind))[0]
        return f"{text} {draw(st.sampled_from(OPS))} {other}"
    value = draw(constant(ctx, kind, low, high, at))
    op = draw(st.sampled_from(OPS))
    return f"{text} {op} {value}" if shape < 3 else f"{value} {op} {text}"


@st.composite
def atom(draw, ctx: Context) -> str:
    shape = draw(st.integers(0, 7))
    if shape <= 4:
        return draw(comparison(ctx))
    if shape == 5:
        return draw(st.sampled_from(("b", "not b")))
    return draw(st.sampled_from(("c == x", "c in {x, y}", "c != z")))


@st.composite
def condition(draw, ctx: Context, depth: int = 2) -> str:
    if depth == 0 or draw(st.booleans()):
        return draw(atom(ctx))
    shape = draw(st.sampled_from(("and", "or", "not")))
    if shape == "not":
        return f"not ({draw(condition(ctx, depth - 1))})"
    parts = draw(st.lists(condition(ctx, depth - 1), min_size=2, max_size=3))
    return "(" + f" {shape} ".join(parts) + ")"


@st.composite
def _measured(draw, extras: bool, max_rules: int) -> gen.GeneratedPolicy:
    ctx = Context(draw(anchor()))
    models = draw(gen._models(extras))
    declarations: list[str] = []
    if extras:
        budget = draw(st.sampled_from(("$0.00001", "$0.0001", "$1")))
        when = f" when {draw(atom(ctx))}" if draw(st.booleans()) else ""
        declarations.append(f"budget cost <= {budget}{when}")
        if draw(st.booleans()):
            declarations.append(f"invariant inv0: when {draw(atom(ctx))} require model.tier >= 1")
    rules = []
    for n in range(draw(st.integers(1, max_rules))):
        target, cap = draw(gen._target(models, None))
        rules.append(gen.Rule(f"r{n + 1}", draw(condition(ctx)), target, cap))
    default = None
    if draw(st.booleans()):
        target, cap = draw(gen._target(models, None))
        default = gen.Rule("default", None, target, cap)
    return gen.GeneratedPolicy(SIGNALS, models, tuple(rules), default, tuple(declarations), tuple(ctx.constants),
                               tuple(ctx.anchor.items()))


def measured_policies(*, extras: bool = False, max_rules: int = 6) -> st.SearchStrategy[gen.GeneratedPolicy]:
    """Policies over money and duration signals and ints scaled by unit literals."""
    return _measured(extras, max_rules)
