"""Typed expressions: names resolved, kinds checked, thresholds inlined, constants folded.

Built by `passes/typecheck.py`; read by the analyses and both back ends. Runtime values:
bool, int, float (IEEE double), Decimal (money and durations, in dollars and seconds),
str (enum members, labels, model ids), frozenset[str] (label sets; None means "anywhere").
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import Field

from .node import Node
from .types import BOOL, BoolType, MoneyType, Type


class Const(Node):
    kind: Literal["const"] = "const"
    value: Any
    type: Type


class SignalRef(Node):
    """A signal or outcome by its request key."""

    kind: Literal["signal"] = "signal"
    name: str
    role: Literal["signal", "outcome"]
    type: Type


class ModelAttr(Node):
    """`model.FIELD` of the model that serves, inside an invariant's `require`."""

    kind: Literal["model_attr"] = "model_attr"
    field: str
    type: Type


class CostOf(Node):
    """`cost(MODEL)`: input_tokens x input price + max_output x output price, per million."""

    kind: Literal["cost"] = "cost"
    model: str
    type: MoneyType = MoneyType()


class Not(Node):
    kind: Literal["not"] = "not"
    operand: Expr
    type: BoolType = BOOL


class BoolOp(Node):
    kind: Literal["boolop"] = "boolop"
    op: Literal["and", "or"]
    operands: tuple[Expr, ...]
    type: BoolType = BOOL


CompareOp = Literal["==", "!=", "<", "<=", ">", ">="]


class Compare(Node):
    """Both sides of one kind: numbers, money, durations, enums, bools, strings or sets."""

    kind: Literal["compare"] = "compare"
    op: CompareOp
    left: Expr
    right: Expr
    type: BoolType = BOOL


class InSet(Node):
    """An enum value among listed members."""

    kind: Literal["in_set"] = "in_set"
    element: Expr
    members: tuple[str, ...]
    negated: bool = False
    type: BoolType = BOOL


class InRange(Node):
    """`low <= element <= high`, both ends inclusive."""

    kind: Literal["in_range"] = "in_range"
    element: Expr
    low: Expr
    high: Expr
    negated: bool = False
    type: BoolType = BOOL


class HasLabel(Node):
    """A label (or an enum value used as one) inside a set-valued expression."""

    kind: Literal["has_label"] = "has_label"
    element: Expr
    container: Expr
    negated: bool = False
    type: BoolType = BOOL


class Sum(Node):
    kind: Literal["sum"] = "sum"
    terms: tuple[Expr, ...]
    signs: tuple[int, ...]
    type: Type


class Scale(Node):
    """A constant number times an expression; `-x` is Scale(-1, x)."""

    kind: Literal["scale"] = "scale"
    factor: Any
    operand: Expr
    type: Type


class Local(Node):
    """Back ends only: a value computed earlier, when a deep expression is split up
    (`backends/lowering.py`). No pass before the back ends sees one."""

    kind: Literal["local"] = "local"
    index: int
    type: Type


Expr = Annotated[
    Union[Const, SignalRef, ModelAttr, CostOf, Not, BoolOp, Compare, InSet, InRange, HasLabel, Sum, Scale, Local],
    Field(discriminator="kind"),
]
