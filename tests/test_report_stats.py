"""policyc report's statistics and alert grammar, against published values and by hand."""

from __future__ import annotations

import math
from collections import Counter

import pytest

from policylang.monitoring.alerts import AlertError, evaluate, parse
from policylang.monitoring.stats import chi2_sf, chi_square, gamma_q, newcombe, wilson
from policylang.monitoring.tally import quantiles, rank


def test_wilson_matches_published_intervals() -> None:
    # Newcombe (1998), Statistics in Medicine 17, table I: 81/263 -> 0.2553-0.3662; 15/148 -> 0.0624-0.1605
    low, high = wilson(81, 263)
    assert (round(low, 4), round(high, 4)) == (0.2553, 0.3662)
    low, high = wilson(15, 148)
    assert (round(low, 4), round(high, 4)) == (0.0624, 0.1605)
    assert wilson(0, 10)[0] == 0.0 and wilson(10, 10)[1] == 1.0


def test_newcombe_matches_the_paper() -> None:
    # Newcombe (1998b), Statistics in Medicine 17, 873-890, table II, method 10:
    # 56/70 - 48/80 -> 0.0524 to 0.3339; 9/10 - 3/10 -> 0.1705 to 0.8090
    d = newcombe((48, 80), (56, 70))
    assert round(d.difference, 4) == 0.2
    assert (round(d.low, 4), round(d.high, 4)) == (0.0524, 0.3339)
    assert d.significant
    d = newcombe((3, 10), (9, 10))
    assert (round(d.low, 4), round(d.high, 4)) == (0.1705, 0.8090)


def test_newcombe_is_not_significant_without_a_difference() -> None:
    d = newcombe((50, 100), (52, 100))
    assert d.low < 0 < d.high and not d.significant


@pytest.mark.parametrize(("x", "dof", "p"), [(3.841458820694124, 1, 0.05), (5.991464547107979, 2, 0.05),
                                             (11.070497693516351, 5, 0.05), (6.634896601021214, 1, 0.01),
                                             (0.0, 3, 1.0), (100.0, 2, math.exp(-50))])
def test_chi2_survival_function(x: float, dof: int, p: float) -> None:
    assert chi2_sf(x, dof) == pytest.approx(p, rel=1e-9)


def test_gamma_q_both_branches() -> None:
    # Q(1, x) = exp(-x) exactly; x < a + 1 takes the series, above it the continued fraction
    for x in (0.1, 1.5, 2.5, 30.0):
        assert gamma_q(1.0, x) == pytest.approx(math.exp(-x), rel=1e-12)


def test_chi_square_by_hand() -> None:
    # before a: 30, b: 70; after a: 50, b: 50 -> expected 40/60 each row
    test = chi_square({"a": 30, "b": 70}, {"a": 50, "b": 50})
    assert test is not None
    expected = 2 * ((30 - 40) ** 2 / 40 + (70 - 60) ** 2 / 60)
    assert test.statistic == pytest.approx(expected)
    assert test.dof == 1 and test.cochran
    assert test.p_value == pytest.approx(chi2_sf(expected, 1))
    assert chi_square({"a": 5}, {"a": 7}) is None  # one category: nothing to test
    assert chi_square({}, {"a": 7, "b": 1}) is None
    assert not chi_square({"a": 1, "b": 2}, {"a": 2, "b": 1}).cochran  # type: ignore[union-attr]


def test_nearest_rank() -> None:
    values = Counter({float(v): 1 for v in range(1, 101)})
    assert quantiles(values) == (100, 50.0, 95.0, 99.0)
    assert quantiles(Counter({1.0: 1})) == (1, 1.0, 1.0, 1.0)
    assert quantiles(Counter()) is None
    # 20 values: rank ceil(0.95 * 20) = 19, ceil(0.99 * 20) = 20
    assert quantiles(Counter({float(v): 1 for v in range(1, 21)})) == (20, 10.0, 19.0, 20.0)
    assert [rank(p, 50) for p in (50, 95, 99)] == [25, 48, 50]
    # counts: 9 at 1.0, 1 at 10.0 -> p50 1.0, p95 and p99 10.0
    assert quantiles(Counter({1.0: 9, 10.0: 1})) == (10, 1.0, 10.0, 10.0)


def test_alert_grammar() -> None:
    alert = parse("escalation_rate{task=classify} > 0.2")
    assert (alert.metric, alert.labels, alert.operator, str(alert.threshold)) == (
        "escalation_rate", (("task", "classify"),), ">", "0.2")
    assert parse('error_rate{model=fast, error="rate_limited"}>=0.05').labels == (("model", "fast"), ("error", "rate_limited"))
    assert parse("p95 <= 2.5").metric == "p95"
    for bad in ("__import__('os').system('true') > 0", "escalation_rate > x", "rate > 0.2", "escalation_rate{task} > 0.1",
                "escalation_rate{task=a,task=b} > 0.1", "p95{model=fast} > 1", "error_rate{error=timeout} > 0",
                "escalation_rate > 0.2 or 1", ""):
        with pytest.raises(AlertError):
            parse(bad)


def _report(**summary: object) -> dict[str, object]:
    base = {"requests": 100, "rejected": 10, "escalation_rate": 0.25, "latency": {"p95": 3.0}}
    base.update(summary)
    return {"summary": base, "errors": [], "models": [{"model": "fast", "calls": 200, "errors": {"timeout": 20}}]}


def test_alerts_fire_only_when_they_hold() -> None:
    report = _report()
    assert evaluate(parse("escalation_rate > 0.2"), report)["fired"]
    assert not evaluate(parse("escalation_rate > 0.25"), report)["fired"]
    assert evaluate(parse("escalation_rate >= 0.25"), report)["fired"]
    assert evaluate(parse("reject_rate == 0.1"), report)["fired"]
    assert evaluate(parse("p95 > 2"), report)["fired"]
    report["errors"] = [{"model": "fast", "error": "timeout", "count": 20}]
    assert evaluate(parse("error_rate{model=fast} > 0.09"), report)["value"] == 0.1
    thin = _report(requests=5)
    result = evaluate(parse("escalation_rate > 0.1"), thin)
    assert not result["fired"] and "too few" in result["why"]
    grouped = evaluate(parse("escalation_rate{task=chat} > 0.1"), report)
    assert not grouped["fired"] and "--by task" in grouped["why"]
