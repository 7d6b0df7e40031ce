"""`policyc diff` through the climb (section 9.5, revision 3): the requests that two versions
send up a cascade differently, and the errors and warnings a new version brings.

The property: random policy pairs over small finite domains, signals and outcomes alike (a
cascade condition's constant moved, two conditions swapped, a threshold an edge reads moved,
an outcome's default or domain changed, an outcome added that only one version reads, the
cascade's steps changed, a rule sent to the cascade or away from it, an identical copy),
checked by brute force over every request of both domains and every outcome object both
versions accept: diff reports exactly the (old rule, new rule, edge, direction) along which
some request and its outcomes climb in one version only, having climbed every edge below it
in both; and each witness replays as that climb in both interpreters and both compiled
modules. Then the threshold of the issue, the new findings, and the formats.
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import replace
from decimal import Decimal

import pytest
from click.testing import CliRunner
from hypothesis import event, given, note
from hypothesis import strategies as st

import policygen
import policylang
from conftest import examples
from policylang import RequestError
from policylang.authoring.diff import diff
from policylang.cli import main
from policylang.ir import expr as e
from policylang.ir.node import walk as nodes
from policylang.ir.types import BoolType, IntType
from test_diff import _union_requests

# ---- policies with a cascade over finite outcomes -----------------------------------------------

OUTCOMES = ("outcome q: int in 0..3 = 3", "outcome ok: bool = true")
OUTCOME_ATOMS = ("q < 2", "q <= 1", "q >= 3", "q == 0", "q != 2", "not ok", "ok", "q > 0")


@st.composite
def _signal_atom(draw, signals: tuple[policygen.Signal, ...]) -> str:
    s = draw(st.sampled_from(signals))
    if s.kind == "bool":
        return draw(st.sampled_from((s.name, f"not {s.name}")))
    if s.kind == "enum":
        return f"{s.name} {draw(st.sampled_from(('==', '!=')))} {draw(st.sampled_from(s.members))}"
    return f"{s.name} {draw(st.sampled_from(('<', '>=', '==')))} {draw(st.integers(s.low, s.high))}"


@st.composite
def _edge_condition(draw, signals: tuple[policygen.Signal, ...], threshold: bool) -> str:
    atoms = OUTCOME_ATOMS + (("q < lim", "q >= lim") if threshold else ())
    first = draw(st.sampled_from(atoms))
    shape = draw(st.integers(0, 3))
    if shape == 0:
        return f"{first} {draw(st.sampled_from(('and', 'or')))} {draw(st.sampled_from(atoms))}"
    if shape == 1:
        return f"{first} {draw(st.sampled_from(('and', 'or')))} {draw(_signal_atom(signals))}"
    return first


def _cascade(steps: tuple[str, ...], edges: tuple[str, ...]) -> str:
    return "cascade up { " + " ".join(f"{a} -> {b} when {c}" for a, b, c in zip(steps, steps[1:], edges)) + " }"


def _edges_of(declarations: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    text = next(d for d in declarations if d.startswith("cascade up"))
    found = re.findall(r"(\w+) -> (\w+) when (.*?)(?= \w+ -> | \})", text)
    return tuple([found[0][0]] + [b for _, b, _ in found]), tuple(c for _, _, c in found)


def _with(generated: policygen.GeneratedPolicy, *, steps=None, edges=None, outcomes=None, threshold=None):
    """The policy with its cascade, outcomes or threshold replaced."""
    old_steps, old_edges = _edges_of(generated.declarations)
    kept = [d for d in generated.declarations if not d.startswith(("outcome ", "cascade ", "threshold "))]
    lim = next((d for d in generated.declarations if d.startswith("threshold ")), None)
    if threshold is not None:
        lim = f"threshold lim = {threshold}"
    declared = [*kept, *([lim] if lim else []), *(outcomes if outcomes is not None else
                                                 [d for d in generated.declarations if d.startswith("outcome ")]),
                _cascade(steps or old_steps, edges or old_edges)]
    return replace(generated, declarations=tuple(declared))


@st.composite
def climbing_pairs(draw):
    """(old, new, what changed): a finite policy whose rules climb a cascade `up` over the
    outcomes `q: int in 0..3` and `ok: bool`, and one change of it."""
    base = draw(policygen.finite_policies(max_rules=5))
    threshold = any(d.startswith("threshold lim") for d in base.declarations)
    declarations = [d for d in base.declarations if not d.startswith(("outcome ", "cascade "))]
    steps = tuple(draw(st.permutations([m.name for m in base.models]))[: draw(st.integers(2, min(3, len(base.models))))])
    edges = tuple(draw(_edge_condition(base.signals, threshold)) for _ in steps[1:])
    entries = list(base.rules) + ([base.default] if base.default is not None else [])
    climbing = draw(st.lists(st.booleans(), min_size=len(entries), max_size=len(entries)))
    climbing[draw(st.integers(0, len(entries) - 1))] = True
    entries = [replace(r, target="up", cap=None) if up else r if r.target != "up" else replace(r, target=steps[0], cap=None)
               for r, up in zip(entries, climbing)]
    old = replace(base, rules=tuple(entries[: len(base.rules)]), default=entries[-1] if base.default else None,
                  declarations=(*declarations, *OUTCOMES, _cascade(steps, edges)))
    kinds = ["constant", "swap", "condition", "threshold", "q_default", "ok_default", "q_domain", "added",
             "removed", "steps", "retarget", "copy"]
    kind = draw(st.sampled_from(kinds))
    new = old
    k = draw(st.integers(0, len(edges) - 1))
    if kind == "constant":
        numbered = [(n, m) for n, c in enumerate(edges) for m in re.finditer(r"\d+", c)]
        if numbered:
            n, match = draw(st.sampled_from(numbered))
            moved = str(max(0, int(match.group()) + draw(st.sampled_from((-1, 1)))))
            changed = list(edges)
            changed[n] = edges[n][: match.start()] + moved + edges[n][match.end():]
            new = _with(old, edges=tuple(changed))
    elif kind == "swap" and len(edges) >= 2:
        new = _with(old, edges=(edges[1], edges[0], *edges[2:]))
    elif kind in ("condition", "swap"):
        changed = list(edges)
        changed[k] = draw(_edge_condition(base.signals, threshold))
        new = _with(old, edges=tuple(changed))
    elif kind == "threshold" and threshold:
        lim = int(next(d for d in declarations if d.startswith("threshold lim")).split("=")[1])
        new = _with(old, threshold=max(0, lim + draw(st.sampled_from((-1, 1, 2)))))
    elif kind == "q_default":
        new = _with(old, outcomes=(f"outcome q: int in 0..3 = {draw(st.integers(0, 2))}", OUTCOMES[1]))
    elif kind == "ok_default":
        new = _with(old, outcomes=(OUTCOMES[0], draw(st.sampled_from(("outcome ok: bool = false", "outcome ok: bool")))))
    elif kind == "q_domain":
        new = _with(old, outcomes=(draw(st.sampled_from(("outcome q: int in 0..4 = 3", "outcome q: int in 1..3 = 3",
                                                         "outcome q: int in 0..3"))), OUTCOMES[1]))
    elif kind in ("added", "removed"):  # an outcome only one version declares, read by that version's edge k
        default = draw(st.sampled_from(("false", "true", None)))
        extra = (*OUTCOMES, "outcome extra: bool" + (f" = {default}" if default else ""))
        changed = list(edges)
        changed[k] = f"({edges[k]}) {'or extra' if draw(st.booleans()) else 'and not extra'}"
        grown = _with(old, edges=tuple(changed), outcomes=extra)
        old, new = (old, grown) if kind == "added" else (grown, old)
    elif kind == "steps":
        models = [m.name for m in base.models]
        if len(steps) > 2 and draw(st.booleans()):
            new = _with(old, steps=steps[:-1], edges=edges[:-1])
        elif len(models) > len(steps):
            top = next(m for m in models if m not in steps)
            new = _with(old, steps=(*steps, top), edges=(*edges, draw(_edge_condition(base.signals, threshold))))
    elif kind == "retarget":
        n = draw(st.integers(0, len(entries) - 1))
        rule = entries[n]
        moved = replace(rule, target=steps[0] if rule.target == "up" else "up", cap=None)
        if n == len(base.rules):
            new = replace(old, default=moved)
        else:
            new = replace(old, rules=old.rules[:n] + (moved,) + old.rules[n + 1:])
    return old, new, kind


# ---- brute force --------------------------------------------------------------------------------

_ABSENT = object()


def _outcome_objects(old, new):
    """Every outcome object over the union of both versions' outcome domains that both accept."""
    names, values = [], []
    for policy in (old, new):
        for s in policy.ir.outcomes:
            if s.name in names:
                continue
            both = [t for p in (old, new) for t in p.ir.outcomes if t.name == s.name]
            choices: list = []
            for t in both:
                if isinstance(t.type, BoolType):
                    choices += [False, True]
                else:
                    assert isinstance(t.type, IntType)
                    choices += range(int(t.type.low), int(t.type.high) + 1)
                if t.has_default:
                    choices.append(_ABSENT)
            names.append(s.name)
            values.append(list(dict.fromkeys(choices)))
    found = []
    for combination in itertools.product(*values):
        o = {n: v for n, v in zip(names, combination) if v is not _ABSENT}
        try:
            old.interpreter.validate(o, "outcome", True)
            new.interpreter.validate(o, "outcome", True)
        except RequestError:
            continue
        found.append(o)
    return found


def brute_force_outcomes(old, new, old_gen, new_gen) -> set[str]:
    """The versions ("old", "new") that alone accept some outcome object, where some request
    both accept climbs to it in the other (decided there with two steps or more)."""
    names = list(dict.fromkeys(s.name for p in (old, new) for s in p.ir.outcomes))
    values = []
    for name in names:
        choices: list = [_ABSENT]
        for t in (s.type for p in (old, new) for s in p.ir.outcomes if s.name == name):
            choices += [False, True] if isinstance(t, BoolType) else range(int(t.low), int(t.high) + 1)
        values.append(list(dict.fromkeys(choices)))

    def accepts(policy, o) -> bool:
        try:
            policy.interpreter.validate(o, "outcome", True)
            return True
        except RequestError:
            return False

    only = set()
    for combination in itertools.product(*values):
        o = {n: v for n, v in zip(names, combination) if v is not _ABSENT}
        a, b = accepts(old, o), accepts(new, o)
        if a != b:
            only.add("old" if a else "new")
    climbing = {"old": False, "new": False}
    for request in _union_requests(old_gen, new_gen):
        before, after = _decide(old, request), _decide(new, request)
        if not isinstance(before, RequestError) and not isinstance(after, RequestError):
            climbing["old"] = climbing["old"] or len(before.steps) >= 2
            climbing["new"] = climbing["new"] or len(after.steps) >= 2
    return {side for side in only if climbing["new" if side == "old" else "old"]}


def _read_by_edges(policy) -> set[str]:
    inputs = {s.name for s in policy.ir.inputs}
    return {n.name for c in policy.ir.cascades for edge in c.edges for n in nodes(edge.condition)
            if isinstance(n, e.SignalRef) and n.name in inputs}


def _decide(policy, request):
    try:
        return policy.interpreter.decide(request)
    except RequestError as exc:
        return exc


def brute_force_climbs(old, new, old_gen, new_gen) -> set[tuple]:
    """(old rule, new rule, edge, the version that alone climbs it) for every request both
    accept, decided with the same steps, and outcome objects both accept."""
    objects = _outcome_objects(old, new)
    read = sorted(_read_by_edges(old) | _read_by_edges(new))
    seen, found = set(), set()
    for request in _union_requests(old_gen, new_gen):
        before, after = _decide(old, request), _decide(new, request)
        if isinstance(before, RequestError) or isinstance(after, RequestError):
            continue
        if tuple(before.steps) != tuple(after.steps) or len(before.steps) < 2:
            continue
        key = (before.rule, after.rule, tuple(request.get(n, _ABSENT) for n in read))
        if key in seen:  # the edges read nothing else: the same climbs
            continue
        seen.add(key)
        for k in range(len(before.steps) - 1):
            both = False  # outcomes are fresh at every step: edge k+1 is reached if some object climbs k in both
            for o in objects:
                a = old.interpreter.escalate(before, k, o) is not None
                b = new.interpreter.escalate(after, k, o) is not None
                if a != b:
                    found.add((before.rule, after.rule, k, "old" if a else "new"))
                both = both or (a and b)
            if not both:
                break
    return found


def assert_climbs_replay(report, old, new):
    for climb in report.climbs:
        signals = {k: v for k, v in climb.witness.items() if k != "@outcomes"}
        outcomes = climb.witness["@outcomes"]
        assert len(outcomes) == climb.step + 1
        for engine in ("interpreted", "compiled"):
            before, after = old.decide(signals, engine=engine), new.decide(signals, engine=engine)
            assert (before.rule, after.rule) == (climb.old.rule, climb.new.rule)
            paths = old.path(before, outcomes, engine=engine), new.path(after, outcomes, engine=engine)
            assert tuple(paths[0]) == climb.before and tuple(paths[1]) == climb.after
            climbing, staying = paths if climb.climbs == "old" else paths[::-1]
            assert len(climbing) == climb.step + 2 and len(staying) == climb.step + 1


def _load(generated, name):
    return policylang.loads(generated.text, name, analyze=False)


@examples(0.75)
@given(pair=climbing_pairs())
def test_climbs_are_exact_on_finite_domains(pair):
    old_gen, new_gen, kind = pair
    note(f"change: {kind}\nOLD:\n{old_gen.text}\nNEW:\n{new_gen.text}")
    old, new = _load(old_gen, "old.route"), _load(new_gen, "new.route")
    report = diff(old, new, lint=False)
    expected = brute_force_climbs(old, new, old_gen, new_gen)
    event(f"{kind}: {'some climb changes' if expected else 'no climb changes'}")
    assert {(c.old.rule, c.new.rule, c.step, c.climbs) for c in report.climbs} == expected
    assert_climbs_replay(report, old, new)
    refused = brute_force_outcomes(old, new, old_gen, new_gen)
    event(f"outcome objects only one version accepts: {bool(refused)}")
    assert {a.only for a in report.outcomes} == refused
    for fact in report.outcomes:  # the accepting version walks the witness, the other refuses it
        accepting, refusing = (old, new) if fact.only == "old" else (new, old)
        signals = {k: v for k, v in fact.witness.items() if k != "@outcomes"}
        accepting.path(accepting.decide(signals), fact.witness["@outcomes"])
        with pytest.raises(RequestError):
            refusing.path(refusing.decide(signals), fact.witness["@outcomes"])
    if kind == "copy":
        assert not report.changed and not report.outcomes


FLOAT_ATOMS = ("q < 0.5", "q <= 0.9", "q > 0.25", "not ok", "tries >= 2", "q < 0.5 or not ok", "ok and q < 0.95")


@st.composite
def float_climbing_pairs(draw):
    """(old, new, what changed): a finite policy whose rules climb a cascade `up` over
    policygen's outcomes (`q: float in 0.0..1.0 = 1.0`, `ok`, `tries`), and one change of an
    edge's constant or an outcome's default."""
    base = draw(policygen.finite_policies(max_rules=4))
    declarations = [d for d in base.declarations if not d.startswith(("outcome ", "cascade "))]
    steps = tuple(draw(st.permutations([m.name for m in base.models]))[: draw(st.integers(2, min(3, len(base.models))))])
    edges = [draw(st.sampled_from(FLOAT_ATOMS)) for _ in steps[1:]]
    entries = list(base.rules) + ([base.default] if base.default is not None else [])
    entries = [replace(r, target="up", cap=None) if up or n == 0 else r if r.target != "up" else replace(r, target=steps[0], cap=None)
               for n, (r, up) in enumerate(zip(entries, draw(st.lists(st.booleans(), min_size=len(entries),
                                                                       max_size=len(entries)))))]
    outcomes = ["outcome q: float in 0.0..1.0 = 1.0", "outcome ok: bool = true", "outcome tries: int in 0..3 = 0"]
    old = replace(base, rules=tuple(entries[: len(base.rules)]), default=entries[-1] if base.default else None,
                  declarations=(*declarations, *outcomes, _cascade(steps, tuple(edges))))
    kind = draw(st.sampled_from(["constant", "q_default", "tries_default"]))
    if kind == "constant":
        k = draw(st.integers(0, len(edges) - 1))
        match = draw(st.sampled_from(list(re.finditer(r"0\.\d+|\b\d\b", edges[k])) or [None]))
        if match is not None:
            moved = draw(st.sampled_from(("0.25", "0.5", "0.55", "0.9", "0.95", "1", "2")))
            edges[k] = edges[k][: match.start()] + moved + edges[k][match.end():]
    elif kind == "q_default":
        outcomes[0] = outcomes[0].replace("= 1.0", f"= {draw(st.sampled_from(('0.0', '0.5', '0.7')))}")
    else:
        outcomes[2] = outcomes[2].replace("= 0", f"= {draw(st.integers(1, 3))}")
    new = replace(old, declarations=(*declarations, *outcomes, _cascade(steps, tuple(edges))))
    return old, new, kind


_Q = st.one_of(st.sampled_from((0.0, 0.25, 0.4999999999999999, 0.5, 0.55, 0.7, 0.9, 0.9000000000000001, 0.95, 1.0)),
               st.floats(0.0, 1.0))
_OBJECTS = st.fixed_dictionaries({}, optional={"q": _Q, "ok": st.booleans(), "tries": st.integers(0, 3)})


@examples(0.5)
@given(pair=float_climbing_pairs(), data=st.data())
def test_climbs_over_float_outcomes_miss_nothing_sampled(pair, data):
    old_gen, new_gen, kind = pair
    note(f"change: {kind}\nOLD:\n{old_gen.text}\nNEW:\n{new_gen.text}")
    old, new = _load(old_gen, "old.route"), _load(new_gen, "new.route")
    report = diff(old, new, lint=False)
    assert_climbs_replay(report, old, new)
    found = {(c.old.rule, c.new.rule, c.step, c.climbs) for c in report.climbs}
    requests = list(_union_requests(old_gen, new_gen))
    differ = 0
    for _ in range(60):
        request = data.draw(st.sampled_from(requests))
        outcomes = data.draw(st.lists(_OBJECTS, min_size=1, max_size=2))
        before, after = _decide(old, request), _decide(new, request)
        if isinstance(before, RequestError) or isinstance(after, RequestError) or before.steps != after.steps:
            continue
        paths = old.path(before, outcomes, engine="interpreted"), new.path(after, outcomes, engine="interpreted")
        if paths[0] != paths[1]:
            differ += 1
            step = min(len(p) for p in paths) - 1
            assert (before.rule, after.rule, step, "old" if len(paths[0]) > len(paths[1]) else "new") in found, \
                (request, outcomes)
    event(f"{kind}: {'some sampled climb differs' if differ else 'no sampled climb differs'}")
    if old_gen == new_gen:
        assert not report.changed


# ---- the cases of the issue ---------------------------------------------------------------------

MODELS = """
model cheap { id = "acme/cheap", tier = 1, input_per_mtok = $1, output_per_mtok = $2, context = 100_000, max_output = 100, latency = 1s }
model mid   { id = "acme/mid",   tier = 2, input_per_mtok = $3, output_per_mtok = $4, context = 100_000, max_output = 200, latency = 2s }
model top   { id = "acme/top",   tier = 3, input_per_mtok = $5, output_per_mtok = $6, context = 100_000, max_output = 300, latency = 3s }
"""

LADDER = """policy p
threshold unsure = 0.7
signal task: enum {classify, draft}
outcome confidence: float in 0.0..1.0 = 1.0
outcome valid: bool = true
cascade careful {
  cheap -> mid when confidence < unsure
  mid -> top when not valid
}
route {
  rule drafting when task == draft -> careful
  default -> cheap
}
""" + MODELS


def _policy(text: str, name: str = "p.route") -> policylang.Policy:
    return policylang.loads(text, name, analyze=False)


def _climbs(report):
    return [(c.old.rule, c.new.rule, f"{c.source}->{c.target}", c.climbs, c.witness) for c in report.climbs]


def test_a_threshold_an_edge_reads():
    report = diff(_policy(LADDER), _policy(LADDER.replace("unsure = 0.7", "unsure = 0.8")))
    assert not report.changes and report.changed
    assert _climbs(report) == [("drafting", "drafting", "cheap->mid", "new",
                                {"task": "draft", "@outcomes": [{"confidence": 0.7}]})]
    lowered = diff(_policy(LADDER), _policy(LADDER.replace("unsure = 0.7", "unsure = 0.5")))
    assert [c[3] for c in _climbs(lowered)] == ["old"]
    assert not diff(_policy(LADDER), _policy(LADDER)).changed


def test_an_outcome_default_domain_and_a_moved_edge():
    default = diff(_policy(LADDER), _policy(LADDER.replace("valid: bool = true", "valid: bool = false")))
    # an object that leaves `valid` out: old reads true (stays at mid), new false (climbs to top)
    assert _climbs(default) == [("drafting", "drafting", "mid->top", "new",
                                 {"task": "draft", "@outcomes": [{"confidence": 0.0}, {}]})]
    narrowed = diff(_policy(LADDER), _policy(LADDER.replace("float in 0.0..1.0 = 1.0", "float in 0.0..0.6 = 0.6")))
    # on the values both accept both climb alike; an object that leaves confidence out reads 1.0, then 0.6
    assert _climbs(narrowed) == [("drafting", "drafting", "cheap->mid", "new", {"task": "draft", "@outcomes": [{}]})]
    swapped = _policy(LADDER.replace("when confidence < unsure", "when @@").replace("top when not valid", "top when "
                                                                                  "confidence < unsure")
                      .replace("@@", "not valid"))
    moved = diff(_policy(LADDER), swapped)
    assert {(c[2], c[3]) for c in _climbs(moved)} == {("cheap->mid", "old"), ("cheap->mid", "new"),
                                                     ("mid->top", "old"), ("mid->top", "new")}
    assert_climbs_replay(moved, _policy(LADDER), swapped)


def test_an_edge_added_changes_the_steps_which_the_decision_diff_reports():
    shorter = LADDER.replace("  mid -> top when not valid\n", "")
    report = diff(_policy(LADDER), _policy(shorter))
    assert [(c.old.rule, c.new.rule, c.fields) for c in report.changes] == [("drafting", "drafting", ("steps", "caps"))]
    assert not report.climbs


def test_a_rule_moved_onto_the_same_ladder_is_compared_edge_by_edge():
    old = _policy(LADDER)
    new = _policy(LADDER.replace("rule drafting when task == draft -> careful",
                                 "rule writing when task == draft -> careful")
                  .replace("cheap -> mid when confidence < unsure", "cheap -> mid when confidence <= unsure"))
    assert _climbs(diff(old, new)) == [("drafting", "writing", "cheap->mid", "new",
                                        {"task": "draft", "@outcomes": [{"confidence": 0.7}]})]


def test_outcome_objects_only_one_version_accepts():
    narrowed = diff(_policy(LADDER), _policy(LADDER.replace("float in 0.0..1.0", "float in 0.0..0.9")
                                             .replace("= 1.0", "= 0.9")))
    (fact,) = narrowed.outcomes
    assert (fact.signal, fact.change, fact.only, fact.error.code) == ("confidence", "narrowed", "old", "R003")
    assert fact.witness == {"task": "draft", "@outcomes": [{"confidence": 0.9000000000000001}]}
    assert narrowed.changed and not narrowed.climbs
    added = diff(_policy(LADDER), _policy(LADDER.replace("outcome valid", "outcome tries: int in 0..3\noutcome valid")))
    assert {(a.signal, a.only, a.error.code) for a in added.outcomes} == {("tries", "old", "R001"),
                                                                          ("tries", "new", "R004")}
    assert not added.climbs  # no object is accepted by both: no climb to compare
    # where no request climbs in the version that would refuse, nothing is claimed
    flat = LADDER.replace("-> careful", "-> cheap")
    assert not diff(_policy(flat), _policy(flat.replace("float in 0.0..1.0 = 1.0", "float in 0.0..0.9 = 0.9"))).changed
    shown = diff(_policy(LADDER), _policy(LADDER.replace("outcome valid: bool = true", "outcome valid: bool"))).as_dict()
    assert [(a["signal"], a["change"], a["accepted_by"]) for a in shown["outcome_acceptance"]] == \
        [("valid", "default removed", "old")]


# ---- what the new version breaks ----------------------------------------------------------------

RESIDENCY = """policy pii
signal pii: bool = false
model eu { id = "acme/eu", tier = 1, input_per_mtok = $1, output_per_mtok = $2, context = 100_000, max_output = 1_000, latency = 1s, regions = {eu} }
model us { id = "acme/us", tier = 2, input_per_mtok = $1, output_per_mtok = $2, context = 100_000, max_output = 1_000, latency = 1s, regions = {us} }
invariant residency: when pii require model.regions <= {eu}
route {
  rule private when pii -> eu
  default -> us
}
"""
BROKEN = RESIDENCY.replace("invariant", "fallback eu -> us on unavailable\ninvariant")


def _run(*args):
    result = CliRunner().invoke(main, list(args))
    assert "Traceback" not in result.output
    return result


def test_a_fallback_that_breaks_an_invariant_is_reported_and_fails(tmp_path):
    old, new = tmp_path / "old.route", tmp_path / "new.route"
    old.write_text(RESIDENCY)
    new.write_text(BROKEN)
    report = diff(policylang.load(str(old), analyze=False), policylang.load(str(new), analyze=False))
    assert not report.changed and report.failed
    (found,) = report.findings.added
    assert (found.code, found.span.line, found.witness) == ("E304", 8, {"pii": True})
    text = _run("diff", str(old), str(new))
    assert text.exit_code == 1
    assert f"error[E304] {new}:8:3: invariant residency fails" in text.output
    assert text.output.rstrip().endswith("no request's decision changes; NEW has 1 error (new)")
    shown = json.loads(_run("diff", str(old), str(new), "--format", "json").output)
    assert shown["findings"]["errors_in_new"] == 1
    assert [(d["code"], d["line"], d["column"]) for d in shown["findings"]["added"]] == [("E304", 8, 3)]
    markdown = _run("diff", str(old), str(new), "--format", "markdown")
    assert markdown.exit_code == 1 and "#### New in NEW: 1 error" in markdown.output
    assert re.search(r"\| error \| E304 \| `.*new\.route:8:3` \| invariant residency fails", markdown.output)
    # fixed again: the error is gone, nothing is new, exit 0
    fixed = _run("diff", str(new), str(old))
    assert fixed.exit_code == 0 and "new in NEW" not in fixed.output and "findings" not in \
        json.loads(_run("diff", str(new), str(old), "--format", "json").output)


def test_an_error_both_versions_have_fails_without_being_new(tmp_path):
    old, new = tmp_path / "old.route", tmp_path / "new.route"
    old.write_text(BROKEN)
    new.write_text(BROKEN.replace("policy pii\n", "policy pii\n# every line below moves\n\n"))
    result = _run("diff", str(old), str(new))
    assert result.exit_code == 1 and "new in NEW" not in result.output
    assert result.output.rstrip().endswith("no request's decision changes; NEW has 1 error (none new)")


def test_new_warnings_are_listed_and_do_not_fail(tmp_path):
    old, new = tmp_path / "old.route", tmp_path / "new.route"
    old.write_text(RESIDENCY)
    new.write_text(RESIDENCY.replace("  default -> us", "  rule again when pii -> eu\n  default -> us"))
    result = _run("diff", str(old), str(new))
    assert result.exit_code == 0, result.output
    assert "warning[W201]" in result.output and "warning[W205]" in result.output  # and `private` redundant
    assert result.output.rstrip().endswith("no request's decision changes; 2 new warnings")


def test_climbs_in_every_format(tmp_path):
    old, new = tmp_path / "old.route", tmp_path / "new.route"
    old.write_text(LADDER)
    new.write_text(LADDER.replace("unsure = 0.7", "unsure = 0.8"))
    text = _run("diff", str(old), str(new))
    assert text.exit_code == 1
    assert "rule drafting, cascade careful: cheap -> mid climbs only in NEW" in text.output
    assert 'e.g. {"task": "draft", "@outcomes": [{"confidence": 0.7}]}: OLD calls cheap, NEW cheap -> mid' in text.output
    assert text.output.rstrip().endswith("climbs change: 1 cascade edge climbs differently")
    shown = json.loads(_run("diff", str(old), str(new), "--format", "json").output)
    assert shown["changed"] and shown["climbs"][0]["edge"] == {
        "cascade": "careful", "step": 0, "from": "cheap", "to": "mid",
        "old_when": "confidence < unsure", "new_when": "confidence < unsure"}
    assert (shown["climbs"][0]["path_before"], shown["climbs"][0]["path_after"]) == (["cheap"], ["cheap", "mid"])
    markdown = _run("diff", str(old), str(new), "--format", "markdown").output
    assert "#### Climbs that change" in markdown
    assert "| rule drafting | rule drafting | careful: cheap -> mid | NEW |" in markdown


# ---- traffic totals -----------------------------------------------------------------------------


def test_traffic_totals_are_formatted_as_simulate_formats_them(tmp_path):
    from policylang.money import dollars  # the formatter diff's text uses, as simulate's does

    assert [dollars(Decimal(v)) for v in ("5413.0356", "1234567.5", "0", "0.00055", "1")] == \
        ["$5,413.04", "$1,234,567.50", "$0.00", "$0.00055", "$1.00"]
    old, new = tmp_path / "old.route", tmp_path / "new.route"
    old.write_text(LADDER)
    new.write_text(LADDER.replace("-> careful", "-> top"))
    traffic = tmp_path / "t.jsonl"
    traffic.write_text("".join(json.dumps({"task": "draft", "@output_tokens": 100}) + "\n" for _ in range(12_345)))
    result = _run("diff", str(old), str(new), "--traffic", str(traffic))
    # cheap: 100 x $2/M = $0.0002 per request; top: 100 x $6/M = $0.0006 (no input_tokens: none counted, as simulate)
    assert "traffic: 12,345 requests, cost $2.47 -> $7.41" in result.output
    assert "traffic: 12,345 records, 12,345 decided differently, 0 the same, 0 refused by both; cost $2.47 -> $7.41" \
        in result.output


def test_traffic_counts_the_records_that_climb_differently(tmp_path):
    old, new = tmp_path / "old.route", tmp_path / "new.route"
    old.write_text(LADDER)
    new.write_text(LADDER.replace("unsure = 0.7", "unsure = 0.8"))
    traffic = tmp_path / "t.jsonl"
    records = [{"task": "draft", "@outcomes": [{"confidence": 0.75}], "@output_tokens": 10}] * 3 + \
        [{"task": "draft", "@outcomes": [{"confidence": 0.5}]}, {"task": "draft"}, {"task": "classify"},
         {"task": "draft", "@outcomes": [{"confidence": 7}]}]  # refused by both: climbs nowhere
    traffic.write_text("".join(json.dumps(r) + "\n" for r in records))
    report = diff(policylang.load(str(old), analyze=False), policylang.load(str(new), analyze=False),
                  traffic=traffic.read_text().splitlines())
    (climb,) = report.climbs
    assert climb.traffic.requests == 3 and not climb.from_traffic
    # 10 output tokens: cheap $0.00002; cheap then mid: + 10 x $4/M = $0.00006
    assert (climb.traffic.cost_before, climb.traffic.cost_after) == (Decimal("0.00006"), Decimal("0.00018"))
    t = report.traffic
    assert (t.records, t.changed, t.climbed, t.unchanged) == (7, 0, 3, 4)
    assert report.as_dict()["traffic"]["climbed_differently"] == 3
    shown = _run("diff", str(old), str(new), "--traffic", str(traffic)).output
    assert "      traffic: 3 requests, cost $0.00006 -> $0.00018" in shown
    assert "traffic: 7 records, 0 decided differently, 3 climbed differently, 4 the same" in shown
