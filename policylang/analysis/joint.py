"""Two versions of one policy over one space of requests, for `diff` (section 9.5).

A request is one JSON object that both versions read. Each key of it is one variable, shared
by the two encodings, so that "old fires rule i and new fires rule j" is one question to the
solver. What a version reads for a key:

- a key both declare: the value the request carries, when it carries one both accept (ints
  where either version declares an int; doubles where either is a float or a duration; any
  decimal where both are money; members both enums list); or, when the request leaves it out,
  each version's own default. Where the defaults differ, "left out" is a state of its own (a
  Boolean `@present:NAME`), since the two versions then read different values;
- a key only one version declares: that version reads it (in its domain, or its default when
  left out); the other version ignores it, as every key that names no signal.

So the joint space is exactly the requests both versions accept (outside strict mode); the
requests only one accepts are described signal by signal by `authoring/diff.py`.

Enums are encoded by one index per member name across both versions (`Encoder` numbers
members by position, which a widened or reordered enum changes).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, assert_never

import z3

from ..ir.policy import CheckedPolicy, Signal
from ..ir.types import (BOOL, DURATION, FLOAT, INT, MONEY, BoolType, DurationType, EnumType, FloatType, IntType,
                        MoneyType, SetType, StringType, Type)
from ..ir.values import decimal_of, rational
from .encode import Encoder, as_bool
from .solver import NoDouble, Solver, _fraction

PRESENT = "@present:"
"""The prefix of the Boolean that says a request carries a key whose defaults differ."""

_NUMERIC = ("int", "float", "money", "duration")


@dataclass(frozen=True)
class Key:
    """One request key: its declaration in each version (None where a version lacks it), the
    kind of the values both accept (None: none), the range they share, and whether leaving
    it out is a state of its own (the two defaults differ)."""

    name: str
    old: Signal | None
    new: Signal | None
    kind: str | None
    low: Fraction | None = None
    high: Fraction | None = None
    members: tuple[str, ...] = ()
    flag: bool = False
    absent_ok: bool = False
    """Both versions accept a request that leaves the key out (each has a default)."""

    @property
    def shared(self) -> bool:
        """Both versions declare the key."""
        return self.old is not None and self.new is not None

    @property
    def read_alike(self) -> bool:
        """Both versions read the same value for this key in every request both accept: the
        carried value, or one default where the request leaves it out."""
        if not self.shared:
            return True
        if self.kind is not None:
            return not self.flag
        assert self.old is not None and self.new is not None
        return _same_value(self.old.default, self.new.default)


def common_kind(a: Type, b: Type) -> str | None:
    """The kind of the values a request can carry that both types accept (JSON values, and
    Decimals where both are money): ints where either is an int, doubles where either is a
    float or a duration, any decimal where both are money; None when no value fits both."""
    ka, kb = a.kind, b.kind
    if ka in _NUMERIC and kb in _NUMERIC:
        if "int" in (ka, kb):
            return "int"
        if ka == kb:
            return ka
        return "float"  # float, money and duration together: a double (or int) both read alike
    if ka == kb and ka in ("bool", "enum"):
        return ka
    return None


def _bounds(t: Type) -> tuple[Fraction | None, Fraction | None]:
    match t:
        case IntType() | FloatType() | MoneyType() | DurationType():
            low, high = t.low, t.high
        case BoolType() | EnumType() | SetType() | StringType():
            return None, None
        case _:
            assert_never(t)
    return (None if low is None else Fraction(rational(low)), None if high is None else Fraction(rational(high)))


def _same_value(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool) or isinstance(a, str) or isinstance(b, str):
        return type(a) is type(b) and a == b
    return rational(a) == rational(b)


def _accepts(key: Key, value: Any) -> bool:
    """A default's value lies among the values both versions accept when present."""
    if key.kind is None:
        return False
    if key.kind == "enum":
        return value in key.members
    if key.kind == "bool":
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    v = Fraction(rational(value))
    if key.kind == "int" and v.denominator != 1:
        return False
    return (key.low is None or v >= key.low) and (key.high is None or v <= key.high)


def joint_keys(old: CheckedPolicy, new: CheckedPolicy) -> list[Key]:
    """Every request key of either version, old's in declaration order, then new's."""
    olds = {s.name: s for s in old.inputs}
    news = {s.name: s for s in new.inputs}
    keys = []
    for name in [*olds, *(n for n in news if n not in olds)]:
        a, b = olds.get(name), news.get(name)
        if a is None or b is None:
            only = a or b
            assert only is not None
            low, high = _bounds(only.type)
            keys.append(Key(name, a, b, only.type.kind, low, high, tuple(getattr(only.type, "members", ()))))
            continue
        kind = common_kind(a.type, b.type)
        members: tuple[str, ...] = ()
        low = high = None
        if kind == "enum":
            members = tuple(m for m in a.type.members if m in b.type.members)  # type: ignore[union-attr]
            if not members:
                kind = None
        elif kind in _NUMERIC:
            (la, ha), (lb, hb) = _bounds(a.type), _bounds(b.type)
            lows = [x for x in (la, lb) if x is not None]
            highs = [x for x in (ha, hb) if x is not None]
            low, high = (max(lows) if lows else None), (min(highs) if highs else None)
            if kind == "int":
                low = None if low is None else Fraction(math.ceil(low))
                high = None if high is None else Fraction(math.floor(high))
            if low is not None and high is not None and low > high:
                kind, low, high = None, None, None
        absent_ok = a.has_default and b.has_default
        key = Key(name, a, b, kind, low, high, members, False, absent_ok)
        if absent_ok and kind is not None:
            same = _same_value(a.default, b.default) and _accepts(key, a.default)
            key = Key(name, a, b, kind, low, high, members, not same, True)
        keys.append(key)
    return keys


class _JointEncoder(Encoder):
    """The joint variables: one per key (its value when carried), one `@present:` flag per
    key whose defaults differ. Its `policy` is a synthetic one that declares exactly those,
    so that the Solver's decimal semantics and witness pinning apply to them unchanged."""

    def __init__(self, space: JointSpace, synthetic: CheckedPolicy) -> None:
        super().__init__(synthetic)
        self.space = space

    def member_index(self, t: EnumType, member: str) -> int:
        return self.space.member_ids[member]

    def kind(self, key: str) -> str:
        return self.signals[key].type.kind

    def domain(self, name: str, step: int | None = None) -> list[Any]:
        if name.startswith(PRESENT):
            return []
        key = self.space.keys[name]
        x = self.var(name)
        if key.kind == "enum":
            return [z3.Or(*[x == self.space.member_ids[m] for m in key.members])]
        out = []
        if key.low is not None:
            out.append(x >= self.number(key.low, key.kind or "float"))
        if key.high is not None:
            out.append(x <= self.number(key.high, key.kind or "float"))
        return out

    def number(self, value: Any, kind: str) -> Any:
        if kind == "int":
            return z3.IntVal(int(value))
        value = Fraction(value)
        return z3.RealVal(f"{value.numerator}/{value.denominator}")


class _View(Encoder):
    """One version's expressions over the joint variables."""

    def __init__(self, space: JointSpace, policy: CheckedPolicy, side: str) -> None:
        super().__init__(policy)
        self.space = space
        self.side = side

    def member_index(self, t: EnumType, member: str) -> int:
        return self.space.member_ids[member]

    def var(self, name: str, step: int | None = None) -> Any:
        signal = self.signals[name]
        if signal.role == "outcome":  # no rule reads one; cascades are compared apart
            return super().var(name, step)
        return self.space.read(self.side, name)


class _JointSolver(Solver):
    """The Solver over the joint variables; a witness is one request both versions read."""

    def _values(self, model: z3.ModelRef, step: int | None, role: str) -> dict[str, Any]:
        encoder = self.encoder
        assert isinstance(encoder, _JointEncoder)  # JointSpace builds it over one
        return encoder.space.request(model)


class JointSpace:
    """The requests both versions accept, and where each version's rules fire in it."""

    def __init__(self, old: CheckedPolicy, new: CheckedPolicy) -> None:
        self.policies = {"old": old, "new": new}
        self.key_list = joint_keys(old, new)
        self.keys = {k.name: k for k in self.key_list}
        members = sorted({m for p in (old, new) for s in p.signals if isinstance(s.type, EnumType)
                          for m in s.type.members})
        self.member_ids = {m: i for i, m in enumerate(members)}
        self.member_names = members
        signals = []
        for key in self.key_list:
            if self._has_value(key):
                signals.append(self._value_signal(key))
            if key.flag:
                signals.append(Signal(span=(key.old or key.new).span, name=PRESENT + key.name,  # type: ignore[union-attr]  # a key is declared in one version at least
                                      role="signal", type=BOOL, has_default=True, default=False))
        synthetic = CheckedPolicy(span=old.span, name="joint", file=old.file, source_sha256="", signals=tuple(signals),
                           models=())
        self.encoder = _JointEncoder(self, synthetic)
        self.solver = _JointSolver(self.encoder)
        self.empty = any(not self._has_value(k) and not k.absent_ok for k in self.key_list if k.shared)
        """No request is accepted by both: some key both declare has no value both accept,
        and one of them requires it."""
        if self.empty:
            self.solver.z3.add(z3.BoolVal(False))
        self.views = {side: _View(self, policy, side) for side, policy in self.policies.items()}
        self._conditions: dict[str, list[Any]] = {}
        self._fires: dict[tuple[str, int], Any] = {}
        self._prefix: dict[tuple[str, int], Any] = {}

    # ---- variables ----------------------------------------------------------------------------

    @staticmethod
    def _has_value(key: Key) -> bool:
        return key.kind is not None

    def _value_signal(self, key: Key) -> Signal:
        declared = key.old or key.new
        assert declared is not None and key.kind is not None
        plain: dict[str, Type] = {"int": INT, "float": FLOAT, "money": MONEY, "duration": DURATION, "bool": BOOL}
        t: Type = plain.get(key.kind) or EnumType(members=key.members)
        if not key.shared:
            return Signal(span=declared.span, name=key.name, role="signal", type=t,
                          has_default=declared.has_default, default=declared.default)
        default = key.old.default if key.old is not None and key.old.has_default else None
        preferred = key.absent_ok and not key.flag and _accepts(key, default)
        return Signal(span=declared.span, name=key.name, role="signal", type=t, has_default=preferred,
                      default=default if preferred else None)

    def read(self, side: str, name: str) -> Any:
        """What `side` reads for a key: the carried value, or its own default when the
        request leaves the key out and the defaults differ."""
        key = self.keys[name]
        declared = key.old if side == "old" else key.new
        assert declared is not None
        view = self.views[side]
        if not self._has_value(key):  # only leaving it out is accepted by both
            return view.value(declared, declared.default)
        value = self.encoder.var(name)
        if not key.flag:
            return value
        return z3.If(self.encoder.var(PRESENT + name), value, view.value(declared, declared.default))

    def request(self, model: z3.ModelRef) -> dict[str, Any]:
        """The request a model of the joint space stands for: keys left out where they may
        be and the model says so, or where the value is what leaving them out would mean."""
        found: dict[str, Any] = {}
        for key in self.key_list:
            if not self._has_value(key):
                continue
            if key.flag and not z3.is_true(model.eval(self.encoder.var(PRESENT + key.name), model_completion=True)):
                continue
            value = self._runtime(key, model.eval(self.encoder.var(key.name), model_completion=True))
            if not key.flag:
                declared = [s for s in (key.old, key.new) if s is not None]
                if all(s.has_default and _same_value(value, s.default) for s in declared):
                    continue  # a default is what an absent key means: keep witnesses short
            found[key.name] = value
        return found

    def _runtime(self, key: Key, raw: Any) -> Any:
        kind = key.kind
        if kind == "bool":
            return z3.is_true(raw)
        if kind == "enum":
            return self.member_names[raw.as_long()]
        if kind == "int":
            return raw.as_long()
        exact = _fraction(raw)
        if kind == "money":
            return decimal_of(exact)
        if exact.denominator == 1 and (kind == "duration" or abs(exact) > 2**53):
            return int(exact)
        return float(exact)

    # ---- where rules fire ---------------------------------------------------------------------

    def conditions(self, side: str) -> list[Any]:
        """Each rule's condition of one version as a term over the joint variables."""
        if side not in self._conditions:
            view = self.views[side]
            self._conditions[side] = [as_bool(view.encode(r.condition)) for r in self.policies[side].rules
                                      if r.condition is not None]
        return self._conditions[side]

    def prefix(self, side: str, index: int) -> Any:
        """A Boolean constant meaning: none of the version's first `index` rules holds."""
        if index == 0:
            return z3.BoolVal(True)
        literal = self._prefix.get((side, index))
        if literal is None:
            literal = z3.Bool(f"@{side}:none_before_{index}")
            self.solver.z3.add(literal == z3.And(self.prefix(side, index - 1), z3.Not(self.conditions(side)[index - 1])))
            self._prefix[(side, index)] = literal
        return literal

    def fires(self, side: str, index: int) -> Any:
        """A Boolean constant meaning: the version's route entry `index` decides (the rules in
        order; `len(rules)` is the default, or no rule at all when there is no default)."""
        literal = self._fires.get((side, index))
        if literal is None:
            rules = self.conditions(side)
            literal = z3.Bool(f"@{side}:fires_{index}")
            if index == len(rules):
                self.solver.z3.add(literal == self.prefix(side, index))
            else:
                self.solver.z3.add(literal == z3.And(rules[index], self.prefix(side, index)))
            self._fires[(side, index)] = literal
        return literal

    def entries(self, side: str) -> int:
        """How many route entries a version has, counting the fall-through (default or none)."""
        return len(self.policies[side].rules) + 1

    # ---- questions ----------------------------------------------------------------------------

    def can_fire(self, side: str, index: int) -> bool:
        """Some request both versions accept reaches the version's route entry `index`."""
        return self.solver.satisfiable(self.fires(side, index))

    def meet(self, old_index: int, new_indices: list[int]) -> int | None:
        """One of `new_indices` that fires on some request where old's entry `old_index` does,
        or None when none does."""
        if not new_indices:
            return None
        model = self.solver.model(self.fires("old", old_index), z3.Or(*[self.fires("new", j) for j in new_indices]))
        if model is None:
            return None
        for j in new_indices:
            if z3.is_true(model.eval(self.fires("new", j), model_completion=True)):
                return j
        raise AssertionError("the solver's model fires none of the rules it was asked about")

    def witness(self, old_index: int, new_index: int) -> dict[str, Any] | None:
        """A request where old's entry `old_index` and new's `new_index` both decide, or None
        when only values no request can carry (a decimal between two doubles) are there."""
        terms = (self.fires("old", old_index), self.fires("new", new_index))
        model = self.solver.model(*terms)
        if model is None:
            return None
        try:
            return self.solver.witness(model, *terms)
        except NoDouble:
            return None

    def same_region(self, old_index: int, new_index: int) -> bool:
        """Old's entry and new's fire on exactly the same requests."""
        a, b = self.fires("old", old_index), self.fires("new", new_index)
        return not self.solver.satisfiable(a != b)

    def some_request(self) -> dict[str, Any] | None:
        """Any request both versions accept, with as many keys left out as may be."""
        if self.empty:
            return None
        model = self.solver.model()
        if model is None:
            return None
        try:
            return self.solver.witness(model)
        except NoDouble:
            return None
