"""Hypothesis strategies for requests and outcome objects, read off a policy's typed IR.

Each strategy takes the declarations it draws for (`policy.ir.inputs` for requests,
`policy.ir.outcomes` for outcome objects), so one set of generators serves `decide`, `escalate`
and `path` alike. Section 5 of the language reference says what a valid value is; the faulty
generators aim at its edges: the exact bounds and one step past them, NaN and infinities, `True`
where a number is expected, `1` where a bool is, strings that look like numbers, huge ints.
"""

from __future__ import annotations

import math
import types
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import Any

from hypothesis import strategies as st

from policylang.ir.policy import CheckedPolicy, Signal
from policylang.ir.types import BoolType, DurationType, EnumType, FloatType, IntType, MoneyType

HUGE = 10**30
"""An int far past any bound a policy writes, and past what a double holds exactly."""

TINY = Decimal("1E-20")
"""A step past a decimal bound that a float could not express."""

INF, NAN = math.inf, math.nan


# ---- valid values -------------------------------------------------------------------------------


def _inside(value: Any, low: Any, high: Any) -> bool:
    return (low is None or value >= low) and (high is None or value <= high)


def _exact(value: float) -> Decimal:
    """A money or duration float as the engines read it: the decimal its shortest repr shows."""
    return Decimal(repr(value))


def _int_range(low: Any, high: Any) -> st.SearchStrategy[int] | None:
    """The ints inside [low, high] (any numeric bounds), or None when there are none."""
    lo = None if low is None else math.ceil(low)
    hi = None if high is None else math.floor(high)
    if lo is not None and hi is not None and lo > hi:
        return None
    return st.integers(lo, hi)


def _bounds(low: Any, high: Any) -> list[Any]:
    return [b for b in (low, high) if b is not None]


def _valid_float(t: FloatType) -> st.SearchStrategy[Any]:
    options = [st.floats(t.low, t.high, allow_nan=False, allow_infinity=False)]
    if (ints := _int_range(t.low, t.high)) is not None:
        options.append(ints)
    if bounds := _bounds(t.low, t.high):
        options.append(st.sampled_from(bounds))
    return st.one_of(options)


def _decimal_floats(low: Decimal | None, high: Decimal | None, scale: int) -> st.SearchStrategy[float]:
    """Floats with at most `scale` decimal places (cents, milliseconds) inside the bounds."""
    unit = Decimal(10) ** scale
    lo = -10**15 if low is None else math.ceil(low * unit)
    hi = 10**15 if high is None else math.floor(high * unit)
    if lo > hi:
        return st.nothing()
    return st.integers(lo, hi).map(lambda n: n / 10**scale).filter(lambda x: _inside(_exact(x), low, high))


def _any_floats(low: Decimal | None, high: Decimal | None) -> st.SearchStrategy[float]:
    """Arbitrary finite floats whose exact reading lies inside the bounds."""
    lo = None if low is None else float(low)
    hi = None if high is None else float(high)
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False).filter(lambda x: _inside(_exact(x), low, high))


def _long_decimals(low: Decimal | None, high: Decimal | None) -> st.SearchStrategy[Decimal]:
    """Decimals with more digits than the default decimal context keeps (28), inside the bounds."""

    def within(places: int) -> st.SearchStrategy[Decimal]:
        unit = Decimal(f"1E{places}")
        lo = -(10**40) if low is None else int((low * unit).to_integral_value(rounding="ROUND_CEILING"))
        hi = 10**40 if high is None else int((high * unit).to_integral_value(rounding="ROUND_FLOOR"))
        return st.integers(lo, hi).map(lambda digits: exact_decimal(digits, places))

    return st.integers(20, 40).flatmap(within).filter(lambda d: _inside(d, low, high))


def exact_decimal(digits: int, places: int) -> Decimal:
    """digits x 10**-places, exactly: arithmetic (and `scaleb`) would round to 28 digits."""
    return Decimal(f"{digits}E{-places}")


def _bound_values(low: Decimal | None, high: Decimal | None) -> list[Any]:
    """The bounds as Decimal, as float and as int, each only when it reads as the bound itself."""
    found: list[Any] = []
    for bound in _bounds(low, high):
        found.append(bound)
        if _exact(float(bound)) == bound:
            found.append(float(bound))
        if bound == bound.to_integral_value():
            found.append(int(bound))
    return found


def _valid_money(t: MoneyType) -> st.SearchStrategy[Any]:
    low, high = t.low, t.high
    options = [
        st.decimals(low, high, places=2, allow_nan=False, allow_infinity=False),
        st.decimals(low, high, allow_nan=False, allow_infinity=False),
        _long_decimals(low, high),
        _decimal_floats(low, high, 2),
        _any_floats(low, high),
    ]
    if (ints := _int_range(low, high)) is not None:
        options.append(ints)
    options.append(st.sampled_from(_bound_values(low, high) or [Decimal(0), 0, 0.0]))
    return st.one_of(options)


def _valid_duration(t: DurationType) -> st.SearchStrategy[Any]:
    low, high = t.low, t.high
    options = [_decimal_floats(low, high, 3), _any_floats(low, high)]
    if (ints := _int_range(low, high)) is not None:
        options.append(ints)
    plain = [b for b in _bound_values(low, high) if not isinstance(b, Decimal)]
    if plain:
        options.append(st.sampled_from(plain))
    return st.one_of(options)


@cache
def valid_value(t: Any) -> st.SearchStrategy[Any]:
    """Any runtime value of the declared type inside its domain, exact bounds included."""
    match t:
        case BoolType():
            return st.booleans()
        case IntType(low=low, high=high):
            options = [st.integers(low, high), st.sampled_from(_bounds(low, high) or [0])]
            if low is None or high is None:
                options.append(st.sampled_from([v for v in (HUGE, -HUGE) if _inside(v, low, high)] or [0]))
            return st.one_of(options)
        case FloatType():
            return _valid_float(t)
        case MoneyType():
            return _valid_money(t)
        case DurationType():
            return _valid_duration(t)
        case EnumType(members=members):
            return st.sampled_from(members)
    raise AssertionError(f"no runtime values for {t!r}")


def valid_values(signals: Sequence[Signal]) -> st.SearchStrategy[dict[str, Any]]:
    """Objects with every required name and any of the optional ones, each inside its domain."""
    required = {s.name: valid_value(s.type) for s in signals if not s.has_default}
    optional = {s.name: valid_value(s.type) for s in signals if s.has_default}
    return st.fixed_dictionaries(required, optional=optional)


def valid_requests(policy: CheckedPolicy) -> st.SearchStrategy[dict[str, Any]]:
    return valid_values(policy.inputs)


def valid_outcomes(policy: CheckedPolicy) -> st.SearchStrategy[dict[str, Any]]:
    return valid_values(policy.outcomes)


def plain_value(t: Any) -> Any:
    """One fixed valid value of the type: zero moved into the range, or the first member."""
    match t:
        case BoolType():
            return False
        case EnumType(members=members):
            return members[0]
        case IntType() | FloatType() | MoneyType() | DurationType():
            zero = {"int": 0, "float": 0.0, "money": Decimal(0), "duration": Decimal(0)}[t.kind]
            if t.low is not None and zero < t.low:
                zero = t.low
            if t.high is not None and zero > t.high:
                zero = t.high
            return float(zero) if isinstance(t, DurationType) else zero
    raise AssertionError(f"no runtime values for {t!r}")


def plain_values(signals: Iterable[Signal]) -> dict[str, Any]:
    """A fixed valid object: the required names only, each with its `plain_value`."""
    return {s.name: plain_value(s.type) for s in signals if not s.has_default}


def typed(policy: CheckedPolicy, request: dict[str, Any]) -> dict[str, Any]:
    """A valid request in the engines' own form, for `decide(validate=False)`: money and duration
    floats become the decimals their reprs show (section 9); everything else is already typed."""
    exact_kinds = {s.name for s in policy.inputs if isinstance(s.type, (MoneyType, DurationType))}
    return {
        name: _exact(value) if name in exact_kinds and isinstance(value, float) else value
        for name, value in request.items()
    }


# ---- faulty values ------------------------------------------------------------------------------


@cache
def anything() -> st.SearchStrategy[Any]:
    """Values of every sort a JSON decoder or a careless caller might hand over."""
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.sampled_from([HUGE, -HUGE]),
        st.floats(),
        st.decimals(),
        st.text(max_size=8),
        st.binary(max_size=4),
    )
    return st.one_of(
        scalars,
        st.lists(scalars, max_size=2),
        st.tuples(scalars),
        st.dictionaries(st.text(max_size=4), scalars, max_size=2),
    )


WRONG_SORTS = [None, "3", "", "true", "1.0", [], [1], {}, (), b"1", {"value": 1}]
"""Values of a sort no signal accepts."""


def _past_float(low: float | None, high: float | None) -> list[Any]:
    values: list[Any] = []
    if low is not None:
        values += [math.nextafter(low, -INF), low - 1, -HUGE, -1e308]
    if high is not None:
        values += [math.nextafter(high, INF), high + 1, HUGE, 1e308]
    return values


def _past_decimal(low: Decimal | None, high: Decimal | None) -> list[Any]:
    """Values one cent, one tiny step, one ulp and one unit outside decimal bounds, in each sort."""
    values: list[Any] = []
    if low is not None:
        values += [low - Decimal("0.01"), low - TINY, math.nextafter(float(low), -INF),
                   float(low - Decimal("0.01")), math.floor(low) - 1, -HUGE]
    if high is not None:
        values += [high + Decimal("0.01"), high + TINY, math.nextafter(float(high), INF),
                   float(high + Decimal("0.01")), math.ceil(high) + 1, HUGE]
    return values


def wrong_sort(t: Any) -> st.SearchStrategy[Any]:
    """Values of a sort the declaration refuses (R002): `True` for a number, `1` for a bool,
    `3.0` for an int, a Decimal for a float or a duration, numbers written as strings."""
    match t:
        case BoolType():
            near = [1, 0, 1.0, 0.0, Decimal(1), "false"]
        case IntType():
            near = [True, False, 1.0, 3.0, 0.0, Decimal(3), Decimal("NaN"), NAN, INF, "7"]
        case FloatType():
            near = [True, False, Decimal("0.5"), Decimal(1), Decimal("NaN"), "0.5"]
        case MoneyType():
            near = [True, False, "0.10", "$0.10"]
        case DurationType():
            near = [True, False, "1s", Decimal(1), Decimal("0.5"), Decimal("NaN")]
        case EnumType(members=members):
            near = [1, 0, True, 1.0, Decimal(1)] + [m.encode() for m in members] + [[m] for m in members]
        case _:
            raise AssertionError(f"no runtime values for {t!r}")
    return st.sampled_from(near + WRONG_SORTS)


def out_of_domain(t: Any) -> st.SearchStrategy[Any]:
    """Values of an accepted sort outside the domain (R003): one step, one ulp or one unit past a
    bound, huge ints, NaN and the infinities, strings that are not members."""
    more: list[st.SearchStrategy[Any]] = []
    match t:
        case BoolType():
            return st.nothing()  # both bools are in the domain
        case IntType(low=low, high=high):
            edges: list[Any] = []
            if low is not None:
                edges += [low - 1, -HUGE]
                more.append(st.integers(max_value=low - 1))
            if high is not None:
                edges += [high + 1, HUGE]
                more.append(st.integers(min_value=high + 1))
        case FloatType(low=low, high=high):
            edges = [NAN, INF, -INF] + _past_float(low, high)
            if low is not None:
                more.append(st.floats(max_value=math.nextafter(low, -INF)))
            if high is not None:
                more.append(st.floats(min_value=math.nextafter(high, INF)))
        case MoneyType(low=low, high=high):
            edges = [NAN, INF, -INF, Decimal("NaN"), Decimal("-NaN"), Decimal("sNaN"), Decimal("Infinity"),
                     Decimal("-Infinity")] + _past_decimal(low, high)
        case DurationType(low=low, high=high):
            edges = [NAN, INF, -INF] + [v for v in _past_decimal(low, high) if not isinstance(v, Decimal)]
        case EnumType(members=members):
            edges = [""] + [v for m in members for v in (m.upper(), m + " ", " " + m)]
            edges = [v for v in edges if v not in members]
            more.append(st.text(max_size=10).filter(lambda s: s not in members))
        case _:
            raise AssertionError(f"no runtime values for {t!r}")
    return st.one_of(([st.sampled_from(edges)] if edges else []) + more)


@cache
def faulty_value(t: Any) -> st.SearchStrategy[Any]:
    """Values that break the declaration: outside the domain, of the wrong sort, or, now and
    then, anything at all (which may happen to be valid)."""
    return st.one_of(out_of_domain(t), wrong_sort(t), out_of_domain(t), anything())


def unknown_keys(known: Iterable[str], other_role: Iterable[str] = ()) -> st.SearchStrategy[Any]:
    """Keys that name no declaration: typos, the other role's names, reserved tool keys, non-strings."""
    known = set(known)
    lookalikes = [n.upper() for n in known] + [n + "_" for n in known] + list(other_role)
    lookalikes += ["@outcomes", "@output_tokens", "model", "default"]
    return st.one_of(
        st.sampled_from([k for k in lookalikes if k not in known] or ["extra"]),
        st.text(min_size=1, max_size=12).filter(lambda k: k not in known),
        st.integers(),
        st.none(),
    )


def faulty_values(signals: Sequence[Signal], other_role: Sequence[str] = ()) -> st.SearchStrategy[dict[Any, Any]]:
    """A valid object spoiled one to three times: a required name dropped, a value replaced by a
    faulty one, or an unknown key added (a fault only in strict mode)."""
    names = [s.name for s in signals]
    faulty = {s.name: faulty_value(s.type) for s in signals}
    required = [s.name for s in signals if not s.has_default]
    return _spoiled(valid_values(signals), faulty, required, unknown_keys(names, other_role))


@st.composite
def _spoiled(draw, valid, faulty: dict[str, st.SearchStrategy[Any]], required: list[str], keys) -> dict[Any, Any]:
    values = draw(valid)
    kinds = ["wrong", "wrong", "extra"] if faulty else ["extra"]
    if required:
        kinds.append("missing")
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(kinds))
        if kind == "missing":
            values.pop(draw(st.sampled_from(required)), None)
        elif kind == "wrong":
            name = draw(st.sampled_from(sorted(faulty)))
            values[name] = draw(faulty[name])
        else:
            values[draw(keys)] = draw(anything())
    return values


def with_unknown_keys(signals: Sequence[Signal], other_role: Sequence[str] = ()) -> st.SearchStrategy[dict[Any, Any]]:
    """A valid object plus one to three unknown keys: R004 in strict mode, valid otherwise."""
    names = [s.name for s in signals]
    extra = st.dictionaries(unknown_keys(names, other_role), anything(), min_size=1, max_size=3)
    return st.builds(lambda values, added: {**values, **added}, valid_values(signals), extra)


def faulty_requests(policy: CheckedPolicy) -> st.SearchStrategy[dict[Any, Any]]:
    other = [s.name for s in policy.outcomes]
    return st.one_of(faulty_values(policy.inputs, other), with_unknown_keys(policy.inputs, other))


def faulty_outcomes(policy: CheckedPolicy) -> st.SearchStrategy[dict[Any, Any]]:
    other = [s.name for s in policy.inputs]
    return st.one_of(faulty_values(policy.outcomes, other), with_unknown_keys(policy.outcomes, other))


class ItemsOnly:
    """An object with an `items()` method that is no Mapping (a pandas Series is one)."""

    def __init__(self, values: dict[str, Any]) -> None:
        self._values = values

    def items(self):
        return self._values.items()

    def __repr__(self) -> str:
        return f"ItemsOnly({self._values!r})"


def non_dict_requests(values: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[Any]:
    """Requests that are not dicts: None, strings, lists (of pairs, too), numbers; and the same
    valid object behind a read-only Mapping (a Mapping, though not a dict)."""
    return st.one_of(
        st.sampled_from([None, "", "{}", '{"input_tokens": 1}', [], [{}], 0, 1.5, True, b"{}", (), frozenset()]),
        st.text(max_size=10),
        st.lists(anything(), max_size=3),
        values.map(lambda v: list(v.items())),
        values.map(types.MappingProxyType),
    )


def items_only(values: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[ItemsOnly]:
    """Objects that are no Mapping but have `items()`, kept apart from `non_dict_requests` so that
    a difference about them is reported on its own and hides no other."""
    return values.map(ItemsOnly)


def outcome_objects(policy: CheckedPolicy) -> st.SearchStrategy[Any]:
    """One observed outcome object: mostly valid, sometimes faulty, now and then not an object."""
    valid = valid_outcomes(policy)
    return st.one_of(valid, faulty_outcomes(policy), valid, non_dict_requests(valid))


def outcome_lists(policy: CheckedPolicy) -> st.SearchStrategy[list[Any]]:
    """The outcome objects observed after each step of a climb, as `policy.path` takes them."""
    longest = max((len(policy.steps(rule)) for rule in policy.route), default=1)
    return st.lists(outcome_objects(policy), max_size=longest + 1)


@dataclass(frozen=True)
class PolicyStrategies:
    """Every strategy above for one policy, built once: hypothesis validates a strategy the first
    time it draws from it, and rebuilding them for every example would cost more than the test."""

    valid_requests: st.SearchStrategy[dict[str, Any]]
    faulty_requests: st.SearchStrategy[dict[Any, Any]]
    some_requests: st.SearchStrategy[dict[Any, Any]]
    """Valid or faulty, half and half."""
    non_dict_requests: st.SearchStrategy[Any]
    items_only_requests: st.SearchStrategy[ItemsOnly]
    valid_outcomes: st.SearchStrategy[dict[str, Any]]
    outcome_objects: st.SearchStrategy[Any]
    items_only_outcomes: st.SearchStrategy[ItemsOnly]
    outcome_lists: st.SearchStrategy[list[Any]]


_built: dict[int, tuple[CheckedPolicy, PolicyStrategies]] = {}


def for_policy(policy: CheckedPolicy) -> PolicyStrategies:
    """The strategies of one policy (its IR), cached by identity for the life of the process."""
    if id(policy) not in _built:
        valid, faulty = valid_requests(policy), faulty_requests(policy)
        _built[id(policy)] = (policy, PolicyStrategies(
            valid_requests=valid,
            faulty_requests=faulty,
            some_requests=st.one_of(valid, faulty),
            non_dict_requests=non_dict_requests(valid),
            items_only_requests=items_only(valid),
            valid_outcomes=valid_outcomes(policy),
            outcome_objects=outcome_objects(policy),
            items_only_outcomes=items_only(valid_outcomes(policy)),
            outcome_lists=outcome_lists(policy),
        ))
    return _built[id(policy)][1]
