"""Exact boxes: the fast path for conditions built from one-signal tests.

Most routing conditions compare one signal with a constant (`tenant == t7`, `input_tokens >
8_000`, `pii`, `task in {a, b}`) and combine such tests with and, or and not. Those conditions
are exactly a union of boxes, one constraint per signal: a set of enum members or bools, or an
interval of numbers with open or closed ends (ints kept as closed integer bounds, so `n > 3 and
n < 4` is empty). Over boxes, first-match regions are differences of unions, computed without
the solver. `region_of` says None for anything else (two signals in one test, arithmetic,
cost()), and callers ask the solver instead; both answer the same (a property test holds them
to it). A region that grows past `LIMIT` boxes also defers to the solver.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

from ..ir import expr as e
from ..ir.policy import Policy
from ..ir.types import EnumType
from .encode import rational

LIMIT = 4_096
"""More boxes than this in one region and the solver is asked instead."""


class TooLarge(Exception):
    """A region outgrew LIMIT; the caller asks the solver."""


@dataclass(frozen=True)
class Interval:
    """Numbers from `low` to `high` (None: unbounded); ints always closed, at whole numbers."""

    low: Fraction | None
    high: Fraction | None
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
        low, low_open = _tighter_low(self, other)
        high, high_open = _tighter_high(self, other)
        return Interval(low, high, low_open, high_open).normal(integral)

    def minus(self, other: Interval, integral: bool) -> list[Interval]:
        """The parts of this interval outside `other`: at most two."""
        parts = []
        if other.low is not None:  # below other: up to other.low, excluded where other has it
            below = Interval(self.low, other.low, self.low_open, not other.low_open).meet(self, integral)
            if below is not None:
                parts.append(below)
        if other.high is not None:
            above = Interval(other.high, self.high, not other.high_open, self.high_open).meet(self, integral)
            if above is not None:
                parts.append(above)
        return parts


def _tighter_low(a: Interval, b: Interval):
    if a.low is None:
        return b.low, b.low_open
    if b.low is None or a.low > b.low:
        return a.low, a.low_open
    if b.low > a.low:
        return b.low, b.low_open
    return a.low, a.low_open or b.low_open


def _tighter_high(a: Interval, b: Interval):
    if a.high is None:
        return b.high, b.high_open
    if b.high is None or a.high < b.high:
        return a.high, a.high_open
    if b.high < a.high:
        return b.high, b.high_open
    return a.high, a.high_open or b.high_open


Box = dict  # signal -> frozenset (enum members, bools) or Interval; absent: its whole domain


class Space:
    """The signal domains of one policy, and box algebra within them."""

    def __init__(self, policy: Policy) -> None:
        self.integral: dict[str, bool] = {}
        self.full: dict[str, frozenset | Interval] = {}
        for s in policy.signals:
            if s.role != "signal":
                continue
            t = s.type
            if isinstance(t, EnumType):
                self.full[s.name] = frozenset(t.members)
            elif t.kind == "bool":
                self.full[s.name] = frozenset({True, False})
            else:
                self.integral[s.name] = t.kind == "int"
                low, high = getattr(t, "low", None), getattr(t, "high", None)
                self.full[s.name] = Interval(rational(low) if low is not None else None,
                                             rational(high) if high is not None else None)

    # ---- boxes --------------------------------------------------------------------------------

    def _meet_one(self, name: str, a, b):
        if isinstance(a, Interval):
            return a.meet(b, self.integral[name])
        both = a & b
        return both or None

    def meet(self, a: Box, b: Box) -> Box | None:
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
        """The boxes share no request (what `meet` says, without building the meet)."""
        for name, cut in b.items():
            mine = a.get(name)
            if mine is None:
                continue
            if mine.__class__ is Interval:
                if mine.meet(cut, self.integral[name]) is None:
                    return True
            elif mine.isdisjoint(cut):
                return True
        return False

    def minus(self, a: Box, b: Box) -> list[Box]:
        """`a` without `b`: disjoint boxes, one per dimension where `b` cuts `a`."""
        if self.apart(a, b):
            return [a]
        pieces, current = [], dict(a)
        for name, cut in b.items():
            mine = current.get(name, self.full[name])
            if isinstance(mine, Interval):
                outside = mine.minus(cut, self.integral[name])
                inside = mine.meet(cut, self.integral[name])
            else:
                rest = mine - cut
                outside = [rest] if rest else []
                inside = mine & cut
            for part in outside:
                piece = dict(current)
                piece[name] = part
                pieces.append(piece)
            current[name] = inside
        return pieces

    # ---- regions: lists of boxes --------------------------------------------------------------

    def intersect(self, r1: list[Box], r2: list[Box]) -> list[Box]:
        out = []
        for a in r1:
            for b in r2:
                both = self.meet(a, b)
                if both is not None:
                    out.append(both)
        return _checked(out)

    def subtract(self, region: list[Box], cut: list[Box]) -> list[Box]:
        for b in cut:
            region = _checked([piece for a in region for piece in self.minus(a, b)])
            if not region:
                break
        return region

    def upper(self, region: list[Box], name: str) -> Fraction | None:
        """The largest value of a numeric signal in the region (None: unbounded); region nonempty."""
        best = None
        for box in region:
            interval = box.get(name, self.full[name])
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
            found = [{}] if x is None else self._region(x, negated)
        except TooLarge:
            return None
        return found

    def _region(self, x: e.Expr, negated: bool) -> list[Box] | None:
        match x:
            case e.Const(value=value) if isinstance(value, bool):
                return [{}] if value != negated else []
            case e.SignalRef(role="signal") if x.type.kind == "bool":
                return [{x.name: frozenset({not negated})}]
            case e.Not(operand=operand):
                return self._region(operand, not negated)
            case e.BoolOp(op=op, operands=operands):
                parts = [self._region(o, negated) for o in operands]
                if any(p is None for p in parts):
                    return None
                if (op == "and") != negated:  # all must hold
                    result = [{}]
                    for p in parts:
                        result = self.intersect(result, p)
                    return result
                return _checked([box for p in parts for box in p])
            case e.Compare(op=op, left=left, right=right):
                if _signal(left) and isinstance(right, e.Const):
                    return self._atom(left, op, right.value, negated)
                if _signal(right) and isinstance(left, e.Const):
                    return self._atom(right, _FLIP[op], left.value, negated)
                return None
            case e.InSet(element=element, members=members, negated=inner):
                if not _signal(element):
                    return None
                allowed = frozenset(members)
                if inner != negated:
                    allowed = self.full[element.name] - allowed
                return [{element.name: allowed}] if allowed else []
            case e.InRange(element=element, low=low, high=high, negated=inner):
                if not (_signal(element) and isinstance(low, e.Const) and isinstance(high, e.Const)):
                    return None
                lo, hi = rational(low.value), rational(high.value)
                if inner == negated:
                    return self._intervals(element.name, [Interval(lo, hi)])
                return self._intervals(element.name, [Interval(None, lo, False, True), Interval(hi, None, True, False)])
        return None

    def _intervals(self, name: str, intervals: list[Interval]) -> list[Box]:
        """Boxes for these intervals of one signal, within its domain."""
        out = []
        for interval in intervals:
            inside = interval.meet(self.full[name], self.integral[name])
            if inside is not None:
                out.append({name: inside})
        return out

    def _atom(self, ref: e.SignalRef, op: str, value, negated: bool) -> list[Box] | None:
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


def _signal(x) -> bool:
    return isinstance(x, e.SignalRef) and x.role == "signal"


_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}
_NEGATE = {"<": ">=", "<=": ">", ">": "<=", ">=": "<", "==": "!=", "!=": "=="}
