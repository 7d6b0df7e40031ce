"""Numeric comparisons in SQL that decide exactly as the Python engines do (section 5,
`ir/values.py`), or say they cannot.

What the engines compare:

- ints are integers; a comparison of a float with an int or a float, with no arithmetic on
  floats, compares the IEEE doubles (and ints) exactly;
- money and durations are exact decimals (a float read as the decimal of its shortest repr);
- float arithmetic (`f + g`, `0.5 * n`) runs in exact decimals, each float read by its repr.

How the SQL gets the same answer:

- A value against a constant never needs arithmetic. For a double `x` with repr decimal `d`
  and a constant `K`, let `k` be the double nearest `K`. Rounding to the nearest double is
  monotonic and `d` rounds to `x`, so `x < k` implies `d < K` and `x > k` implies `d > K`; when
  `x == k`, `d` is `repr(k)`, which is compared with `K` now, when the query is written. So
  `d < K` is `x < k` or `x <= k`, decided here: one DOUBLE comparison, exact for every double.
  An int against a constant, or a decimal of a known scale, is rounded the same way.
- Linear arithmetic (`a*x + b*y + c OP 0`) is decided in two tiers. First in DOUBLE, with a
  proven error bound: |computed - exact| <= 2^-40 * (sum of |terms|) + 1e-290 (each term's
  value, its coefficient, the product and the sum each err by at most half an ulp; 2^-40 leaves
  room for a hundred terms), so when the computed value is farther from 0 than that, its sign
  is the exact sign. Otherwise (a near tie, such as 0.1 + 0.2 against 0.3) in DECIMAL, from
  each double's shortest repr, when every value is held exactly at 18 places without overflow
  (checked in the query). A near tie that DECIMAL cannot hold either is NULL: the query reports
  the row as S001 instead of guessing.

SQL's three-valued logic then does the rest: `NULL AND FALSE` is FALSE and `NULL OR TRUE` is
TRUE, so an undecided comparison only matters when the whole condition depends on it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Literal

from .text import DOUBLE_MAX, FALSE, NULL, TRUE, all_of, case, decimal, double, integer

Op = Literal["==", "!=", "<", "<=", ">", ">="]
NumberKind = Literal["int", "float", "money", "duration"]

SCALE = 18
"""Decimal places the exact tier holds: DECIMAL(38, 18), 20 digits before the point."""

SQL_OP = {"==": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
FLIP: dict[str, Op] = {"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}
EXACT_DOUBLE_INTS = 2**53


@dataclass(frozen=True)
class Number:
    """A validated numeric value in the query.

    `kind` int: `value` is a DECIMAL(38, 0). `kind` float: `value` is the DOUBLE. Money and
    durations: `value` is the DOUBLE nearest it, `exact` the DECIMAL(38, 18) that is it (NULL
    only for a float whose repr needs more places), and `from_float` whether the value was
    given as a float (so `value` is exactly that double and its repr is the value)."""

    kind: NumberKind
    value: str
    exact: str | None = None
    from_float: str | None = None


def holds(op: str, sign: int) -> bool:
    """Whether `sign(left - right) OP 0` holds, for a sign -1, 0 or 1."""
    return {"==": sign == 0, "!=": sign != 0, "<": sign < 0, "<=": sign <= 0, ">": sign > 0, ">=": sign >= 0}[op]


def sign(value: Fraction) -> int:
    return (value > 0) - (value < 0)


def constant(op: str, value: Fraction) -> str:
    """`value OP 0` decided now."""
    return TRUE if holds(op, sign(value)) else FALSE


# ---- one value against a constant ---------------------------------------------------------------


def _rounded(op: str, expr: str, bound: Fraction, on_grid: Fraction, literal: str) -> str:
    """`expr OP bound`, where `expr` only takes values on a grid and `on_grid` is the largest
    grid value <= bound (written as `literal`)."""
    if on_grid == bound:
        return f"{expr} {SQL_OP[op]} {literal}"
    return {"==": FALSE, "!=": TRUE, "<": f"{expr} <= {literal}", "<=": f"{expr} <= {literal}",
            ">": f"{expr} > {literal}", ">=": f"{expr} > {literal}"}[op]


def int_against(op: str, expr: str, bound: Fraction) -> str:
    """An integer expression against an exact constant."""
    floor = math.floor(bound)
    return _rounded(op, expr, bound, Fraction(floor), integer(floor))


def decimal_against(op: str, expr: str, bound: Fraction, scale: int) -> str:
    """A DECIMAL expression of `scale` places against an exact constant."""
    on_grid = Fraction(math.floor(bound * 10**scale), 10**scale)
    if abs(on_grid) >= 10 ** (38 - scale):  # beyond what the column can hold: decided now
        return constant(op, -bound)
    return _rounded(op, expr, bound, on_grid, decimal(on_grid, scale))


def _nearest_double(bound: Fraction) -> float:
    if abs(bound) > Fraction(10) ** 300:
        raise ValueError(f"the constant {float(bound)} is beyond what a double comparison decides here")
    return float(bound)  # int / int true division: correctly rounded


def double_against(op: str, expr: str, bound: Fraction) -> str:
    """A DOUBLE against an exact constant, comparing the double's own binary value (what
    Python's float comparisons do)."""
    nearest = _nearest_double(bound)
    exact = Fraction(nearest)
    if exact == bound:
        return f"{expr} {SQL_OP[op]} {double(nearest)}"
    above = exact > bound  # the constant lies between two doubles, nearer `nearest`
    strict = {"<": "<" if above else "<=", "<=": "<" if above else "<=",
              ">": ">=" if above else ">", ">=": ">=" if above else ">"}
    if op in ("==", "!="):
        return FALSE if op == "==" else TRUE
    return f"{expr} {strict[op]} {double(nearest)}"


def repr_against(op: str, expr: str, bound: Fraction) -> str:
    """A DOUBLE `x` read as the decimal of its repr, `d`, against an exact constant: `x < k`
    gives `d < K`, `x > k` gives `d > K`, and at `x == k` the sign of `repr(k) - K` decides."""
    nearest = _nearest_double(bound)
    tie = sign(Fraction(Decimal(repr(nearest))) - bound)
    literal = double(nearest)
    if op == "==":
        return f"{expr} = {literal}" if tie == 0 else FALSE
    if op == "!=":
        return f"{expr} <> {literal}" if tie == 0 else TRUE
    at_tie = holds(op, tie)
    below = op in ("<", "<=")
    strict = ("<=" if at_tie else "<") if below else (">=" if at_tie else ">")
    return f"{expr} {strict} {literal}"


def number_against(op: str, number: Number, bound: Fraction, *, exact_floats: bool) -> str:
    """One validated number against an exact constant, as the engines compare them.
    `exact_floats`: a float is read as its repr's decimal (float arithmetic is involved)."""
    match number.kind:
        case "int":
            return int_against(op, number.value, bound)
        case "float":
            return repr_against(op, number.value, bound) if exact_floats else double_against(op, number.value, bound)
    assert number.exact is not None
    exact = decimal_against(op, number.exact, bound, SCALE)
    inexact = repr_against(op, number.value, bound)
    if exact in (TRUE, FALSE) and exact == inexact:
        return exact
    return case([(f"{number.exact} IS NOT NULL", exact)], inexact)


# ---- linear forms --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Linear:
    """`sum(coefficient * number) + offset`, exactly; `terms` in a fixed order."""

    terms: tuple[tuple[Fraction, Number], ...]
    offset: Fraction


def compare(op: str, form: Linear, *, exact_floats: bool) -> str:
    """`form OP 0`, decided as the engines decide it, NULL where the query cannot be sure."""
    terms = [(c, n) for c, n in form.terms if c != 0]
    if not terms:
        return constant(op, form.offset)
    if len(terms) == 1:
        coefficient, number = terms[0]
        bound = -form.offset / coefficient
        return number_against(op if coefficient > 0 else FLIP[op], number, bound, exact_floats=exact_floats)
    if all(n.kind == "int" for _, n in terms):
        return _integer_form(op, terms, form.offset)
    if not exact_floats and all(n.kind in ("int", "float") for _, n in terms):
        return _native_form(op, terms, form.offset)
    return _tiers(op, terms, form.offset)


def _integer_form(op: str, terms: list[tuple[Fraction, Number]], offset: Fraction) -> str:
    """Ints with rational coefficients: scaled to integers, computed in DECIMAL(38, 0) where no
    value is so large that the sum could overflow (else NULL)."""
    scale = math.lcm(*(c.denominator for c, _ in terms), offset.denominator)
    coefficients = [int(c * scale) for c, _ in terms]
    limit = 10**36 // (sum(abs(c) for c in coefficients) + 1)
    body = " + ".join(f"{integer(c)} * {n.value}" for c, (_, n) in zip(coefficients, terms))
    total = f"({body} + {integer(int(offset * scale))})"
    guard = all_of([f"abs({n.value}) < {integer(limit)}" for _, n in terms])
    return case([(guard, f"{total} {SQL_OP[op]} 0")])


def _native_form(op: str, terms: list[tuple[Fraction, Number]], offset: Fraction) -> str:
    """Floats and ints compared with no float arithmetic: `x OP y` of two values, each side a
    float value or an integer form (what `compare` leaves here has a float on one side)."""
    floats = [(c, n) for c, n in terms if n.kind == "float"]
    ints = [(c, n) for c, n in terms if n.kind == "int"]
    if len(floats) == 2 and not ints and offset == 0 and floats[0][0] == -floats[1][0]:
        (c, left), (_, right) = floats
        return f"{left.value} {SQL_OP[op if c > 0 else FLIP[op]]} {right.value}"
    if len(floats) == 1:
        (c, f), = floats
        if abs(c) == 1:  # c*f + (int side) OP 0: the int side against the double
            side = Linear(tuple((-k / c, n) for k, n in ints), -offset / c)
            int_value = _integer_value(side)
            if int_value is not None:
                value, guard = int_value
                within = all_of([guard, f"abs({value}) <= {integer(EXACT_DOUBLE_INTS)}"])
                flipped = op if c > 0 else FLIP[op]
                return case([(within, f"{f.value} {SQL_OP[flipped]} CAST({value} AS DOUBLE)")])
    return _tiers(op, terms, offset)  # not a shape the engines compare natively; exact anyway


def _integer_value(form: Linear) -> tuple[str, str] | None:
    """The SQL for an integer form with integer coefficients, and its overflow guard."""
    if any(c.denominator != 1 for c, _ in form.terms) or form.offset.denominator != 1:
        return None
    limit = 10**36 // (sum(abs(int(c)) for c, _ in form.terms) + 1)
    parts = [f"{integer(int(c))} * {n.value}" for c, n in form.terms] + [integer(int(form.offset))]
    guard = all_of([f"abs({n.value}) < {integer(limit)}" for _, n in form.terms])
    return "(" + " + ".join(parts) + ")", guard


def _exact_of(number: Number) -> tuple[str, int]:
    """The number as an exact DECIMAL (NULL when it cannot be held), and its scale."""
    if number.kind == "int":
        return number.value, 0
    if number.kind == "float":
        return exact_double(number.value), SCALE
    assert number.exact is not None
    return number.exact, SCALE


def exact_double(expr: str) -> str:
    """The decimal of a double's shortest repr as DECIMAL(38, 18), or NULL when it needs more
    places or digits. Sound whatever text the engine prints for a double: a decimal of at most
    18 places that rounds back to `x` is the shortest decimal that does, since any other would
    need more places."""
    held = f"TRY_CAST(CAST({expr} AS VARCHAR) AS DECIMAL(38, {SCALE}))"
    back = f"CAST(CAST({held} AS VARCHAR) AS DOUBLE)"
    return f"CASE WHEN abs({expr}) < CAST('1e20' AS DOUBLE) AND {back} = {expr} THEN {held} END"


def _tiers(op: str, terms: list[tuple[Fraction, Number]], offset: Fraction) -> str:
    approx = " + ".join(f"{double(float(c))} * CAST({n.value} AS DOUBLE)" for c, n in terms)
    approx = f"({approx} + {double(float(offset))})"
    size = " + ".join(f"{double(float(abs(c)))} * abs(CAST({n.value} AS DOUBLE))" for c, n in terms)
    bound = f"(CAST('9.094947017729282e-13' AS DOUBLE) * ({size} + {double(float(abs(offset)))}) + CAST('1e-290' AS DOUBLE))"
    finite = f"{bound} <= {DOUBLE_MAX}"
    positive, negative = holds(op, 1), holds(op, -1)
    branches = [(f"{finite} AND {approx} > {bound}", TRUE if positive else FALSE),
                (f"{finite} AND {approx} < -{bound}", TRUE if negative else FALSE)]
    exact = _exact_tier(op, terms, offset)
    if exact is not None:
        branches.append(exact)
    return case(branches, NULL)


def _exact_tier(op: str, terms: list[tuple[Fraction, Number]], offset: Fraction) -> tuple[str, str] | None:
    from .text import places

    held = [_exact_of(n) for _, n in terms]
    scales = [s + places(c) for (c, _), (_, s) in zip(terms, held)] + [places(offset)]
    top = max(scales)
    room = 38 - top - 1 - len(terms).bit_length()
    if room < 1:
        return None
    parts, guards = [], []
    for (c, n), (expr, _) in zip(terms, held):
        guards.append(f"{expr} IS NOT NULL")
        limit = Fraction(10**room) / abs(c)
        guards.append(f"abs(CAST({n.value} AS DOUBLE)) < {double(float(limit) / 2)}")
        parts.append(f"{decimal(c)} * {expr}")
    total = "(" + " + ".join(parts) + f" + {decimal(offset)})"
    return all_of(guards), f"{total} {SQL_OP[op]} 0"
