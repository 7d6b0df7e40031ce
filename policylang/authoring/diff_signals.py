"""What `diff` says of the requests only one version of a policy accepts (section 9.5), one
signal at a time: added, removed, re-typed, a domain narrowed or widened, a default added or
dropped. Each comes with a witness that one version's validation accepts and the other's
refuses, found among values at the edges of the domains that differ and checked by both
validations (never assumed)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from ..backends.python.support import RequestError
from ..ir.policy import CheckedPolicy, Signal
from ..ir.types import EnumType, Type, describe, format_value
from ..ir.values import decimal_of, rational
from ..policy import Policy

if TYPE_CHECKING:
    from ..analysis.joint import JointSpace


@dataclass(frozen=True)
class Acceptance:
    """Requests that only one version accepts, because of one signal."""

    signal: str
    change: str
    """added, removed, retyped, narrowed, widened, changed, default added, default removed."""
    only: str
    """"old" or "new": the version that accepts them."""
    old_type: str | None
    new_type: str | None
    which: tuple[str, ...]
    """The requests, in words: `input_tokens in 100001..200000`, `requests without task`."""
    witness: dict[str, Any]
    error: RequestError
    """What the other version says of the witness."""

    def as_dict(self) -> dict[str, Any]:
        return {"signal": self.signal, "change": self.change, "accepted_by": self.only, "old_type": self.old_type,
                "new_type": self.new_type, "requests": list(self.which), "witness": self.witness,
                "refused_by_other": self.error.as_dict()}



def acceptance(space: JointSpace, old: Policy, new: Policy) -> list[Acceptance]:
    """Per signal and direction, the requests only one version accepts, with a witness the
    accepting version validates and the other refuses (`space` is the versions' JointSpace)."""
    base = _base(space, old, new)
    found = []
    for key in space.key_list:
        a, b = key.old, key.new
        if a is not None and b is not None and a.type == b.type and a.has_default == b.has_default:
            continue
        for only, mine, theirs in (("old", a, b), ("new", b, a)):
            accepting, refusing = (old, new) if only == "old" else (new, old)
            which, candidates = _only_in(key.name, mine, theirs)
            if not which:
                continue
            start = dict(base) if base is not None else _plain(accepting.ir)
            for value in candidates:
                request = dict(start)
                if value is _ABSENT:
                    request.pop(key.name, None)
                else:
                    request[key.name] = value
                error = _refusal(accepting, refusing, request)
                if error is not None:
                    found.append(Acceptance(key.name, _change_word(mine, theirs, only), only,
                                            describe(a.type) if a is not None else None,
                                            describe(b.type) if b is not None else None,
                                            tuple(which), request, error))
                    break
    return found


def _base(space: JointSpace, old: Policy, new: Policy) -> dict[str, Any] | None:
    """A request both versions accept, to change one key of: plain values where they do, else
    one the solver finds; None when none exists."""
    plain = {**_plain(old.ir), **_plain(new.ir)}
    try:
        old.interpreter.validate(plain, "signal")
        new.interpreter.validate(plain, "signal")
        return plain
    except RequestError:
        return space.some_request() if not space.empty else None


_ABSENT = object()
"""A candidate that leaves the key out of the request."""


def _refusal(accepting: Policy, refusing: Policy, request: dict[str, Any]) -> RequestError | None:
    """The refusing version's error, where the accepting version takes the request."""
    try:
        accepting.interpreter.validate(request, "signal")
    except RequestError:
        return None
    try:
        refusing.interpreter.validate(request, "signal")
    except RequestError as exc:
        return exc
    return None


def _change_word(mine: Signal | None, theirs: Signal | None, only: str) -> str:
    """How the key changed from old to new, in one word, seen from the version that accepts."""
    if mine is None or theirs is None:
        return "removed" if (only == "new") == (mine is None) else "added"
    if mine.type.kind != theirs.type.kind:
        return "retyped"
    if mine.type != theirs.type:
        return "narrowed" if only == "old" else "widened"
    return "default removed" if only == "old" else "default added"


def _only_in(name: str, mine: Signal | None, theirs: Signal | None) -> tuple[list[str], list[Any]]:
    """(the requests in words, candidate values) of those `mine` accepts and `theirs` refuses,
    as far as this one key decides it. `mine` None: the version ignores the key (any value)."""
    if mine is None:
        assert theirs is not None
        which, values = [], []
        if not theirs.has_default:
            which.append(f"requests without {name} (required)")
            values.append(_ABSENT)
        which.append(f"requests that carry {name} outside {describe(theirs.type)}")
        values += _outside(theirs.type)
        return which, values
    if theirs is None:
        return [], []  # the other version ignores the key: whatever `mine` accepts, it accepts
    which, values = [], []
    if mine.has_default and not theirs.has_default:
        which.append(f"requests without {name} (read as {format_value(mine.default, mine.type)})")
        values.append(_ABSENT)
    words, more = _values_only_in(name, mine.type, theirs.type)
    which += words
    values += more
    return which, values


def _outside(t: Type) -> list[Any]:
    """Values a request may carry that the type refuses (JSON values)."""
    kind = t.kind
    if kind == "bool":
        return [1]
    if isinstance(t, EnumType):
        return ["", "?"]
    low, high = getattr(t, "low", None), getattr(t, "high", None)
    found: list[Any] = []
    if high is not None:
        found += [int(math.floor(high)) + 1, float(high) + 1]
    if low is not None:
        found += [int(math.ceil(low)) - 1, float(low) - 1]
    if kind == "int":
        found.append(0.5)
    found.append("1")
    return found


_JSON_SORTS = {"int": ("int",), "float": ("int", "float"), "money": ("int", "float"), "duration": ("int", "float")}


def _bounds(t: Type) -> tuple[Fraction | None, Fraction | None]:
    low, high = getattr(t, "low", None), getattr(t, "high", None)
    return (None if low is None else Fraction(rational(low)), None if high is None else Fraction(rational(high)))


def _values_only_in(name: str, mine: Type, theirs: Type) -> tuple[list[str], list[Any]]:
    """The values `mine` accepts and `theirs` refuses, in words and as candidates."""
    if isinstance(mine, EnumType):
        if isinstance(theirs, EnumType):
            extra = [m for m in mine.members if m not in theirs.members]
            if not extra:
                return [], []
            return [f"{name} in {{{', '.join(extra)}}}"], list(extra)
        return [f"{name} = any member ({describe(mine)})"], list(mine.members)
    if mine.kind == "bool":
        return ([], []) if theirs.kind == "bool" else ([f"{name} = true or false"], [False, True])
    if theirs.kind not in _JSON_SORTS:  # a number where the other wants a bool or a member
        return [f"{name} = any number ({describe(mine)})"], _inside_values(mine)
    words: list[str] = []
    values: list[Any] = []
    low, high = _bounds(mine)
    if "float" in _JSON_SORTS[mine.kind] and "float" not in _JSON_SORTS[theirs.kind]:
        words.append(f"{name} as a float ({theirs.kind} wants an int)")
        values += [v for v in _double_candidates(low, False, high, False) if isinstance(v, float)]
    their_low, their_high = _bounds(theirs)
    pieces: list[tuple[Fraction | None, bool, Fraction | None, bool]] = []
    if their_low is not None and (low is None or low < their_low):
        top, top_open = (their_low, True) if high is None or high >= their_low else (high, False)
        pieces.append((low, False, top, top_open))
    if their_high is not None and (high is None or high > their_high):
        bottom, bottom_open = (their_high, True) if low is None or low <= their_high else (low, False)
        pieces.append((bottom, bottom_open, high, False))
    integral = mine.kind == "int"
    for lo, lo_open, hi, hi_open in pieces:
        if integral:
            a = None if lo is None else (math.floor(lo) + 1 if lo_open else math.ceil(lo))
            b = None if hi is None else (math.ceil(hi) - 1 if hi_open else math.floor(hi))
            if a is not None and b is not None and a > b:
                continue
            words.append(_int_words(name, a, b))
            values += [v for v in (a, b) if v is not None]
        else:
            words.append(_real_words(name, lo, lo_open, hi, hi_open, mine))
            values += _double_candidates(lo, lo_open, hi, hi_open)
    return words, values


def _inside_values(t: Type) -> list[Any]:
    low, high = _bounds(t)
    return _double_candidates(low, False, high, False) if t.kind != "int" else \
        [v for v in (0 if (low is None or low <= 0) and (high is None or high >= 0) else None,
                     None if low is None else math.ceil(low)) if v is not None]


def _double_candidates(lo: Fraction | None, lo_open: bool, hi: Fraction | None, hi_open: bool) -> list[Any]:
    """Ints and doubles inside an interval, nearest its ends first."""
    def inside(v: Fraction) -> bool:
        return (lo is None or v > lo or (v == lo and not lo_open)) and (hi is None or v < hi or (v == hi and not hi_open))

    found: list[Any] = []
    for end, direction in ((lo, math.inf), (hi, -math.inf)):
        if end is None:
            continue
        d = float(end)
        for _ in range(3):
            if inside(Fraction(Decimal(repr(d)))) and d not in found:
                found.append(d)
            d = math.nextafter(d, direction)
        whole = math.ceil(end) if direction > 0 else math.floor(end)
        for w in (whole, whole + (1 if direction > 0 else -1)):
            if inside(Fraction(w)) and w not in found:
                found.append(int(w))
    if lo is not None and hi is not None:
        middle = float((lo + hi) / 2)
        if inside(Fraction(Decimal(repr(middle)))):
            found.append(middle)
    elif lo is None and hi is None:
        found += [0.5, 0]
    elif lo is None:
        assert hi is not None
        found += [float(hi) - 1, math.floor(hi) - 1]
    else:
        found += [float(lo) + 1, math.ceil(lo) + 1]
    return found


def _int_words(name: str, a: int | None, b: int | None) -> str:
    if a is None:
        return f"{name} <= {b}"
    if b is None:
        return f"{name} >= {a}"
    return f"{name} = {a}" if a == b else f"{name} in {a}..{b}"


def _real_words(name: str, lo: Fraction | None, lo_open: bool, hi: Fraction | None, hi_open: bool, t: Type) -> str:
    def shown(v: Fraction) -> str:
        exact = decimal_of(v)
        return format_value(exact if exact is not None else float(v), t)

    if lo is None:
        assert hi is not None
        return f"{name} {'<' if hi_open else '<='} {shown(hi)}"
    if hi is None:
        return f"{name} {'>' if lo_open else '>='} {shown(lo)}"
    return f"{shown(lo)} {'<' if lo_open else '<='} {name} {'<' if hi_open else '<='} {shown(hi)}"


def _plain(ir: CheckedPolicy) -> dict[str, Any]:
    """A request this version accepts: each required signal at a plain value of its domain."""
    request: dict[str, Any] = {}
    for s in ir.inputs:
        if s.has_default:
            continue
        t = s.type
        if t.kind == "bool":
            request[s.name] = False
        elif isinstance(t, EnumType):
            request[s.name] = t.members[0]
        else:
            low, high = _bounds(t)
            value = Fraction(0)
            if low is not None and value < low:
                value = low
            if high is not None and value > high:
                value = high
            if t.kind == "int":
                request[s.name] = int(value)
            elif value.denominator == 1:
                request[s.name] = int(value)
            else:
                request[s.name] = decimal_of(value) if t.kind == "money" else float(value)
    return request
