"""Typed expressions: names resolved, kinds checked, thresholds inlined, constants folded.

Built by `passes/typecheck.py`; read by the analyses and both back ends. Runtime values:
bool, int, float (IEEE double), Decimal (money and durations, in dollars and seconds),
str (enum members, labels, model ids), frozenset[str] (label sets; None means "anywhere").

Each consumer reads a union exact for it, so that a match over one ends in `assert_never`:

- `Expr`: a route's and a cascade's conditions, budgets', invariants' `when`;
- `InvariantExpr`: an invariant's `require`, which may read `model.FIELD` (`ModelAttr`);
- `LoweredExpr`: a route expression split up by the back ends, with `Local`s in it;
- `AnyExpr`: every node, what the interpreter runs (a lowered `require`).

A composite node (`Not`, `BoolOp`, ...) is generic in the union its children belong to, so
`Not[Expr]` holds an `Expr` and `Not[InvariantExpr]` may hold a `ModelAttr`; the generics are
the type checker's alone (see the end of this module).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Generic, Literal, TypeAlias, TypeGuard, TypeVar, Union

from pydantic import Field

from .node import Node, walk
from .types import BOOL, BoolType, MoneyType, Type

Child = TypeVar("Child", bound="AnyExpr", covariant=True)
"""The union a composite node's children belong to: `Expr`, `InvariantExpr`, ...; covariant,
so a route expression is also an invariant's and a lowered one (the nodes are frozen)."""


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


class Not(Node, Generic[Child]):
    kind: Literal["not"] = "not"
    operand: Child
    type: BoolType = BOOL


class BoolOp(Node, Generic[Child]):
    kind: Literal["boolop"] = "boolop"
    op: Literal["and", "or"]
    operands: tuple[Child, ...]
    type: BoolType = BOOL


CompareOp = Literal["==", "!=", "<", "<=", ">", ">="]


class Compare(Node, Generic[Child]):
    """Both sides of one kind: numbers, money, durations, enums, bools, strings or sets."""

    kind: Literal["compare"] = "compare"
    op: CompareOp
    left: Child
    right: Child
    type: BoolType = BOOL


class InSet(Node, Generic[Child]):
    """An enum value among listed members."""

    kind: Literal["in_set"] = "in_set"
    element: Child
    members: tuple[str, ...]
    negated: bool = False
    type: BoolType = BOOL


class InRange(Node, Generic[Child]):
    """`low <= element <= high`, both ends inclusive."""

    kind: Literal["in_range"] = "in_range"
    element: Child
    low: Child
    high: Child
    negated: bool = False
    type: BoolType = BOOL


class HasLabel(Node, Generic[Child]):
    """A label (or an enum value used as one) inside a set-valued expression."""

    kind: Literal["has_label"] = "has_label"
    element: Child
    container: Child
    negated: bool = False
    type: BoolType = BOOL


class Sum(Node, Generic[Child]):
    kind: Literal["sum"] = "sum"
    terms: tuple[Child, ...]
    signs: tuple[int, ...]
    type: Type


class Scale(Node, Generic[Child]):
    """A constant number times an expression; `-x` is Scale(-1, x)."""

    kind: Literal["scale"] = "scale"
    factor: Any
    operand: Child
    type: Type


class Local(Node):
    """Back ends only: a value computed earlier, when a deep expression is split up
    (`backends/python/lowering.py`). No pass before the back ends sees one."""

    kind: Literal["local"] = "local"
    index: int
    type: Type


if TYPE_CHECKING:
    _C = TypeVar("_C")
    _Composite: TypeAlias = Union[Not[_C], BoolOp[_C], Compare[_C], InSet[_C], InRange[_C], HasLabel[_C], Sum[_C],
                                  Scale[_C]]
    """The nodes built of expressions, each holding children of the union `_C`."""

    Expr: TypeAlias = Union[Const, SignalRef, CostOf, _Composite["Expr"]]
    InvariantExpr: TypeAlias = Union[Const, SignalRef, CostOf, ModelAttr, _Composite["InvariantExpr"]]
    LoweredExpr: TypeAlias = Union[Const, SignalRef, CostOf, Local, _Composite["LoweredExpr"]]
    AnyExpr: TypeAlias = Union[Const, SignalRef, CostOf, ModelAttr, Local, _Composite["AnyExpr"]]
else:
    # pydantic validates every expression field against one union of the node classes: the
    # children of an unparametrized composite against `Child`'s bound, which is this union, as
    # before the unions were split. A parametrized `Not[Expr]` would be a class of its own,
    # and pydantic would copy each `Not` node into one when a field of that type received it.
    Expr = InvariantExpr = LoweredExpr = AnyExpr = Annotated[
        Union[Const, SignalRef, ModelAttr, CostOf, Not, BoolOp, Compare, InSet, InRange, HasLabel, Sum, Scale, Local],
        Field(discriminator="kind"),
    ]


def is_route_expr(x: InvariantExpr) -> TypeGuard[Expr]:
    """Whether `x` reads no `model.FIELD`, and so is a route expression (it walks `x`)."""
    return not any(isinstance(node, ModelAttr) for node in walk(x))
