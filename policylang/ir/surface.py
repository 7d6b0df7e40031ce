"""The surface syntax tree: what a `.route` file says, before any name is resolved.

Built by `syntax/build.py` from the parse, consumed by `passes/resolve.py`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal, Union

from pydantic import Field

from .node import Node


class Name(Node):
    """One identifier with its span: a declared name, a field, a set member."""

    kind: Literal["name"] = "name"
    text: str


class QualName(Node):
    """`name` or `alias.name`."""

    kind: Literal["qualname"] = "qualname"
    parts: tuple[Name, ...]

    @property
    def text(self) -> str:
        """The name as written: its parts joined by dots."""
        return ".".join(p.text for p in self.parts)


# ---- expressions -------------------------------------------------------------------------------


class IntLit(Node):
    kind: Literal["int"] = "int"
    value: int


class FloatLit(Node):
    kind: Literal["float"] = "float"
    value: float
    text: str


class MoneyLit(Node):
    kind: Literal["money"] = "money"
    value: Decimal


class DurationLit(Node):
    """A duration in exact seconds: `250ms` is Decimal('0.25')."""

    kind: Literal["duration"] = "duration"
    value: Decimal


class BoolLit(Node):
    kind: Literal["bool"] = "bool"
    value: bool


class StringLit(Node):
    kind: Literal["string"] = "string"
    value: str


class SetLit(Node):
    kind: Literal["set"] = "set"
    items: tuple[Name, ...]


class NameRef(Node):
    """A name in an expression: a signal, a threshold, or (by context) an enum member."""

    kind: Literal["ref"] = "ref"
    name: QualName


class ModelFieldRef(Node):
    """`model.FIELD`, the serving model's field inside an invariant."""

    kind: Literal["model_field"] = "model_field"
    field: Name


class FunctionCall(Node):
    """`cost(MODEL)`; the builder accepts any name and resolution says which exist."""

    kind: Literal["call"] = "call"
    function: Name
    argument: QualName


class Not(Node):
    kind: Literal["not"] = "not"
    operand: Expr


class BoolOp(Node):
    kind: Literal["boolop"] = "boolop"
    op: Literal["and", "or"]
    operands: tuple[Expr, ...]


class Compare(Node):
    kind: Literal["compare"] = "compare"
    op: Literal["==", "!=", "<", "<=", ">", ">="]
    left: Expr
    right: Expr


class Range(Node):
    """`LO..HI`, inclusive; only the right side of `in`, and a signal's domain."""

    kind: Literal["range"] = "range"
    low: Expr
    high: Expr


class In(Node):
    kind: Literal["in"] = "in"
    element: Expr
    container: Union[Expr, Range]
    negated: bool


class Sum(Node):
    """`a + b - c`: `signs[i]` is +1 or -1 for `terms[i]`; the first sign is always +1."""

    kind: Literal["sum"] = "sum"
    terms: tuple[Expr, ...]
    signs: tuple[int, ...]


class Product(Node):
    kind: Literal["product"] = "product"
    factors: tuple[Expr, ...]


class Neg(Node):
    kind: Literal["neg"] = "neg"
    operand: Expr


Expr = Annotated[
    Union[
        IntLit, FloatLit, MoneyLit, DurationLit, BoolLit, StringLit, SetLit, NameRef,
        ModelFieldRef, FunctionCall, Not, BoolOp, Compare, In, Sum, Product, Neg,
    ],
    Field(discriminator="kind"),
]

LITERALS = (IntLit, FloatLit, MoneyLit, DurationLit, BoolLit, StringLit)

# ---- declarations ------------------------------------------------------------------------------


class TypeExpr(Node):
    kind: Literal["type"] = "type"
    base: Literal["bool", "int", "float", "money", "duration", "enum"]
    domain: Range | None = None
    members: tuple[Name, ...] = ()


class Import(Node):
    kind: Literal["import"] = "import"
    path: StringLit
    alias: Name | None = None


class Threshold(Node):
    kind: Literal["threshold"] = "threshold"
    name: Name
    value: Expr


class SignalDecl(Node):
    """A `signal` or an `outcome` (`role` says which)."""

    kind: Literal["signal"] = "signal"
    role: Literal["signal", "outcome"]
    name: Name
    type: TypeExpr
    default: Expr | None = None


class FieldAssign(Node):
    kind: Literal["field"] = "field"
    name: Name
    value: Expr


class ModelDecl(Node):
    """`model NAME { ... }`, or `model NAME = BASE { overrides }` when `base` is set."""

    kind: Literal["model"] = "model"
    name: Name
    base: QualName | None = None
    fields: tuple[FieldAssign, ...] = ()


class Edge(Node):
    kind: Literal["edge"] = "edge"
    source: QualName
    target: QualName
    condition: Expr


class CascadeDecl(Node):
    kind: Literal["cascade"] = "cascade"
    name: Name
    edges: tuple[Edge, ...]


class FallbackDecl(Node):
    kind: Literal["fallback"] = "fallback"
    source: QualName
    target: QualName
    errors: tuple[Name, ...]


class BudgetDecl(Node):
    kind: Literal["budget"] = "budget"
    metric: Name
    bound: Expr
    condition: Expr | None = None


class InvariantDecl(Node):
    kind: Literal["invariant"] = "invariant"
    name: Name
    condition: Expr | None = None
    requirement: Expr


class ModelTarget(Node):
    kind: Literal["model_target"] = "model_target"
    ref: QualName


class RejectTarget(Node):
    kind: Literal["reject_target"] = "reject_target"
    reason: StringLit


Target = Annotated[Union[ModelTarget, RejectTarget], Field(discriminator="kind")]


class Cap(Node):
    kind: Literal["cap"] = "cap"
    name: Name
    value: Expr


class RuleDecl(Node):
    """A `rule`, or the `default` when `name` is None (its span is the keyword)."""

    kind: Literal["rule"] = "rule"
    name: Name | None
    condition: Expr | None
    target: Target
    cap: Cap | None = None


class RouteDecl(Node):
    kind: Literal["route"] = "route"
    rules: tuple[RuleDecl, ...]
    default: RuleDecl | None = None


class Assignment(Node):
    kind: Literal["assignment"] = "assignment"
    name: Name
    value: Expr


class Expectation(Node):
    """`expect MODEL [with max_output = N] [by RULE] [then MODEL [with max_output = N]]...` or
    `expect reject [by RULE]`; `caps` is aligned with the model and then each `then`."""

    kind: Literal["expectation"] = "expectation"
    reject: bool
    model: QualName | None = None
    rule: Name | None = None
    then: tuple[QualName, ...] = ()
    caps: tuple[Cap | None, ...] = ()


class Down(Node):
    """`down MODEL [on ERROR]` in a test: calls to MODEL fail, with `unavailable` by default."""

    kind: Literal["down"] = "down"
    model: QualName
    error: Name | None = None


class TestDecl(Node):
    kind: Literal["test"] = "test"
    name: Name
    given: tuple[Assignment, ...] = ()
    outcomes: tuple[Assignment, ...] | None = None
    down: tuple[Down, ...] = ()
    expect: Expectation


Decl = Annotated[
    Union[
        Import, Threshold, SignalDecl, ModelDecl, CascadeDecl, FallbackDecl, BudgetDecl,
        InvariantDecl, RouteDecl, TestDecl,
    ],
    Field(discriminator="kind"),
]


class File(Node):
    kind: Literal["file"] = "file"
    name: Name
    decls: tuple[Decl, ...]
