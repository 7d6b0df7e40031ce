"""Which rules' hulls can meet: an index of the rules by every value each one admits.

Two hulls are apart when, on some signal both narrow, their sets (or intervals) share nothing.
The index keeps, for every enum or bool signal, the rules that admit each member, and for every
number the rules whose interval is a single point, by that point; a rule that leaves a signal
at its whole domain (or narrows a number to more than a point) sits in that signal's
`anywhere` list. A query looks up the signal where its own hull picks the fewest rules and
tests only those: any other rule is apart from it on that signal, so the index never drops a
rule that meets, and `disjoint` decides the rest exactly as a scan of every rule would.
"""

from __future__ import annotations

from collections import defaultdict

from ..ir.boxes import LIMIT, Box, Interval, Space, TooLarge, disjoint


class MeetIndex:
    """The rules' narrow hulls (None: the rule holds nowhere), indexed by what they admit."""

    def __init__(self, narrow: list[Box | None]) -> None:
        self.narrow = narrow
        self._members: dict[str, dict[object, list[int]]] = defaultdict(lambda: defaultdict(list))
        self._anywhere: dict[str, list[int]] = defaultdict(list)
        names: set[str] = {name for box in narrow if box is not None for name in box}
        for i, box in enumerate(narrow):
            if box is None:
                continue
            for name in names:
                constraint = box.get(name)
                keys = _keys(constraint)
                if keys is None:
                    self._anywhere[name].append(i)
                else:
                    buckets = self._members[name]
                    for key in keys:
                        buckets[key].append(i)

    def meeting(self, i: int) -> list[int]:
        """The other rules (ascending) whose hull meets rule i's."""
        mine = self.narrow[i]
        if mine is None:
            return []
        best: list[list[int]] | None = None
        best_size = -1
        for name, constraint in mine.items():
            keys = _keys(constraint)
            if keys is None:
                continue
            buckets = self._members.get(name, {})
            lists = [self._anywhere.get(name, [])] + [buckets[k] for k in keys if k in buckets]
            size = sum(len(found) for found in lists)
            if best is None or size < best_size:
                best, best_size = lists, size
        narrow = self.narrow
        if best is None:
            pool: list[int] | range = range(len(narrow))
        elif len(best) == 1:
            pool = best[0]
        else:
            pool = sorted({j for found in best for j in found})
        return [j for j in pool if j != i and not disjoint(mine, narrow[j])]


def _keys(constraint: object) -> frozenset[object] | None:
    """The values a constraint admits, when the index lists them: members, or one point."""
    if constraint is None:
        return None
    if type(constraint) is Interval:
        if constraint.low is not None and constraint.low == constraint.high:
            return frozenset({constraint.low})
        return None
    assert isinstance(constraint, frozenset)
    return constraint


class Keyed:
    """A region (a list of boxes) split by the one member of a key enum each box is limited
    to (bucket None: boxes that allow more than one): what meets a box that allows members M
    lies in the buckets of M and in bucket None, so a question about a narrow box reads a few
    buckets, not a region spread over every tenant."""

    def __init__(self, key: str, region: list[Box]) -> None:
        self.key = key
        self.buckets: dict[object, list[Box]] = {}
        for box in region:
            self.buckets.setdefault(_single(box.get(key)), []).append(box)

    def around(self, members: frozenset[object] | None) -> list[object]:
        """The buckets (their keys, in a fixed order) that a box allowing `members` (None: any
        member) can meet."""
        if members is None:
            return list(self.buckets)
        found: list[object] = [m for m in sorted(members, key=repr) if m in self.buckets]
        if None in self.buckets:
            found.append(None)
        return found

    def boxes(self) -> list[Box]:
        """Every box, bucket by bucket."""
        return [box for bucket in self.buckets.values() for box in bucket]


def key_members(box: Box | None, key: str) -> frozenset[object] | None:
    """The members of `key` that a box allows, when it limits them (None: it allows every one)."""
    if box is None:
        return frozenset()
    members = box.get(key)
    return None if members is None else members  # type: ignore[return-value]  # an enum's members


def _single(members: object) -> object:
    if isinstance(members, frozenset) and len(members) == 1:
        return next(iter(members))
    return None


_FEW = 8
"""A box allowing at most this many members of the key is filed once per member."""


class KeyedRegion:
    """A region kept split by the one member of a key enum each box is limited to (bucket
    None: boxes that allow more than one), for subtracting many cuts that each name a few
    members: a cut reads only its members' buckets and bucket None, not the whole region.
    TooLarge past `limit` boxes."""

    def __init__(self, space: Space, key: str, region: list[Box], limit: int = LIMIT) -> None:
        self.space, self.key, self.limit = space, key, limit
        self.buckets: dict[object, list[Box]] = {}
        self.count = 0
        self._add(region)

    def _add(self, boxes: list[Box]) -> None:
        """File each box under its member; a box allowing a few members (an `in` set) as one
        box per member, so that bucket None keeps only the few boxes that allow most of them."""
        key, buckets = self.key, self.buckets
        for box in boxes:
            members = box.get(key)
            if isinstance(members, frozenset) and 1 < len(members) <= _FEW:
                for m in members:
                    buckets.setdefault(m, []).append({**box, key: frozenset({m})})
                self.count += len(members)
            else:
                buckets.setdefault(_single(members), []).append(box)
                self.count += 1
        if self.count > self.limit:
            raise TooLarge

    def subtract(self, cuts: list[Box]) -> list[Box]:
        """The region less every cut box, as disjoint boxes, bucket by bucket; TooLarge past
        `limit` boxes."""
        space, buckets = self.space, self.buckets
        for cut in cuts:
            if not self.count:
                break
            members = cut.get(self.key)
            if members is None:
                near: list[object] = list(buckets)
            else:
                assert isinstance(members, frozenset)  # the key is an enum
                near = [m for m in members if m in buckets]
                if None in buckets:
                    near.append(None)
            for m in near:
                boxes = buckets[m]
                self.count -= len(boxes)
                pieces = [piece for box in boxes for piece in space.minus(box, cut)]
                if m is None:
                    del buckets[None]
                    self._add(pieces)
                else:
                    buckets[m] = pieces
                    self.count += len(pieces)
                    if self.count > self.limit:
                        raise TooLarge
        return [box for bucket in buckets.values() for box in bucket]
