"""`diff` through the climb (section 9.5, revision 3): the requests that two versions of a
policy send up a cascade differently, exactly.

Two versions decide a request with the same steps, yet call different models for it when,
for some outcomes, one climbs an edge and the other does not: a cascade condition changed, a
threshold it reads, an outcome's domain or default, an edge moved (an edge added or removed
changes the steps, which the decision diff reports). Under 9.3's walk (every provider
answering) a climb that both versions take alike up to step k and splits there is one of:
old climbs edge k and new does not, or the reverse. For every pair (old route entry i, new
entry j) whose steps are equal, every edge k and both directions, the solver is asked whether
some request, with outcome objects 0..k, fires i in old and j in new, climbs edges 0..k-1 in
both and edge k in one version only. Each answer is a witness (the request and its
`"@outcomes"`) that both interpreters replay before it is reported; a question the solver rules
out has no such request. Nothing missed, nothing claimed falsely: section 6's standard.

Outcomes are fresh at every step (section 7), so each step has its own copy of every outcome
(`@2:confidence`), declared to the joint space as a request key of its own: the values both
versions accept, each version's default where an object leaves the outcome out (the two
defaults apart, where they differ). An outcome object is validated strictly (section 5): one
both versions accept never carries an outcome only one declares, which that version then
reads at its default (and, without a default, no object is accepted by both: the climbs
cannot be compared, and nothing is claimed).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..analysis.encode import Encoder, Term, as_bool
from ..analysis.joint import JointSpace, joint_keys
from ..analysis.solver import NoDouble
from ..backends.python.support import Decision, RequestError
from ..ir import expr as e
from ..ir.node import walk as nodes
from ..ir.policy import CascadeEdge, CascadeTarget, CheckedPolicy, Rule, Signal
from ..ir.types import EnumType
from ..jsontext import dumps
from ..backends.python import EngineName
from ..policy import Policy
from ..serving import walk
from .diff_budgets import condition_text, shape
from .diff_parts import DiffError, Entry, PairTraffic



def copy_name(step: int, outcome: str) -> str:
    """The request key that stands for `outcome` in the object observed after step `step`."""
    return f"@{step}:{outcome}"


@dataclass
class ClimbChange:
    """Requests that both versions decide with the same steps, and that climb edge `step`
    (`source -> target`) in one version only (`climbs`: "old" or "new"), having climbed every
    edge below it in both; the witness holds the request and its `"@outcomes"`, and both
    interpreters replay it as `before` and `after` (the models each calls)."""

    old: Entry
    new: Entry
    cascade: str
    step: int
    source: str
    target: str
    old_when: str
    new_when: str
    climbs: str
    witness: dict[str, Any]
    before: tuple[str, ...]
    after: tuple[str, ...]
    traffic: PairTraffic | None = None
    from_traffic: bool = False
    """Found only by replaying traffic: the analysis missed it (a bug worth reporting)."""

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"old": self.old.as_dict(), "new": self.new.as_dict(),
               "edge": {"cascade": self.cascade, "step": self.step, "from": self.source, "to": self.target,
                        "old_when": self.old_when, "new_when": self.new_when},
               "climbs": self.climbs, "witness": self.witness, "path_before": list(self.before),
               "path_after": list(self.after)}
        if self.traffic is not None:
            out["traffic"] = self.traffic.as_dict()
        if self.from_traffic:
            out["from_traffic"] = True
        return out

    @property
    def key(self) -> tuple[str | None, str | None, int, str]:
        """(old rule, new rule, edge, the version that alone climbs it)."""
        return (self.old.rule, self.new.rule, self.step, self.climbs)


def climb_change(old: Policy, new: Policy, old_entry: Entry, new_entry: Entry, steps: Sequence[str], step: int,
                 side: str, witness: dict[str, Any], paths: tuple[tuple[str, ...], tuple[str, ...]],
                 from_traffic: bool = False) -> ClimbChange:
    """The report of edge `step` of a pair of entries with these steps, climbed by `side` alone."""
    old_edge, new_edge = _edges(old.ir, old_entry.rule)[step], _edges(new.ir, new_entry.rule)[step]
    return ClimbChange(old_entry, new_entry, _cascade_of(new.ir, new_entry.rule), step, steps[step], steps[step + 1],
                       condition_text(old, old_edge.condition), condition_text(new, new_edge.condition), side,
                       witness, *paths, from_traffic=from_traffic)


def climbs(old: Policy, new: Policy, old_entries: Sequence[tuple[Entry, Decision]],
           new_entries: Sequence[tuple[Entry, Decision]], *, apart: Callable[[int, int], bool] = lambda i, j: False,
           progress: Callable[[str], None] | None = None) -> list[ClimbChange]:
    """Every (old entry, new entry, cascade edge, direction) along which some request and its
    outcomes climb differently, each with a witness both interpreters replay (a `DiffError`
    otherwise). Entries are numbered as the decision diff numbers them (the rules, then the
    fall-through). Pairs whose steps differ are the decision diff's; edges whose conditions
    read alike in both versions are not asked about (no climb can split there). `apart(i, j)`
    may say that two entries share no request (boxes around where they fire), which saves
    asking the solver; it must never say so of two that do."""
    pairs = _candidates(old, new, old_entries, new_entries, apart)
    if not pairs:
        return []
    shared = [s.name for s in old.ir.outcomes if any(t.name == s.name for t in new.ir.outcomes)]
    for one_sided in (*old.ir.outcomes, *new.ir.outcomes):
        if one_sided.name not in shared and not one_sided.has_default:
            return []  # no outcome object is accepted by both: no climb both can take
    depth = max(k for _, _, edges in pairs for k in edges) + 1
    space = JointSpace(_with_copies(old.ir, shared, depth), _with_copies(new.ir, shared, depth))
    if space.empty:
        return []
    views = {side: _EdgeView(space, space.policies[side], side, set(shared)) for side in ("old", "new")}
    found: list[ClimbChange] = []
    for i, j, asked in _meeting(space, pairs, progress):
        fires = (space.fires("old", i), space.fires("new", j))
        old_entry, before = old_entries[i]
        new_entry, _ = new_entries[j]
        old_edges, new_edges = _edges(old.ir, old_entry.rule), _edges(new.ir, new_entry.rule)
        below: list[Any] = []
        for k in range(max(asked) + 1):  # the edges above the last one asked about do not matter
            a = as_bool(views["old"].encode(old_edges[k].condition, k))
            b = as_bool(views["new"].encode(new_edges[k].condition, k))
            if k in asked:
                for side, holds, fails in (("old", a, b), ("new", b, a)):
                    witness = _witness(space, (*fires, *below, holds, _not(fails)), k)
                    if witness is None:
                        continue
                    paths = _replay(old, new, witness, old_entry, new_entry, k, side)
                    found.append(climb_change(old, new, old_entry, new_entry, before.steps, k, side, witness, paths))
            below += [a, b]
    return found


def _meeting(space: JointSpace, pairs: list[tuple[int, int, frozenset[int]]],
             progress: Callable[[str], None] | None) -> list[tuple[int, int, frozenset[int]]]:
    """The pairs some request fires together: the solver is asked once per old entry and once
    more per pair found, as the decision diff asks (not once per pair: a thousand rules sent to
    one cascade make a million pairs, of which a few thousand meet)."""
    by_old: dict[int, dict[int, frozenset[int]]] = {}
    for i, j, asked in pairs:
        by_old.setdefault(i, {})[j] = asked
    found = []
    for number, (i, candidates) in enumerate(by_old.items()):
        if progress is not None and number % 50 == 0 and len(by_old) > 100:
            progress(f"comparing climbs: old rule {number + 1:,} of {len(by_old):,}")
        left = sorted(candidates)
        while left:
            met = space.meet(i, left)
            if met is None:
                break
            left.remove(met)
            found.append((i, met, candidates[met]))
    return found


def _not(term: Term) -> Term:
    import z3

    return z3.Not(term)


# ---- which pairs and edges to ask about --------------------------------------------------------


def _candidates(old: Policy, new: Policy, old_entries: Sequence[tuple[Entry, Decision]],
                new_entries: Sequence[tuple[Entry, Decision]],
                apart: Callable[[int, int], bool]) -> list[tuple[int, int, frozenset[int]]]:
    """(old entry, new entry, the edges to ask about) for every pair with the same steps (two
    or more) and some edge whose condition may read differently in the two versions."""
    keys = {k.name: k for k in joint_keys(old.ir, new.ir)}
    outcomes = {side: {s.name: s for s in p.ir.outcomes} for side, p in (("old", old), ("new", new))}

    def alike(x: CascadeEdge, y: CascadeEdge) -> bool:
        if shape(x.condition) != shape(y.condition):
            return False
        for node in nodes(x.condition):
            if isinstance(node, e.SignalRef):
                a, b = outcomes["old"].get(node.name), outcomes["new"].get(node.name)
                if a is not None or b is not None:
                    if a is None or b is None or \
                            (a.type, a.has_default, a.default) != (b.type, b.has_default, b.default):
                        return False
                elif not keys[node.name].read_alike:
                    return False
            elif isinstance(node, e.CostOf):
                priced = [(m.input_per_mtok, m.output_per_mtok, m.max_output, m.context)
                          for m in (old.ir.model(node.model), new.ir.model(node.model))]
                tokens = keys.get("input_tokens")
                if priced[0] != priced[1] or tokens is None or not tokens.shared or not tokens.read_alike:
                    return False
        return True

    ladders: dict[tuple[str, str], frozenset[int]] = {}
    climbing = [(j, tuple(after.steps), _cascade_of(new.ir, entry.rule)) for j, (entry, after) in enumerate(new_entries)
                if len(after.steps) >= 2]
    found = []
    for i, (old_entry, before) in enumerate(old_entries):
        if len(before.steps) < 2:
            continue
        mine = _cascade_of(old.ir, old_entry.rule)
        for j, steps, theirs in climbing:
            if steps != tuple(before.steps) or apart(i, j):
                continue
            asked = ladders.get((mine, theirs))
            if asked is None:  # edges of equal steps: the same number of them
                old_edges, new_edges = old.ir.cascade(mine).edges, new.ir.cascade(theirs).edges
                asked = frozenset(k for k in range(len(steps) - 1) if not alike(old_edges[k], new_edges[k]))
                ladders[(mine, theirs)] = asked
            if asked:
                found.append((i, j, asked))
    return found


def _rule(ir: CheckedPolicy, name: str | None) -> Rule:
    found = next((r for r in ir.route if r.name == name), None)
    assert found is not None, f"no route entry {name!r}: an entry without steps has no climb"
    return found


def _cascade_of(ir: CheckedPolicy, rule: str | None) -> str:
    target = _rule(ir, rule).target
    assert isinstance(target, CascadeTarget), "a decision of two steps or more comes from a cascade"
    return target.cascade


def _edges(ir: CheckedPolicy, rule: str | None) -> tuple[CascadeEdge, ...]:
    return ir.cascade(_cascade_of(ir, rule)).edges


# ---- the joint space with outcome copies -------------------------------------------------------


def _with_copies(ir: CheckedPolicy, shared: list[str], depth: int) -> CheckedPolicy:
    """The policy with one request key per (step, shared outcome): what the joint space reads
    of the outcome object observed after that step."""
    outcomes = {s.name: s for s in ir.outcomes}
    copies = tuple(Signal(span=outcomes[name].span, name=copy_name(step, name), role="signal",
                          type=outcomes[name].type, has_default=outcomes[name].has_default,
                          default=outcomes[name].default)
                   for step in range(depth) for name in shared)
    return ir.model_copy(update={"signals": ir.signals + copies})


class _EdgeView(Encoder):
    """One version's cascade conditions over the joint variables: a signal as the joint space
    reads it for this version, an outcome at step k as its copy for step k (or, for one that
    only this version declares, its default: an object both accept leaves it out)."""

    def __init__(self, space: JointSpace, policy: CheckedPolicy, side: str, shared: set[str]) -> None:
        super().__init__(policy)
        self.space, self.side, self.shared = space, side, shared

    def member_index(self, t: EnumType, member: str) -> int:
        return self.space.member_ids[member]

    def var(self, name: str, step: int | None = None) -> Any:
        signal = self.signals[name]
        if signal.role == "signal":
            return self.space.read(self.side, name)
        assert step is not None, "an outcome is read at a step"
        if name in self.shared:
            return self.space.read(self.side, copy_name(step, name))
        return self.value(signal, signal.default)


def _witness(space: JointSpace, terms: tuple[Any, ...], step: int) -> dict[str, Any] | None:
    """A request with outcome objects 0..step that meets `terms`, or None when none does (or
    only decimals no double can carry do: no request, by section 6's standard)."""
    model = space.solver.model(*terms)
    if model is None:
        return None
    try:
        found = space.solver.witness(model, *terms)
    except NoDouble:
        return None
    request = {key: value for key, value in found.items() if not key.startswith("@")}
    objects: list[dict[str, Any]] = [{} for _ in range(step + 1)]
    for key, value in found.items():
        if key.startswith("@") and ":" in key:
            at, name = key[1:].split(":", 1)
            if int(at) <= step:
                objects[int(at)][name] = value
    request["@outcomes"] = objects
    return request


# ---- replaying a witness ------------------------------------------------------------------------


def path(policy: Policy, decision: Decision, outcomes: list[Any], compiled: bool = False) -> tuple[str, ...]:
    """The models a decision calls under 9.3's walk, every provider answering, with these
    outcome objects (the i-th observed after step i), by the interpreter or the compiled
    module. Raises RequestError for an outcome object the policy refuses."""
    engine: EngineName = "compiled" if compiled else "interpreted"
    served = walk(decision, fails=lambda model: None,
                  observe=lambda step: outcomes[step] if step < len(outcomes) else None,
                  fallback=lambda model, error: policy.fallback(model, error, engine=engine),
                  escalate=lambda d, step, seen: policy.escalate(d, step, seen, engine=engine), cap=lambda model: 0)
    return tuple(served.answered)


def _replay(old: Policy, new: Policy, witness: dict[str, Any], old_entry: Entry, new_entry: Entry,
            step: int, side: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    signals = {k: v for k, v in witness.items() if k != "@outcomes"}
    outcomes = witness["@outcomes"]
    try:
        before, after = old.interpreter.decide(signals), new.interpreter.decide(signals)
        old_path, new_path = path(old, before, outcomes), path(new, after, outcomes)
    except RequestError as exc:
        raise DiffError(f"witness {dumps(witness)} is refused ({exc.code} {exc.message})") from None
    climbing, staying = (old_path, new_path) if side == "old" else (new_path, old_path)
    if (before.rule, after.rule) != (old_entry.rule, new_entry.rule) or tuple(before.steps) != tuple(after.steps) \
            or len(climbing) != step + 2 or len(staying) != step + 1:
        raise DiffError(f"witness {dumps(witness)} calls {list(old_path)} then {list(new_path)}, not a climb of "
                        f"edge {step} by {side.upper()} alone ({old_entry.label} -> {new_entry.label})")
    return old_path, new_path
