"""Parse callbacks: each grammar rule becomes a surface node (`ir/surface.py`) as it is reduced.

Lark calls these during LALR parsing, bottom-up and without recursion, so arbitrarily deep
input cannot overflow the stack here. Problems that the grammar cannot see (a bad number,
an unknown escape, `budget cost >= ...`) are recorded as E0xx diagnostics in the context.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from contextvars import ContextVar
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Generic, Literal, NamedTuple, NoReturn, TypeAlias, TypeVar

from lark import Token, Transformer
from pydantic import BaseModel

from ..codes import E001, E003, E004, E006, E007, Code
from ..diagnostics import Diagnostic, diagnostic
from ..ir import surface as s
from ..ir.node import Node
from ..source import Source, Span

Children: TypeAlias = list[Any]
"""What one grammar rule reduces to: its tokens (`keep_all_tokens`) and the nodes its callbacks
built, in the order the grammar writes them. Which is which at each index is the grammar's to
say, not the type system's."""

_N = TypeVar("_N", bound=Node)
_M = TypeVar("_M", bound=BaseModel)


class Shape(NamedTuple, Generic[_M]):
    """How the builder makes a model from a given set of fields, without validating."""

    cls: type[_M]
    template: dict[str, Any]
    """Every field in declaration order with its default, as validation lays `__dict__` out."""
    fields_set: set[str]
    """The `__pydantic_fields_set__` that validation would give: the names given. The models
    are frozen, so pydantic never adds to it in place (`model_copy` copies it first), and every
    node built from the same names shares one: a set a node less for the collector to walk."""


_SHAPES: dict[tuple[type[BaseModel], tuple[str, ...]], Shape[Any] | None] = {}
"""The shape of each model and names given, in the order given (None: not the model's)."""

_new_object = object.__new__
# pydantic's BaseModel keeps these four in slots; their descriptors set them without the
# detour through BaseModel.__setattr__ (which a frozen model refuses) or object.__setattr__
_set_dict = BaseModel.__dict__["__dict__"].__set__
_set_fields_set = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_set_extra = BaseModel.__dict__["__pydantic_extra__"].__set__
_set_private = BaseModel.__dict__["__pydantic_private__"].__set__


def shape(cls: type[_M], *given: str) -> Shape[_M]:
    """The shape of `cls` built from the fields named `given`, which must be its own and
    include every required one (a mistake here is the builder's: it raises)."""
    found = _shape(cls, given)
    if found is None:
        raise AssertionError(f"{cls.__name__} is not made of {given}")
    return found


def _shape(cls: type[_M], given: tuple[str, ...]) -> Shape[_M] | None:
    if not cls.model_config.get("frozen"):
        raise AssertionError(f"{cls.__name__} is not frozen: its nodes cannot share a fields set")
    fields = cls.model_fields
    if any(info.default_factory is not None for info in fields.values()):
        raise AssertionError(f"{cls.__name__} has a default factory: a template would share its value")
    required = {name for name, info in fields.items() if info.is_required()}
    if not (set(given) <= set(fields) and required <= set(given)):
        return None
    return Shape(cls, {name: info.default for name, info in fields.items()}, set(given))


def make(made: Shape[_M], values: dict[str, Any]) -> _M:
    """An instance of `made.cls` holding `values` (the fields `made` names, no others), as
    pydantic's validation would build it, without validating: the callbacks pass values of
    the declared types already, and validating 40,000 nodes and spans was half of parsing a
    1,000-rule file. `tests/test_parse_fast.py` checks trees against validated construction."""
    cls, template, fields_set = made
    fields = template.copy()  # every field, in declaration order, as validation leaves them
    fields.update(values)
    instance = _new_object(cls)
    _set_dict(instance, fields)
    _set_fields_set(instance, fields_set)
    _set_extra(instance, None)
    _set_private(instance, None)
    return instance


def _new(cls: type[_M], **values: Any) -> _M:
    """What `make` makes, from the class and keyword arguments; pydantic's own error when a
    name is not the model's or a required one is missing."""
    key = (cls, tuple(values))
    made: Shape[_M] | None
    try:
        made = _SHAPES[key]
    except KeyError:
        made = _SHAPES[key] = _shape(cls, key[1])
    if made is None:
        return cls(**values)  # an unknown or missing field: let pydantic say what is wrong
    built: _M = make(made, values)
    return built


_SPAN_FIELDS = ("file", "start", "end", "line", "column", "end_line", "end_column")
_SPAN_FIELDS_SET = set(_SPAN_FIELDS)
"""Shared by every span the builder makes, as a fields set is by nodes (a Span is frozen)."""

MAX_NESTING = 1_000
"""The most parentheses, or unary operators, an expression may nest; more is E006."""


@dataclass
class BuildContext:
    source: Source
    diagnostics: list[Diagnostic] = field(default_factory=list)
    depths: dict[int, tuple[object, int]] = field(default_factory=dict)
    too_deep: bool = False

    def nest(self, node: _N, children: Children, unary: bool = False) -> _N:
        """Record how many unary operators (`not`, `-`) nest along the deepest path below
        `node`; past MAX_NESTING, E006 (once). Binary operators cannot nest without
        parentheses, and those the parser counts itself."""
        depths = self.depths
        level = 0
        for child in children:
            known = depths.get(id(child))
            if known is not None and known[1] > level:
                level = known[1]
        level += unary
        if not level:
            return node  # not found in `depths` counts as 0: no entry to keep
        depths[id(node)] = (node, level)  # the node is kept alive so its id stays its own
        if level > MAX_NESTING and not self.too_deep:
            self.too_deep = True
            at = self.source.span(node.span.start, node.span.start + 1)
            self.diagnostics.append(diagnostic(
                E006, f"expression nested more than {MAX_NESTING:,} levels deep", at,
                help="split the condition with thresholds or simpler rules"))
        return node

    def span(self, first: Token | Node, last: Token | Node | None = None) -> Span:
        """From the start of `first` to the end of `last` (or of `first`): lines and columns
        from the lexer's own positions (each token carries them), no search of the text."""
        if last is None:
            last = first
        if type(first) is Token:
            start, line, column = first.start_pos, first.line, first.column
        else:
            opening = first.span  # type: ignore[union-attr]  # a node: not a Token
            start, line, column = opening.start, opening.line, opening.column
        if type(last) is Token:
            end, end_line, end_column = last.end_pos, last.end_line, last.end_column
        else:
            closing = last.span  # type: ignore[union-attr]  # a node: not a Token
            end, end_line, end_column = closing.end, closing.end_line, closing.end_column
        if start is None or end is None or line is None or column is None or end_line is None or \
                end_column is None or end < start:
            return self.source.span(_start(first), _end(last))
        span = _new_object(Span)  # what `make` does, for the one model built most often
        _set_dict(span, {"file": self.source.name, "start": start, "end": end, "line": line,
                         "column": column, "end_line": end_line, "end_column": end_column})
        _set_fields_set(span, _SPAN_FIELDS_SET)
        _set_extra(span, None)
        _set_private(span, None)
        return span

    def error(self, code: Code, message: str, at: Span | Token | Node, help: str | None = None) -> None:
        """Record a diagnostic at `at` (a span, or the span of a token or node)."""
        span = at if isinstance(at, Span) else self.span(at)
        self.diagnostics.append(diagnostic(code, message, span, help=help))


CONTEXT: ContextVar[BuildContext] = ContextVar("policylang_build_context")

# the shapes of the nodes that large policies are made of, read once
_NAME = shape(s.Name, "span", "text")
_QUALNAME = shape(s.QualName, "span", "parts")
_NAME_REF = shape(s.NameRef, "span", "name")
_MODEL_TARGET = shape(s.ModelTarget, "span", "ref")
_COMPARE = shape(s.Compare, "span", "op", "left", "right")
_BOOL_OP = shape(s.BoolOp, "span", "op", "operands")
_IN = shape(s.In, "span", "element", "container", "negated")
_INT = shape(s.IntLit, "span", "value")
_FLOAT = shape(s.FloatLit, "span", "value", "text")
_NOT = shape(s.Not, "span", "operand")
_STRING = shape(s.StringLit, "span", "value")
_SET = shape(s.SetLit, "span", "items")
_RULE = shape(s.RuleDecl, "span", "name", "condition", "target", "cap")
_FIELD = shape(s.FieldAssign, "span", "name", "value")
_EDGE = shape(s.Edge, "span", "source", "target", "condition")


def _start(item: Token | Node) -> int:
    return (item.start_pos or 0) if isinstance(item, Token) else item.span.start  # lexed: never None


def _end(item: Token | Node) -> int:
    return (item.end_pos or 0) if isinstance(item, Token) else item.span.end


def _nodes(children: Iterable[object], cls: type[_N]) -> tuple[_N, ...]:
    return tuple(c for c in children if isinstance(c, cls))


_NUMBER = re.compile(r"[0-9]+(_[0-9]+)*(\.[0-9]+(_[0-9]+)*)?")
_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "t": "\t"}
_UNITS = {"ms": Decimal("0.001"), "s": Decimal(1), "m": Decimal(60)}
_MAX_INT_DIGITS = 4_000
"""Python reads at most 4,300 digits into an int; no policy needs a tenth of that."""


def _shorten(text: str) -> str:
    return text if len(text) <= 40 else f"{text[:20]}...{text[-8:]}"


def _check_digits(ctx: BuildContext, token: Token, digits: str) -> str:
    if not _NUMBER.fullmatch(digits):
        ctx.error(
            E004,
            f"bad number literal '{token}': underscores go between digits",
            token,
            help="write 8_000, not 8__000 or 8000_",
        )
    return digits.replace("_", "") or "0"


def unescape(ctx: BuildContext, token: Token) -> str:
    """The value of a string token; reports unknown escapes and a missing closing quote."""
    raw = str(token)
    closed = token.type == "STRING"
    if not closed:
        ctx.error(E003, "unterminated string: a string ends with '\"' on the same line", token)
    body = raw[1:-1] if closed else raw[1:]
    out: list[str] = []
    i = 0
    start = token.start_pos or 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            esc = body[i + 1]
            if esc in _ESCAPES:
                out.append(_ESCAPES[esc])
            else:
                at = ctx.source.span(start + 1 + i, start + 3 + i)
                ctx.error(E004, f"unknown escape '\\{esc}' in a string", at, help='use \\", \\\\, \\n or \\t')
                out.append(esc)
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


class Builder(Transformer[Token, s.File]):
    """The callbacks, one per grammar rule or alias. Tokens are kept (`keep_all_tokens`)."""

    @property
    def ctx(self) -> BuildContext:
        """The context of the parse under way (set by `parser.parse`)."""
        return CONTEXT.get()

    # ---- names --------------------------------------------------------------------------------

    def name(self, c: Children) -> s.Name:
        token = c[0]
        return make(_NAME, {"span": CONTEXT.get().span(token), "text": str(token)})

    def qualname(self, c: Children) -> s.QualName:
        if len(c) == 1:  # one name: its span is the qualified name's (the same values)
            return make(_QUALNAME, {"span": c[0].span, "parts": (c[0],)})
        return _new(s.QualName, span=CONTEXT.get().span(c[0], c[-1]), parts=_nodes(c, s.Name))

    # ---- literals -----------------------------------------------------------------------------

    def int_lit(self, c: Children) -> s.IntLit:
        tok = c[0]
        ctx = CONTEXT.get()
        digits = _check_digits(ctx, tok, str(tok))
        if len(digits) > _MAX_INT_DIGITS:
            ctx.error(E004, f"the number literal '{_shorten(str(tok))}' has {len(digits):,} digits, more than "
                            f"a policy's numbers hold ({_MAX_INT_DIGITS:,})", tok)
            digits = "0"
        return make(_INT, {"span": ctx.span(tok), "value": int(digits)})

    def float_lit(self, c: Children) -> s.FloatLit:
        tok = c[0]
        ctx = CONTEXT.get()
        text = _check_digits(ctx, tok, str(tok))
        value = float(text) if len(text) <= _MAX_INT_DIGITS else math.inf
        if not math.isfinite(value):
            ctx.error(E004, f"the number literal '{_shorten(str(tok))}' is too large for a float (at most about "
                            "1.8 followed by 308 digits)", tok)
            value = 0.0
        return make(_FLOAT, {"span": ctx.span(tok), "value": value, "text": text})

    def money_lit(self, c: Children) -> s.MoneyLit:
        tok = c[0]
        return _new(s.MoneyLit, span=self.ctx.span(tok), value=Decimal(_check_digits(self.ctx, tok, str(tok)[1:])))

    def duration_lit(self, c: Children) -> s.DurationLit:
        tok = c[0]
        match = re.fullmatch(r"(.*?)(ms|s|m)", str(tok))
        assert match is not None  # the DURATION terminal guarantees the unit
        digits = _check_digits(self.ctx, tok, match.group(1))
        return _new(s.DurationLit, span=self.ctx.span(tok), value=Decimal(digits) * _UNITS[match.group(2)])

    def string(self, c: Children) -> s.StringLit:
        ctx = CONTEXT.get()
        return make(_STRING, {"span": ctx.span(c[0]), "value": unescape(ctx, c[0])})

    def true_lit(self, c: Children) -> s.BoolLit:
        return _new(s.BoolLit, span=self.ctx.span(c[0]), value=True)

    def false_lit(self, c: Children) -> s.BoolLit:
        return _new(s.BoolLit, span=self.ctx.span(c[0]), value=False)

    def set_lit(self, c: Children) -> s.SetLit:
        return make(_SET, {"span": CONTEXT.get().span(c[0], c[-1]), "items": _nodes(c, s.Name)})

    # ---- expressions --------------------------------------------------------------------------

    def atom(self, c: Children) -> Node:  # "(" expr ")": the node, its span now taking in the parentheses
        inner: Node = c[1]
        wrapped = inner.model_copy(update={"span": self.ctx.span(c[0], c[2])})
        if id(inner) in self.ctx.depths:
            self.ctx.depths[id(wrapped)] = (wrapped, self.ctx.depths[id(inner)][1])
        return wrapped

    def name_ref(self, c: Children) -> s.NameRef:
        return make(_NAME_REF, {"span": c[0].span, "name": c[0]})

    def model_field(self, c: Children) -> s.ModelFieldRef:
        return _new(s.ModelFieldRef, span=self.ctx.span(c[0], c[-1]), field=c[2])

    def call(self, c: Children) -> s.FunctionCall:
        return _new(s.FunctionCall, span=self.ctx.span(c[0], c[-1]), function=c[0], argument=c[2])

    def _boolop(self, op: Literal["and", "or"], c: Children) -> s.BoolOp:
        operands: list[s.Expr] = []
        for item in c[::2]:  # operands sit between the keywords
            if isinstance(item, s.BoolOp) and item.op == op:
                operands.extend(item.operands)  # (a or b) or c is a or b or c
            else:
                operands.append(item)
        ctx = CONTEXT.get()
        return ctx.nest(make(_BOOL_OP, {"span": ctx.span(c[0], c[-1]), "op": op, "operands": tuple(operands)}), c)

    def or_op(self, c: Children) -> s.BoolOp:
        return self._boolop("or", c)

    def and_op(self, c: Children) -> s.BoolOp:
        return self._boolop("and", c)

    def not_op(self, c: Children) -> s.Not:
        ctx = CONTEXT.get()
        return ctx.nest(make(_NOT, {"span": ctx.span(c[0], c[1]), "operand": c[1]}), c, unary=True)

    def compare(self, c: Children) -> s.Compare:
        ctx = CONTEXT.get()
        return ctx.nest(make(_COMPARE, {"span": ctx.span(c[0], c[2]), "op": str(c[1]), "left": c[0], "right": c[2]}), c)

    def in_op(self, c: Children) -> s.In:
        ctx = CONTEXT.get()
        return ctx.nest(make(_IN, {"span": ctx.span(c[0], c[-1]), "element": c[0], "container": c[-1], "negated": False}), c)

    def not_in_op(self, c: Children) -> s.In:
        return self.ctx.nest(_new(s.In, span=self.ctx.span(c[0], c[-1]), element=c[0], container=c[-1], negated=True), c)

    def range(self, c: Children) -> s.Range:
        return self.ctx.nest(_new(s.Range, span=self.ctx.span(c[0], c[2]), low=c[0], high=c[2]), c)

    def sum_op(self, c: Children) -> s.Sum:
        terms: list[s.Expr] = [c[0]]
        signs = [1]
        for op, term in zip(c[1::2], c[2::2]):
            terms.append(term)
            signs.append(1 if op == "+" else -1)
        return self.ctx.nest(_new(s.Sum, span=self.ctx.span(c[0], c[-1]), terms=tuple(terms), signs=tuple(signs)), c)

    def product_op(self, c: Children) -> s.Product:
        return self.ctx.nest(_new(s.Product, span=self.ctx.span(c[0], c[-1]), factors=tuple(c[::2])), c)

    def neg_op(self, c: Children) -> Node:
        op: Token = c[0]
        operand: Node = c[1]
        span = self.ctx.span(op, operand)
        if op == "+":
            self.ctx.error(E001, "unexpected '+': only '-' may stand before a value", op)
            return operand
        # -8_000 is one literal, as section 2 says; other negations stay operators
        if isinstance(operand, (s.IntLit, s.FloatLit, s.MoneyLit, s.DurationLit)):
            update: dict[str, object] = {"span": span, "value": -operand.value}
            if isinstance(operand, s.FloatLit):
                update["text"] = "-" + operand.text
            return operand.model_copy(update=update)
        return self.ctx.nest(_new(s.Neg, span=span, operand=operand), c, unary=True)

    # ---- types --------------------------------------------------------------------------------

    def _type(self, base: Literal["bool", "int", "float", "money", "duration"], c: Children) -> s.TypeExpr:
        domain = c[1] if len(c) > 1 else None
        end = domain if domain is not None else c[0]
        return _new(s.TypeExpr, span=self.ctx.span(c[0], end), base=base, domain=domain)

    def bool_type(self, c: Children) -> s.TypeExpr:
        return self._type("bool", c)

    def int_type(self, c: Children) -> s.TypeExpr:
        return self._type("int", c)

    def float_type(self, c: Children) -> s.TypeExpr:
        return self._type("float", c)

    def money_type(self, c: Children) -> s.TypeExpr:
        return self._type("money", c)

    def duration_type(self, c: Children) -> s.TypeExpr:
        return self._type("duration", c)

    def enum_type(self, c: Children) -> s.TypeExpr:
        return _new(s.TypeExpr, span=self.ctx.span(c[0], c[-1]), base="enum", members=c[2])

    def domain(self, c: Children) -> s.Range:  # "in" LO ".." HI
        return _new(s.Range, span=self.ctx.span(c[1], c[3]), low=c[1], high=c[3])

    def member_list(self, c: Children) -> tuple[s.Name, ...]:
        return _nodes(c, s.Name)

    # ---- declarations -------------------------------------------------------------------------

    def start(self, c: Children) -> s.File:
        header, *decls = c
        return _new(s.File, span=self.ctx.span(c[0], c[-1]), name=header, decls=tuple(decls))

    def header(self, c: Children) -> s.Name:
        name: s.Name = c[1]
        return name

    def import_decl(self, c: Children) -> s.Import:
        alias = c[3] if len(c) > 2 else None
        return _new(s.Import, span=self.ctx.span(c[0], c[-1]), path=c[1], alias=alias)

    def threshold_decl(self, c: Children) -> s.Threshold:
        return _new(s.Threshold, span=self.ctx.span(c[0], c[-1]), name=c[1], value=c[3])

    def _signal(self, role: Literal["signal", "outcome"], c: Children) -> s.SignalDecl:
        default = c[5] if len(c) > 4 else None
        return _new(s.SignalDecl, 
            span=self.ctx.span(c[0], c[-1]), role=role, name=c[1], type=c[3], default=default
        )

    def signal_decl(self, c: Children) -> s.SignalDecl:
        return self._signal("signal", c)

    def outcome_decl(self, c: Children) -> s.SignalDecl:
        return self._signal("outcome", c)

    def field(self, c: Children) -> s.FieldAssign:
        return make(_FIELD, {"span": CONTEXT.get().span(c[0], c[2]), "name": c[0], "value": c[2]})

    def model_block(self, c: Children) -> s.ModelDecl:
        return _new(s.ModelDecl, span=self.ctx.span(c[0], c[-1]), name=c[1], fields=_nodes(c, s.FieldAssign))

    def model_copy(self, c: Children) -> s.ModelDecl:
        return _new(s.ModelDecl, 
            span=self.ctx.span(c[0], c[-1]), name=c[1], base=c[3], fields=_nodes(c, s.FieldAssign)
        )

    def edge(self, c: Children) -> s.Edge:
        return make(_EDGE, {"span": CONTEXT.get().span(c[0], c[-1]), "source": c[0], "target": c[2], "condition": c[4]})

    def cascade_decl(self, c: Children) -> s.CascadeDecl:
        return _new(s.CascadeDecl, span=self.ctx.span(c[0], c[-1]), name=c[1], edges=_nodes(c, s.Edge))

    def fallback_decl(self, c: Children) -> s.FallbackDecl:
        return _new(s.FallbackDecl, 
            span=self.ctx.span(c[0], c[-1]), source=c[1], target=c[3], errors=_nodes(c[5:], s.Name)
        )

    def budget_decl(self, c: Children) -> s.BudgetDecl:
        metric, op, bound = c[1], c[2], c[3]
        if metric.text not in ("cost", "latency"):
            self.ctx.error(E001, f"expected 'cost' or 'latency' after 'budget', found '{metric.text}'", metric.span)
        if op != "<=":
            self.ctx.error(
                E001,
                f"a budget is an upper bound: expected '<=', found '{op}'",
                op,
                help=f"write budget {metric.text} <= ...",
            )
        condition = c[5] if len(c) > 4 else None
        return _new(s.BudgetDecl, span=self.ctx.span(c[0], c[-1]), metric=metric, bound=bound, condition=condition)

    def invariant_decl(self, c: Children) -> s.InvariantDecl:
        condition = c[4] if len(c) == 7 else None
        return _new(s.InvariantDecl, 
            span=self.ctx.span(c[0], c[-1]), name=c[1], condition=condition, requirement=c[-1]
        )

    def route_decl(self, c: Children) -> s.RouteDecl:
        route_kw = c[0]
        rules: list[s.RuleDecl] = []
        default: s.RuleDecl | None = None
        for item in _nodes(c, s.RuleDecl):
            if item.name is None:
                if default is not None:
                    self.ctx.error(E007, "a route block has one 'default'", item.span)
                default = default or item
            elif default is not None:
                self.ctx.error(
                    E007,
                    f"rule '{item.name.text}' comes after 'default'; the default is the last entry of the route block",
                    item.span,
                    help="move the default to the end of the route block",
                )
            else:
                rules.append(item)
        return _new(s.RouteDecl, span=self.ctx.span(route_kw), rules=tuple(rules), default=default)

    def rule(self, c: Children) -> s.RuleDecl:
        cap = c[6] if len(c) > 6 else None
        return make(_RULE, {"span": CONTEXT.get().span(c[0]), "name": c[1], "condition": c[3], "target": c[5], "cap": cap})

    def default_rule(self, c: Children) -> s.RuleDecl:
        cap = c[3] if len(c) > 3 else None
        return _new(s.RuleDecl, span=self.ctx.span(c[0]), name=None, condition=None, target=c[2], cap=cap)

    def model_target(self, c: Children) -> s.ModelTarget:
        return make(_MODEL_TARGET, {"span": c[0].span, "ref": c[0]})

    def reject_target(self, c: Children) -> s.RejectTarget:
        return _new(s.RejectTarget, span=self.ctx.span(c[0], c[1]), reason=c[1])

    def cap(self, c: Children) -> s.Cap:
        name = c[1]
        if name.text != "max_output":
            self.ctx.error(E001, f"expected 'max_output' after 'with', found '{name.text}'", name.span,
                           help="a rule may cap max_output: with max_output = 1_000")
        return _new(s.Cap, span=self.ctx.span(c[0], c[-1]), name=name, value=c[3])

    def test_decl(self, c: Children) -> s.TestDecl:
        given = next((x for x in c if isinstance(x, _Given)), None)
        outcomes = next((x for x in c if isinstance(x, _Outcomes)), None)
        return _new(s.TestDecl, 
            span=self.ctx.span(c[0], c[-1]),
            name=c[1],
            given=given.items if given else (),
            outcomes=outcomes.items if outcomes else None,
            down=_nodes(c, s.Down),
            expect=next(x for x in c if isinstance(x, s.Expectation)),
        )

    def given(self, c: Children) -> _Given:
        return _Given(_nodes(c, s.Assignment))

    def outcomes(self, c: Children) -> _Outcomes:
        return _Outcomes(_nodes(c, s.Assignment))

    def assignment(self, c: Children) -> s.Assignment:
        return _new(s.Assignment, span=self.ctx.span(c[0], c[2]), name=c[0], value=c[2])

    def expect_model(self, c: Children) -> s.Expectation:
        by = next((x for x in c if isinstance(x, _By)), None)
        first_cap = c[2] if len(c) > 2 and isinstance(c[2], s.Cap) else None
        thens = [x for x in c if isinstance(x, _Then)]
        return _new(s.Expectation, 
            span=self.ctx.span(c[0], c[-1] if not isinstance(c[-1], (_By, _Then)) else c[0]),
            reject=False,
            model=c[1],
            rule=by.rule if by else None,
            then=tuple(x.model for x in thens),
            caps=(first_cap, *(x.cap for x in thens)),
        )

    def down_clause(self, c: Children) -> s.Down:
        word, model = c[0], c[1]
        if word.text != "down":
            self.ctx.error(E001, f"expected 'given', 'outcome', 'down' or 'expect' in the test, found '{word.text}'",
                           word.span, help="a model that fails in this test: down MODEL [on ERROR]")
        error = c[3] if len(c) > 3 else None
        return _new(s.Down, span=self.ctx.span(word, c[-1]), model=model, error=error)

    def expect_reject(self, c: Children) -> s.Expectation:
        by = next((x for x in c if isinstance(x, _By)), None)
        return _new(s.Expectation, span=self.ctx.span(c[0], c[1]), reject=True, rule=by.rule if by else None)

    def by_rule(self, c: Children) -> _By:
        target: Token | s.Name = c[1]
        if isinstance(target, Token):  # `by default`
            target = _new(s.Name, span=self.ctx.span(target), text="default")
        return _By(target)

    def then_step(self, c: Children) -> _Then:
        return _Then(c[1], c[2] if len(c) > 2 else None)

    def lexical_error(self, c: Children) -> NoReturn:  # never reached: the parser loop intercepts these tokens
        raise AssertionError("lexical error token reached the parser")


@dataclass(frozen=True)
class _Given:
    items: tuple[s.Assignment, ...]


@dataclass(frozen=True)
class _Outcomes:
    items: tuple[s.Assignment, ...]


@dataclass(frozen=True)
class _By:
    rule: s.Name


@dataclass(frozen=True)
class _Then:
    model: s.QualName
    cap: s.Cap | None = None
