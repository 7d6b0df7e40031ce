"""What runtime values mean, exactly: the number semantics every layer shares.

Ints are integers. Money and durations are exact decimals. A float is read as the decimal its
shortest repr shows (`0.1` is exactly 1/10), and float arithmetic runs in those decimals, so
`0.1 + 0.2 > 0.3` is false at runtime as it is in the checker. Label sets are frozensets, and
`None` is "anywhere", the set of every label (section 3.4).

Standard library only. The part between the markers is copied verbatim into every compiled
module (backends/python/codegen.py), so that a module and the interpreter compute the same
values; its names start with `_` there. The public names below the copied part are what the
rest of the package imports.
"""

from __future__ import annotations

from fractions import Fraction

# -- value semantics: copied verbatim into compiled modules from here --
from decimal import MAX_EMAX as _MAX_EMAX
from decimal import MAX_PREC as _MAX_PREC
from decimal import MIN_EMIN as _MIN_EMIN
from decimal import Context as _Context
from decimal import Decimal as _Decimal

_EXACT = _Context(prec=_MAX_PREC, Emax=_MAX_EMAX, Emin=_MIN_EMIN)
"""Money and durations add and multiply without rounding, whatever the app's decimal context."""

_INF = float("inf")


def _dec(value: "int | float | _Decimal") -> "int | _Decimal":
    """A number as the exact decimal it shows: a float by its repr (0.1 is 1/10), as the
    checker reads it; ints and decimals as they are."""
    return _Decimal(float.__repr__(value)) if isinstance(value, float) else value


def _money(value: "int | float | _Decimal") -> "int | float | _Decimal":
    """A money or duration value, exact: a float is read as the decimal its repr shows (an
    instance of a float subclass passes through unchanged)."""
    return _Decimal(repr(value)) if value.__class__ is float else value


def _exact_sum(terms: "list[int | _Decimal] | tuple[int | _Decimal, ...]", signs: "tuple[int, ...]") -> "int | _Decimal":
    """Money, durations or float arithmetic, left to right, exactly."""
    total = terms[0]
    for term, sign in zip(terms[1:], signs[1:]):
        total = _EXACT.add(total, term) if sign > 0 else _EXACT.subtract(total, term)
    return total


def _number_sum(terms: "list[int] | tuple[int, ...]", signs: "tuple[int, ...]") -> int:
    """A long sum of ints, left to right, as `a + b - c` adds."""
    total = terms[0]
    for term, sign in zip(terms[1:], signs[1:]):
        total = total + term if sign > 0 else total - term
    return total


def _set_compare(op: str, left: "frozenset[str] | None", right: "frozenset[str] | None") -> bool:
    """Label sets; None is "anywhere", the set of every label (section 3.4)."""
    if left is None or right is None:
        equal = left is None and right is None
        subset, superset = right is None, left is None
        return {"==": equal, "!=": not equal, "<=": subset, ">=": superset,
                "<": subset and not equal, ">": superset and not equal}[op]
    if op == "==":
        return left == right
    if op == "!=":
        return left != right
    if op == "<=":
        return left <= right
    if op == ">=":
        return left >= right
    if op == "<":
        return left < right
    return left > right


def _has_label(label: str, labels: "frozenset[str] | None") -> bool:
    return labels is None or label in labels
# -- end of the value semantics copied into compiled modules --

EXACT: _Context = _EXACT
"""The decimal context of exact arithmetic: unbounded precision and exponent."""

exact = _dec
"""`exact(value)`: the exact number a value denotes (a float as the Decimal its repr shows)."""
exact_money = _money
"""`exact_money(value)`: a money or duration value with a float read as its repr's Decimal."""
exact_sum = _exact_sum
"""`exact_sum(terms, signs)`: the signed sum of exact numbers, left to right, never rounded."""
number_sum = _number_sum
"""`number_sum(terms, signs)`: the signed sum of ints, left to right."""
compare_sets = _set_compare
"""`compare_sets(op, left, right)`: label sets compared, None meaning every label."""
has_label = _has_label
"""`has_label(label, labels)`: whether a label is in a set, every label being in None."""


def rational(value: int | float | _Decimal | Fraction) -> Fraction | int:
    """The exact rational a runtime number denotes; a float means the decimal its repr shows.
    Whole numbers stay ints: they compare exactly with fractions, and much faster."""
    if isinstance(value, float):
        value = Fraction(_Decimal(repr(value)))
    elif isinstance(value, _Decimal):
        value = Fraction(value)
    elif isinstance(value, int):
        return value
    return int(value) if value.denominator == 1 else value


def decimal_of(value: Fraction) -> _Decimal | None:
    """A rational as an exact decimal, or None when its expansion never ends (1/3)."""
    d = value.denominator
    for p in (2, 5):
        while d % p == 0:
            d //= p
    if d != 1:
        return None
    digits = 0
    while (value * 10**digits).denominator != 1:
        digits += 1
    return _Decimal(value.numerator * 10**digits // value.denominator).scaleb(-digits, _EXACT)
