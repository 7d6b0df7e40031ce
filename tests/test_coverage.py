"""`policyc test --coverage` (docs/cli.md, Coverage): which rules, cascade edges and
fallbacks the tests exercise.

What a test exercises is recomputed here from first principles (the rule `decide` names, the
models a climb reaches, the fallback that serves a failing call) and compared with the report:
on every example (each must reach 100%, and lose exactly the rules whose tests are taken out),
on random policies with random test blocks, and on a hand-written policy whose cascade and
fallback chain pin each item.
"""

from __future__ import annotations

import json
import pathlib
from decimal import Decimal
from typing import Any

import policygen as gen
import pytest
from click.testing import CliRunner
from conftest import example_files, examples
from hypothesis import given
from hypothesis import strategies as st

import policylang
from policylang.authoring.coverage import Coverage, coverage, percent
from policylang.cli import main
from policylang.ir import surface as s
from policylang.source import Source
from policylang.syntax.parser import parse

EXAMPLES = example_files()


def fired_by_decide(policy: policylang.Policy) -> set[str]:
    """The rules that decide some test's request, by `decide` itself."""
    fired = set()
    for test in policy.ir.tests:
        request = {k: (float(v) if isinstance(v, Decimal) and k not in money(policy) else v)
                   for k, v in test.given}
        fired.add(policy.decide(request).rule)
    return fired


def money(policy: policylang.Policy) -> set[str]:
    return {sig.name for sig in policy.ir.signals if sig.type.kind == "money"}


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_example_is_fully_covered(path: pathlib.Path) -> None:
    report = coverage(policylang.load(str(path)))
    assert [i.name for i in report.rules if not i.covered] == []
    assert report.missed == (), [i.words for i in report.missed]
    assert report.share == 1.0 and percent(report.share) == "100%"
    assert {i.name for i in report.rules} == fired_by_decide(policylang.load(str(path)))
    assert report.edges and report.fallbacks or path.name == "budget_session.route"


def without_tests(text: str, names: set[str]) -> str:
    """The policy text with the named test blocks cut out."""
    tree, diagnostics = parse(Source("<t>", text))
    assert tree is not None, diagnostics
    for decl in sorted((d for d in tree.decls if isinstance(d, s.TestDecl) and d.name.text in names),
                       key=lambda d: -d.span.start):
        text = text[: decl.span.start] + text[decl.span.end:]
    return text


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_coverage_lists_exactly_the_rules_no_test_fires(path: pathlib.Path, tmp_path: pathlib.Path) -> None:
    policy = policylang.load(str(path))
    text = path.read_text(encoding="utf-8")
    report = coverage(policy)
    for rule in report.rules:
        # every test that fires this rule, cut out: the rule, and only it, is reported missed
        copy = tmp_path / path.name
        copy.write_text(without_tests(text, set(rule.tests)), encoding="utf-8")
        reduced = coverage(policylang.load(str(copy), analyze=False))
        assert [i.name for i in reduced.rules if not i.covered] == [rule.name]
        assert fired_by_decide(policylang.load(str(copy), analyze=False)) == {i.name for i in report.rules} - {rule.name}


# ---- random policies with random tests ---------------------------------------------------------------


@st.composite
def policies_with_tests(draw) -> tuple[gen.GeneratedPolicy, list[dict[str, Any]], str]:
    policy = draw(gen.finite_policies())
    requests = list(policy.requests())
    chosen = draw(st.lists(st.sampled_from(requests), max_size=6))
    blocks = []
    for n, request in enumerate(chosen):
        given = ", ".join(f"{k} = {str(v).lower() if isinstance(v, bool) else v}" for k, v in request.items())
        # the expectation is often wrong: a failing test still exercises what it reaches
        blocks.append(f"test t{n} {{\n  given {{ {given} }}\n  expect reject\n}}\n")
    return policy, chosen, policy.text + "\n".join(blocks)


@examples(0.5)
@given(case=policies_with_tests())
def test_random_policies_report_the_rules_their_tests_fire(case) -> None:
    _, requests, text = case
    checked = policylang.policy.check_text(text)
    assert checked.policy is not None, checked.diagnostics
    policy = policylang.Policy(checked)
    fired = {policy.decide(r, engine="interpreted").rule for r in requests}
    report = coverage(policy)
    assert {i.name for i in report.rules if i.covered} == fired - {None}
    assert [i.name for i in report.rules] == [r.name for r in policy.ir.route]
    assert report.tests == len(requests)
    for item in report.rules:
        assert list(item.tests) == [f"t{n}" for n, r in enumerate(requests)
                                    if policy.decide(r, engine="interpreted").rule == item.name]


# ---- cascades and fallbacks ---------------------------------------------------------------------------

LADDER = """policy ladder
signal task: enum {chat, code, none}
outcome confidence: float in 0.0..1.0 = 1.0
model a { id = "a", tier = 1, input_per_mtok = $1, output_per_mtok = $1, context = 1000, max_output = 100, latency = 1s }
model b = a { id = "b", tier = 2 }
model c = a { id = "c", tier = 3 }
model x = a { id = "x" }
model y = a { id = "y", tier = 2 }
model z = a { id = "z" }
model unused = a { id = "u" }
cascade climb {
  a -> b when confidence < 0.5
  b -> c when confidence < 0.2
}
fallback a -> x on unavailable, timeout
fallback x -> z on rate_limited
fallback b -> y on server_error
fallback unused -> z on unavailable
route {
  rule chat when task == chat -> climb
  rule code when task == code -> b
  default -> reject "no task"
}
"""


def ladder(tests: str, tmp_path: pathlib.Path) -> Coverage:
    path = tmp_path / "ladder.route"
    path.write_text(LADDER + tests, encoding="utf-8")
    return coverage(policylang.load(str(path)))


def covered(report: Coverage) -> dict[str, tuple[str, ...]]:
    return {i.name: i.tests for i in report.items if i.covered}


def test_edges_count_when_a_test_climbs_them(tmp_path: pathlib.Path) -> None:
    report = ladder("""
test stays { given { task = chat } expect a by chat }
test one_rung { given { task = chat } outcome { confidence = 0.4 } expect a by chat then b }
test two_rungs { given { task = chat } outcome { confidence = 0.1 } expect a by chat then b then c }
""", tmp_path)
    assert covered(report) == {"chat": ("stays", "one_rung", "two_rungs"),
                               "climb: a -> b": ("one_rung", "two_rungs"), "climb: b -> c": ("two_rungs",)}
    assert [i.name for i in report.fallbacks] == ["a -> x on unavailable, timeout", "x -> z on rate_limited",
                                                  "b -> y on server_error"], "unused's fallback is not counted"
    assert report.total == 3 + 2 + 3 and report.covered == 3


def test_fallbacks_count_when_a_down_model_makes_them_serve(tmp_path: pathlib.Path) -> None:
    report = ladder("""
test a_times_out { given { task = chat } down a on timeout expect x by chat }
test a_and_x_down { given { task = chat } down a down x on rate_limited expect z by chat }
test wrong_error { given { task = code } down b on timeout expect b by code }
test climbs_past_b_down { given { task = chat } outcome { confidence = 0.1 } down b on server_error
  expect a by chat then y then c }
""", tmp_path)
    found = covered(report)
    assert found["a -> x on unavailable, timeout"] == ("a_times_out", "a_and_x_down")
    assert found["x -> z on rate_limited"] == ("a_and_x_down",)
    assert found["b -> y on server_error"] == ("climbs_past_b_down",)
    # b down with an error it has no fallback for: the step is unserved, b's fallback unused
    assert "code" in found and found["climb: a -> b"] == ("climbs_past_b_down",)
    details = {i.name: dict(i.details) for i in report.fallbacks}
    assert details["a -> x on unavailable, timeout"]["errors_exercised"] == ["unavailable", "timeout"]
    assert found["climb: b -> c"] == ("climbs_past_b_down",), "y answered for b: the climb goes on from b"
    assert "default" not in found


def test_a_failing_test_still_counts_and_an_invalid_one_does_not(tmp_path: pathlib.Path) -> None:
    report = ladder("""
test expects_wrongly { given { task = code } expect c by chat }
test invalid { given {} expect reject }
""", tmp_path)
    assert covered(report) == {"code": ("expects_wrongly",)}


# ---- the command line ------------------------------------------------------------------------------------


def test_policyc_test_coverage_lists_what_no_test_exercises(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "ladder.route"
    path.write_text(LADDER + "test one_rung { given { task = chat } outcome { confidence = 0.4 } expect a by chat then b }\n",
                    encoding="utf-8")
    result = CliRunner().invoke(main, ["test", "--coverage", str(path)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[:2] == [f"{path}: 1 test", "  ok    one_rung"]
    assert lines[2] == "  coverage 25% (2 of 8): rules 1 of 3, cascade edges 1 of 2, fallbacks 0 of 3"
    assert lines[3:-1] == [
        f"    no test fires rule code ({path}:21)",
        f"    no test fires the default ({path}:22)",
        f"    no test climbs cascade edge climb: b -> c ({path}:13)",
        f"    no test exercises fallback a -> x on unavailable, timeout ({path}:15)",
        f"    no test exercises fallback x -> z on rate_limited ({path}:16)",
        f"    no test exercises fallback b -> y on server_error ({path}:17)",
    ]
    assert lines[-1] == "1 passed, 0 failed"


def test_policyc_test_coverage_as_json(tmp_path: pathlib.Path) -> None:
    result = CliRunner().invoke(main, ["test", "--coverage", "--format", "json", *map(str, EXAMPLES)])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["failed"] == 0 and report["passed"] == sum(len(f["tests"]) for f in report["files"])
    for entry in report["files"]:
        cov = entry["coverage"]
        assert cov["share"] == 1.0 and cov["covered"] == cov["total"]
        assert cov["rules"]["total"] == len(policylang.load(entry["file"]).ir.route)
        for item in cov["rules"]["items"] + cov["cascade_edges"]["items"] + cov["fallbacks"]["items"]:
            assert item["covered"] and item["tests"] and item["line"] >= 1
    plain = json.loads(CliRunner().invoke(main, ["test", "--format", "json", str(EXAMPLES[0])]).output)
    assert "coverage" not in plain["files"][0] and plain["files"][0]["tests"][0]["passed"] is True


def test_policyc_test_without_coverage_prints_what_it_did_before() -> None:
    result = CliRunner().invoke(main, ["test", str(EXAMPLES[0])])
    assert result.exit_code == 0
    assert "coverage" not in result.output and result.output.splitlines()[-1].endswith("passed, 0 failed")


def test_policyc_test_json_reports_a_broken_file_and_an_unreadable_one(tmp_path: pathlib.Path) -> None:
    broken = tmp_path / "broken.route"
    broken.write_text("policy p\nroute { default -> nowhere }\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["test", "--coverage", "--format", "json", str(broken)])
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["files"][0]["ran"] is False and report["files"][0]["errors"][0]["code"] == "E101"
    missing = CliRunner().invoke(main, ["test", "--format", "json", str(tmp_path / "missing.route")])
    assert missing.exit_code == 2 and json.loads(missing.stdout)["files"][0]["unreadable"]
