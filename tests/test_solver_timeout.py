"""`--timeout` (issue 25, point 5): the solver time of each file's analyses is bounded, and a
question still open when it runs out is E901 at the condition it was about, never a hang.

The slow policy is the pigeonhole principle: ten int signals in nine values, pairwise
different. No request meets it, and z3 takes seconds to find that out (far longer than the
fractions of a second these tests allow it), while nothing else in the policy needs it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import z3

import policylang
from policylang.analysis.budget import current, solver_time_limit
from policylang.analysis.facts import Facts
from policylang.analysis.solver import Undecided
from policylang.backends.python.interpreter import Interpreter
from policylang.codes import CODES, E901
from support.cli import run

PIGEONS = 10


def slow_policy() -> str:
    signals = "\n".join(f"signal p{i}: int in 0..{PIGEONS - 2}" for i in range(PIGEONS))
    crowded = " and ".join(f"p{i} != p{j}" for i in range(PIGEONS) for j in range(i + 1, PIGEONS))
    return f"""policy slow

{signals}

model small {{ id = "vendor/small", tier = 1, input_per_mtok = $0.1, output_per_mtok = $0.4, context = 100_000, max_output = 4_000, latency = 2s }}

route {{
  rule easy when p0 > 3 -> small
  rule crowded when {crowded} -> small
  default -> small
}}
"""


CROWDED_LINE = 18


@pytest.fixture()
def slow(tmp_path: Path) -> Path:
    path = tmp_path / "slow.route"
    path.write_text(slow_policy())
    return path


def test_e901_is_a_registered_error_with_help() -> None:
    assert CODES["E901"] is E901
    assert E901.severity.value == "error" and E901.help


def test_lint_with_a_timeout_reports_e901_at_the_slow_condition(slow: Path) -> None:
    result = run(["lint", "--format", "json", "--timeout", "0.3", slow])
    assert result.exit_code == 1
    found = json.loads(result.stdout)["diagnostics"]
    assert [(d["code"], d["line"], d["column"]) for d in found] == [("E901", CROWDED_LINE, 21)]
    assert "rules (W201-W205) not decided in time" in found[0]["message"]
    assert "--timeout of 0.3 s" in found[0]["message"]
    assert "raise --timeout" in found[0]["help"]


def test_lint_text_shows_e901_with_its_caret_and_help(slow: Path) -> None:
    result = run(["lint", "--timeout", "0.2", slow])
    assert result.exit_code == 1
    assert "E901" in result.stdout and "help: raise --timeout" in result.stdout
    assert f"slow.route:{CROWDED_LINE}:21" in result.stdout


def test_compile_with_a_timeout_refuses_and_writes_nothing(slow: Path, tmp_path: Path) -> None:
    out = tmp_path / "slow.py"
    result = run(["compile", "--timeout", "0.2", slow, "-o", out])
    assert result.exit_code == 1
    assert "E901" in result.stderr
    assert not out.exists()


@pytest.mark.parametrize("bad", ["0", "-1", "soon"])
def test_a_timeout_that_is_no_positive_number_is_a_usage_error(slow: Path, bad: str) -> None:
    assert run(["lint", "--timeout", bad, slow]).exit_code == 2
    assert run(["compile", "--timeout", bad, slow]).exit_code == 2


def test_a_generous_timeout_changes_no_finding(write_route) -> None:  # type: ignore[no-untyped-def]
    path = write_route("""policy p
signal tokens: int in 0..1000
signal tier: enum {free, pro}
model small { id = "vendor/small", tier = 1, input_per_mtok = $0.1, output_per_mtok = $0.4, context = 100_000, max_output = 4_000, latency = 2s }
route {
  rule a when tokens * 2 + 1 > 900 and tier == free -> small
  rule b when tokens > 500 and tier == free -> small
  rule c when tokens < 0 -> small
}
""")
    plain = run(["lint", "--format", "json", path])
    bounded = run(["lint", "--format", "json", "--timeout", "60", path])
    assert plain.exit_code == bounded.exit_code == 1
    assert plain.stdout == bounded.stdout
    assert {d["code"] for d in json.loads(plain.stdout)["diagnostics"]} >= {"E204", "W202"}


def test_the_budget_is_per_policy_and_undecided_names_no_span_for_foreign_terms() -> None:
    policy = policylang.loads(slow_policy(), "slow.route", analyze=False).ir
    holes = [z3.Int(f"hole{i}") for i in range(PIGEONS)]
    crowded = (z3.Distinct(*holes), *[z3.And(x >= 0, x < PIGEONS - 1) for x in holes])
    with solver_time_limit(0.2):
        budget = current()
        assert budget is not None
        first = Facts(policy, None, Interpreter).solver
        with pytest.raises(Undecided) as caught:
            first.satisfiable(*crowded)
        assert caught.value.span is None and caught.value.seconds == 0.2
        assert budget.left(first.encoder) <= 0
        with pytest.raises(Undecided):  # spent: the next question is not even asked
            first.satisfiable(z3.BoolVal(True))
        second = Facts(policy, None, Interpreter).solver  # another policy's check: a budget of its own
        assert budget.left(second.encoder) == pytest.approx(0.2)
        assert second.satisfiable(holes[0] > 3) is True
    assert current() is None


def test_undecided_points_at_the_rule_whose_literal_the_question_assumed(slow: Path) -> None:
    policy = policylang.load(str(slow), analyze=False).ir
    with solver_time_limit(0.2):
        facts = Facts(policy, None, Interpreter)
        with pytest.raises(Undecided) as caught:
            facts.solver.holds_under([facts.included(1)])
    span = caught.value.span
    assert span is not None and (span.line, span.column) == (CROWDED_LINE, 21)
