"""Type checking of expressions: surface expressions plus bindings to typed expressions.

Kinds never mix (section 4): numbers (ints and floats), money, durations, bools, enums, sets,
strings. Arithmetic is linear. Thresholds are inlined and constants folded. Every problem is
reported once (E101, E103, E104, E105, E110) and the offending subexpression becomes None, so
that one mistake does not cascade into others.
"""

from __future__ import annotations

import difflib
import operator
import re
from dataclasses import dataclass, replace
from decimal import Decimal
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypeGuard, assert_never, cast

from ..ir.values import EXACT, exact, exact_sum
from ..codes import E101, E103, E104, E105, E110, Code
from ..ir import expr as e
from ..ir import surface as s
from ..ir.node import Node, trusted
from ..ir.policy import MODEL_FIELDS
from ..ir.types import BOOL, DURATION, FLOAT, INT, MONEY, SET, STRING, EnumType, FloatType, kind_of, unbounded
from ..ir.types import Type
from ..source import Source, Span
from .resolve import Label, Member, Resolution, Symbol

if TYPE_CHECKING:
    from ..syntax.loader import Unit


class Declarations(Protocol):
    """What checking an expression needs from the pass that owns the declarations: the
    bindings, the texts, a threshold's value and a signal's type (each checked once), and
    where to report."""

    res: Resolution
    sources: dict[str, Source]

    def error(self, code: Code, message: str, span: Span, *, related: Any = (), help: str | None = None) -> None:
        """Report a finding at `span`."""

    def threshold(self, symbol: Symbol) -> e.Const | None:
        """A threshold's checked value, or None when it has none (reported once)."""

    def signal_type(self, symbol: Symbol) -> Type | None:
        """A signal's or outcome's checked type, or None when it has none (reported once)."""


@dataclass(frozen=True)
class Where:
    """What an expression is part of, and so what it may use."""

    what: str  # "a rule's condition", "a budget", ...
    outcomes: bool = False
    model_fields: bool = False


MODEL_FIELD_TYPES: dict[str, Type] = {
    "id": STRING, "tier": INT, "input_per_mtok": MONEY, "output_per_mtok": MONEY, "context": INT,
    "max_output": INT, "latency": DURATION, "regions": SET, "tags": SET,
}
assert set(MODEL_FIELD_TYPES) == set(MODEL_FIELDS)

_KIND_PHRASES = {
    "number": "a number", "money": "an amount of money", "duration": "a duration", "bool": "true or false",
    "enum": "an enum value", "set": "a set", "string": "a string",
}
_ORDERING = ("<", "<=", ">", ">=")
_COMPARE = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


_NUMBER_TEXT = re.compile(r"-?[0-9][0-9_]*(\.[0-9][0-9_]*)?")
_MEASURED_TEXT = re.compile(r"-?\$[0-9][0-9_]*(\.[0-9][0-9_]*)?|-?[0-9][0-9_]*(\.[0-9][0-9_]*)?(ms|s|m)")


def phrase(t: Type) -> str:
    """A type's kind as a message says it: `a number`, `an amount of money`."""
    return _KIND_PHRASES[kind_of(t)]


def is_const(x: e.InvariantExpr | None) -> TypeGuard[e.Const]:
    """Whether a checked expression is a constant (folded already)."""
    return isinstance(x, e.Const)


def _all_checked(items: list[e.InvariantExpr | None]) -> list[e.InvariantExpr] | None:
    """The checked expressions, or None when some could not be checked (reported already)."""
    checked = [x for x in items if x is not None]
    return checked if len(checked) == len(items) else None


def money_factor(value: Any) -> Any:
    """A number that multiplies money or a duration, exact: 0.1 is Decimal('0.1')."""
    return Decimal(repr(value)) if isinstance(value, float) else value


class ExpressionChecker:
    """Checks one expression at a time for the pass that owns the declarations."""

    def __init__(self, checker: Declarations) -> None:
        self.checker = checker
        self.res = checker.res

    def error(self, code: Code, message: str, node: Node, help: str | None = None) -> None:
        """Report a finding at `node`."""
        self.checker.error(code, message, node.span, help=help)

    def text(self, node: Node) -> str:
        """The source text of `node`, cut to 40 characters, for messages."""
        source = self.checker.sources[node.span.file]
        snippet = source.text[node.span.start : node.span.end]
        return snippet if len(snippet) <= 40 else snippet[:37] + "..."

    # ---- entry points -------------------------------------------------------------------------

    def condition(self, node: s.Expr, unit: Unit, where: Where) -> e.Expr | None:
        """An expression that must be true or false, a route expression: `model.FIELD` in it
        is refused (E101)."""
        checked = self._boolean(node, unit, replace(where, model_fields=False) if where.model_fields else where)
        # no walk of every rule's condition to prove it: with model_fields
        # off, _model_field refuses every model.FIELD, so no ModelAttr is in `checked`
        return cast("e.Expr | None", checked)

    def requirement(self, node: s.Expr, unit: Unit, where: Where) -> e.InvariantExpr | None:
        """An invariant's `require`: an expression that must be true or false, free to read
        `model.FIELD` of the serving model."""
        return self._boolean(node, unit, replace(where, model_fields=True))

    def _boolean(self, node: s.Expr, unit: Unit, where: Where) -> e.InvariantExpr | None:
        checked = self.check(node, unit, where)
        if checked is not None and checked.type.kind != "bool":
            self.error(E103, f"{where.what} must be true or false, but '{self.text(node)}' is {phrase(checked.type)}",
                       node, help="compare it: input_tokens > 8_000")
            return None
        return checked

    def constant(self, node: s.Expr, unit: Unit, where: Where) -> e.Const | None:
        """An expression that must fold to a constant (E103 when it depends on the request)."""
        checked = self.check(node, unit, where)
        if checked is None or is_const(checked):
            return checked
        self.error(E103, f"{where.what} must be a constant, but '{self.text(node)}' depends on the request", node)
        return None

    def check(self, node: s.Expr, unit: Unit, where: Where) -> e.InvariantExpr | None:
        """The typed expression, or None after reporting why it has none."""
        match node:  # the commonest first: a match tries its class patterns in order
            case s.NameRef():
                return self._name_ref(node, unit, where)
            case s.Compare():
                return self._compare(node, unit, where)
            case s.BoolOp():
                return self._boolop(node, unit, where)
            case s.IntLit():
                return trusted(e.Const, span=node.span, value=node.value, type=INT)
            case s.FloatLit():
                return trusted(e.Const, span=node.span, value=node.value, type=FLOAT)
            case s.MoneyLit():
                return trusted(e.Const, span=node.span, value=node.value, type=MONEY)
            case s.DurationLit():
                return trusted(e.Const, span=node.span, value=node.value, type=DURATION)
            case s.BoolLit():
                return trusted(e.Const, span=node.span, value=node.value, type=BOOL)
            case s.StringLit():
                return trusted(e.Const, span=node.span, value=node.value, type=STRING)
            case s.SetLit():
                return trusted(e.Const, span=node.span, value=frozenset(i.text for i in node.items), type=SET)
            case s.ModelFieldRef():
                return self._model_field(node, unit, where)
            case s.FunctionCall():
                return self._call(node, unit, where)
            case s.Not():
                return self._not(node, unit, where)
            case s.In():
                return self._in(node, unit, where)
            case s.Sum():
                return self._sum(node, unit, where)
            case s.Product():
                return self._product(node, unit, where)
            case s.Neg():
                return self._neg(node, unit, where)
            case _:
                assert_never(node)

    def _name_ref(self, node: s.NameRef, unit: Unit, where: Where) -> e.InvariantExpr | None:
        binding = self.res.binding(node.name)
        if isinstance(binding, Member):  # only reachable where no enum operand exists
            self.error(E103, f"'{binding.text}' reads as an enum member here, but nothing it is compared with is an enum", node)
            return None
        if isinstance(binding, Label):
            return trusted(e.Const, span=node.span, value=binding.text, type=STRING)
        if not isinstance(binding, Symbol):
            return None  # unknown name, reported by resolution
        if binding.kind == "threshold":
            value = self.checker.threshold(binding)
            return value.model_copy(update={"span": node.span}) if value is not None else None
        if binding.kind == "outcome" and not where.outcomes:
            self.error(
                E105,
                f"outcome '{binding.name}' is known only after a model answers; {where.what} cannot use it",
                node,
                help="outcomes belong in a cascade's `when`",
            )
            return None
        declared = self.checker.signal_type(binding)
        if declared is None:
            return None
        return trusted(e.SignalRef, span=node.span, name=binding.name, role=binding.kind, type=declared)

    def _model_field(self, node: s.ModelFieldRef, unit: Unit, where: Where) -> e.InvariantExpr | None:
        field = node.field.text
        if not where.model_fields:
            self.error(E101, f"'model.{field}' names the serving model; only an invariant's `require` can use it", node)
            return None
        if field not in MODEL_FIELD_TYPES:
            close = difflib.get_close_matches(field, MODEL_FIELDS, n=1)
            self.error(E110, f"models have no field '{field}'", node.field,
                       help=f"did you mean '{close[0]}'?" if close else "fields: " + ", ".join(MODEL_FIELDS))
            return None
        return trusted(e.ModelAttr, span=node.span, field=field, type=MODEL_FIELD_TYPES[field])

    def _call(self, node: s.FunctionCall, unit: Unit, where: Where) -> e.InvariantExpr | None:
        binding = self.res.binding(node.argument)
        if node.function.text != "cost" or not isinstance(binding, Symbol):
            return None  # reported by resolution
        return trusted(e.CostOf, span=node.span, model=self.res.display[binding])

    # ---- logic --------------------------------------------------------------------------------

    def _bools(self, nodes: Sequence[s.Expr], unit: Unit, where: Where, word: str) -> list[e.InvariantExpr] | None:
        out: list[e.InvariantExpr | None] = []
        for node in nodes:
            checked = self.check(node, unit, where)
            if checked is not None and checked.type.kind != "bool":
                self.error(E103, f"'{word}' takes true or false, but '{self.text(node)}' is {phrase(checked.type)}", node)
                checked = None
            out.append(checked)
        return _all_checked(out)

    def _not(self, node: s.Not, unit: Unit, where: Where) -> e.InvariantExpr | None:
        operands = self._bools([node.operand], unit, where, "not")
        if operands is None:
            return None
        (operand,) = operands
        if is_const(operand):
            return trusted(e.Const, span=node.span, value=not operand.value, type=BOOL)
        return trusted(e.Not, span=node.span, operand=operand)

    def _boolop(self, node: s.BoolOp, unit: Unit, where: Where) -> e.InvariantExpr | None:
        operands = self._bools(node.operands, unit, where, node.op)
        if operands is None:
            return None
        constants = [x for x in operands if is_const(x)]
        if len(constants) == len(operands):
            values = [x.value for x in constants]
            return trusted(e.Const, span=node.span, value=all(values) if node.op == "and" else any(values), type=BOOL)
        return trusted(e.BoolOp, span=node.span, op=node.op, operands=tuple(operands))

    # ---- comparisons --------------------------------------------------------------------------

    def member(self, enum_side: e.InvariantExpr, name: str, node: Node) -> e.Const | None:
        """A bare identifier read as a member of `enum_side`'s enum: E104 if it is not one."""
        t = enum_side.type
        assert isinstance(t, EnumType)  # resolution reads a bare name as a member only beside an enum
        members = t.members
        if name not in members:
            close = difflib.get_close_matches(name, members, n=1, cutoff=0.5)
            owner = f"'{enum_side.name}'" if isinstance(enum_side, e.SignalRef) else "the enum"
            self.error(
                E104,
                f"'{name}' is not a member of {owner}, an enum {{{', '.join(members)}}}",
                node,
                help=f"did you mean '{close[0]}'?" if close else None,
            )
            return None
        return trusted(e.Const, span=node.span, value=name, type=enum_side.type)

    def _is_member(self, node: s.Expr) -> TypeGuard[s.NameRef]:
        return isinstance(node, s.NameRef) and isinstance(self.res.binding(node.name), Member)

    def _compare(self, node: s.Compare, unit: Unit, where: Where) -> e.InvariantExpr | None:
        left_member = self._is_member(node.left)
        if left_member or self._is_member(node.right):
            member_node, other = (node.left, node.right) if left_member else (node.right, node.left)
            assert isinstance(member_node, s.NameRef)  # what _is_member found
            enum_side = self.check(other, unit, where)
            if enum_side is None:
                return None
            member = self.member(enum_side, member_node.name.text, member_node)
            if member is None:
                return None
            left, right = (member, enum_side) if member_node is node.left else (enum_side, member)
        else:
            checked_left, checked_right = self.check(node.left, unit, where), self.check(node.right, unit, where)
            if checked_left is None or checked_right is None:
                return None
            left, right = checked_left, checked_right
        if not self._same_kind(left, right, node):
            return None
        kind = kind_of(left.type)
        if node.op in _ORDERING and kind in ("bool", "enum", "string"):
            self.error(E103, f"'{node.op}' does not order {phrase(left.type).split(' ', 1)[1]}s; use == or !=", node)
            return None
        if is_const(left) and is_const(right):
            return trusted(e.Const, span=node.span, value=_COMPARE[node.op](left.value, right.value), type=BOOL)
        return trusted(e.Compare, span=node.span, op=node.op, left=left, right=right)

    def _same_kind(self, left: e.InvariantExpr, right: e.InvariantExpr, node: Node) -> bool:
        lk, rk = kind_of(left.type), kind_of(right.type)
        if lk != rk:
            help = self._mix_help(left, right) if "number" in (lk, rk) else None
            self.error(
                E103,
                f"'{self.text(left)}' is {phrase(left.type)} but '{self.text(right)}' is {phrase(right.type)}; kinds never mix",
                right,
                help=help,
            )
            return False
        lt, rt = left.type, right.type
        if isinstance(lt, EnumType) and isinstance(rt, EnumType) and set(lt.members) != set(rt.members):
            self.error(E103, f"'{self.text(left)}' and '{self.text(right)}' are values of different enums", right)
            return False
        return True

    def _mix_help(self, left: e.InvariantExpr, right: e.InvariantExpr) -> str | None:
        """How to make a number meet money or a duration, for what was written: a literal
        that lacks its unit, one that has a unit it should not, or two values to scale."""
        number, measured = (left, right) if kind_of(left.type) == "number" else (right, left)
        unit = kind_of(measured.type)
        if unit not in ("money", "duration"):
            return None
        written = self.text(number)
        if _NUMBER_TEXT.fullmatch(written):  # `remaining_budget > 7.5`: the unit is missing
            return f"write it with a dollar sign: ${written}" if unit == "money" else \
                f"give it a unit: {written}s, {written}ms or {written}m"
        shown = self.text(measured)
        if _MEASURED_TEXT.fullmatch(shown):  # `input_tokens > $5`: a unit where none belongs
            bare = shown.lstrip("$").rstrip("ms")
            return f"'{written}' is a number: compare it with a number, such as {bare}"
        if isinstance(number, e.Const) and written.isidentifier():  # a threshold of the wrong kind
            value = number.value if isinstance(number.value, (int, float)) and not isinstance(number.value, bool) \
                else None
            if value is None or value < 0:  # no amount of the user's own to show: say the form, invent none
                form = "a $ and an amount" if unit == "money" else "a number and s, ms or m"
                return f"'{written}' is a number; declare it as {phrase(measured.type)}: threshold {written} = {form}"
            example = f"${value}" if unit == "money" else f"{value}s"
            return f"'{written}' is a number; declare it as {phrase(measured.type)}: threshold {written} = {example}"
        if unit == "money":
            return f"scale the number by a price to compare it with money: {written} * $0.000001"
        return f"scale the number by a time to compare it with a duration: {written} * 1ms"

    def _in(self, node: s.In, unit: Unit, where: Where) -> e.InvariantExpr | None:
        if isinstance(node.container, s.Range):
            return self._in_range(node, node.container, unit, where)
        binding = self.res.binding(node.element.name) if isinstance(node.element, s.NameRef) else None
        element = self.check(node.element, unit, where)
        if element is None:
            return None
        if isinstance(node.container, s.SetLit) and element.type.kind == "enum":
            members: list[str] = []
            for item in node.container.items:
                member = self.member(element, item.text, item)
                if member is None:
                    return None
                if member.value not in members:
                    members.append(member.value)
            return trusted(e.InSet, span=node.span, element=element, members=tuple(members), negated=node.negated)
        container = self.check(node.container, unit, where)
        if container is None:
            return None
        if container.type.kind != "set":
            self.error(E103, f"'in' needs a set {{a, b}}, a range LO..HI or a label set such as model.regions; "
                               f"'{self.text(container)}' is {phrase(container.type)}", container)
            return None
        if not (isinstance(binding, Label) or element.type.kind == "enum"):
            self.error(E103, f"only a label or an enum value can be in a set; '{self.text(element)}' is {phrase(element.type)}",
                       element)
            return None
        if is_const(element) and is_const(container):
            inside = container.value is None or element.value in container.value
            return trusted(e.Const, span=node.span, value=inside != node.negated, type=BOOL)
        return trusted(e.HasLabel, span=node.span, element=element, container=container, negated=node.negated)

    def _in_range(self, node: s.In, bounds: s.Range, unit: Unit, where: Where) -> e.InvariantExpr | None:
        parts = _all_checked([self.check(x, unit, where) for x in (node.element, bounds.low, bounds.high)])
        if parts is None:
            return None
        element, low, high = parts
        if kind_of(element.type) not in ("number", "money", "duration"):
            self.error(E103, f"'in LO..HI' needs a number, money or a duration; '{self.text(element)}' is {phrase(element.type)}", element)
            return None
        if not (self._same_kind(element, low, node) and self._same_kind(element, high, node)):
            return None
        if is_const(element) and is_const(low) and is_const(high):
            inside = low.value <= element.value <= high.value
            return trusted(e.Const, span=node.span, value=inside != node.negated, type=BOOL)
        return trusted(e.InRange, span=node.span, element=element, low=low, high=high, negated=node.negated)

    # ---- arithmetic ---------------------------------------------------------------------------

    def _arithmetic(self, items: list[e.InvariantExpr], node: Node, word: str) -> bool:
        for item in items:
            if kind_of(item.type) not in ("number", "money", "duration"):
                self.error(E103, f"'{word}' takes numbers, money or durations; '{self.text(item)}' is {phrase(item.type)}", item)
                return False
        return True

    def _sum(self, node: s.Sum, unit: Unit, where: Where) -> e.InvariantExpr | None:
        terms = _all_checked([self.check(t, unit, where) for t in node.terms])
        if terms is None or not self._arithmetic(terms, node, "+"):
            return None
        for term in terms[1:]:
            if not self._same_kind(terms[0], term, node):
                return None
        result_type = _arith_type([t.type for t in terms])
        constants = [t for t in terms if is_const(t)]
        if len(constants) == len(terms):
            total: int | float | Decimal = exact_sum([exact(t.value) for t in constants], node.signs)  # exact, as at runtime
            if result_type.kind == "float":
                total = float(total)
            elif result_type.kind == "int":
                total = int(total)
            return trusted(e.Const, span=node.span, value=total, type=result_type)
        return trusted(e.Sum, span=node.span, terms=tuple(terms), signs=node.signs, type=result_type)

    def _product(self, node: s.Product, unit: Unit, where: Where) -> e.InvariantExpr | None:
        factors = _all_checked([self.check(f, unit, where) for f in node.factors])
        if factors is None or not self._arithmetic(factors, node, "*"):
            return None
        variable = [f for f in factors if not is_const(f)]
        measured = [f for f in factors if kind_of(f.type) != "number"]
        if len(variable) > 1:
            self.error(E103, "arithmetic is linear: of the factors of '*', only one may depend on the request", node,
                       help="multiply by a constant: document_count * 1_000, remaining_budget * 0.5, n * 0.5s")
            return None
        if len(measured) > 1:
            words = [{"money": "money", "duration": "a duration"}[kind_of(f.type)] for f in measured[:2]]
            self.error(E103, f"'*' multiplies {words[0]} by {words[1]}; one side must be a plain number", node,
                       help="money or a duration times a number: $0.5 * n, 2 * wait")
            return None
        factor: Any = 1
        for f in factors:
            if is_const(f) and kind_of(f.type) == "number":
                factor = EXACT.multiply(exact(factor), exact(f.value))  # exact: 0.1 * 3 is 0.3
        if all(not (is_const(f) and f.type.kind == "float") for f in factors):
            factor = int(factor)
        else:
            factor = float(factor)
        result_type = _arith_type([f.type for f in factors])
        if not variable:
            value = factor if not measured else EXACT.multiply(money_factor(factor), _value(measured[0]))
            return trusted(e.Const, span=node.span, value=value, type=result_type)
        (operand,) = variable
        if measured and is_const(measured[0]):  # n * 0.5s: the literal's unit and amount scale n
            factor = EXACT.multiply(money_factor(factor), measured[0].value)
        elif kind_of(operand.type) != "number":
            factor = money_factor(factor)
        return trusted(e.Scale, span=node.span, factor=factor, operand=operand, type=result_type)

    def _neg(self, node: s.Neg, unit: Unit, where: Where) -> e.InvariantExpr | None:
        operand = self.check(node.operand, unit, where)
        if operand is None or not self._arithmetic([operand], node, "-"):
            return None
        result_type = unbounded(operand.type)
        if is_const(operand):
            return trusted(e.Const, span=node.span, value=-operand.value, type=result_type)
        return trusted(e.Scale, span=node.span, factor=-1, operand=operand, type=result_type)


def _value(x: e.InvariantExpr) -> Any:
    """The value of an expression known to be a constant (every factor, where none varies)."""
    assert isinstance(x, e.Const)
    return x.value


def _arith_type(types: list[Type]) -> Type:
    """Money or durations stay themselves; numbers are ints unless a float takes part."""
    kinds = {kind_of(t) for t in types}
    if "money" in kinds:
        return MONEY
    if "duration" in kinds:
        return DURATION
    return FLOAT if any(isinstance(t, FloatType) for t in types) else INT

