"""The types of signals, outcomes and expressions, and the kind each belongs to (section 4)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal, Union

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


def kind_of(t: _Type) -> Kind:
    """Ints and floats are one kind, numbers; they mix freely. Other kinds never mix."""
    return "number" if t.kind in ("int", "float") else t.kind  # type: ignore[return-value]


def unbounded(t: _Type) -> _Type:
    """The type of a computed value of this kind: no domain bounds."""
    return {"int": INT, "float": FLOAT, "money": MONEY, "duration": DURATION}.get(t.kind, t)


def describe(t: _Type) -> str:
    """How a type reads in a message: `int in 0..10`, `enum {a, b}`."""
    if isinstance(t, EnumType):
        return "enum {" + ", ".join(t.members) + "}"
    bounds = getattr(t, "low", None), getattr(t, "high", None)
    if bounds == (None, None):
        return t.kind
    low, high = (format_value(b, t) if b is not None else "" for b in bounds)
    return f"{t.kind} in {low}..{high}"


def format_value(value, t: _Type | None = None) -> str:
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
