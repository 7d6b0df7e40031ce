"""`policyc diff` (section 9.5): which requests a change sends somewhere else, exactly.

The property: random policy pairs over small finite domains (a target changed, two rules
swapped, a threshold moved, a rule added or deleted, a signal's domain widened, a rule
renamed, an identical copy), checked by brute force over every request of both domains:
diff says some decision changes exactly when one does, finds every pair (old rule, new rule)
that some request moves along, and every witness replays as that change in both
interpreters. Over floats, money and durations (not enumerable) every sampled request that
moves is along a reported pair. Then the signal changes, renames, budgets, traffic, the
formats and the exit statuses.
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import replace
from decimal import Decimal

import pytest
from click.testing import CliRunner
from hypothesis import given, note
from hypothesis import strategies as st

import policygen
import policygen_measured
import policylang
import strategies as gen
from conftest import EXAMPLES, examples
from policylang import RequestError
from policylang.authoring.diff import FIELDS, diff
from policylang.cli import main

# ---- mutations ----------------------------------------------------------------------------------


def _targets(generated: policygen.GeneratedPolicy) -> list[str]:
    found = [m.name for m in generated.models] + ['reject "r1"', 'reject "r2"']
    if any(d.startswith("cascade up") for d in generated.declarations):
        found.append("up")
    return found


@st.composite
def changed_pairs(draw, policies=None):
    """(old, new, what changed) for a random policy and one random change of it."""
    old = draw(policies if policies is not None else policygen.finite_policies())
    kinds = ["target", "swap", "threshold", "add", "delete", "widen", "default", "rename", "copy"]
    kind = draw(st.sampled_from(kinds))
    rules = list(old.rules)
    new = old
    if kind == "target":
        entries = rules + ([old.default] if old.default is not None else [])
        k = draw(st.integers(0, len(entries) - 1))
        changed = replace(entries[k], target=draw(st.sampled_from(_targets(old))), cap=None)
        new = replace(old, default=changed) if k == len(rules) else \
            replace(old, rules=tuple(rules[:k] + [changed] + rules[k + 1:]))
    elif kind == "swap" and len(rules) >= 2:
        a, b = sorted(draw(st.lists(st.integers(0, len(rules) - 1), min_size=2, max_size=2, unique=True)))
        rules[a], rules[b] = rules[b], rules[a]
        new = replace(old, rules=tuple(rules))
    elif kind == "threshold":
        numbered = [(k, m) for k, r in enumerate(rules) for m in re.finditer(r"\d+", r.condition)]
        if numbered:
            k, match = draw(st.sampled_from(numbered))
            moved = str(max(0, int(match.group()) + draw(st.sampled_from((-1, 1, 2)))))
            text = rules[k].condition
            rules[k] = replace(rules[k], condition=text[: match.start()] + moved + text[match.end():])
            new = replace(old, rules=tuple(rules))
    elif kind == "add":
        at = draw(st.integers(0, len(rules)))
        source = draw(st.sampled_from(rules))
        condition = source.condition if draw(st.booleans()) else f"not ({source.condition})"
        added = policygen.Rule("added", condition, draw(st.sampled_from(_targets(old))))
        new = replace(old, rules=tuple(rules[:at] + [added] + rules[at:]))
    elif kind == "delete" and len(rules) >= 2:
        new = old.without(draw(st.integers(0, len(rules) - 1)))
    elif kind == "widen":
        widenable = [k for k, s in enumerate(old.signals) if s.kind in ("int", "enum")]
        if widenable:
            k = draw(st.sampled_from(widenable))
            s = old.signals[k]
            if s.kind == "enum":
                wider = replace(s, members=s.members + ("w",))
            elif draw(st.booleans()):
                wider = replace(s, high=s.high + 1)
            else:
                wider = replace(s, low=s.low - 1)
            new = replace(old, signals=old.signals[:k] + (wider,) + old.signals[k + 1:])
    elif kind == "default":  # a default changed, added or dropped: requests that leave the signal out
        k = draw(st.integers(0, len(old.signals) - 1))
        s = old.signals[k]
        if s.values is not None:
            choices = [None] + [_literal(v) for v in s.values]
            changed_signal = replace(s, default=draw(st.sampled_from(choices)))
            new = replace(old, signals=old.signals[:k] + (changed_signal,) + old.signals[k + 1:])
    elif kind == "rename":
        k = draw(st.integers(0, len(rules) - 1))
        rules[k] = replace(rules[k], name="renamed")
        new = replace(old, rules=tuple(rules))
    return old, new, kind


def _literal(value) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def _load(generated, name):
    return policylang.loads(generated.text, name, analyze=False)


_ABSENT = object()


def _union_requests(old, new):
    """Every request over the union of both versions' finite domains, leaving out each key
    that either version gives a default."""
    names, values = [], []
    for s in old.signals:
        twin = next((t for t in new.signals if t.name == s.name), None)
        both = list(s.values) + [v for v in (twin.values if twin else ()) if v not in s.values]
        if s.default is not None or (twin is not None and twin.default is not None):
            both.append(_ABSENT)
        names.append(s.name)
        values.append(both)
    for s in new.signals:
        if s.name not in names:
            names.append(s.name)
            values.append(list(s.values) + ([_ABSENT] if s.default is not None else []))
    for combination in itertools.product(*values):
        yield {name: value for name, value in zip(names, combination) if value is not _ABSENT}


def _decide(policy, request):
    try:
        return policy.interpreter.decide(request)
    except RequestError as exc:
        return exc


def _key(decision):
    return tuple(tuple(getattr(decision, f)) if f in ("steps", "caps") else getattr(decision, f) for f in FIELDS)


def brute_force(old, new, old_gen, new_gen):
    """(the pairs some request moves along, whether some request only one version accepts)."""
    pairs, one_sided = set(), False
    for request in _union_requests(old_gen, new_gen):
        before, after = _decide(old, request), _decide(new, request)
        if isinstance(before, RequestError) or isinstance(after, RequestError):
            one_sided = one_sided or isinstance(before, RequestError) != isinstance(after, RequestError)
            continue
        if _key(before) != _key(after):
            pairs.add((before.rule, after.rule))
    return pairs, one_sided


def assert_witnesses_replay(report, old, new):
    for change in report.changes:
        before, after = old.interpreter.decide(change.witness), new.interpreter.decide(change.witness)
        assert (before.rule, after.rule) == (change.old.rule, change.new.rule), change
        assert _key(before) != _key(after)
        for engine in ("compiled",):
            assert _key(old.decide(change.witness, engine=engine)) == _key(before)
            assert _key(new.decide(change.witness, engine=engine)) == _key(after)
    for fact in report.acceptance:
        accepting, refusing = (old, new) if fact.only == "old" else (new, old)
        accepting.interpreter.validate(fact.witness, "signal")
        with pytest.raises(RequestError):
            refusing.interpreter.validate(fact.witness, "signal")


@examples(0.75)
@given(pair=changed_pairs())
def test_diff_is_exact_on_finite_domains(pair):
    old_gen, new_gen, kind = pair
    note(f"change: {kind}\nOLD:\n{old_gen.text}\nNEW:\n{new_gen.text}")
    old, new = _load(old_gen, "old.route"), _load(new_gen, "new.route")
    report = diff(old, new)
    pairs, one_sided = brute_force(old, new, old_gen, new_gen)
    assert {(c.old.rule, c.new.rule) for c in report.changes} == pairs
    assert bool(report.acceptance) == one_sided
    assert report.changed == bool(pairs or one_sided)
    assert_witnesses_replay(report, old, new)
    if kind in ("copy", "rename"):
        assert not report.changed
    if kind == "rename" and old_gen.rules != new_gen.rules:
        renamed = [(r.old.rule, r.new.rule) for r in report.renames]
        assert renamed in ([], [(next(a.name for a, b in zip(old_gen.rules, new_gen.rules) if a != b), "renamed")])


@examples(0.5)
@given(pair=changed_pairs(st.one_of(policygen.float_policies(), policygen_measured.measured_policies())),
       data=st.data())
def test_diff_finds_every_move_sampled_over_floats_money_and_durations(pair, data):
    old_gen, new_gen, kind = pair
    note(f"change: {kind}\nOLD:\n{old_gen.text}\nNEW:\n{new_gen.text}")
    old, new = _load(old_gen, "old.route"), _load(new_gen, "new.route")
    report = diff(old, new)
    assert_witnesses_replay(report, old, new)
    found = {(c.old.rule, c.new.rule) for c in report.changes}
    requests = data.draw(st.lists(st.one_of(policygen.requests_of(old_gen), gen.valid_requests(old.ir)),
                                  min_size=1, max_size=20))
    for request in requests:
        before, after = _decide(old, request), _decide(new, request)
        if isinstance(before, RequestError) or isinstance(after, RequestError):
            continue
        if _key(before) != _key(after):
            assert (before.rule, after.rule) in found, request
    if kind == "copy":
        assert not report.changed


# ---- signals, defaults, renames --------------------------------------------------------------

MODELS = """
model small { id = "acme/small", tier = 1, input_per_mtok = $1, output_per_mtok = $2, context = 100_000, max_output = 100, latency = 1s }
model big   { id = "acme/big",   tier = 2, input_per_mtok = $3, output_per_mtok = $4, context = 100_000, max_output = 200, latency = 2s }
"""


def _policy(text: str, name: str = "p.route") -> policylang.Policy:
    return policylang.loads("policy p\n" + text + MODELS, name, analyze=False)


def test_an_identical_copy_and_a_pure_rename_change_nothing():
    base = """signal n: int in 0..10
route {
  rule low when n < 3 -> small
  rule mid when n < 7 -> big
  default -> reject "no"
}
"""
    old = _policy(base)
    assert not diff(old, _policy(base)).changed
    renamed = diff(old, _policy(base.replace("rule mid", "rule middle")))
    assert not renamed.changed and not renamed.changes
    assert [(r.old.rule, r.new.rule) for r in renamed.renames] == [("mid", "middle")]


def test_a_changed_default_moves_the_requests_that_leave_the_signal_out():
    old = _policy("signal plan: enum {free, pro} = free\nroute { rule paid when plan == pro -> big  default -> small }\n")
    new = _policy("signal plan: enum {free, pro} = pro\nroute { rule paid when plan == pro -> big  default -> small }\n")
    report = diff(old, new)
    assert [(c.old.rule, c.new.rule) for c in report.changes] == [("default", "paid")]
    assert report.changes[0].witness == {}  # the request that says nothing of its plan
    assert not report.acceptance


def test_signals_added_removed_retyped_and_narrowed_are_listed_with_witnesses():
    old = _policy("signal n: int in 0..10\nsignal gone: bool\nsignal ratio: int in 0..5\n"
                  "route { rule r when n > 5 -> big  default -> small }\n")
    new = _policy("signal n: int in 0..8\nsignal added: bool\nsignal ratio: float in 0.0..5.0\n"
                  "route { rule r when n > 5 -> big  default -> small }\n")
    report = diff(old, new)
    facts = {(a.signal, a.only): a for a in report.acceptance}
    assert facts[("n", "old")].change == "narrowed" and facts[("n", "old")].which == ("n in 9..10",)
    assert facts[("n", "old")].error.code == "R003"
    assert facts[("gone", "new")].change == "removed" and facts[("gone", "new")].error.code in ("R001", "R002")
    assert facts[("added", "old")].change == "added" and facts[("added", "old")].error.code == "R001"
    assert facts[("ratio", "new")].change == "retyped" and facts[("ratio", "new")].error.code == "R002"
    assert ("n", "new") not in facts and ("ratio", "old") not in facts
    assert report.changed and not report.changes
    assert_witnesses_replay(report, old, new)


def test_a_retyped_signal_is_compared_on_the_values_both_accept():
    old = _policy("signal x: int in 0..10\nroute { rule r when x > 5.5 -> big  default -> small }\n")
    new = _policy("signal x: float in 0.0..10.0\nroute { rule r when x > 5.5 -> big  default -> small }\n")
    report = diff(old, new)
    assert not report.changes  # on the ints both accept, both decide alike
    assert [(a.signal, a.only, a.change) for a in report.acceptance] == [("x", "new", "retyped")]
    moved = diff(old, _policy("signal x: float in 0.0..10.0\nroute { rule r when x >= 5 -> big  default -> small }\n"))
    assert [(c.old.rule, c.new.rule, c.witness) for c in moved.changes] == [("default", "r", {"x": 5})]


def test_reordered_enum_members_change_nothing():
    old = _policy("signal t: enum {a, b, c}\nroute { rule r when t in {a, c} -> big  default -> small }\n")
    new = _policy("signal t: enum {c, b, a}\nroute { rule r when t != b -> big  default -> small }\n")
    assert not diff(old, new).changed
    wider = diff(old, _policy("signal t: enum {a, b, c, d}\nroute { rule r when t in {a, c} -> big  default -> small }\n"))
    assert not wider.changes and [(a.signal, a.which) for a in wider.acceptance] == [("t", ("t in {d}",))]


def test_money_read_against_a_float_on_doubles():
    old = _policy("signal spend: money in $0..$1\nroute { rule r when spend > $0.5 -> big  default -> small }\n")
    new = _policy("signal spend: float in 0.0..1.0\nroute { rule r when spend >= 0.5 -> big  default -> small }\n")
    report = diff(old, new)
    assert [(c.old.rule, c.new.rule, c.witness) for c in report.changes] == [("default", "r", {"spend": 0.5})]
    assert_witnesses_replay(report, old, new)


def test_no_request_accepted_by_both():
    old = _policy("signal n: int in 0..10\nroute { default -> small }\n")
    new = _policy("signal n: int in 20..30\nroute { default -> big }\n")
    report = diff(old, new)
    assert report.no_common_request and not report.changes and report.changed
    assert {a.only for a in report.acceptance} == {"old", "new"}


def test_money_and_durations_compare_exactly():
    old = _policy("signal spend: money in $0..$10\nsignal wait: duration in 0s..1m\n"
                  "route { rule rich when spend + $0.1 > $0.3 -> big  rule slow when wait >= 1.5s -> big  default -> small }\n")
    new = _policy("signal spend: money in $0..$10\nsignal wait: duration in 0s..1m\n"
                  "route { rule rich when spend > $0.2 -> big  rule slow when wait > 1.5s -> big  default -> small }\n")
    report = diff(old, new)
    assert [(c.old.rule, c.new.rule) for c in report.changes] == [("slow", "default")]
    assert report.changes[0].witness["wait"] == 1.5
    assert_witnesses_replay(report, old, new)


# ---- budgets ----------------------------------------------------------------------------------


def test_budget_worst_cases_match_the_checker():
    tour = (EXAMPLES.parent / "README.md").read_text()
    desk = re.search(r"```route\n(.*?)```", tour, re.S).group(1)
    old = policylang.loads(desk, "desk.route", analyze=False)
    fixed = policylang.loads(desk.replace("input_tokens > 200_000 ", "input_tokens > 50_000  "), "desk.route",
                             analyze=False)
    report = diff(old, fixed)
    (budget,) = report.budgets
    assert budget.text == "cost <= $1.00"
    # E301 of the tour: the default may cost $2.24 at 200,000 tokens; $0.74 at 50,000
    assert (budget.before.value, budget.before.rule) == (Decimal("2.24"), "default")
    assert (budget.after.value, budget.after.rule) == (Decimal("0.74"), "default")
    assert {(c.old.rule, c.new.rule) for c in report.changes} == {("legal", "too_large"), ("routine", "too_large"),
                                                                  ("default", "too_large")}


def test_latency_budgets_and_budgets_added():
    old = _policy("signal n: int in 0..10\nsignal sync: bool\nbudget latency <= 5s when sync\n"
                  "fallback small -> big on timeout\nroute { rule r when n > 5 -> big  default -> small }\n")
    new = _policy("signal n: int in 0..10\nsignal sync: bool\nbudget latency <= 5s when sync\nbudget cost <= $1\n"
                  "route { rule r when n > 5 -> big  default -> small }\n")
    report = diff(old, new)
    latency, cost = report.budgets
    assert latency.before.value == 3 and latency.after.value == 2  # small failing over to big: 1s + 2s
    assert cost.before is None and cost.after.value == Decimal("0.3008")  # big: 100,000 x $3/M + 200 x $4/M
    assert "fallback small -> big on timeout removed" in report.notes
    assert not report.changed


# ---- traffic ----------------------------------------------------------------------------------


def test_traffic_counts_each_pair_and_its_cost(tmp_path):
    old = _policy("signal input_tokens: int in 0..1000\nroute { rule long when input_tokens > 500 -> big  default -> small }\n")
    new = _policy("signal input_tokens: int in 0..1000\nroute { rule long when input_tokens > 400 -> big  default -> small }\n")
    lines = [json.dumps({"input_tokens": n, "@output_tokens": 50}) for n in (100, 450, 450, 800)]
    lines += ['{"input_tokens": 5000}', "not json", ""]
    report = diff(old, new, traffic=lines)
    (change,) = report.changes
    assert (change.old.rule, change.new.rule) == ("default", "long")
    assert change.traffic.requests == 2
    # 450 tokens: small 450 x $1/M + 50 x $2/M = $0.00055; big 450 x $3/M + 50 x $4/M = $0.00155
    assert change.traffic.cost_before == Decimal("0.0011") and change.traffic.cost_after == Decimal("0.0031")
    t = report.traffic
    assert (t.records, t.changed, t.unchanged, t.refused_by_both, t.not_objects) == (6, 2, 2, 1, 1)


# ---- the command ------------------------------------------------------------------------------


def _run(*args, input=None):
    result = CliRunner().invoke(main, list(args), input=input)
    assert "Traceback" not in result.output
    return result


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text("policy p\n" + text + MODELS)
    return str(path)


def test_cli_formats_and_exit_statuses(tmp_path):
    old = _write(tmp_path, "old.route", "signal n: int in 0..10\nroute { rule r when n > 5 -> big  default -> small }\n")
    new = _write(tmp_path, "new.route", "signal n: int in 0..10\nroute { rule r when n > 6 -> big  default -> small }\n")
    same = _write(tmp_path, "same.route", "signal n: int in 0..10\nroute { rule bigger when n > 5 -> big  default -> small }\n")
    text = _run("diff", old, new)
    assert text.exit_code == 1
    assert 'rule r -> default' in text.output and '{"n": 6}' in text.output
    shown = json.loads(_run("diff", old, new, "--format", "json").output)
    assert shown["changed"] and shown["changes"][0]["witness"] == {"n": 6}
    assert shown["changes"][0]["fields"] == ["model", "steps", "max_output", "caps"]
    markdown = _run("diff", old, new, "--format", "markdown").output
    assert markdown.startswith("### policyc diff") and "| rule r | default |" in markdown
    renamed = _run("diff", old, same)
    assert renamed.exit_code == 0 and "rule r -> rule bigger" in renamed.output
    assert _run("diff", old, old).exit_code == 0
    assert _run("diff", "-", new, input=open(old).read()).exit_code == 1
    assert _run("diff", old, str(tmp_path / "missing.route")).exit_code == 2
    broken = tmp_path / "broken.route"
    broken.write_text("policy b\nroute { default -> nowhere }\n")
    errors = _run("diff", old, str(broken))
    assert errors.exit_code == 2 and "E101" in errors.output
    assert _run("diff", "-", "-").exit_code == 2
    assert _run("diff", old).exit_code == 2
    traffic = tmp_path / "traffic.jsonl"
    traffic.write_text('{"n": 6}\n{"n": 1}\n')
    counted = _run("diff", old, new, "--traffic", str(traffic))
    assert counted.exit_code == 1 and "traffic: 1 request, cost" in counted.output
    assert _run("diff", old, new, "--traffic", str(tmp_path / "none.jsonl")).exit_code == 2


def test_markdown_cells_hold_any_reason():
    from policylang.authoring.diff_render import render_markdown

    old = _policy('signal n: int in 0..10\nroute { rule r when n > 5 -> reject "a | b <script>x</script> [l](u) `c`"  default -> small }\n')
    new = _policy("signal n: int in 0..10\nroute { rule r when n > 5 -> big  default -> small }\n")
    row = next(line for line in render_markdown(diff(old, new)).splitlines() if line.startswith("| rule r"))
    assert row.count(" | ") == 5  # six cells: no `|` of the reason splits one
    assert not re.search(r"(?<!\\)<", row) and "\\<script>" in row and "\\[l\\](u)" in row


def test_every_example_against_itself_changes_nothing():
    for path in sorted(EXAMPLES.glob("*.route")):
        result = _run("diff", str(path), str(path))
        assert result.exit_code == 0, result.output
        assert result.output.rstrip().endswith("no request's decision changes")


# ---- the documentation ------------------------------------------------------------------------


def test_the_docs_of_explain_and_diff_show_what_they_print(tmp_path):
    """Every console block of docs/cli.md's explain and diff sections, run in a folder that
    holds examples/support_desk.route, prints what the page shows."""
    import os
    import subprocess
    import sys

    from test_readme import commands, matches

    page = (EXAMPLES.parent / "docs" / "cli.md").read_text(encoding="utf-8")
    sections = page[page.index("## `policyc explain`"):]
    blocks = re.findall(r"```console\n(.*?)```", sections, re.S)
    assert len(blocks) >= 4
    (tmp_path / "examples").mkdir()
    (tmp_path / "examples" / "support_desk.route").write_text((EXAMPLES / "support_desk.route").read_text())
    (tmp_path / "week.jsonl").write_text(re.search(r"\$ cat week.jsonl\n(.*?)\n\$", sections, re.S).group(1) + "\n")
    env = dict(os.environ, PATH=f"{os.path.dirname(sys.executable)}{os.pathsep}{os.environ.get('PATH', '')}")
    for block in blocks:
        for command, expected in commands(block):
            done = subprocess.run(["sh", "-c", command + " 2>&1"], cwd=tmp_path, env=env, capture_output=True,
                                  text=True, timeout=120)
            got = done.stdout.splitlines()
            assert matches(expected, got), f"$ {command}\ndocs say:\n" + "\n".join(expected) + \
                "\nit prints:\n" + "\n".join(got)
