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

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, cast

from ..backends.python.support import Decision, RequestError
from ..ir import expr as e
from ..ir.boxes import Box, disjoint, domain_box, hull, meet
from ..ir.node import walk as nodes
from ..ir.policy import CheckedPolicy, Rule
from ..ir.types import EnumType
from ..ir.values import EXACT
from ..jsontext import RecordError, decimal_text, dumps, json_kind, read_record
from ..policy import Policy
from ..serving import walk
from .diff_budgets import BudgetDiff, budgets, notes, shape
from .diff_parts import DiffError as DiffError, Entry, PairTraffic
from .diff_climbs import ClimbChange, climb_change, climbs, path
from .diff_findings import Findings, findings
from .diff_outcomes import outcome_acceptance
from .diff_signals import Acceptance, acceptance
from .explain import call_cost

if TYPE_CHECKING:
    from collections.abc import Mapping

    from ..analysis.joint import JointSpace

Entries = list[tuple["Entry", Decision]]
"""A version's route entries in the joint space's numbering, each with its decision."""

FIELDS = ("model", "steps", "max_output", "caps", "reject")
"""What two decisions are compared on (section 9.5); the rule's name is not among them."""


# ---- the report -------------------------------------------------------------------------------


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
class Rename:
    old: Entry
    new: Entry

    def as_dict(self) -> dict[str, Any]:
        return {"old": self.old.as_dict(), "new": self.new.as_dict()}


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
    first_not_object: tuple[int, str] | None = None
    """The line of the first record that is no request, and why (`jsontext.read_record`)."""
    cost_before: Decimal = Decimal(0)
    cost_after: Decimal = Decimal(0)
    climbed: int = 0
    """Records both versions decide alike that climb a cascade differently (not `unchanged`)."""

    def as_dict(self) -> dict[str, Any]:
        return {"records": self.records, "unchanged": self.unchanged, "changed": self.changed,
                "refused_by_both": self.refused_by_both, "only_old_accepts": dict(self.only_old),
                "only_new_accepts": dict(self.only_new), "not_requests": self.not_objects,
                "first_not_request": None if self.first_not_object is None else
                {"line": self.first_not_object[0], "message": self.first_not_object[1]},
                "cost_before": decimal_text(self.cost_before.normalize()),
                "cost_after": decimal_text(self.cost_after.normalize()),
                **({"climbed_differently": self.climbed} if self.climbed else {})}


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
    climbs: list[ClimbChange] = field(default_factory=list)
    """Requests decided with the same steps that climb a cascade edge in one version only."""
    findings: Findings | None = None
    """The errors and warnings NEW has that OLD has not (None: not looked for)."""
    outcomes: list[Acceptance] = field(default_factory=list)
    """Outcome objects only one version accepts, with a request that climbs to them."""

    @property
    def changed(self) -> bool:
        """Some request's decision or climb changes: a pair, a request only one version
        accepts, or a climb."""
        return bool(self.changes or self.acceptance or self.climbs or self.outcomes)

    @property
    def failed(self) -> bool:
        """What `policyc diff` exits 1 for: some request decides or climbs differently, or NEW
        has an error (section 9.5, revision 3)."""
        return self.changed or (self.findings is not None and self.findings.errors > 0)

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
        if self.climbs:  # present only where there is something to say: the output of a diff
            out["climbs"] = [c.as_dict() for c in self.climbs]  # without them stays as it was
        if self.outcomes:
            out["outcome_acceptance"] = [a.as_dict() for a in self.outcomes]
        if self.findings is not None and (self.findings.added or self.findings.errors):
            out["findings"] = self.findings.as_dict()
        if self.traffic is not None:
            out["traffic"] = self.traffic.as_dict()
        return out


def _field(decision: Decision, name: str) -> Any:
    value = getattr(decision, name)
    return tuple(value) if name in ("steps", "caps") else value


def _outcome(decision: Decision) -> tuple[Any, ...]:
    return tuple(_field(decision, f) for f in FIELDS)


def _decision_dict(decision: Decision) -> dict[str, Any]:
    return decision.as_dict()


# ---- comparing --------------------------------------------------------------------------------


def diff(old: Policy, new: Policy, *, traffic: Iterable[str | bytes] | None = None,
         progress: Callable[[str], None] | None = None, lint: bool = True) -> Diff:
    """Every change in what `new` decides against `old` (section 9.5).

    Guarantees: each Change is a pair (old entry, new entry) whose decisions differ on a field
    of FIELDS, with a witness that the old interpreter decides by the old entry and the new one
    by the new entry (DiffError otherwise); every such pair with a request both accept is
    reported (the solver rules out the others). Each Acceptance has a witness one version's
    validation accepts and the other's refuses. A Rename fires on exactly the same requests
    with the same decision. Each ClimbChange is a pair with the same steps and a cascade edge
    that some request, with its outcomes, climbs in one version only (climbs below it in both),
    with a witness both interpreters replay; every such pair, edge and direction is reported.
    With `lint`, `findings` holds every error and warning of NEW that OLD has not. `traffic`
    (JSON lines) adds counts and costs per pair; `progress`, when given, is told now and then
    how far the work has come (`rule 500 of 1,000`).
    """
    from ..analysis.joint import JointSpace

    space = JointSpace(old.ir, new.ir)
    report = Diff(old.ir.file, new.ir.file, [], [], [], [], [], no_common_request=space.empty)
    old_entries, new_entries = _entries(old.ir), _entries(new.ir)
    if not space.empty:
        report.changes = _changes(space, old, new, old_entries, new_entries, progress)
        report.renames = _renames(space, old.ir, new.ir, old_entries, new_entries)
        alike = {k.name for k in space.key_list if k.read_alike}
        old_hulls, new_hulls = _entry_hulls(old.ir, alike), _entry_hulls(new.ir, alike)
        report.climbs = climbs(old, new, old_entries, new_entries, progress=progress,
                               apart=lambda i, j: disjoint(old_hulls[i], new_hulls[j]))
    report.acceptance = acceptance(space, old, new)
    report.outcomes = outcome_acceptance(space, old, new)
    if lint:
        if progress is not None:
            progress("checking both versions as lint does")
        report.findings = findings(old, new)
    report.budgets = budgets(old, new)
    report.notes = notes(old, new)
    if traffic is not None:
        report.traffic = _replay_traffic(report, old, new, traffic, progress)
    return report


def _entries(ir: CheckedPolicy) -> list[tuple[Entry, Decision]]:
    """The route entries in the joint space's numbering: the rules, then the default (or no
    rule), each with the decision it gives."""
    found = [(Entry(r.name, r.span), Decision(*ir.decision_of(r))) for r in ir.rules]
    if ir.default is not None:
        found.append((Entry("default", ir.default.span), Decision(*ir.decision_of(ir.default))))
    else:
        found.append((Entry(None, None), Decision(None, None, (), None, (), None)))
    return found


def _changes(space: JointSpace, old: Policy, new: Policy, old_entries: Entries, new_entries: Entries,
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
        mine, box = _outcome(before), cast(Box, old_hulls[i])
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

    def __init__(self, ir: CheckedPolicy, boxes: list[Box | None], alike: set[str]) -> None:
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
            members = cast("frozenset[str] | None", box.get(self.key))  # an enum's: a set of members;
            if members is None:  # boxes leave out what the whole domain allows
                self.everywhere.append(j)
            else:
                for m in members:
                    self.by_member.setdefault(m, []).append(j)

    def meeting(self, box: Box) -> list[int]:
        """The entries (ascending) whose boxes may meet `box`."""
        members = cast("frozenset[str] | None", box.get(self.key) if self.key is not None else None)
        if members is None:
            return list(range(self.size))
        found = set(self.everywhere)
        for m in members:
            found.update(self.by_member.get(m, ()))
        return sorted(found)


def _entry_hulls(ir: CheckedPolicy, alike: set[str]) -> list[Box | None]:
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


def _same_top(old: CheckedPolicy, new: CheckedPolicy, alike: set[str], space: JointSpace) -> int:
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


def _same_condition(old: CheckedPolicy, new: CheckedPolicy, a: Rule, b: Rule, alike: set[str]) -> bool:
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


def _has_tokens(ir: CheckedPolicy) -> bool:
    return any(s.name == "input_tokens" for s in ir.inputs)


def _replay(old: Policy, new: Policy, witness: dict[str, Any], old_entry: Entry, new_entry: Entry) -> None:
    try:
        before = old.interpreter.decide(witness)
        after = new.interpreter.decide(witness)
    except RequestError as exc:
        raise DiffError(f"witness {dumps(witness)} is refused ({exc.code} {exc.message})") from None
    if before.rule != old_entry.rule or after.rule != new_entry.rule or _outcome(before) == _outcome(after):
        raise DiffError(f"witness {dumps(witness)} decides {before!r} then {after!r}, not the change "
                        f"{old_entry.label} -> {new_entry.label}")


def _renames(space: JointSpace, old: CheckedPolicy, new: CheckedPolicy, old_entries: Entries,
             new_entries: Entries) -> list[Rename]:
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


# ---- traffic ----------------------------------------------------------------------------------


def _replay_traffic(report: Diff, old: Policy, new: Policy, lines: Iterable[str | bytes],
                    progress: Callable[[str], None] | None) -> TrafficSummary:
    summary = TrafficSummary()
    pairs = {(c.old.rule, c.new.rule): c for c in report.changes}
    for change in report.changes:
        change.traffic = PairTraffic()
    climbed = {c.key: c for c in report.climbs}
    for climb in report.climbs:
        climb.traffic = PairTraffic()
    for number, line in enumerate(lines, start=1):
        if progress is not None and number % 1000 == 0:
            progress(f"replaying traffic: {number:,} records")
        if not line.strip():
            continue
        summary.records += 1
        try:  # read as `eval --requests` and `simulate` read a record: a bad one is counted, not fatal
            record = read_record(line)
        except RecordError as exc:
            summary.not_objects += 1
            summary.first_not_object = summary.first_not_object or (number, f"line {number} {exc}")
            continue
        if not isinstance(record, dict):
            summary.not_objects += 1
            summary.first_not_object = summary.first_not_object or (
                number, f"line {number} is not a JSON object but {json_kind(record)}")
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
            moved = _climbed(old, new, before, after, record, climbed, report)
            if moved is None:
                summary.unchanged += 1
                continue
            summary.climbed += 1
            assert moved.traffic is not None
            moved.traffic.requests += 1
            moved.traffic.cost_before = EXACT.add(moved.traffic.cost_before, cost_before)
            moved.traffic.cost_after = EXACT.add(moved.traffic.cost_after, cost_after)
            continue
        summary.changed += 1
        pair = pairs.get((before.rule, after.rule))
        if pair is None:  # the analysis should have found it: report it, it is real
            pair = Change(_entry(old.ir, before.rule), _entry(new.ir, after.rule), before, after, signals,
                          PairTraffic(), from_traffic=True)
            pairs[(before.rule, after.rule)] = pair
            report.changes.append(pair)
        assert pair.traffic is not None
        pair.traffic.requests += 1
        pair.traffic.cost_before = EXACT.add(pair.traffic.cost_before, cost_before)
        pair.traffic.cost_after = EXACT.add(pair.traffic.cost_after, cost_after)
    return summary


def _climbed(old: Policy, new: Policy, before: Decision, after: Decision, record: dict[str, Any],
             climbed: dict[tuple[str | None, str | None, int, str], ClimbChange], report: Diff) -> ClimbChange | None:
    """The climb change a logged request, decided alike, moves along (its `@outcomes` walked
    by both compiled modules), or None when both call the same models. A record whose outcome
    objects a version refuses is left out: it climbs nowhere. One the analysis missed is
    reported with the record as its witness, flagged."""
    outcomes = record.get("@outcomes")
    if len(before.steps) < 2 or not isinstance(outcomes, list) or not outcomes:
        return None
    try:
        paths = path(old, before, outcomes, compiled=True), path(new, after, outcomes, compiled=True)
    except RequestError:
        return None
    if paths[0] == paths[1]:
        return None
    step = min(len(p) for p in paths) - 1
    side = "old" if len(paths[0]) > len(paths[1]) else "new"
    key = (before.rule, after.rule, step, side)
    found = climbed.get(key)
    if found is None:  # the analysis should have found it: report it, it is real
        signals = {k: v for k, v in record.items() if not k.startswith("@")}
        found = climb_change(old, new, _entry(old.ir, before.rule), _entry(new.ir, after.rule), before.steps, step,
                             side, {**signals, "@outcomes": outcomes[: step + 1]}, paths, from_traffic=True)
        found.traffic = PairTraffic()
        climbed[key] = found
        report.climbs.append(found)
    return found


def _entry(ir: CheckedPolicy, rule: str | None) -> Entry:
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
    declared = next((s for s in policy.ir.inputs if s.name == "input_tokens"), None)
    # as simulate counts them (9.3): the signal, or its default where the request leaves it out;
    # without the signal, "@input_tokens", or none
    tokens = record.get("input_tokens", declared.default) if declared is not None else record.get("@input_tokens", 0)
    tokens = tokens if tokens.__class__ is int and tokens >= 0 else None
    caps = dict(zip(decision.steps, decision.caps))

    def observe(step: int) -> Any:
        return observed[step] if step < len(observed) and isinstance(observed[step], dict) else None

    def escalate(d: Decision, step: int, outcomes: Mapping[str, Any]) -> str | None:
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
