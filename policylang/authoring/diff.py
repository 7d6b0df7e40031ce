"""`diff`: which requests a change to a policy sends somewhere else (section 9.5), exactly.

Two decisions are compared on `model`, `steps`, `max_output`, `caps` and `reject` (section 5).
For every pair (old route entry i, new route entry j) whose decisions differ, the solver is
asked whether some request, accepted by both versions, fires i in the old version and j in the
new one (analysis/joint.py encodes both over shared request variables). Every pair it finds is
reported with a witness that both interpreters replay; a pair it rules out has no such request.
The same standard as section 6: nothing missed, nothing claimed falsely.

Besides the pairs: the requests only one version accepts, signal by signal (added, removed,
re-typed, a domain narrowed or widened, a default added or dropped), each with a witness that
one version's validation accepts and the other's refuses; renames (a rule under a new name that
fires on exactly the same requests with the same decision), listed apart and not counted as
changes; each budget's worst case before and after; and what changed that no decision shows
(model fields, fallbacks, cascade conditions). With traffic (JSON lines of logged requests),
each changed pair's count of requests and their cost before and after, decided record by record
by both compiled engines.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any

from ..backends.python.interpreter import Interpreter
from ..backends.python.support import Decision, RequestError
from ..ir import expr as e
from ..ir.boxes import Box, disjoint, domain_box, hull, meet
from ..ir.node import Node, walk as nodes
from ..ir.policy import Budget, Policy as PolicyIR, Rule, Signal
from ..ir.types import EnumType, Type, describe, format_value
from ..ir.values import EXACT, decimal_of
from ..jsontext import decimal_text, dumps
from ..policy import Policy
from ..serving import walk
from ..source import Source, Span
from .explain import call_cost

FIELDS = ("model", "steps", "max_output", "caps", "reject")
"""What two decisions are compared on (section 9.5); the rule's name is not among them."""


class DiffError(RuntimeError):
    """A witness that would not replay as the change it stands for: a bug in diff, reported
    as such and never as a finding."""


# ---- the report -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """A route entry of one version: a rule, the default, or (no default) no rule at all."""

    rule: str | None
    span: Span | None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"rule": self.rule}
        if self.span is not None:
            out.update(file=self.span.file, line=self.span.line, column=self.span.column)
        return out

    @property
    def label(self) -> str:
        return "no rule" if self.rule is None else "default" if self.rule == "default" else f"rule {self.rule}"


@dataclass
class PairTraffic:
    """Logged requests that move along one pair, and what they cost before and after."""

    requests: int = 0
    cost_before: Decimal = Decimal(0)
    cost_after: Decimal = Decimal(0)

    def as_dict(self) -> dict[str, Any]:
        return {"requests": self.requests, "cost_before": decimal_text(self.cost_before.normalize()),
                "cost_after": decimal_text(self.cost_after.normalize())}


@dataclass
class Change:
    """Requests that old's entry decides one way and new's another: the fields that differ
    and a request that shows it (replayed through both interpreters)."""

    old: Entry
    new: Entry
    before: Decision
    after: Decision
    witness: dict[str, Any]
    traffic: PairTraffic | None = None
    from_traffic: bool = False
    """Found only by replaying traffic: the analysis missed it (a bug worth reporting)."""

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(f for f in FIELDS if _field(self.before, f) != _field(self.after, f))

    def as_dict(self) -> dict[str, Any]:
        out = {"old": self.old.as_dict(), "new": self.new.as_dict(), "fields": list(self.fields),
               "before": _decision_dict(self.before), "after": _decision_dict(self.after), "witness": self.witness}
        if self.traffic is not None:
            out["traffic"] = self.traffic.as_dict()
        return out


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


@dataclass(frozen=True)
class Rename:
    old: Entry
    new: Entry

    def as_dict(self) -> dict[str, Any]:
        return {"old": self.old.as_dict(), "new": self.new.as_dict()}


@dataclass(frozen=True)
class Worst:
    """A budget's worst case in one version: the value (None: unbounded), the rule where it
    happens (None: no request the budget applies to is served)."""

    value: Fraction | None
    rule: str | None
    bounded: bool = True

    def text(self, metric: str) -> str:
        if self.rule is None:
            return "nothing served"
        if not self.bounded:
            return f"unbounded (rule {self.rule})"
        assert self.value is not None
        return f"{_amount(self.value, metric)} (rule {self.rule})"

    def as_dict(self, metric: str) -> dict[str, Any]:
        value = None if self.value is None or not self.bounded else _amount_plain(self.value, metric)
        return {"worst": value, "unbounded": not self.bounded and self.rule is not None, "rule": self.rule}


@dataclass(frozen=True)
class BudgetDiff:
    metric: str
    text: str
    """`cost <= $1 when sync`, as the source writes it (new's wording where both have it)."""
    bound_before: Decimal | None
    bound_after: Decimal | None
    before: Worst | None
    after: Worst | None
    """None: the version has no such budget."""

    def as_dict(self) -> dict[str, Any]:
        def bound(b: Decimal | None) -> str | None:
            return None if b is None else decimal_text(b)
        return {"metric": self.metric, "budget": self.text, "bound_before": bound(self.bound_before),
                "bound_after": bound(self.bound_after),
                "before": self.before.as_dict(self.metric) if self.before is not None else None,
                "after": self.after.as_dict(self.metric) if self.after is not None else None}


@dataclass
class TrafficSummary:
    records: int = 0
    unchanged: int = 0
    changed: int = 0
    refused_by_both: int = 0
    only_old: dict[str, int] = field(default_factory=dict)
    """Records old accepts and new refuses, by new's error code."""
    only_new: dict[str, int] = field(default_factory=dict)
    not_objects: int = 0
    cost_before: Decimal = Decimal(0)
    cost_after: Decimal = Decimal(0)

    def as_dict(self) -> dict[str, Any]:
        return {"records": self.records, "unchanged": self.unchanged, "changed": self.changed,
                "refused_by_both": self.refused_by_both, "only_old_accepts": dict(self.only_old),
                "only_new_accepts": dict(self.only_new), "not_requests": self.not_objects,
                "cost_before": decimal_text(self.cost_before.normalize()),
                "cost_after": decimal_text(self.cost_after.normalize())}


@dataclass
class Diff:
    """What changes for users between two versions of a policy (section 9.5)."""

    old_file: str
    new_file: str
    changes: list[Change]
    acceptance: list[Acceptance]
    renames: list[Rename]
    budgets: list[BudgetDiff]
    notes: list[str]
    """What changed that no decision shows: model fields, fallbacks, cascade conditions."""
    no_common_request: bool = False
    traffic: TrafficSummary | None = None

    @property
    def changed(self) -> bool:
        """Some request's decision changes: a pair, or a request only one version accepts."""
        return bool(self.changes or self.acceptance)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "old": self.old_file, "new": self.new_file, "changed": self.changed,
            "changes": [c.as_dict() for c in self.changes],
            "acceptance": [a.as_dict() for a in self.acceptance],
            "renames": [r.as_dict() for r in self.renames],
            "budgets": [b.as_dict() for b in self.budgets],
            "notes": list(self.notes),
        }
        if self.no_common_request:
            out["no_common_request"] = True
        if self.traffic is not None:
            out["traffic"] = self.traffic.as_dict()
        return out


def _field(decision: Decision, name: str) -> Any:
    value = getattr(decision, name)
    return tuple(value) if name in ("steps", "caps") else value


def _outcome(decision: Decision) -> tuple:
    return tuple(_field(decision, f) for f in FIELDS)


def _decision_dict(decision: Decision) -> dict[str, Any]:
    return decision.as_dict()


# ---- comparing --------------------------------------------------------------------------------


def diff(old: Policy, new: Policy, *, traffic: Iterable[str] | None = None,
         progress: Callable[[str], None] | None = None) -> Diff:
    """Every change in what `new` decides against `old` (section 9.5).

    Guarantees: each Change is a pair (old entry, new entry) whose decisions differ on a field
    of FIELDS, with a witness that the old interpreter decides by the old entry and the new one
    by the new entry (DiffError otherwise); every such pair with a request both accept is
    reported (the solver rules out the others). Each Acceptance has a witness one version's
    validation accepts and the other's refuses. A Rename fires on exactly the same requests
    with the same decision. `traffic` (JSON lines) adds counts and costs per pair; `progress`,
    when given, is told now and then how far the work has come (`rule 500 of 1,000`).
    """
    from ..analysis.joint import JointSpace

    space = JointSpace(old.ir, new.ir)
    report = Diff(old.ir.file, new.ir.file, [], [], [], [], [], no_common_request=space.empty)
    old_entries, new_entries = _entries(old.ir), _entries(new.ir)
    if not space.empty:
        report.changes = _changes(space, old, new, old_entries, new_entries, progress)
        report.renames = _renames(space, old.ir, new.ir, old_entries, new_entries)
    report.acceptance = _acceptance(space, old, new)
    report.budgets = _budgets(old, new)
    report.notes = _notes(old, new)
    if traffic is not None:
        report.traffic = _replay_traffic(report, old, new, traffic, progress)
    return report


def _entries(ir: PolicyIR) -> list[tuple[Entry, Decision]]:
    """The route entries in the joint space's numbering: the rules, then the default (or no
    rule), each with the decision it gives."""
    found = [(Entry(r.name, r.span), Decision(*ir.decision_of(r))) for r in ir.rules]
    if ir.default is not None:
        found.append((Entry("default", ir.default.span), Decision(*ir.decision_of(ir.default))))
    else:
        found.append((Entry(None, None), Decision(None, None, (), None, (), None)))
    return found


def _changes(space, old: Policy, new: Policy, old_entries, new_entries,
             progress: Callable[[str], None] | None = None) -> list[Change]:
    """Every pair along which some request moves, each with its witness. The solver is asked
    once per old entry and once more per pair found; hulls and the rules both versions share
    at the top leave most pairs out before it is asked."""
    alike = {k.name for k in space.key_list if k.read_alike}
    start = _same_top(old.ir, new.ir, alike, space)
    old_hulls, new_hulls = _entry_hulls(old.ir, alike), _entry_hulls(new.ir, alike)
    new_outcomes = [_outcome(after) for _, after in new_entries]
    pool = _Pool(new.ir, new_hulls, alike)
    changes = []
    for i, (old_entry, before) in enumerate(old_entries):
        if progress is not None and i % 50 == 0 and len(old_entries) > 100:
            progress(f"comparing: old rule {i + 1:,} of {len(old_entries):,}")
        if i < start or old_hulls[i] is None:
            continue
        mine, box = _outcome(before), old_hulls[i]
        candidates = [j for j in pool.meeting(box) if new_outcomes[j] != mine and not disjoint(box, new_hulls[j])]
        while candidates:
            j = space.meet(i, candidates)
            if j is None:
                break
            candidates.remove(j)
            witness = space.witness(i, j)
            if witness is None:
                continue  # only decimals no double can carry: no request (section 6's standard)
            new_entry, after = new_entries[j]
            _replay(old, new, witness, old_entry, new_entry)
            changes.append(Change(old_entry, new_entry, before, after, witness))
    return changes


class _Pool:
    """New's route entries by the members of the enum their boxes restrict most (a tenant, a
    task): a box that names some members meets only their entries and those that name none."""

    def __init__(self, ir: PolicyIR, boxes: list[Box | None], alike: set[str]) -> None:
        enums = [s.name for s in ir.inputs if isinstance(s.type, EnumType) and s.name in alike]
        counts = {name: sum(1 for b in boxes if b is not None and name in b) for name in enums}
        self.key = max(enums, key=lambda name: counts[name], default=None)
        self.size = len(boxes)
        self.by_member: dict[str, list[int]] = {}
        self.everywhere: list[int] = []
        if self.key is None:
            return
        for j, box in enumerate(boxes):
            if box is None:
                continue
            members = box.get(self.key)  # boxes leave out what the whole domain allows
            if members is None:
                self.everywhere.append(j)
            else:
                for m in members:
                    self.by_member.setdefault(m, []).append(j)

    def meeting(self, box: Box) -> list[int]:
        """The entries (ascending) whose boxes may meet `box`."""
        members = box.get(self.key) if self.key is not None else None
        if members is None:
            return list(range(self.size))
        found = set(self.everywhere)
        for m in members:
            found.update(self.by_member.get(m, ()))
        return sorted(found)


def _entry_hulls(ir: PolicyIR, alike: set[str]) -> list[Box | None]:
    """A box around where each route entry can fire (the fall-through last), on the keys
    both versions read alike: two entries whose boxes are apart share no request."""
    domain = domain_box(ir)
    boxes = [meet(domain, hull(r.condition)) for r in ir.rules]
    rest: Box | None = domain
    for r in ir.rules:
        rest = meet(rest, hull(r.condition, negated=True))
    boxes.append(rest)
    # a constraint that is the whole domain says nothing in the joint space, which lies inside it
    return [None if box is None else {k: v for k, v in box.items() if k in alike and v != domain.get(k)}
            for box in boxes]


def _same_top(old: PolicyIR, new: PolicyIR, alike: set[str], space) -> int:
    """How many route entries at the top the versions share: the same condition (reading only
    keys both read alike, and prices both agree on), the same decision. Requests that fire one
    of them fire it in both versions, with the same decision: none of them moves. The
    fall-through counts too where every rule above it is shared."""
    count = 0
    for a, b in zip(old.rules, new.rules):
        if old.decision_of(a)[1:] != new.decision_of(b)[1:] or not _same_condition(old, new, a, b, alike):
            return count
        count += 1
    if count == len(old.rules) == len(new.rules):
        fall_old = old.decision_of(old.default)[1:] if old.default is not None else None
        fall_new = new.decision_of(new.default)[1:] if new.default is not None else None
        if fall_old == fall_new:
            count += 1
    return count


def _same_condition(old: PolicyIR, new: PolicyIR, a: Rule, b: Rule, alike: set[str]) -> bool:
    if shape(a.condition) != shape(b.condition):
        return False
    for node in nodes(a.condition) if a.condition is not None else ():
        if isinstance(node, e.SignalRef) and node.name not in alike:
            return False
        if isinstance(node, e.CostOf):
            priced = [(m.input_per_mtok, m.output_per_mtok, m.max_output, m.context)
                      for m in (old.model(node.model), new.model(node.model))]
            if priced[0] != priced[1] or "input_tokens" not in alike or \
                    _has_tokens(old) != _has_tokens(new):
                return False
    return True


def _has_tokens(ir: PolicyIR) -> bool:
    return any(s.name == "input_tokens" for s in ir.inputs)


def shape(node: Any) -> Any:
    """An IR value without its source spans: two conditions written alike anywhere have one."""
    if isinstance(node, Node):
        return (type(node).__name__, tuple((name, shape(getattr(node, name)))
                                           for name in type(node).model_fields if name != "span"))
    if isinstance(node, tuple):
        return tuple(shape(item) for item in node)
    return node


def _replay(old: Policy, new: Policy, witness: dict[str, Any], old_entry: Entry, new_entry: Entry) -> None:
    try:
        before = old.interpreter.decide(witness)
        after = new.interpreter.decide(witness)
    except RequestError as exc:
        raise DiffError(f"witness {dumps(witness)} is refused ({exc.code} {exc.message})") from None
    if before.rule != old_entry.rule or after.rule != new_entry.rule or _outcome(before) == _outcome(after):
        raise DiffError(f"witness {dumps(witness)} decides {before!r} then {after!r}, not the change "
                        f"{old_entry.label} -> {new_entry.label}")


def _renames(space, old: PolicyIR, new: PolicyIR, old_entries, new_entries) -> list[Rename]:
    old_names = {r.name for r in old.rules}
    new_names = {r.name for r in new.rules}
    found = []
    taken: set[int] = set()
    for i, (old_entry, before) in enumerate(old_entries[: len(old.rules)]):
        if old_entry.rule in new_names:
            continue
        for j, (new_entry, after) in enumerate(new_entries[: len(new.rules)]):
            if j in taken or new_entry.rule in old_names or _outcome(after) != _outcome(before):
                continue
            if space.same_region(i, j):
                found.append(Rename(old_entry, new_entry))
                taken.add(j)
                break
    return found


# ---- requests only one version accepts ----------------------------------------------------------


def _acceptance(space, old: Policy, new: Policy) -> list[Acceptance]:
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


def _base(space, old: Policy, new: Policy) -> dict[str, Any] | None:
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
    from ..ir.values import rational

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
    pieces = []
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


def _plain(ir: PolicyIR) -> dict[str, Any]:
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


# ---- budgets ----------------------------------------------------------------------------------


def _budgets(old: Policy, new: Policy) -> list[BudgetDiff]:
    olds, news = _budget_keys(old), _budget_keys(new)
    if not olds and not news:
        return []
    old_facts = _facts(old)
    old_worst = {id(b): budget_worst_case(old_facts, b) for b in old.ir.budgets}
    if shape(_routing(old.ir)) == shape(_routing(new.ir)):  # the same policy: the same worst cases
        new_worst = {id(b): old_worst[id(twin)] for b, twin in zip(new.ir.budgets, old.ir.budgets)}
    else:
        new_facts = _facts(new)
        new_worst = {id(b): budget_worst_case(new_facts, b) for b in new.ir.budgets}
    found = []
    matched: set[int] = set()
    for key, budget in olds:
        twin = next((n for n, (k, _) in enumerate(news) if k == key and n not in matched), None)
        other = None
        if twin is not None:
            matched.add(twin)
            other = news[twin][1]
        found.append(BudgetDiff(budget.metric, _budget_text(new if other is not None else old, other or budget),
                                budget.bound, other.bound if other is not None else None,
                                old_worst[id(budget)], new_worst[id(other)] if other is not None else None))
    for n, (key, budget) in enumerate(news):
        if n not in matched:
            found.append(BudgetDiff(budget.metric, _budget_text(new, budget), None, budget.bound, None,
                                    new_worst[id(budget)]))
    return found


def _routing(ir: PolicyIR) -> tuple:
    """What a budget's worst case depends on."""
    return (ir.signals, ir.models, ir.cascades, ir.fallbacks, ir.budgets, ir.rules, ir.default)


def _budget_keys(policy: Policy) -> list[tuple[tuple[str, str], Budget]]:
    """Budgets match across versions by metric and condition; the bound may change."""
    return [((b.metric, _text(policy.sources, b.condition.span) if b.condition is not None else ""), b)
            for b in policy.ir.budgets]


def _budget_text(policy: Policy, budget: Budget) -> str:
    bound = _amount(Fraction(budget.bound), budget.metric)
    when = f" when {_text(policy.sources, budget.condition.span)}" if budget.condition is not None else ""
    return f"{budget.metric} <= {bound}{when}"


def _text(sources: dict[str, Source], span: Span) -> str:
    source = sources.get(span.file)
    return " ".join(source.text[span.start : span.end].split()) if source is not None else "?"


def _facts(policy: Policy):
    from ..analysis.facts import Facts

    return Facts(policy.ir, policy.sources, Interpreter, warnings=False)


def budget_worst_case(facts, budget: Budget) -> Worst:
    """The most any request the budget applies to can cost (or take), over every rule that
    serves it and every step its cascade can reach there, each step at its costliest
    fallback (section 7): exact, as E301 and E302 reckon it."""
    from ..analysis import costs
    from ..analysis.encode import as_bool

    when = (as_bool(facts.encoder.encode(budget.condition)),) if budget.condition is not None else ()
    declared = facts.encoder.has_input_tokens
    tokens = facts.encoder.var("input_tokens") if declared else None
    best: Worst = Worst(None, None)

    def upper_bound(rule: Rule) -> Fraction | None:
        """A bound from the hull alone (None: none known), to try the costliest rules first
        and skip those that cannot beat the worst found so far."""
        steps = facts.climb(rule).steps
        if budget.metric == "latency":
            return sum((costs.step_latency(facts.policy, s).value for s in steps), Fraction(0))
        ceiling = facts.tokens_bound(rule)
        if declared and ceiling is None:
            return None
        return costs.StepCosts(facts.policy, rule, steps).total(int(ceiling) if declared else None)

    bounds = {id(rule): upper_bound(rule) for rule in facts.routed}
    order = sorted(facts.routed, key=lambda r: (bounds[id(r)] is not None, -(bounds[id(r)] or 0)))
    for rule in order:
        bound = bounds[id(rule)]
        if best.value is not None and bound is not None and bound <= best.value:
            continue
        climb = facts.climb(rule)
        for k in range(len(climb.steps)):
            if not climb.reachable[k]:
                break
            known, top = facts.tokens_upper(rule, budget.condition) if k == 0 and declared else (False, None)
            if known and top == -1:
                break  # exact boxes: the rule serves no request the budget applies to
            region = (*climb.regions[k], *when) if not known else ()
            if not known and not facts.solver.satisfiable(*region):
                continue
            steps = climb.steps[: k + 1]
            if budget.metric == "latency":
                value: Fraction | None = sum((costs.step_latency(facts.policy, s).value for s in steps), Fraction(0))
            elif not declared:
                value = costs.StepCosts(facts.policy, rule, steps).total(None)
            else:
                if not known:
                    top = facts.solver.maximum(tokens, *region)
                if top is None:
                    return Worst(None, rule.name, bounded=False)
                value = costs.StepCosts(facts.policy, rule, steps).total(int(top))
            if best.rule is None or (value is not None and best.value is not None and value > best.value):
                best = Worst(value, rule.name)
    return best


def _amount(value: Fraction, metric: str) -> str:
    from ..analysis import costs

    return costs.money(value) if metric == "cost" else costs.seconds(value)


def _amount_plain(value: Fraction, metric: str) -> str:
    """A worst case as an exact decimal string (prices and latencies are decimals)."""
    exact = decimal_of(value)
    assert exact is not None, f"a worst case that is no decimal: {value}"
    return decimal_text(exact.normalize())


# ---- what no decision shows -------------------------------------------------------------------


def _notes(old: Policy, new: Policy) -> list[str]:
    notes = []
    olds, news = {m.name: m for m in old.ir.models}, {m.name: m for m in new.ir.models}
    for name in olds.keys() & news.keys():
        a, b = olds[name], news[name]
        changed = [f for f in ("id", "tier", "input_per_mtok", "output_per_mtok", "context", "max_output",
                               "latency", "regions", "tags") if getattr(a, f) != getattr(b, f)]
        for f in changed:
            notes.append(f"model {name}: {f} {_field_text(getattr(a, f), f)} -> {_field_text(getattr(b, f), f)}")
    links = {side: {(fb.source, error, fb.target) for fb in p.ir.fallbacks for error in fb.errors}
             for side, p in (("old", old), ("new", new))}
    for source, error, target in sorted(links["old"] - links["new"]):
        notes.append(f"fallback {source} -> {target} on {error} removed")
    for source, error, target in sorted(links["new"] - links["old"]):
        notes.append(f"fallback {source} -> {target} on {error} added")
    cascades_old = {c.name: c for c in old.ir.cascades}
    for cascade in new.ir.cascades:
        before = cascades_old.get(cascade.name)
        if before is None:
            continue
        for edge in cascade.edges:
            twin = next((x for x in before.edges if (x.source, x.target) == (edge.source, edge.target)), None)
            if twin is None:
                continue
            was, now = _text(old.sources, twin.condition.span), _text(new.sources, edge.condition.span)
            if was != now:
                notes.append(f"cascade {cascade.name}: {edge.source} -> {edge.target} when {was}  now  when {now}")
        if before.steps != cascade.steps:
            notes.append(f"cascade {cascade.name}: steps {' -> '.join(before.steps)}  now  {' -> '.join(cascade.steps)}")
    return sorted(notes)


def _field_text(value: Any, name: str) -> str:
    if name in ("input_per_mtok", "output_per_mtok"):
        return f"${value}"
    if name == "latency":
        return f"{value}s"
    if name == "regions" and value is None:
        return "anywhere"
    if isinstance(value, frozenset):
        return "{" + ", ".join(sorted(value)) + "}"
    if isinstance(value, str):
        return json.dumps(value)
    return str(value)


# ---- traffic ----------------------------------------------------------------------------------


def _replay_traffic(report: Diff, old: Policy, new: Policy, lines: Iterable[str],
                    progress: Callable[[str], None] | None) -> TrafficSummary:
    summary = TrafficSummary()
    pairs = {(c.old.rule, c.new.rule): c for c in report.changes}
    for change in report.changes:
        change.traffic = PairTraffic()
    for number, line in enumerate(lines, start=1):
        if progress is not None and number % 1000 == 0:
            progress(f"replaying traffic: {number:,} records")
        if not line.strip():
            continue
        summary.records += 1
        try:
            record = json.loads(line)
        except ValueError:
            summary.not_objects += 1
            continue
        if not isinstance(record, dict):
            summary.not_objects += 1
            continue
        signals = {k: v for k, v in record.items() if not k.startswith("@")}
        before = _decide(old, signals)
        after = _decide(new, signals)
        if isinstance(before, RequestError) and isinstance(after, RequestError):
            summary.refused_by_both += 1
            continue
        if isinstance(after, RequestError):
            summary.only_old[after.code] = summary.only_old.get(after.code, 0) + 1
            summary.changed += 1
            continue
        if isinstance(before, RequestError):
            summary.only_new[before.code] = summary.only_new.get(before.code, 0) + 1
            summary.changed += 1
            continue
        cost_before, cost_after = _request_cost(old, before, record), _request_cost(new, after, record)
        summary.cost_before = EXACT.add(summary.cost_before, cost_before)
        summary.cost_after = EXACT.add(summary.cost_after, cost_after)
        if _outcome(before) == _outcome(after):
            summary.unchanged += 1
            continue
        summary.changed += 1
        change = pairs.get((before.rule, after.rule))
        if change is None:  # the analysis should have found it: report it, it is real
            change = Change(_entry(old.ir, before.rule), _entry(new.ir, after.rule), before, after, signals,
                            PairTraffic(), from_traffic=True)
            pairs[(before.rule, after.rule)] = change
            report.changes.append(change)
        assert change.traffic is not None
        change.traffic.requests += 1
        change.traffic.cost_before = EXACT.add(change.traffic.cost_before, cost_before)
        change.traffic.cost_after = EXACT.add(change.traffic.cost_after, cost_after)
    return summary


def _entry(ir: PolicyIR, rule: str | None) -> Entry:
    found = next((r for r in ir.route if r.name == rule), None)
    return Entry(rule, found.span if found is not None else None)


def _decide(policy: Policy, signals: dict[str, Any]) -> Decision | RequestError:
    try:
        return policy.decide(signals)
    except RequestError as exc:
        return exc


def request_cost(policy: Policy, decision: Decision, record: dict[str, Any]) -> Decimal:
    """What one logged request costs under a decision, as `simulate` prices it (section 9.3):
    the climb its `@outcomes` call for, every provider answering, each call at
    `input_tokens x in + out x out_price` (per million) with `out = min(@output_tokens, cap)`,
    or the cap where `@output_tokens` is not given."""
    return _request_cost(policy, decision, record)


def _request_cost(policy: Policy, decision: Decision, record: dict[str, Any]) -> Decimal:
    if decision.model is None:
        return Decimal(0)
    outcomes = record.get("@outcomes")
    observed = outcomes if isinstance(outcomes, list) else []
    produced = record.get("@output_tokens")
    produced = produced if produced.__class__ is int and produced >= 0 else None
    tokens = record.get("input_tokens") if any(s.name == "input_tokens" for s in policy.ir.inputs) else \
        record.get("@input_tokens")
    tokens = tokens if tokens.__class__ is int else None
    caps = dict(zip(decision.steps, decision.caps))

    def observe(step: int):
        return observed[step] if step < len(observed) and isinstance(observed[step], dict) else None

    def escalate(d, step, outcomes):
        try:
            return policy.escalate(d, step, outcomes)
        except RequestError:
            return None  # a bad outcome object stops the climb, as it stops eval's path

    served = walk(decision, fails=lambda model: None, observe=observe, fallback=policy.fallback,
                  escalate=escalate, cap=lambda model: caps[model])
    total = Decimal(0)
    for call in served.calls:
        model = policy.ir.model(call.model)
        out = call.cap if produced is None else min(produced, call.cap)
        total = EXACT.add(total, call_cost(model, model.context if tokens is None else tokens, out))
    return total


# ---- rendering --------------------------------------------------------------------------------


def _money(value: Decimal) -> str:
    from .explain import money

    return money(value)


def _decision_words(decision: Decision, caps: bool = True) -> str:
    if decision.rule is None:
        return "no rule (no model)"
    if decision.reject is not None:
        return f"reject {json.dumps(decision.reject)}"
    steps = " -> ".join(decision.steps)
    if not caps:
        return steps
    return f"{steps} (max_output {', '.join(f'{c:,}' for c in decision.caps)})"


def _pair_words(change: Change) -> str:
    caps = "caps" in change.fields or "max_output" in change.fields
    return f"{_decision_words(change.before, caps)}  =>  {_decision_words(change.after, caps)}"


def render_text(report: Diff) -> str:
    """The diff for a terminal: the changes, each with its witness, then what only one version
    accepts, renames, budgets, other changes; the last line says whether decisions change."""
    lines = [f"old {report.old_file}, new {report.new_file}"]
    if report.no_common_request:
        lines += ["", "no request is accepted by both versions: a signal both require has no value both accept"]
    if report.changes:
        lines += ["", f"decisions that change ({_count(len(report.changes), 'pair')} of rules)"]
        width = max(len(f"{c.old.label} -> {c.new.label}") for c in report.changes)
        for change in report.changes:
            lines.append(f"  {f'{change.old.label} -> {change.new.label}'.ljust(width)}   {_pair_words(change)}")
            lines.append(f"      e.g. {dumps(change.witness)}")
            if change.traffic is not None:
                t = change.traffic
                lines.append(f"      traffic: {_count(t.requests, 'request')}, cost {_money(t.cost_before)} -> "
                             f"{_money(t.cost_after)}")
            if change.from_traffic:
                lines.append("      found in the traffic only: please report this as a bug in diff")
    if report.acceptance:
        lines += ["", "requests only one version accepts"]
        for fact in report.acceptance:
            lines.append(f"  signal {fact.signal}, {fact.change}: {fact.old_type or '(not declared)'} -> "
                         f"{fact.new_type or '(not declared)'}")
            lines.append(f"      only {fact.only.upper()} accepts " + "; ".join(fact.which))
            other = "NEW" if fact.only == "old" else "OLD"
            lines.append(f"      e.g. {dumps(fact.witness)}: {other} refuses it, {fact.error.code} {fact.error.message}")
    if report.renames:
        lines += ["", "renamed (the same requests, the same decisions: not a change)"]
        lines += [f"  {r.old.label} -> {r.new.label}" for r in report.renames]
    if report.budgets:
        lines += ["", "budgets, worst case before -> after"]
        for b in report.budgets:
            before = b.before.text(b.metric) if b.before is not None else "(no such budget)"
            after = b.after.text(b.metric) if b.after is not None else "(no such budget)"
            lines.append(f"  {b.text}{_bound_words(b)}: {before} -> {after}")
    if report.notes:
        lines += ["", "also changed, though no decision shows it"]
        lines += [f"  {note}" for note in report.notes]
    if report.traffic is not None:
        lines += ["", _traffic_words(report.traffic)]
    lines += ["", _verdict(report)]
    return "\n".join(lines)


def _count(n: int, word: str) -> str:
    return f"{n:,} {word}{'s' * (n != 1)}"


def _bound_words(b: BudgetDiff) -> str:
    if b.bound_before is not None and b.bound_after is not None and b.bound_before != b.bound_after:
        return f" (was {_amount(Fraction(b.bound_before), b.metric)})"
    if b.bound_before is None:
        return " (new budget)"
    if b.bound_after is None:
        return " (budget removed)"
    return ""


def _traffic_words(t: TrafficSummary) -> str:
    refused = ""
    if t.only_old or t.only_new:
        refused = f" ({sum(t.only_old.values()):,} now refused, {sum(t.only_new.values()):,} now accepted)"
    return (f"traffic: {_count(t.records, 'record')}, {t.changed:,} decided differently{refused}, {t.unchanged:,} "
            f"the same, {t.refused_by_both:,} refused by both; cost {_money(t.cost_before)} -> {_money(t.cost_after)}")


def _verdict(report: Diff) -> str:
    if not report.changed:
        return "no request's decision changes"
    parts = []
    if report.changes:
        n = len(report.changes)
        parts.append(f"{_count(n, 'pair')} of rules {'decide' if n != 1 else 'decides'} differently")
    if report.acceptance:
        signals = len({a.signal for a in report.acceptance})
        parts.append(f"{_count(signals, 'signal')} {'change' if signals != 1 else 'changes'} which requests are accepted")
    return "decisions change: " + "; ".join(parts)


def render_markdown(report: Diff) -> str:
    """The diff as a pull-request comment (GitHub-flavoured Markdown)."""
    lines = [f"### policyc diff: {_code(report.old_file)} → {_code(report.new_file)}", ""]
    lines.append(f"**{_verdict(report)[0].upper()}{_verdict(report)[1:]}.**")
    if report.no_common_request:
        lines += ["", "No request is accepted by both versions."]
    if report.changes:
        lines += ["", "#### Decisions that change", "",
                  "| old | new | before | after | changes | example request |" + (" requests | cost before → after |"
                                                                                 if report.traffic else ""),
                  "|---|---|---|---|---|---|" + ("---:|---|" if report.traffic else "")]
        for c in report.changes:
            caps = "caps" in c.fields or "max_output" in c.fields
            row = (f"| {_md(c.old.label)} | {_md(c.new.label)} | {_md(_decision_words(c.before, caps))} | "
                   f"{_md(_decision_words(c.after, caps))} | {', '.join(c.fields)} | {_code(dumps(c.witness))} |")
            if report.traffic is not None and c.traffic is not None:
                row += f" {c.traffic.requests:,} | {_money(c.traffic.cost_before)} → {_money(c.traffic.cost_after)} |"
            lines.append(row)
    if report.acceptance:
        lines += ["", "#### Requests only one version accepts", "",
                  "| signal | change | accepted only by | requests | example | the other says |", "|---|---|---|---|---|---|"]
        for a in report.acceptance:
            lines.append(f"| {_code(a.signal)} | {a.change} | {a.only} | {_md('; '.join(a.which))} | "
                         f"{_code(dumps(a.witness))} | {a.error.code}: {_md(a.error.message)} |")
    if report.renames:
        lines += ["", "#### Renamed (same requests, same decisions)", ""]
        lines += [f"- {_code(str(r.old.rule))} → {_code(str(r.new.rule))}" for r in report.renames]
    if report.budgets:
        lines += ["", "#### Budgets, worst case", "", "| budget | before | after |", "|---|---|---|"]
        for b in report.budgets:
            before = b.before.text(b.metric) if b.before is not None else "(none)"
            after = b.after.text(b.metric) if b.after is not None else "(none)"
            lines.append(f"| {_code(b.text)}{_md(_bound_words(b))} | {_md(before)} | {_md(after)} |")
    if report.notes:
        lines += ["", "#### Also changed (no decision shows it)", ""]
        lines += [f"- {_md(n)}" for n in report.notes]
    if report.traffic is not None:
        lines += ["", _md(_traffic_words(report.traffic))]
    return "\n".join(lines) + "\n"


def _md(text: str) -> str:
    """Text that Markdown shows as it is, inside a table cell too: what Markdown or HTML could
    read as markup is escaped (a reason or a file name never becomes a link, a tag or a
    column); `_` only where it could start or end emphasis, so that `tool_heavy` stays as is."""
    text = " ".join(text.split())
    out = []
    for k, ch in enumerate(text):
        inside_word = 0 < k < len(text) - 1 and text[k - 1].isalnum() and text[k + 1].isalnum()
        out.append("\\" + ch if ch in _MARKUP or (ch == "_" and not inside_word) else ch)
    return "".join(out)


_MARKUP = frozenset("\\`*[]<|&")


def _code(text: str) -> str:
    """A code span that holds any text: a fence longer than any run of backticks inside it,
    `|` escaped for tables (GitHub reads `\\|` in a code span in a table as `|`)."""
    text = " ".join(text.split()).replace("|", "\\|")
    longest = max((len(run) for run in re.findall("`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"
