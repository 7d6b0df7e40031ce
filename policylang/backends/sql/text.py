"""SQL text that no policy can break out of: quoted identifiers, quoted strings, exact literals.

Every name and string of a policy reaches the query through `ident` or `string`; every number
through `decimal`, `double` or `integer`, which write it from its exact value. The query is
written in DuckDB's dialect and translated by sqlglot (`policylang.backends.sql.translate`).
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from ...ir.values import decimal_of

TRUE, FALSE, NULL = "TRUE", "FALSE", "NULL"

DOUBLE_MAX = "CAST('1.7976931348623157e308' AS DOUBLE)"


def ident(name: str) -> str:
    """A quoted identifier: `"name"`, with any `"` doubled, so no name can end it."""
    return '"' + name.replace('"', '""') + '"'


def string(text: str) -> str:
    """A quoted string literal: `'text'`, with any `'` doubled (backslashes are plain
    characters in DuckDB's strings; sqlglot escapes them for dialects where they are not)."""
    return "'" + text.replace("'", "''") + "'"


def integer(value: int) -> str:
    """An exact integer literal of any size up to 38 digits, typed DECIMAL(38, 0)."""
    return f"CAST({string(str(value))} AS DECIMAL(38, 0))" if abs(value) >= 2**31 else str(value)


def decimal(value: Decimal | Fraction | int, scale: int | None = None) -> str:
    """An exact DECIMAL literal (a finite decimal), at `scale` places when given."""
    exact = Decimal(value) if not isinstance(value, Fraction) else decimal_of_fraction(value)
    # a finite decimal's exponent is an int (only NaN and the infinities have a letter there)
    places = max(0, -exact.as_tuple().exponent) if scale is None else scale  # type: ignore[operator]
    digits = len(str(abs(int(exact.scaleb(places))))) if exact else 1
    precision = max(digits, places, 1)
    if precision > 38:
        raise ValueError(f"{value} has more digits than a SQL DECIMAL holds (38)")
    return f"CAST({string(format(exact, 'f'))} AS DECIMAL({precision}, {places}))"


def double(value: float) -> str:
    """A DOUBLE literal that is exactly `value` (its shortest repr, parsed back exactly)."""
    return f"CAST({string(repr(float(value)))} AS DOUBLE)"


def decimal_of_fraction(value: Fraction) -> Decimal:
    """A fraction whose decimal expansion ends, as that exact Decimal."""
    exact = decimal_of(value)
    if exact is None:
        raise ValueError(f"{value} has no finite decimal expansion")
    return exact


def places(value: Fraction) -> int:
    """How many decimal places a finite decimal needs."""
    # a fraction's decimal is finite, so its exponent is an int
    return max(0, -decimal_of_fraction(value).normalize().as_tuple().exponent)  # type: ignore[operator]


def all_of(parts: list[str]) -> str:
    """`a AND b AND ...`, constants folded."""
    kept = [p for p in parts if p != TRUE]
    if FALSE in kept:
        return FALSE
    return TRUE if not kept else kept[0] if len(kept) == 1 else "(" + " AND ".join(kept) + ")"


def any_of(parts: list[str]) -> str:
    """`a OR b OR ...`, constants folded."""
    kept = [p for p in parts if p != FALSE]
    if TRUE in kept:
        return TRUE
    return FALSE if not kept else kept[0] if len(kept) == 1 else "(" + " OR ".join(kept) + ")"


def negate(part: str) -> str:
    return FALSE if part == TRUE else TRUE if part == FALSE else f"(NOT {part})"


def case(branches: list[tuple[str, str]], otherwise: str = NULL) -> str:
    """`CASE WHEN c THEN v ... ELSE otherwise END`, dropping branches that cannot be taken and
    stopping at one that always is."""
    kept: list[tuple[str, str]] = []
    for condition, value in branches:
        if condition == FALSE:
            continue
        if condition == TRUE:
            otherwise = value
            break
        kept.append((condition, value))
    if not kept:
        return otherwise
    body = " ".join(f"WHEN {c} THEN {v}" for c, v in kept)
    return f"CASE {body} ELSE {otherwise} END" if otherwise != NULL else f"CASE {body} END"
