"""Regression tests for findings that were not true, errors that hid others, and API edges.

Each section pins one reported problem with the policy that showed it, in both engines and the
checker; the random-policy properties (test_analysis_properties.py, test_engines_agree.py)
cover the same ground in general.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

import policylang
from policylang.policy import check_text

ENGINES = ("compiled", "interpreted")

TWO_MODELS = """
model m0 { id = "v/m0", tier = 0, input_per_mtok = $0, output_per_mtok = $0, context = 3, max_output = 4, latency = 1s }
model m1 { id = "v/m1", tier = 1, input_per_mtok = $0, output_per_mtok = $0, context = 3, max_output = 4, latency = 1s }
"""


def findings(text: str) -> list[tuple[str, int]]:
    return [(d.code, d.span.line) for d in check_text(text, "case.route").diagnostics]


def at(text: str, snippet: str) -> int:
    """The line of the one line that holds `snippet`: expectations that survive edits."""
    (line,) = [n for n, body in enumerate(text.splitlines(), start=1) if snippet in body]
    return line


def rules(text: str, request: dict) -> set[str | None]:
    """The rule each engine picks; one element when they agree."""
    policy = policylang.loads(text, "case.route", analyze=False)
    return {policy.decide(request, engine=engine).rule for engine in ENGINES}


# ---- 1. an int times a money or duration literal means what it says -----------------------------

UNITS = "policy units\nsignal n: int in 0..10000\n" + TWO_MODELS + """
route {
  rule slow when n * 0.5s >= 30s -> m1
  rule paid when n * $0.5 == $30 -> m0
  rule tick when 250ms * n == 1s -> m0
  default -> m0
}
"""


@pytest.mark.parametrize(("n", "rule"), [(59, "default"), (60, "slow"), (4, "tick"), (3, "default")])
def test_an_int_times_a_unit_literal_is_scaled_in_both_engines(n: int, rule: str) -> None:
    assert rules(UNITS, {"n": n}) == {rule}


def test_money_times_an_int_literal_product_is_exact() -> None:
    text = UNITS.replace("rule slow when n * 0.5s >= 30s -> m1\n", "")
    assert rules(text, {"n": 60}) == {"paid"}
    assert rules(text, {"n": 61}) == {"default"}


def test_the_checker_scales_too() -> None:
    """`n * 0.5s <= 5s` holds for n = 10 (5 s): no W202; it was "never holds" before."""
    text = "policy u\nsignal n: int in 10..15\n" + TWO_MODELS + """
route {
  rule r when n * 0.5s <= 5s -> m1
  default -> m0
}
"""
    assert findings(text) == []
    assert findings(text.replace("<= 5s", "< 5s")) == [("W202", at(text, "rule r"))]
    # paid fires only at n = 60, which slow takes first: covered, as the engines agree
    assert ("W201", at(UNITS, "rule paid")) in findings(UNITS)


# ---- 2. findings over floats and money hold for requests that can be sent -----------------------

ONE_FLOAT = "policy third\nsignal f: float in 0.0..1.0\nsignal credit: money in $0..$10 = $0\n" + TWO_MODELS


def test_a_gap_no_float_can_reach_is_no_gap_and_no_internal_error() -> None:
    """f * 3 != 1 misses only f = 1/3, which no request carries: no E204, no E900."""
    assert findings(ONE_FLOAT + "route {\n  rule r1 when f * 3 != 1 -> m0\n}\n") == []


def test_a_gap_a_float_reaches_is_reported_with_that_float() -> None:
    found = check_text(ONE_FLOAT + "route {\n  rule r1 when f * 2 != 1 -> m0\n}\n", "half.route").diagnostics
    assert [(d.code, d.witness) for d in found] == [("E204", {"f": 0.5})]


def test_a_condition_only_a_third_meets_never_holds() -> None:
    text = ONE_FLOAT + "route {\n  rule r1 when f * 3 == 1 -> m0\n  default -> m1\n}\n"
    assert findings(text) == [("W202", at(text, "rule r1"))]


def test_money_no_decimal_reaches_is_no_gap() -> None:
    """A third of a dollar is no amount a request can give either."""
    assert findings(ONE_FLOAT + "route {\n  rule r1 when credit * 3 != $1 -> m0\n}\n") == []
    found = check_text(ONE_FLOAT + "route {\n  rule r1 when credit * 4 != $1 -> m0\n}\n", "q.route").diagnostics
    assert [(d.code, d.witness) for d in found] == [("E204", {"f": 0.0, "credit": Decimal("0.25")})]


def test_an_invariant_broken_only_at_a_third_holds_and_one_broken_at_a_half_fails() -> None:
    text = ONE_FLOAT + """invariant strong: require model.tier >= 1
route {
  rule r1 when f - 1 == -f * 2 -> m0
  default -> m1
}
"""
    assert "E304" not in {code for code, _ in findings(text)}
    found = check_text(text.replace("f - 1 == -f * 2", "f - 1 == -f"), "half.route").diagnostics
    assert [(d.code, d.witness) for d in found if d.code == "E304"] == [("E304", {"f": 0.5})]
