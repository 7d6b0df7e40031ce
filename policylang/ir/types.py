"""The types of signals, outcomes and expressions, and the kind each belongs to (section 4)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal, Union, assert_never

from pydantic import BaseModel, ConfigDict, Field


class _Type(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class BoolType(_Type):
    kind: Literal["bool"] = "bool"


class IntType(_Type):
    kind: Literal["int"] = "int"
    low: int | None = None
    high: int | None = None


class FloatType(_Type):
    """Floats are IEEE doubles at runtime; their bounds are the doubles the literals denote."""

    kind: Literal["float"] = "float"
    low: float | None = None
    high: float | None = None


class MoneyType(_Type):
    kind: Literal["money"] = "money"
    low: Decimal | None = None
    high: Decimal | None = None


class DurationType(_Type):
    """Seconds, exact."""

    kind: Literal["duration"] = "duration"
    low: Decimal | None = None
    high: Decimal | None = None


class EnumType(_Type):
    kind: Literal["enum"] = "enum"
    members: tuple[str, ...]


class SetType(_Type):
    """A set of labels (regions, tags); `None` as a value means "anywhere" (every label)."""

    kind: Literal["set"] = "set"


class StringType(_Type):
    kind: Literal["string"] = "string"


Type = Annotated[
    Union[BoolType, IntType, FloatType, MoneyType, DurationType, EnumType, SetType, StringType],
    Field(discriminator="kind"),
]

NumericType = Union[IntType, FloatType, MoneyType, DurationType]

BOOL = BoolType()
INT = IntType()
FLOAT = FloatType()
MONEY = MoneyType()
DURATION = DurationType()
SET = SetType()
STRING = StringType()

Kind = Literal["bool", "number", "money", "duration", "enum", "set", "string"]


def kind_of(t: Type) -> Kind:
    """Ints and floats are one kind, numbers; they mix freely. Other kinds never mix."""
    match t:
        case IntType() | FloatType():
            return "number"
        case BoolType() | MoneyType() | DurationType() | EnumType() | SetType() | StringType():
            return t.kind
        case _:
            assert_never(t)


def unbounded(t: Type) -> Type:
    """The type of a computed value of this kind: no domain bounds."""
    match t:
        case IntType():
            return INT
        case FloatType():
            return FLOAT
        case MoneyType():
            return MONEY
        case DurationType():
            return DURATION
        case BoolType() | EnumType() | SetType() | StringType():
            return t
        case _:
            assert_never(t)


def describe(t: Type) -> str:
    """How a type reads in a message: `int in 0..10`, `enum {a, b}`."""
    match t:
        case EnumType():
            return "enum {" + ", ".join(t.members) + "}"
        case IntType() | FloatType() | MoneyType() | DurationType():
            bounds: tuple[object, object] = t.low, t.high
        case BoolType() | SetType() | StringType():
            return t.kind
        case _:
            assert_never(t)
    if bounds == (None, None):
        return t.kind
    low, high = (format_value(b, t) if b is not None else "" for b in bounds)
    return f"{t.kind} in {low}..{high}"


def format_value(value: object, t: Type | None = None) -> str:
    """A runtime value as a policy would write it: $0.50, 2s, 8_000 stays 8000."""
    kind = t.kind if t is not None else None
    if isinstance(value, bool):
        return "true" if value else "false"
    if kind == "money":
        return f"${value}"
    if kind == "duration":
        return f"{value}s"
    if isinstance(value, frozenset):
        return "{" + ", ".join(sorted(value)) + "}"
    return str(value)
