"""Request validation in SQL (section 5), sort by sort, as `backends/python/support._check` does.

For each signal (or outcome) and its source, `validated` gives the SQL of its R001-R003 code
(NULL when valid), the condition under which the SQL cannot hold a valid value exactly (S001:
an int of more than 38 digits, or past 2^53 where a float is expected, a decimal of more than
18 places), and the validated value, defaults filled, in one SQL type per kind.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

from ... import codes
from ..python.checks import SignalCheck
from .columns import Source
from .numbers import EXACT_DOUBLE_INTS, SCALE, Number, decimal_against, double_against, exact_double, int_against, repr_against
from .text import FALSE, NULL, TRUE, all_of, any_of, case, decimal, double, integer, negate, string

R001, R002, R003 = string(codes.R001.code), string(codes.R002.code), string(codes.R003.code)


@dataclass(frozen=True)
class Validated:
    """The SQL of one validated key: its error code, its S001 condition and its value columns
    (`values`: name suffix -> SQL), and how expressions read it (`number`, or `plain`)."""

    code: str
    unheld: str
    values: dict[str, str]


def _bounds_fault(check: SignalCheck, against: Any) -> str:
    """SQL: the value lies outside the declared bounds (`against(op, bound)` compares it)."""
    faults = []
    if check.low is not None:
        faults.append(against("<", Fraction(check.low)))
    if check.high is not None:
        faults.append(against(">", Fraction(check.high)))
    return any_of(faults)


def _is_finite(expr: str) -> str:
    return f"(NOT isnan({expr}) AND abs({expr}) <= CAST('1.7976931348623157e308' AS DOUBLE))"


def validated(check: SignalCheck, source: Source) -> Validated:
    """Section 5 for one key: R001 when absent and required, R002 for a sort its kind refuses,
    R003 outside the domain; the value, or its default when absent."""
    present = source.present()
    kind = check.kind
    branches: list[tuple[str, str]] = [(negate(present), R001 if check.required else NULL)]
    unheld: list[str] = []
    sorts = source.sorts()
    is_sort = source.is_sort
    value = source.value

    def refuse_others(accepted: tuple[str, ...]) -> None:
        for sort in sorts:
            if sort not in accepted:
                branches.append((is_sort(sort), R002))

    if kind == "bool":
        branches.append((is_sort("bool"), NULL)) if "bool" in sorts else None
        refuse_others(("bool",))
        chosen = case([(present, value("bool"))], TRUE if check.default else FALSE) if not check.required \
            else value("bool")
        return Validated(case(branches), FALSE, {"v": chosen})
    if kind == "enum":
        if "string" in sorts:
            members = ", ".join(string(m) for m in check.members)
            inside = f"{value('string')} IN ({members})" if check.members else FALSE
            branches.append((is_sort("string"), case([(inside, NULL)], R003)))
        refuse_others(("string",))
        default = string(check.default) if not check.required else NULL
        return Validated(case(branches), FALSE, {"v": case([(present, value("string"))], default)})

    # numbers: int, float, money, duration
    accepted = {"int": ("int",), "float": ("int", "float"), "money": ("int", "float", "decimal"),
                "duration": ("int", "float")}[kind]
    int_value = value("int")
    if "int" in sorts and "int" in accepted:
        too_long = f"{int_value} IS NULL"  # more digits than DECIMAL(38, 0): past any bound we can write
        out = _bounds_fault(check, lambda op, b: int_against(op, int_value, b))
        bounded = check.low is not None or check.high is not None
        branches.append((all_of([is_sort("int"), too_long]), R003 if bounded else NULL))
        branches.append((is_sort("int"), case([(out, R003)], NULL)))
        unheld.append(all_of([present, is_sort("int"), too_long]))
        limit = EXACT_DOUBLE_INTS if kind == "float" else 10**20
        unheld.append(all_of([present, is_sort("int"), f"abs({int_value}) > {integer(limit)}"]))
    float_value = value("float")
    if "float" in sorts and "float" in accepted:
        compare = double_against if kind == "float" else repr_against
        out = _bounds_fault(check, lambda op, b: compare(op, float_value, b))
        branches.append((is_sort("float"), case([(negate(_is_finite(float_value)), R003), (out, R003)], NULL)))
    decimal_value = value("decimal")
    if "decimal" in sorts and "decimal" in accepted:
        scale = source.decimal_scale or 0
        out = _bounds_fault(check, lambda op, b: decimal_against(op, decimal_value, b, scale))
        branches.append((is_sort("decimal"), case([(out, R003)], NULL)))
        if scale > SCALE:
            held = f"TRY_CAST({decimal_value} AS DECIMAL(38, {SCALE}))"
            unheld.append(all_of([present, f"({held} IS NULL OR {held} <> {decimal_value})"]))
        else:
            unheld.append(all_of([present, f"abs(CAST({decimal_value} AS DOUBLE)) >= CAST('1e20' AS DOUBLE)"]))
    refuse_others(accepted)
    code = case(branches)
    values = _number_values(check, source)
    return Validated(code, any_of(unheld), values)


def _number_values(check: SignalCheck, source: Source) -> dict[str, str]:
    """The value columns of a validated number: `v` for ints (DECIMAL(38, 0)) and floats
    (DOUBLE); `v` (DOUBLE), `e` (exact DECIMAL(38, 18)) and `f` (given as a float) for money
    and durations."""
    present, is_sort, value, sorts = source.present(), source.is_sort, source.value, source.sorts()
    default = check.default
    if check.kind == "int":
        given = case([(is_sort("int"), f"TRY_CAST({value('int')} AS DECIMAL(38, 0))")]) if "int" in sorts else NULL
        return {"v": case([(present, given)], integer(default) if not check.required else NULL)}
    if check.kind == "float":
        options = []
        if "int" in sorts:
            options.append((is_sort("int"), f"CAST({value('int')} AS DOUBLE)"))
        if "float" in sorts:
            options.append((is_sort("float"), value("float")))
        fallback = double(float(default)) if not check.required else NULL
        return {"v": case([(present, case(options))], fallback)}
    doubles, exacts, floats = [], [], []
    if "int" in sorts:
        doubles.append((is_sort("int"), f"CAST({value('int')} AS DOUBLE)"))
        exacts.append((is_sort("int"), f"TRY_CAST({value('int')} AS DECIMAL(38, {SCALE}))"))
    if "float" in sorts:
        doubles.append((is_sort("float"), value("float")))
        exacts.append((is_sort("float"), exact_double(value("float"))))
        floats.append((is_sort("float"), TRUE))
    if "decimal" in sorts and check.kind == "money":
        doubles.append((is_sort("decimal"), f"CAST({value('decimal')} AS DOUBLE)"))
        exacts.append((is_sort("decimal"), f"TRY_CAST({value('decimal')} AS DECIMAL(38, {SCALE}))"))
    if check.required:
        absent_double = absent_exact = NULL
    else:
        exact_default = Decimal(default) if not isinstance(default, Decimal) else default
        absent_double, absent_exact = double(float(exact_default)), decimal(exact_default, SCALE)
    return {
        "v": case([(present, case(doubles))], absent_double),
        "e": case([(present, case(exacts))], absent_exact),
        "f": case([(present, case(floats, FALSE))], FALSE),
    }


def number(check: SignalCheck, columns: dict[str, str]) -> Number:
    """How expressions read a validated number from its columns."""
    # a number's check has a NumberKind; SignalCheck.kind is typed for every kind of signal
    if check.kind in ("int", "float"):
        return Number(check.kind, columns["v"])  # type: ignore[arg-type]
    return Number(check.kind, columns["v"], columns["e"], columns["f"])  # type: ignore[arg-type]
