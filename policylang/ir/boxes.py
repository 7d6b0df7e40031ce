"""Boxes: sets of requests with one constraint per signal, and the one algebra over them.

A box maps a signal to a set of enum members or bools, or to an interval of numbers with open
or closed ends (ints always closed, at whole numbers, so `n > 3 and n < 4` is empty); a signal
that a box does not name may take any value of its domain. Two uses, one algebra:

- `hull(expr)` is a box every request satisfying `expr` lies in, never smaller than the truth:
  two conditions whose hulls do not meet cannot hold together, and an interval's upper end
  bounds `input_tokens` wherever a condition holds. The analyses ask the solver only where
  hulls meet; the Python back end dispatches on an enum by what each rule's hull admits.
- `Space.region_of(expr)` is exact: most routing conditions compare one signal with a constant
  (`tenant == t7`, `input_tokens > 8_000`, `pii`, `task in {a, b}`) and combine such tests with
  and, or and not, and those are exactly unions of boxes, where first-match regions are
  differences of unions computed without a solver. It says None for anything else (two signals
  in one test, arithmetic, cost()); a region past `LIMIT` boxes raises `TooLarge`.

No solver here: the back ends use this module, and only the analyses load z3.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, TypeAlias, TypeGuard, assert_never, final

from . import expr as e
from .policy import CheckedPolicy
from .types import BoolType, DurationType, EnumType, FloatType, IntType, MoneyType, SetType, StringType
from .values import rational

LIMIT = 4_096
"""More boxes than this in one region and the solver is asked instead."""


class TooLarge(Exception):
    """A region outgrew LIMIT; the caller asks the solver."""


Number: TypeAlias = Fraction | int
"""An exact rational as `values.rational` gives it: whole numbers stay ints."""


@final
@dataclass(frozen=True)
class Interval:
    """Numbers from `low` to `high` (None: unbounded); ints always closed, at whole numbers."""

    low: Number | None
    high: Number | None
    low_open: bool = False
    high_open: bool = False

    def normal(self, integral: bool) -> Interval | None:
        """This interval as stored: ints closed at whole numbers; None when empty."""
        low, high, low_open, high_open = self.low, self.high, self.low_open, self.high_open
        if integral:
            if low is not None:
                low = math.floor(low) + 1 if low_open else math.ceil(low)
            if high is not None:
                high = math.ceil(high) - 1 if high_open else math.floor(high)
            low_open = high_open = False
        if low is not None and high is not None and (low > high or (low == high and (low_open or high_open))):
            return None
        return Interval(low, high, low_open, high_open)

    def meet(self, other: Interval, integral: bool) -> Interval | None:
        """The numbers in both, stored normal; None when they share none."""
        low, low_open = _tighter_low(self, other)
        high, high_open = _tighter_high(self, other)
        return Interval(low, high, low_open, high_open).normal(integral)

    def join(self, other: Interval) -> Interval:
        """The smallest interval around both."""
        if self.low is None or other.low is None:
            low, low_open = None, False
        elif self.low != other.low:
            low, low_open = (self.low, self.low_open) if self.low < other.low else (other.low, other.low_open)
        else:
            low, low_open = self.low, self.low_open and other.low_open
        if self.high is None or other.high is None:
            high, high_open = None, False
        elif self.high != other.high:
            high, high_open = (self.high, self.high_open) if self.high > other.high else (other.high, other.high_open)
        else:
            high, high_open = self.high, self.high_open and other.high_open
        return Interval(low, high, low_open, high_open)

    def minus(self, other: Interval, integral: bool) -> list[Interval]:
        """The parts of this interval outside `other`: at most two."""
        parts: list[Interval] = []
        if other.low is not None:  # below other: up to other.low, excluded where other has it
            below = Interval(self.low, other.low, self.low_open, not other.low_open).meet(self, integral)
            if below is not None:
                parts.append(below)
        if other.high is not None:
            above = Interval(other.high, self.high, not other.high_open, self.high_open).meet(self, integral)
            if above is not None:
                parts.append(above)
        return parts


def _tighter_low(a: Interval, b: Interval) -> tuple[Number | None, bool]:
    if a.low is None:
        return b.low, b.low_open
    if b.low is None or a.low > b.low:
        return a.low, a.low_open
    if b.low > a.low:
        return b.low, b.low_open
    return a.low, a.low_open or b.low_open


def _tighter_high(a: Interval, b: Interval) -> tuple[Number | None, bool]:
    if a.high is None:
        return b.high, b.high_open
    if b.high is None or a.high < b.high:
        return a.high, a.high_open
    if b.high < a.high:
        return b.high, b.high_open
    return a.high, a.high_open or b.high_open


Members: TypeAlias = frozenset[str | bool]
"""The enum members, or the bools, that a box allows a signal."""
Constraint: TypeAlias = Members | Interval
Box: TypeAlias = dict[str, Constraint]
"""Signal -> its members or its interval; a signal a box does not name takes its whole domain.

A signal's constraint has one shape in every box (members for an enum or a bool, an interval for
a number). Where two boxes' constraints of one signal meet, the code tests the shape of both,
`type(x) is Interval` (Interval is final, so the other branch is Members): the type checker
then knows the shape of each side, and the asserts say that shapes never mix."""
TOP: Box = {}
"""The box of every request: it constrains nothing."""


def meet(a: Box | None, b: Box | None) -> Box | None:
    """The box both lie in; None when they share no request (or either is None)."""
    if a is None or b is None:
        return None
    out = dict(a)
    for name, constraint in b.items():
        mine = out.get(name)
        if mine is None:
            out[name] = constraint
            continue
        both: Constraint | None
        if type(mine) is Interval:
            assert type(constraint) is Interval, name  # one shape
            both = mine.meet(constraint, False)
        else:
            assert type(constraint) is not Interval, name  # one shape
            both = mine & constraint
        if not both:
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
        if type(mine) is Interval:
            assert type(theirs) is Interval, name  # one shape
            if _separate(mine, theirs):
                return True
        else:
            assert type(theirs) is not Interval, name  # one shape
            if mine.isdisjoint(theirs):
                return True
    return False


def _separate(a: Interval, b: Interval) -> bool:
    """One of the intervals ends before the other starts (both stored normal); one call for
    both orders, as the sweep asks this of most pairs of boxes it meets."""
    if a.high is not None and b.low is not None and \
            (b.low > a.high or (b.low == a.high and (b.low_open or a.high_open))):
        return True
    return b.high is not None and a.low is not None and \
        (a.low > b.high or (a.low == b.high and (a.low_open or b.high_open)))


def _inside(inner: Interval, outer: Interval) -> bool:
    """`inner` lies in `outer`; both stored normal, as in `_separate`."""
    if outer.low is not None:
        if inner.low is None or inner.low < outer.low or \
                (inner.low == outer.low and outer.low_open and not inner.low_open):
            return False
    if outer.high is not None:
        if inner.high is None or inner.high > outer.high or \
                (inner.high == outer.high and outer.high_open and not inner.high_open):
            return False
    return True


def join(a: Box | None, b: Box | None) -> Box | None:
    """The smallest box around both (None is the empty box)."""
    if a is None:
        return b
    if b is None:
        return a
    out: Box = {}
    for name in a.keys() & b.keys():
        x, y = a[name], b[name]
        if type(x) is Interval:
            assert type(y) is Interval, name  # one shape
            out[name] = x.join(y)
        else:
            assert type(y) is not Interval, name  # one shape
            out[name] = x | y
    return out


def domain_box(policy: CheckedPolicy) -> Box:
    """The box of every valid request: each signal's declared domain."""
    box: Box = {}
    for s in policy.signals:
        if s.role != "signal":
            continue
        t = s.type
        match t:
            case EnumType():
                box[s.name] = frozenset(t.members)
            case BoolType():
                box[s.name] = frozenset({True, False})
            case IntType() | FloatType() | MoneyType() | DurationType():
                box[s.name] = Interval(rational(t.low) if t.low is not None else None,
                                       rational(t.high) if t.high is not None else None)
            case SetType() | StringType():  # no signal has these types; unconstrained if one did
                box[s.name] = Interval(None, None)
            case _:
                assert_never(t)
    return box


def hull(x: e.Expr | None, negated: bool = False) -> Box | None:
    """A box around the requests where `x` (or, negated, `not x`) holds; None if none can.
    `x = None` (a default, or no `when`) holds everywhere."""
    if x is None:
        return TOP if not negated else None
    while isinstance(x, e.Not):  # a chain of `not` peeled by a loop: 1,000 of them cost no stack
        x, negated = x.operand, not negated
    match x:
        case e.Const(value=value) if isinstance(value, bool):
            return TOP if value != negated else None
        case e.SignalRef(role="signal") if x.type.kind == "bool":
            return {x.name: frozenset({not negated})}
        case e.BoolOp(op=op, operands=operands):
            combine_all = (op == "and") != negated
            boxes = [hull(o, negated) for o in operands]
            result = boxes[0]
            for box in boxes[1:]:
                result = meet(result, box) if combine_all else join(result, box)
            return result
        case e.Compare(op=relation, left=left, right=right):
            if negated:
                relation = _NEGATE[relation]
            if _signal(left) and isinstance(right, e.Const):
                return _hull_atom(left, relation, right.value)
            if _signal(right) and isinstance(left, e.Const):
                return _hull_atom(right, _FLIP[relation], left.value)
            return TOP
        case e.InSet(element=element, members=members, negated=inner_negated):
            if not _signal(element):
                return TOP
            allowed: Members = frozenset(members)
            if inner_negated != negated:
                assert isinstance(element.type, EnumType)  # typecheck admits only enums in a set
                allowed = frozenset(element.type.members) - allowed
            return {element.name: allowed} if allowed else None
        case e.InRange(element=element, low=low, high=high, negated=inner_negated):
            if not _signal(element) or inner_negated != negated or \
                    not (isinstance(low, e.Const) and isinstance(high, e.Const)):
                return TOP
            interval = Interval(rational(low.value), rational(high.value)).normal(element.type.kind == "int")
            return {element.name: interval} if interval is not None else None
        case e.Const() | e.SignalRef() | e.CostOf() | e.HasLabel() | e.Sum() | e.Scale():
            return TOP
        case _:
            assert_never(x)


def _hull_atom(ref: e.SignalRef, op: e.CompareOp, value: Any) -> Box | None:
    t = ref.type
    if isinstance(t, EnumType) or t.kind == "bool":
        if op not in ("==", "!="):
            return TOP
        full: Members = frozenset(t.members) if isinstance(t, EnumType) else frozenset({True, False})
        chosen = frozenset({value}) if op == "==" else full - {value}
        return {ref.name: chosen} if chosen else None
    if op == "!=":
        return TOP
    v = rational(value)
    shape = {"<": Interval(None, v, False, True), "<=": Interval(None, v), ">": Interval(v, None, True, False),
             ">=": Interval(v, None), "==": Interval(v, v)}[op]
    interval = shape.normal(t.kind == "int")
    return {ref.name: interval} if interval is not None else None


def key_signal(policy: CheckedPolicy, hulls: list[Box | None]) -> tuple[str | None, int]:
    """The enum signal that the most rules restrict (a tenant, a task), and how many do; ties go
    to the signal declared first. (None, 0) when no rule restricts an enum."""
    best: str | None = None
    best_count = 0
    for s in policy.signals:
        if s.role != "signal" or not isinstance(s.type, EnumType):
            continue
        members = frozenset(s.type.members)
        count = sum(1 for box in hulls if box is not None and box.get(s.name, members) != members)
        if count > best_count:
            best, best_count = s.name, count
    return best, best_count


class Space:
    """The signal domains of one policy, and box algebra within them."""

    def __init__(self, policy: CheckedPolicy) -> None:
        self.full: Box = domain_box(policy)
        """Each signal's whole domain."""
        self.member_domains: dict[str, Members] = {n: c for n, c in self.full.items() if type(c) is not Interval}
        """The domains of the enum and bool signals: their members."""
        self.interval_domains: dict[str, Interval] = {n: c for n, c in self.full.items() if type(c) is Interval}
        """The domains of the numbers: their intervals."""
        self.integral: dict[str, bool] = {s.name: s.type.kind == "int" for s in policy.signals
                                          if s.role == "signal" and isinstance(self.full[s.name], Interval)}

    # ---- boxes --------------------------------------------------------------------------------

    def _meet_one(self, name: str, a: Constraint, b: Constraint) -> Constraint | None:
        if type(a) is Interval:
            assert type(b) is Interval, name  # one shape
            return a.meet(b, self.integral[name])
        assert type(b) is not Interval, name  # one shape
        both = a & b
        return both or None

    def meet(self, a: Box, b: Box) -> Box | None:
        """The box both lie in, within the domains; None when they share no request."""
        out = dict(a)
        for name, constraint in b.items():
            mine = out.get(name)
            if mine is None:
                out[name] = constraint
                continue
            both = self._meet_one(name, mine, constraint)
            if both is None:
                return None
            out[name] = both
        return out

    def apart(self, a: Box, b: Box) -> bool:
        """The boxes share no request (what `meet` says, without building the meet). Intervals
        in boxes are stored normal (ints closed at whole numbers), so two meet unless one ends
        before the other starts."""
        for name, cut in b.items():
            mine = a.get(name)
            if mine is None:
                continue
            if type(mine) is Interval:
                assert type(cut) is Interval, name  # one shape
                if _separate(mine, cut):
                    return True
            else:
                assert type(cut) is not Interval, name  # one shape
                if mine.isdisjoint(cut):
                    return True
        return False

    def minus(self, a: Box, b: Box) -> list[Box]:
        """`a` without `b`: disjoint boxes, one per dimension where `b` cuts `a`."""
        if self.apart(a, b):
            return [a]
        return self._outside(a, b)

    def _outside(self, a: Box, b: Box) -> list[Box]:
        """`minus` for boxes that meet."""
        pieces: list[Box] = []
        current = dict(a)
        outside: list[Interval] | list[Members]
        for name, cut in b.items():
            mine = current.get(name, self.full[name])
            inside: Constraint | None
            if type(mine) is Interval:
                assert type(cut) is Interval, name  # one shape
                outside = mine.minus(cut, self.integral[name])
                inside = mine.meet(cut, self.integral[name])
            else:
                assert type(cut) is not Interval, name  # one shape
                rest = mine - cut
                outside = [rest] if rest else []
                inside = mine & cut
            assert inside is not None  # the boxes meet, so they meet on every signal
            for part in outside:
                piece = dict(current)
                piece[name] = part
                pieces.append(piece)
            current[name] = inside
        return pieces

    # ---- regions: lists of boxes --------------------------------------------------------------

    def intersect(self, r1: list[Box], r2: list[Box]) -> list[Box]:
        """The requests in both regions, as boxes; TooLarge past LIMIT boxes."""
        out = []
        for a in r1:
            for b in r2:
                both = None if self.apart(a, b) else self.meet(a, b)  # most pairs are apart
                if both is not None:
                    out.append(both)
        return _checked(out)

    def subtract(self, region: list[Box], cut: list[Box]) -> list[Box]:
        """The requests of `region` outside `cut`, as disjoint boxes; TooLarge past LIMIT boxes."""
        for b in cut:
            region = _checked([piece for a in region for piece in self.minus(a, b)])
            if not region:
                break
        return region

    def split(self, region: list[Box], cut: list[Box]) -> tuple[list[Box], list[Box]]:
        """(`intersect(region, cut)`, `subtract(region, cut)`), the same boxes in the same
        order, in one pass over `region` when `cut` is one box (each box is tested against it
        once, not once for each answer); TooLarge when either is past LIMIT."""
        if len(cut) != 1:
            return self.intersect(region, cut), self.subtract(region, cut)
        b = cut[0]
        inside: list[Box] = []
        outside: list[Box] = []
        for a in region:
            if self.apart(a, b):
                outside.append(a)
                continue
            both = self.meet(a, b)
            if both is not None:
                inside.append(both)
            outside += self._outside(a, b)
        return _checked(inside), _checked(outside)

    def meets(self, r1: list[Box], r2: list[Box]) -> bool:
        """The regions share a request (what `intersect` says, without building it)."""
        return any(not self.apart(a, b) for a in r1 for b in r2)

    def covers(self, cut: list[Box], region: list[Box]) -> bool:
        """Every request of `region` lies in `cut` (what an empty `subtract(region, cut)` says,
        without building the difference): depth first, each piece of a box only against the
        cut boxes after the one that made it, skipping those apart from it, and done at the
        first piece that no cut box meets. Never TooLarge: it holds a few pieces per cut box,
        never a whole difference."""
        stack = [(box, 0) for box in region]
        end = len(cut)
        while stack:
            box, k = stack.pop()
            while k < end and self.apart(box, cut[k]):
                k += 1
            if k == end:
                return False
            if not self.within(box, cut[k]):
                if k + 1 == end:  # some of the box lies outside the last cut box
                    return False
                stack.extend((piece, k + 1) for piece in self._outside(box, cut[k]))
        return True

    def within(self, a: Box, b: Box) -> bool:
        """Box `a` lies inside box `b` (what an empty `minus(a, b)` says, without the pieces)."""
        full = self.full
        for name, theirs in b.items():
            mine = a.get(name)
            if mine is None:
                mine = full[name]
            if type(mine) is Interval:
                assert type(theirs) is Interval, name  # one shape
                if not _inside(mine, theirs):
                    return False
            else:
                assert type(theirs) is not Interval, name  # one shape
                if not mine <= theirs:
                    return False
        return True

    def upper(self, region: list[Box], name: str) -> Number | None:
        """The largest value of a numeric signal in the region (None: unbounded); region nonempty."""
        best: Number | None = None
        for box in region:
            interval = box.get(name, self.full[name])
            assert isinstance(interval, Interval)  # a numeric signal's constraint is an interval
            if interval.high is None:
                return None
            if best is None or interval.high > best:
                best = interval.high
        return best

    # ---- conditions ---------------------------------------------------------------------------

    def region_of(self, x: e.Expr | None, negated: bool = False) -> list[Box] | None:
        """The requests where `x` holds (or, negated, fails) within the domains, as boxes; None
        when `x` is not built from one-signal tests. `None` for `x` means: every request."""
        try:
            found: list[Box] | None = [{}] if x is None else self._region(x, negated)
        except TooLarge:
            return None
        return found

    def _region(self, x: e.Expr, negated: bool) -> list[Box] | None:
        while isinstance(x, e.Not):  # a chain of `not` peeled by a loop: 1,000 of them cost no stack
            x, negated = x.operand, not negated
        match x:
            case e.Const(value=value) if isinstance(value, bool):
                return [{}] if value != negated else []
            case e.SignalRef(role="signal") if x.type.kind == "bool":
                return [{x.name: frozenset({not negated})}]
            case e.BoolOp(op=op, operands=operands):
                found = [self._region(o, negated) for o in operands]
                parts = [p for p in found if p is not None]
                if len(parts) < len(found):
                    return None
                if (op == "and") != negated:  # all must hold
                    result: list[Box] = [{}]
                    for p in parts:
                        result = self.intersect(result, p)
                    return result
                return _checked([box for p in parts for box in p])
            case e.Compare(op=relation, left=left, right=right):
                if _signal(left) and isinstance(right, e.Const):
                    return self._atom(left, relation, right.value, negated)
                if _signal(right) and isinstance(left, e.Const):
                    return self._atom(right, _FLIP[relation], left.value, negated)
                return None
            case e.InSet(element=element, members=members, negated=inner):
                if not _signal(element):
                    return None
                allowed: Members = frozenset(members)
                if inner != negated:
                    allowed = self.member_domains[element.name] - allowed
                return [{element.name: allowed}] if allowed else []
            case e.InRange(element=element, low=low, high=high, negated=inner):
                if not (_signal(element) and isinstance(low, e.Const) and isinstance(high, e.Const)):
                    return None
                lo, hi = rational(low.value), rational(high.value)
                if inner == negated:
                    return self._intervals(element.name, [Interval(lo, hi)])
                return self._intervals(element.name, [Interval(None, lo, False, True), Interval(hi, None, True, False)])
            case e.Const() | e.SignalRef() | e.CostOf() | e.HasLabel() | e.Sum() | e.Scale():
                return None
            case _:
                assert_never(x)

    def _intervals(self, name: str, intervals: list[Interval]) -> list[Box]:
        """Boxes for these intervals of one signal, within its domain."""
        out: list[Box] = []
        for interval in intervals:
            inside = interval.meet(self.interval_domains[name], self.integral[name])
            if inside is not None:
                out.append({name: inside})
        return out

    def _atom(self, ref: e.SignalRef, op: e.CompareOp, value: Any, negated: bool) -> list[Box] | None:
        if negated:
            op = _NEGATE[op]
        full = self.full[ref.name]
        if isinstance(full, frozenset):
            if op not in ("==", "!="):
                return None
            chosen = frozenset({value}) if op == "==" else full - {value}
            chosen &= full
            return [{ref.name: chosen}] if chosen else []
        v = rational(value)
        shapes = {
            "<": [Interval(None, v, False, True)], "<=": [Interval(None, v)],
            ">": [Interval(v, None, True, False)], ">=": [Interval(v, None)],
            "==": [Interval(v, v)], "!=": [Interval(None, v, False, True), Interval(v, None, True, False)],
        }
        return self._intervals(ref.name, shapes[op])


def _checked(region: list[Box]) -> list[Box]:
    if len(region) > LIMIT:
        raise TooLarge
    return region


def _signal(x: e.Expr) -> TypeGuard[e.SignalRef]:
    return isinstance(x, e.SignalRef) and x.role == "signal"


_FLIP: dict[e.CompareOp, e.CompareOp] = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}
_NEGATE: dict[e.CompareOp, e.CompareOp] = {"<": ">=", "<=": ">", ">": "<=", ">=": "<", "==": "!=", "!=": "=="}
