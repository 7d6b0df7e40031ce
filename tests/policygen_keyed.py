"""More random policies, for the two optimisations that `policygen` alone exercises too rarely.

`box_policies()`
    conditions built mostly from one-signal tests (what `analysis/boxes.py` turns into exact
    boxes), over ints in bounded, negative and unbounded ranges, floats with open and closed
    ends, an unbounded `input_tokens` now and then, bools and enums; comparisons on either side,
    `!=`, `in LO..HI` and `not in LO..HI` (empty ranges too), `in {..}` and `not in {..}` up to
    the whole member list, `not`; the constants come from a few cut points per signal, so that
    rules meet at shared boundaries (`f > 0.5` next to `f >= 0.5`). Now and then an atom that
    boxes cannot express (`a + d > 1`, `2 * f < 0.5`), so both paths run in one policy.
`keyed_policies()`
    routes with 8 to 18 rules on an enum `k` of 5-30 members (`==`, `!=`, `in`, `not in`, `not`,
    alone or with other tests, now and then under 70 `not`s, too deep to specialize), so that the engines dispatch on `k` (backends/index.py), with
    global rules that do not test `k` before, between and after them; models, a cascade,
    rejections, caps; a default or none; `k` sometimes optional (`= t0`).

Both return `policygen.GeneratedPolicy`, so `.text`, `.requests()` and `requests_of` apply.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from hypothesis import strategies as st

import policygen as gen
from policygen import GeneratedPolicy, Model, Rule, Signal

# ---- one-signal conditions ---------------------------------------------------------------------

_INTS = [
    Signal("a", "int", 0, 4),
    Signal("d", "int", -2, 2),
    Signal("n", "int", -9, -3),
    Signal("i", "int"),
]
_FLOATS = [
    Signal("f", "float", Decimal("0.0"), Decimal("1.0")),
    Signal("g", "float", Decimal("-1.0"), Decimal("1.0")),
    Signal("h", "float"),
]
_TOKENS = [
    Signal("input_tokens", "int", 0, 6),
    Signal("input_tokens", "int", 0, 100),
    Signal("input_tokens", "int"),
]
_OTHERS = [
    Signal("b", "bool"),
    Signal("c", "enum", members=("x", "y", "z")),
    Signal("e", "enum", members=("u", "v", "w", "p", "q"), default="u"),
]


def _text(value) -> str:
    if isinstance(value, int):
        return str(value)
    return gen.number(Decimal(value), "float")


def _cut_values(s: Signal) -> list:
    """Interesting constants for a numeric signal: bounds, one past them, halves, far away."""
    if s.kind == "int":
        lo, hi = (s.low, s.high) if s.low is not None else (-3, 3)
        ints = list(range(lo - 1, hi + 2))
        halves = [Decimal(v) + Decimal("0.5") for v in range(lo - 1, hi + 1)]
        return ints + halves + [-1000, 1000]
    lo, hi = (s.low, s.high) if s.low is not None else (Decimal(-2), Decimal(2))
    tenths = [Decimal(n) / 10 for n in range(int(lo * 10) - 1, int(hi * 10) + 2)]
    return tenths + [Decimal("0.25"), Decimal("-0.25"), Decimal("0.05"), Decimal("-100.0"), Decimal("100.0")]


@st.composite
def _cuts(draw, signals: tuple[Signal, ...]) -> dict[str, list]:
    """Two or three constants per numeric signal that this policy's comparisons share."""
    return {s.name: draw(st.lists(st.sampled_from(_cut_values(s)), min_size=1, max_size=3, unique=True))
            for s in signals if s.numeric}


@st.composite
def _box_atom(draw, signals: tuple[Signal, ...], cuts: dict[str, list]) -> str:
    s = draw(st.sampled_from(signals))
    if draw(st.integers(0, 15)) == 0:
        return draw(st.sampled_from(("true", "false")))
    if s.kind == "bool":
        return draw(st.sampled_from((s.name, f"not {s.name}", f"{s.name} == true", f"{s.name} != false",
                                     f"{s.name} == false", f"true == {s.name}")))
    if s.kind == "enum":
        shape = draw(st.integers(0, 7))
        if shape <= 1:
            m = draw(st.sampled_from(s.members))
            return f"{s.name} == {m}" if shape == 0 else f"{m} == {s.name}"
        if shape == 2:
            return f"{s.name} != {draw(st.sampled_from(s.members))}"
        chosen = draw(st.lists(st.sampled_from(s.members), max_size=len(s.members), unique=True))
        if shape == 7:
            chosen = list(s.members)  # the whole member list: `not in` it is empty
        negated = "not in" if shape in (5, 6, 7) else "in"
        return f"{s.name} {negated} {{{', '.join(chosen)}}}"
    pool = cuts[s.name] if draw(st.integers(0, 4)) else _cut_values(s)
    shape = draw(st.integers(0, 9))
    if shape <= 5:
        op = draw(st.sampled_from(("<", "<=", ">", ">=", "==", "!=")))
        c = _text(draw(st.sampled_from(pool)))
        return f"{s.name} {op} {c}" if shape <= 3 else f"{c} {op} {s.name}"
    lo, hi = draw(st.sampled_from(pool)), draw(st.sampled_from(pool))
    if shape <= 7 and lo > hi:
        lo, hi = hi, lo
    negated = "not in" if shape in (7, 9) else "in"
    return f"{s.name} {negated} {_text(lo)}..{_text(hi)}"


_NON_BOX = ("a + d > 1", "2 * a < 3", "a - d >= 0", "i + a <= 2", "2 * f < 0.5", "f - g >= 0.0",
            "h + g > 0.5", "input_tokens + a > 5", "n + 2 * a >= -3", "-i > 1")


@st.composite
def _box_condition(draw, signals, cuts, depth: int = 2, mixed: bool = True) -> str:
    if depth == 0 or draw(st.booleans()):
        if mixed and draw(st.integers(0, 11)) == 0:
            names = {s.name for s in signals}
            usable = [t for t in _NON_BOX
                      if all(w in names for w in t.replace("-", " ").split() if w.isidentifier())]
            if usable:
                return draw(st.sampled_from(usable))
        atom = draw(_box_atom(signals, cuts))
        return f"not ({atom})" if draw(st.integers(0, 3)) == 0 else atom  # negations flip every test
    shape = draw(st.sampled_from(("and", "and", "or", "or", "not", "not")))
    if shape == "not":
        return f"not ({draw(_box_condition(signals, cuts, depth - 1, mixed))})"
    parts = draw(st.lists(_box_condition(signals, cuts, depth - 1, mixed), min_size=2, max_size=3))
    return "(" + f" {shape} ".join(parts) + ")"


def _plain_models(count: int) -> tuple[Model, ...]:
    return tuple(Model(f"m{n}", n, 1, 1, 1000, 8, "1s") for n in range(count))


@st.composite
def _few_targets(draw, models: tuple[Model, ...]) -> tuple[str, int | None]:
    """Few distinct outcomes, so that rules often decide alike (W205 both ways)."""
    target = draw(st.sampled_from([m.name for m in models] + ['reject "r1"', 'reject "r1"', 'reject "r2"']))
    cap = None
    if not target.startswith("reject") and draw(st.integers(0, 4)) == 0:
        cap = draw(st.sampled_from((8, 4)))  # 8 is the model's own max_output: the same decision
    return target, cap


@st.composite
def _box_signals(draw) -> tuple[Signal, ...]:
    chosen = draw(st.lists(st.sampled_from(_INTS), min_size=0, max_size=2, unique_by=lambda s: s.name))
    chosen += draw(st.lists(st.sampled_from(_FLOATS), min_size=0, max_size=2, unique_by=lambda s: s.name))
    if draw(st.integers(0, 2)) > 0:
        chosen.append(draw(st.sampled_from(_TOKENS)))
    chosen += draw(st.lists(st.sampled_from(_OTHERS), min_size=0 if chosen else 1, max_size=3,
                            unique_by=lambda s: s.name))
    return tuple(chosen)


@st.composite
def _box_policy(draw, max_rules: int) -> GeneratedPolicy:
    signals = draw(_box_signals())
    cuts = draw(_cuts(signals))
    models = _plain_models(draw(st.integers(1, 3)))
    mixed = draw(st.booleans())  # else every condition is boxes: gap_boxes and W205 by boxes apply
    rules = []
    for n in range(draw(st.integers(1, max_rules))):
        target, cap = draw(_few_targets(models))
        rules.append(Rule(f"r{n + 1}", draw(_box_condition(signals, cuts, mixed=mixed)), target, cap))
    default = None
    if draw(st.booleans()):
        target, cap = draw(_few_targets(models))
        default = Rule("default", None, target, cap)
    constants = tuple(Fraction(v) for values in cuts.values() for v in values)
    return GeneratedPolicy(signals, models, tuple(rules), default, (), constants, ())


def box_policies(*, max_rules: int = 8) -> st.SearchStrategy[GeneratedPolicy]:
    """Policies whose conditions are mostly unions of boxes (see the module's docstring)."""
    return _box_policy(max_rules)


# ---- enum-keyed routes that the engines dispatch -------------------------------------------------


@st.composite
def _keyed_test(draw, key: Signal, ctx) -> str:
    members = key.members
    m = draw(st.sampled_from(members))
    shape = draw(st.integers(0, 13))
    if shape <= 3:
        test = f"k == {m}" if shape else f"{m} == k"
    elif shape == 4:
        test = f"k != {m}"
    elif shape == 5:
        test = f"not (k == {m})"
    elif shape == 6:
        other = draw(st.sampled_from(members))
        test = f"(k == {m} or k == {other})"
    elif shape == 7:
        test = "k in {}" if draw(st.booleans()) else f"k not in {{{', '.join(members)}}}"
    elif shape == 8:  # two keyed branches, each with its own other test
        other = draw(st.sampled_from(members))
        test = f"((k == {m} and {draw(gen._atom(ctx))}) or (k == {other} and {draw(gen._atom(ctx))}))"
    else:
        chosen = draw(st.lists(st.sampled_from(members), min_size=1, max_size=min(8, len(members) - 1),
                               unique=True))
        test = f"k {'not in' if shape >= 12 else 'in'} {{{', '.join(chosen)}}}"
    if draw(st.integers(0, 24)) == 0:  # deeper than backends/index.py specializes (SPECIALIZE_DEPTH)
        return "not (" * 70 + test + ")" * 70
    mixed = draw(st.integers(0, 5))
    if mixed == 0:
        return f"{test} and {draw(gen._atom(ctx))}"
    if mixed == 1:
        return f"{draw(gen._atom(ctx))} and not ({test})"
    if mixed == 2 and draw(st.booleans()):  # the hull no longer restricts k
        return f"({test} or {draw(gen._atom(ctx))})"
    return test


@st.composite
def _keyed_policy(draw, min_keyed: int, max_keyed: int) -> GeneratedPolicy:
    members = tuple(f"t{n}" for n in range(draw(st.integers(5, 30))))
    key = Signal("k", "enum", members=members, default=draw(st.sampled_from((None, None, None, "t0"))))
    # optional ones too: a trusted path may read those inside the conjunct that tests them,
    # and hand the chains a local that is None until read
    optional = draw(st.sampled_from(("", "", "a", "b", "c", "abc")))
    others = [Signal("a", "int", 0, 4, default="2" if "a" in optional else None),
              Signal("b", "bool", default="false" if "b" in optional else None),
              Signal("c", "enum", members=("x", "y", "z"), default="y" if "c" in optional else None)]
    chosen = draw(st.lists(st.sampled_from(others), min_size=1, max_size=3, unique_by=lambda s: s.name))
    chosen.sort(key=lambda s: s.name)
    position = draw(st.integers(0, len(chosen)))  # k among the declarations, for R001-R003 order
    signals = tuple(chosen[:position] + [key] + chosen[position:])
    ctx = gen._Context(tuple(chosen), False, draw(gen._anchor(tuple(chosen))))
    models = draw(gen._models(False))
    declarations: list[str] = []
    cascade = None
    if draw(st.integers(0, 2)) == 0:
        cascade = draw(gen._cascade(ctx, models))
        declarations += list(gen._OUTCOMES)
        declarations.append(cascade.declaration)

    @st.composite
    def global_condition(draw):
        if draw(st.booleans()):  # a flat conjunction: what a trusted path may read conjunct by conjunct
            return " and ".join(draw(st.lists(gen._atom(ctx), min_size=2, max_size=3)))
        return draw(gen.condition(ctx, 1))

    conditions: list[str] = []
    conditions += [draw(global_condition()) for _ in range(draw(st.integers(0, 2)))]
    for _ in range(draw(st.integers(min_keyed, max_keyed))):
        if draw(st.integers(0, 4)) == 0:  # a global rule between keyed ones
            conditions.append(draw(global_condition()))
        conditions.append(draw(_keyed_test(key, ctx)))
    conditions += [draw(global_condition()) for _ in range(draw(st.integers(0, 2)))]
    rules = []
    for n, cond in enumerate(conditions):
        target, cap = draw(gen._target(models, cascade))
        rules.append(Rule(f"r{n + 1}", cond, target, cap))
    default = None
    if draw(st.integers(0, 2)) > 0:
        target, cap = draw(gen._target(models, cascade))
        default = Rule("default", None, target, cap)
    return GeneratedPolicy(signals, models, tuple(rules), default, tuple(declarations),
                           tuple(ctx.constants), tuple(ctx.anchor.items()))


def keyed_policies(*, min_keyed: int = 8, max_keyed: int = 18) -> st.SearchStrategy[GeneratedPolicy]:
    """Routes with `min_keyed`..`max_keyed` rules on enum `k` (see the module's docstring)."""
    return _keyed_policy(min_keyed, max_keyed)
