"""The README's tour says what the tools print: keep it true."""

from __future__ import annotations

import re

import policylang
from policylang.passes import check
from policylang.testing import run_tests
from policylang.syntax.loader import decode
from conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")
TOUR = re.search(r"```route\n(.*?)```", README, re.S).group(1)
FIXED = TOUR.replace("input_tokens > 200_000 ", "input_tokens > 50_000  ")


def codes(text: str) -> list[tuple[str, int]]:
    return [(d.code, d.span.line) for d in check(*decode("desk.route", text.encode())).diagnostics]


def test_the_tour_policy_is_over_budget_as_the_readme_shows() -> None:
    found = check(*decode("desk.route", TOUR.encode())).diagnostics
    assert [d.code for d in found] == ["E301", "E301", "E301"]
    default = found[-1]
    shown = re.search(r"error\[E301\]: (rule default .*)", README).group(1)
    assert default.message == shown
    assert default.help == "bound input_tokens to 76,000 with a rule above"
    assert "76,000" in README


def test_rejecting_long_inputs_earlier_makes_it_clean() -> None:
    assert FIXED != TOUR
    assert codes(FIXED) == []


def test_the_tour_decisions_and_escalation() -> None:
    policy = policylang.loads(FIXED, "desk.route")
    decision = policy.decide({"task": "draft", "input_tokens": 900})
    assert (decision.model, tuple(decision.steps), decision.max_output) == ("fast", ("fast", "frontier"), 4000)
    assert policy.escalate(decision, 0, {"confidence": 0.3}) == "frontier"
    assert policy.escalate(decision, "fast", {"confidence": 0.3}) == "frontier"  # a name that means one step
    assert policy.path(decision, [{"confidence": 0.3}]) == ["fast", "frontier"]
    assert [t.name for t in policy.ir.tests] == ["legal_goes_to_frontier", "drafts_escalate_when_unsure"]
    assert all(r.passed for r in run_tests(policy))
