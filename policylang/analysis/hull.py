"""Boxes that over-approximate conditions, one constraint per signal: cheap facts first.

`hull(expr)` is a box every request satisfying `expr` lies in (never smaller than the truth):
enum members and bools as sets, numbers as closed rational intervals. Two conditions whose
hulls do not meet cannot hold together, so the solver is never asked about them; an
interval's upper end bounds `input_tokens` wherever a condition holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from ..ir import expr as e
from ..ir.policy import Policy
from ..ir.types import EnumType
from .encode import rational


@dataclass(frozen=True)
class Interval:
    low: Fraction | None = None
    high: Fraction | None = None

    def meet(self, other: Interval) -> Interval | None:
        low = _max(self.low, other.low)
        high = _min(self.high, other.high)
        return None if (low is not None and high is not None and low > high) else Interval(low, high)

    def join(self, other: Interval) -> Interval:
        low = None if self.low is None or other.low is None else min(self.low, other.low)
        high = None if self.high is None or other.high is None else max(self.high, other.high)
        return Interval(low, high)


def _max(a, b):
    return b if a is None else a if b is None else max(a, b)


def _min(a, b):
    return b if a is None else a if b is None else min(a, b)


Box = dict  # signal name -> frozenset (enum members, bools) or Interval; absent: anything
TOP: Box = {}


def meet(a: Box | None, b: Box | None) -> Box | None:
    """The box both lie in; None when they cannot meet."""
    if a is None or b is None:
        return None
    out = dict(a)
    for name, constraint in b.items():
        mine = out.get(name)
        if mine is None:
            out[name] = constraint
            continue
        both = mine.meet(constraint) if isinstance(mine, Interval) else mine & constraint
        if both is None or (not isinstance(both, Interval) and not both):
            return None
        out[name] = both
    return out


def disjoint(a: Box | None, b: Box | None) -> bool:
    """The two boxes share no request (what `meet` says, without building the meet)."""
    if a is None or b is None:
        return True
    if len(b) < len(a):
        a, b = b, a
    for name, mine in a.items():
        theirs = b.get(name)
        if theirs is None:
            continue
        if mine.__class__ is Interval:
            if (mine.low is not None and theirs.high is not None and mine.low > theirs.high) or \
                    (mine.high is not None and theirs.low is not None and mine.high < theirs.low):
                return True
        elif mine.isdisjoint(theirs):
            return True
    return False


def join(a: Box | None, b: Box | None) -> Box | None:
    if a is None:
        return b
    if b is None:
        return a
    out = {}
    for name in a.keys() & b.keys():
        x, y = a[name], b[name]
        out[name] = x.join(y) if isinstance(x, Interval) else x | y
    return out


def _signal(x) -> e.SignalRef | None:
    return x if isinstance(x, e.SignalRef) and x.role == "signal" else None


_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}
_NEGATE = {"<": ">=", "<=": ">", ">": "<=", ">=": "<", "==": "!=", "!=": "=="}


def hull(x: e.Expr, negated: bool = False) -> Box | None:
    """A box around the requests where `x` (or, negated, `not x`) holds; None if none can."""
    match x:
        case e.Const(value=value) if isinstance(value, bool):
            return TOP if value != negated else None
        case e.SignalRef(role="signal") if x.type.kind == "bool":
            return {x.name: frozenset({not negated})}
        case e.Not(operand=operand):
            return hull(operand, not negated)
        case e.BoolOp(op=op, operands=operands):
            combine_all = (op == "and") != negated
            boxes = [hull(o, negated) for o in operands]
            result = boxes[0]
            for box in boxes[1:]:
                result = meet(result, box) if combine_all else join(result, box)
            return result
        case e.Compare(op=op, left=left, right=right):
            if negated:
                op = _NEGATE[op]
            if _signal(left) is not None and isinstance(right, e.Const):
                return _atom(left, op, right.value)
            if _signal(right) is not None and isinstance(left, e.Const):
                return _atom(right, _FLIP[op], left.value)
            return TOP
        case e.InSet(element=element, members=members, negated=inner_negated):
            ref = _signal(element)
            if ref is None:
                return TOP
            allowed = frozenset(members)
            if inner_negated != negated:
                allowed = frozenset(ref.type.members) - allowed
            return {ref.name: allowed} if allowed else None
        case e.InRange(element=element, low=low, high=high, negated=inner_negated):
            ref = _signal(element)
            if ref is None or inner_negated != negated or not (isinstance(low, e.Const) and isinstance(high, e.Const)):
                return TOP
            interval = Interval(rational(low.value), rational(high.value))
            return {ref.name: interval} if interval.low <= interval.high else None
    return TOP


def _atom(ref: e.SignalRef, op: str, value) -> Box | None:
    t = ref.type
    if isinstance(t, EnumType):
        if op == "==":
            return {ref.name: frozenset({value})}
        if op == "!=":
            rest = frozenset(t.members) - {value}
            return {ref.name: rest} if rest else None
        return TOP
    if t.kind == "bool":
        if op in ("==", "!="):
            return {ref.name: frozenset({bool(value) == (op == "==")})}
        return TOP
    v = rational(value)
    if op == "==":
        return {ref.name: Interval(v, v)}
    if op in ("<", "<="):
        return {ref.name: Interval(None, v)}
    if op in (">", ">="):
        return {ref.name: Interval(v, None)}
    return TOP


def domain_box(policy: Policy) -> Box:
    """The box of every valid request: each signal's declared domain."""
    box: Box = {}
    for s in policy.signals:
        if s.role != "signal":
            continue
        t = s.type
        if isinstance(t, EnumType):
            box[s.name] = frozenset(t.members)
        elif t.kind == "bool":
            box[s.name] = frozenset({True, False})
        else:
            low, high = getattr(t, "low", None), getattr(t, "high", None)
            box[s.name] = Interval(rational(low) if low is not None else None,
                                   rational(high) if high is not None else None)
    return box
