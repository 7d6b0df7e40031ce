"""Drift between two reports (`--compare-to`, `--baseline-window`): the rule mix's shift and
each rate's change, with the statistics of `stats.py`."""

from __future__ import annotations

from typing import Any

from .stats import ALPHA, MIN_REQUESTS, chi_square, newcombe


def summary_rates(s: dict[str, Any]) -> dict[str, tuple[int, int]]:
    """The rates of a summary (the report's, a group's), as (successes, trials)."""
    rates = {"escalation_rate": (s["escalated"], s["served"]), "fallback_rate": (s["fell_back"], s["requests"]),
             "reject_rate": (s["rejected"], s["requests"]), "error_rate": (s["failed_calls"], s["calls"])}
    if "successes" in s:
        rates["success_rate"] = (s["successes"], s["requests"])
    return rates


def _rates(report: dict[str, Any]) -> dict[str, tuple[int, int]]:
    """Each rate the drift compares, as (successes, trials)."""
    rates = summary_rates(report["summary"])
    for model in report["models"]:
        rates[f"error_rate{{model={model['model']}}}"] = (sum(model["errors"].values()), model["calls"])
    return rates


def drift(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """The rule mix (chi-square test of homogeneity) and each rate before and after, with
    Newcombe's 95% interval of the difference (after - before), significant only when the
    interval excludes 0 and both sides have enough trials."""
    mix_before = {str(r["rule"]): r["requests"] for r in before["rules"]}
    mix_after = {str(r["rule"]): r["requests"] for r in after["rules"]}
    test = chi_square(mix_before, mix_after)
    rule_mix: dict[str, Any] = {"test": "chi-square test of homogeneity", "before": mix_before, "after": mix_after}
    if test is None:
        rule_mix.update({"statistic": None, "dof": None, "p_value": None, "significant": False,
                         "why": "fewer than two rules, or an empty window"})
    else:
        enough = min(sum(mix_before.values()), sum(mix_after.values())) >= MIN_REQUESTS
        rule_mix.update({"statistic": round(test.statistic, 6), "dof": test.dof, "p_value": float(f"{test.p_value:.6g}"),
                         "expected_counts_at_least_5": test.cochran,
                         "significant": enough and test.p_value < ALPHA})
    return {"interval": "Newcombe hybrid score (method 10), 95%", "rule_mix": rule_mix,
            "rates": differences(_rates(before), _rates(after)),
            "before": {"requests": before["requests"], "logs": before["logs"]},
            "after": {"requests": after["requests"], "logs": after["logs"]}}


def differences(old: dict[str, tuple[int, int]], new: dict[str, tuple[int, int]]) -> list[dict[str, Any]]:
    """Each rate before and after, its difference (after - before) with Newcombe's 95% interval,
    significant only when the interval excludes 0 and both sides have enough trials."""
    rates = []
    for name in sorted(set(old) | set(new)):
        b, a = old.get(name, (0, 0)), new.get(name, (0, 0))
        row: dict[str, Any] = {"rate": name, "before": {"count": b[0], "of": b[1]}, "after": {"count": a[0], "of": a[1]}}
        if b[1] < MIN_REQUESTS or a[1] < MIN_REQUESTS:
            row.update({"difference": None, "ci95": None, "significant": False,
                        "why": f"too few to compare (fewer than {MIN_REQUESTS} on a side)"})
        else:
            d = newcombe(b, a)
            row["before"]["rate"], row["after"]["rate"] = round(d.before, 6), round(d.after, 6)
            row.update({"difference": round(d.difference, 6), "ci95": [round(d.low, 6), round(d.high, 6)],
                        "significant": d.significant})
        rates.append(row)
    return rates


def compare_groups(groups: list[dict[str, Any]]) -> dict[str, Any]:
    """Each group against the first (a canary's arms, `--by arm`): every rate's difference with
    its interval; and each group's rates with their Wilson 95% intervals."""
    first = groups[0]
    return {"interval": "Newcombe hybrid score (method 10), 95%", "reference": first["value"],
            "groups": [{"value": g["value"], "rates": differences(summary_rates(first), summary_rates(g))}
                       for g in groups[1:]]}
