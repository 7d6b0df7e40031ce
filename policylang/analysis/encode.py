"""Typed expressions as SMT terms (z3): the exact meaning the analyses reason about.

Ints are integers, so `n > 3 and n < 4` is empty; floats, money and durations are reals
(a float literal means the decimal it is written as); enums are integer indexes into their
members; bools are bools. Model fields are not variables: an invariant is checked one
serving model at a time, so `model.FIELD` is that model's value and set comparisons are
decided in Python. Outcomes are fresh at every step (section 7): each escalation edge reads
its own copy, named `confidence@2` for the edge that leaves step 2.
"""

from __future__ import annotations

from fractions import Fraction
from typing import TYPE_CHECKING, Any, TypeAlias, assert_never

from ..ir.values import compare_sets, rational
from ..ir import expr as e
from ..ir.policy import CheckedPolicy, Model, Signal
from ..ir.types import BoolType, DurationType, EnumType, FloatType, IntType, MoneyType, SetType, StringType, Type


class Z3OnFirstUse:
    """z3, imported when an attribute of it is first read: a lint whose every question the
    boxes answer never loads the solver (issue 25's floor). A module holds one as its `z3`;
    the first read puts the real module in its place there, so later reads are plain."""

    def __init__(self, namespace: dict[str, Any]) -> None:
        self._namespace = namespace

    def __getattr__(self, name: str) -> Any:
        import z3 as module

        self._namespace["z3"] = module
        return getattr(module, name)


if TYPE_CHECKING:
    import z3
else:
    z3 = Z3OnFirstUse(globals())

Z3Term: TypeAlias = Any
"""A z3 expression (z3 ships no type stubs)."""
Term: TypeAlias = Any
"""A z3 expression, or a Python value for what is concrete (model fields, sets, strings)."""


def _real(value: Fraction | int) -> Z3Term:
    value = Fraction(value)
    return z3.RealVal(f"{value.numerator}/{value.denominator}")


class Encoder:
    """The variables of one policy's signals and outcomes, and expressions over them."""

    def __init__(self, policy: CheckedPolicy) -> None:
        self.policy = policy
        self.signals: dict[str, Signal] = {s.name: s for s in policy.signals}
        self.models: dict[str, Model] = {m.name: m for m in policy.models}
        self._vars: dict[str, Z3Term] = {}
        self.has_input_tokens = "input_tokens" in self.signals and self.signals["input_tokens"].role == "signal"

    # ---- variables ----------------------------------------------------------------------------

    @staticmethod
    def key(name: str, step: int | None = None) -> str:
        """A variable's key: the name, or `name@step` for an outcome's copy at one step."""
        return name if step is None else f"{name}@{step}"

    def var(self, name: str, step: int | None = None) -> Z3Term:
        """The variable of a signal, or of an outcome's copy for one step (one per key)."""
        signal = self.signals[name]
        key = self.key(name, step if signal.role == "outcome" else None)
        found = self._vars.get(key)
        if found is None:
            t = signal.type
            match t:
                case BoolType():
                    found = z3.Bool(key)
                case IntType() | EnumType():
                    found = z3.Int(key)
                case FloatType() | MoneyType() | DurationType() | SetType() | StringType():
                    found = z3.Real(key)
                case _:
                    assert_never(t)
            self._vars[key] = found
        return found

    def variables(self) -> list[tuple[str, Z3Term]]:
        """Every variable made so far, with its key (`confidence@2` for an outcome's copy)."""
        return list(self._vars.items())

    def kind(self, key: str) -> str:
        """The type kind of the signal or outcome a variable's key belongs to."""
        return self.signals[key.split("@", 1)[0]].type.kind

    def domain(self, name: str, step: int | None = None) -> list[Z3Term]:
        """The constraints that say a variable holds a value its declaration allows."""
        signal = self.signals[name]
        x = self.var(name, step)
        t = signal.type
        match t:
            case EnumType():
                return [x >= 0, x < len(t.members)]
            case IntType() | FloatType() | MoneyType() | DurationType():
                out = []
                if t.low is not None:
                    out.append(x >= self.number(t.low, t.kind))
                if t.high is not None:
                    out.append(x <= self.number(t.high, t.kind))
                return out
            case BoolType() | SetType() | StringType():
                return []
            case _:
                assert_never(t)

    def number(self, value: Any, kind: str) -> Z3Term:
        """A number as a z3 constant: an integer for kind int, else the exact real it denotes."""
        if kind == "int":
            return z3.IntVal(int(value))
        return _real(rational(value))

    def value(self, signal: Signal, value: Any) -> Term:
        """A runtime value of a signal as a z3 constant."""
        return self._const(value, signal.type)

    def member_index(self, t: EnumType, member: str) -> int:
        """The integer an enum member is encoded as: its position among the members."""
        return t.members.index(member)

    # ---- expressions --------------------------------------------------------------------------

    def encode(self, x: e.InvariantExpr, step: int | None = None, model: Model | None = None) -> Term:
        """`x` as a z3 term; `step` picks outcome copies; `model` gives `model.FIELD` values."""
        match x:
            case e.Const(value=value, type=t):
                return self._const(value, t)
            case e.SignalRef(name=name):
                return self.var(name, step)
            case e.ModelAttr(field=field):
                if model is None:
                    raise ValueError("model.FIELD outside an invariant")
                value = getattr(model, field)
                return self._const(value, x.type) if field not in ("regions", "tags", "id") else value
            case e.CostOf(model=name):
                m = self.models[name]
                per = Fraction(m.input_per_mtok) / 1_000_000
                fixed = Fraction(m.max_output) * Fraction(m.output_per_mtok) / 1_000_000
                if not self.has_input_tokens:
                    return _real(m.context * per + fixed)
                return z3.ToReal(self.var("input_tokens")) * _real(per) + _real(fixed)
            case e.Not(operand=operand):
                return _not(self.encode(operand, step, model))
            case e.BoolOp(op=op, operands=operands):
                parts = [self.encode(o, step, model) for o in operands]
                if all(isinstance(p, bool) for p in parts):
                    return all(parts) if op == "and" else any(parts)
                parts = [z3.BoolVal(p) if isinstance(p, bool) else p for p in parts]
                return z3.And(*parts) if op == "and" else z3.Or(*parts)
            case e.Compare(op=op, left=left, right=right):
                return self._compare(op, left, right, step, model)
            case e.InSet(element=element, members=members, negated=negated):
                inner = self.encode(element, step, model)
                t = element.type
                assert isinstance(t, EnumType)  # typecheck admits only enums in a member set
                test = z3.Or(*[inner == self.member_index(t, m) for m in members]) if members else z3.BoolVal(False)
                return z3.Not(test) if negated else test
            case e.InRange(element=element, low=low, high=high, negated=negated):
                v, lo, hi = (self.encode(p, step, model) for p in (element, low, high))
                v, lo = _align(v, lo)
                v, hi = _align(v, hi)
                test = z3.And(lo <= v, v <= hi)
                return z3.Not(test) if negated else test
            case e.HasLabel(element=element, container=container, negated=negated):
                labels = self.encode(container, step, model)
                if isinstance(element, e.SignalRef):  # an enum value used as a label
                    t = element.type
                    assert isinstance(t, EnumType)  # a signal used as a label is an enum
                    inner = self.encode(element, step, model)
                    inside = [m for m in t.members if labels is None or m in labels]
                    test = z3.Or(*[inner == self.member_index(t, m) for m in inside]) if inside else z3.BoolVal(False)
                    return z3.Not(test) if negated else test
                label = self.encode(element, step, model)
                return (labels is None or label in labels) != negated
            case e.Sum(terms=terms, signs=signs):
                parts = [self.encode(t, step, model) for t in terms]
                if any(not _is_int(p) for p in parts):
                    parts = [_to_real(p) for p in parts]
                signed = [part if sign > 0 else -part for sign, part in zip(signs, parts)]
                return signed[0] if len(signed) == 1 else z3.Sum(*signed)  # one n-ary term, however long
            case e.Scale(factor=factor, operand=operand):
                inner = self.encode(operand, step, model)
                f = rational(factor)
                if _is_int(inner) and f.denominator == 1:
                    return z3.IntVal(int(f)) * inner
                return _real(f) * _to_real(inner)
            case _:
                assert_never(x)

    def _const(self, value: Any, t: Type) -> Term:
        match t:
            case BoolType():
                return z3.BoolVal(bool(value))
            case IntType():
                return z3.IntVal(int(value))
            case FloatType() | MoneyType() | DurationType():
                return _real(rational(value))
            case EnumType():
                return z3.IntVal(self.member_index(t, value))
            case SetType() | StringType():
                return value  # sets and strings stay concrete
            case _:
                assert_never(t)

    def _compare(self, op: e.CompareOp, left: e.InvariantExpr, right: e.InvariantExpr, step: int | None,
                 model: Model | None) -> Term:
        kind = left.type.kind
        l, r = self.encode(left, step, model), self.encode(right, step, model)
        if kind in ("set", "string"):
            result = compare_sets(op, l, r) if kind == "set" else (l == r) == (op == "==")
            return bool(result)
        lt, rt = left.type, right.type
        if isinstance(lt, EnumType) and isinstance(rt, EnumType) and lt.members != rt.members:
            pairs = [z3.And(l == self.member_index(lt, m), r == self.member_index(rt, m))
                     for m in lt.members]
            same = z3.Or(*pairs)
            return same if op == "==" else z3.Not(same)
        l, r = _align(l, r)
        return {"==": lambda: l == r, "!=": lambda: l != r, "<": lambda: l < r, "<=": lambda: l <= r,
                ">": lambda: l > r, ">=": lambda: l >= r}[op]()


def _not(term: Term) -> Term:
    return (not term) if isinstance(term, bool) else z3.Not(term)


def _is_int(term: Z3Term) -> bool:
    return bool(z3.is_int(term))


def _to_real(term: Z3Term) -> Z3Term:
    return z3.ToReal(term) if z3.is_int(term) else term


def _align(a: Z3Term, b: Z3Term) -> tuple[Z3Term, Z3Term]:
    """Ints meet reals as reals (int and float mix freely, section 4)."""
    if z3.is_int(a) and z3.is_real(b):
        return z3.ToReal(a), b
    if z3.is_real(a) and z3.is_int(b):
        return a, z3.ToReal(b)
    return a, b


def as_bool(term: Term) -> Z3Term:
    """A z3 Boolean for a term that may have been decided in Python."""
    return z3.BoolVal(term) if isinstance(term, bool) else term
