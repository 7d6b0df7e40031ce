"""The report of section 15 from a Tally: every number here is a function of the Tally alone.

Money stays Decimal and is written as exact decimal strings; what a division makes (cost per
1,000 requests, cost per success) is rounded half-even (6 and 9 places). Rates are numbers
rounded half-even to 6 places, computed from integer counts, so both engines give the same.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from decimal import ROUND_HALF_EVEN, Context, Decimal
from fractions import Fraction

from ..jsontext import JsonObject, JsonValue
from ..money import money_text
from .stats import MIN_REQUESTS, wilson
from .tally import Options, Tally

EXACT = Context(prec=1000)

Keep = Callable[[str | None, int | None], bool]
"""Which runs a summary counts, by their (group, bucket): the group's value of `--by` (None: no
such signal, or no `--by`) and the bucket's start in seconds (None: no `--every`)."""

ERRED_ENDS = ("exhausted", "error", "interrupted", "over_budget")


def divided(value: Decimal, by: int, places: int) -> str:
    """value / by rounded half-even to `places` decimals, as money text ('0' when by is 0)."""
    if not by:
        return "0"
    quotient = EXACT.divide(value, Decimal(by)).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)
    return money_text(quotient)


def rate(part: int, whole: int) -> float | None:
    """part / whole rounded half-even to 6 places; None when whole is 0."""
    return float(round(Fraction(part, whole), 6)) if whole else None


def when(bucket: int) -> str:
    """A bucket's start (seconds since 1970) as ISO 8601 UTC."""
    return datetime.fromtimestamp(bucket, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def summary(tally: Tally, keep: Keep, success: str | None) -> JsonObject:
    """Requests, ends, cost and rates of the runs whose (group, bucket) `keep` accepts."""
    requests = served = escalated = fell_back = successes = 0
    cost = Decimal(0)
    ends: Counter[str] = Counter()
    for (group, bucket, _rule, end, path, falls, good), (n, spent) in tally.runs.items():
        if not keep(group, bucket):
            continue
        requests += n
        cost += spent
        ends[end] += n
        served += n if path else 0
        escalated += n if len(path) > 1 else 0
        fell_back += n if falls else 0
        successes += n if good is True else 0
    calls = failed = 0
    for (group, bucket, _model, error, skipped), (n, _spent) in tally.attempts.items():
        if keep(group, bucket) and skipped is None:
            calls += n
            failed += n if error is not None else 0
    out: JsonObject = {
        "requests": requests,
        "answered": ends["answered"],
        "rejected": ends["rejected"],
        "incomplete": ends["incomplete"],
        "failed": sum(ends[e] for e in ERRED_ENDS),
        "served": served,
        "escalated": escalated,
        "fell_back": fell_back,
        "calls": calls,
        "failed_calls": failed,
        "escalation_rate": rate(escalated, served),
        "fallback_rate": rate(fell_back, requests),
        "error_rate": rate(failed, calls),
        "cost": money_text(cost),
        "cost_per_1000_requests": divided(cost * 1000, requests, 6),
        "too_few": requests < MIN_REQUESTS,
    }
    if success is not None:
        out["successes"] = successes
        out["success_rate"] = rate(successes, requests)
        out["cost_per_success"] = divided(cost, successes, 9) if successes else None
    out["ci95"] = {name: [round(x, 6) for x in wilson(part, whole)] if whole >= MIN_REQUESTS else None
                   for name, part, whole in (("escalation_rate", escalated, served), ("fallback_rate", fell_back, requests),
                                             ("error_rate", failed, calls), ("success_rate", successes, requests))
                   if name != "success_rate" or success is not None}
    return out


def _quantiles(found: tuple[int, float, float, float] | None) -> JsonObject | None:
    if found is None:
        return None
    return {"requests": found[0], "p50": found[1], "p95": found[2], "p99": found[3]}


def make_report(tally: Tally, options: Options, files: Iterable[str], engine: str) -> JsonObject:
    """The report (module docstring; the fields of section 15 and docs/report.md)."""
    everything: Keep = lambda group, bucket: True  # noqa: E731
    overall = summary(tally, everything, options.success)
    rules, paths, edges = _by_rule_and_path(tally)
    models = _by_model(tally)
    fallbacks: Counter[tuple[str, str]] = Counter()
    for (_group, _bucket, model, error), n in tally.fallbacks.items():
        fallbacks[(model, error)] += n
    total = Decimal(sum((spent for _n, spent in tally.runs.values()), Decimal(0)))
    requests = overall["requests"]

    def per_success(spent: Decimal, good: int) -> JsonObject:
        return {"cost_per_success": divided(spent, good, 9) if good else None} if options.success else {}

    report: JsonObject = {
        "engine": engine,
        "logs": list(files),
        "records": tally.records,
        "requests": requests,
        "summary": overall,
        "policies": [{"policy": p, "requests": n, "first": tally.where(first)} for p, (n, first) in sorted(tally.policies.items())],
        "skipped": {
            "problems": [{"reason": r, "count": n, "first": tally.where(first)} for r, (n, first) in sorted(tally.problems.items())],
            "outside_window": tally.outside,
            "other_policy": tally.skipped_policy,
            "start_records": tally.starts,
        },
        "unfinished_runs": tally.unfinished,
        "ends": dict(sorted(_ends(tally).items())),
        "rules": [{"rule": rule, "requests": n, "answered": ends["answered"], "rejected": ends["rejected"],
                   "incomplete": ends["incomplete"], "cost": money_text(spent),
                   "cost_per_1000_requests": divided(spent * 1000, n, 6), **per_success(spent, good)}
                  for rule, (n, spent, ends, good) in sorted(rules.items(), key=lambda kv: (kv[0] is None, kv[0] or ""))],
        "models": [{"model": model, "calls": e["calls"], "answered": e["answered"], "errors": dict(sorted(e["errors"].items())),
                    "skipped": dict(sorted(e["skipped"].items())), "cost": money_text(e["cost"])}
                   for model, e in sorted(models.items())],
        "escalation": {"requests": overall["escalated"], "rate": overall["escalation_rate"],
                       "edges": [{"from": a, "to": b, "count": n} for (a, b), n in sorted(edges.items())]},
        "fallbacks": [{"model": m, "error": e, "count": n} for (m, e), n in sorted(fallbacks.items())],
        "fallback_rate": overall["fallback_rate"],
        "errors": [{"model": model, "error": error, "count": n, "rate": rate(n, e["calls"])}
                   for model, e in sorted(models.items()) for error, n in sorted(e["errors"].items())],
        "cost": {"total": money_text(total), "per_1000_requests": divided(total * 1000, requests, 6),
                 **({"cost_per_success": overall["cost_per_success"], "successes": overall["successes"]}
                    if options.success else {})},
        "latency": _quantiles(tally.latency.get(("all", None))),
        "ttft": _quantiles(tally.ttft.get(("all", None))),
        "paths": [{"path": list(path), "requests": n, "cost": money_text(spent), **per_success(spent, good),
                   "outcomes": _outcomes(tally, path, options.bools)}
                  for path, (n, spent, good) in sorted(paths.items())],
        "notes": _notes(tally, options),
    }
    _add_groups_and_buckets(report, tally, options)
    if tally.shadow:
        report["shadow"] = shadow_matrix(tally)
    return report


def _by_rule_and_path(tally: Tally) -> tuple[dict[str | None, list[JsonValue]], dict[tuple[str, ...], list[JsonValue]],
                                              Counter[tuple[str, str]]]:
    """Per rule [requests, cost, ends, successes]; per path [requests, cost, successes]; and
    how many runs climbed each edge (a -> b) of a path."""
    rules: dict[str | None, list[JsonValue]] = {}
    paths: dict[tuple[str, ...], list[JsonValue]] = {}
    edges: Counter[tuple[str, str]] = Counter()
    for (_group, _bucket, rule, end, path, _falls, good), (n, spent) in tally.runs.items():
        row = rules.setdefault(rule, [0, Decimal(0), Counter(), 0])
        row[0] += n
        row[1] += spent
        row[2][end] += n
        row[3] += n if good is True else 0
        prow = paths.setdefault(path, [0, Decimal(0), 0])
        prow[0] += n
        prow[1] += spent
        prow[2] += n if good is True else 0
        for a, b in zip(path, path[1:]):
            edges[(a, b)] += n
    return rules, paths, edges


def _by_model(tally: Tally) -> dict[str, JsonObject]:
    """Per model: the calls made, those answered, errors and skips by reason, and the cost."""
    models: dict[str, JsonObject] = {}
    for (_group, _bucket, model, error, skipped), (n, spent) in tally.attempts.items():
        entry = models.setdefault(model, {"calls": 0, "answered": 0, "errors": Counter(), "skipped": Counter(),
                                          "cost": Decimal(0)})
        if skipped is not None:
            entry["skipped"][skipped] += n
            continue
        entry["calls"] += n
        entry["cost"] += spent
        if error is None:
            entry["answered"] += n
        else:
            entry["errors"][error] += n
    return models


def _add_groups_and_buckets(report: JsonObject, tally: Tally, options: Options) -> None:
    """`by` and `groups` under `--by`, `every` and `buckets` under `--every` (with each
    bucket's escalation rate per group when both are given)."""

    def group_is(value: str | None) -> Keep:
        return lambda group, bucket: group == value

    def bucket_is(start: int | None) -> Keep:
        return lambda group, bucket: bucket == start

    def in_both(value: str | None, start: int | None) -> Keep:
        return lambda group, bucket: group == value and bucket == start

    values: list[str | None] = []

    if options.by is not None:
        values = sorted({key[0] for key in tally.runs}, key=lambda v: (v is None, v or ""))
        report["by"] = options.by
        report["groups"] = [{"value": value, **summary(tally, group_is(value), options.success),
                             "latency": _quantiles(tally.latency.get(("group", value))),
                             "error_rates": _error_rates(tally, group_is(value))}
                            for value in values]
    if options.every is not None:
        buckets = sorted({key[1] for key in tally.runs if key[1] is not None})
        report["every"] = options.every
        report["buckets"] = [{"start": when(bucket), **summary(tally, bucket_is(bucket), options.success),
                              "latency": _quantiles(tally.latency.get(("bucket", bucket))),
                              "error_rates": _error_rates(tally, bucket_is(bucket))}
                             for bucket in buckets]
        if options.by is not None:
            for row, bucket in zip(report["buckets"], buckets):
                row["escalation_by_group"] = {"null" if value is None else str(value): _thin_or(summary(tally, in_both(value, bucket), None))
                                              for value in values}
        for row in report["buckets"]:
            if row["too_few"]:
                for name in ("escalation_rate", "fallback_rate", "error_rate", "success_rate"):
                    if name in row:
                        row[name] = None
                row["error_rates"] = {}


def _thin_or(row: JsonObject) -> float | None:
    """A group's escalation rate in one bucket, or None when too few requests stand behind it."""
    value: float | None = None if row["too_few"] else row["escalation_rate"]
    return value


def _ends(tally: Tally) -> Counter[str]:
    ends: Counter[str] = Counter()
    for key, (n, _spent) in tally.runs.items():
        ends[key[3]] += n
    return ends


def _error_rates(tally: Tally, keep: Keep) -> dict[str, float | None]:
    """Each model's share of calls that failed, in the runs `keep` accepts."""
    calls: Counter[str] = Counter()
    failed: Counter[str] = Counter()
    for (group, bucket, model, error, skipped), (n, _spent) in tally.attempts.items():
        if keep(group, bucket) and skipped is None:
            calls[model] += n
            failed[model] += n if error is not None else 0
    return {model: rate(failed[model], calls[model]) for model in sorted(calls)}


def _outcomes(tally: Tally, path: tuple[str, ...], declared_bools: frozenset[str]) -> JsonObject:
    """Each outcome of the final answers on `path`: the mean of its numbers, or the rate of its
    bools (an outcome logged as both gives its mean, unless the policy declares it bool),
    rounded half-even to 6 places."""
    out: JsonObject = {}
    for (where, name), (bools, trues, numbers, total) in sorted(tally.outcomes.items()):
        if where != path:
            continue
        if numbers and name not in declared_bools:
            out[name] = {"mean": float(round(total / numbers, 6)), "n": numbers}
        else:
            out[name] = {"rate": rate(trues, bools), "n": bools}
    return out


def shadow_matrix(tally: Tally) -> list[JsonObject]:
    """Per candidate: requests, the share whose candidate rule is the live rule, and the
    matrix live rule -> candidate rule with counts."""
    candidates: dict[str, list[tuple[str | None, str | None, int]]] = {}
    for (candidate, live, rule), n in tally.shadow.items():
        candidates.setdefault(candidate, []).append((live, rule, n))
    out = []
    for candidate, cells in sorted(candidates.items()):
        n = sum(c for _l, _r, c in cells)
        same = sum(c for live, rule, c in cells if live == rule)
        key: Callable[[tuple[str | None, str | None, int]], tuple[str, str]] = lambda c: (c[0] or "", c[1] or "")  # noqa: E731
        out.append({"candidate": candidate, "requests": n, "agreement": rate(same, n),
                    "matrix": [{"live": live, "candidate": rule, "count": c} for live, rule, c in sorted(cells, key=key)]})
    return out


def _notes(tally: Tally, options: Options) -> list[str]:
    notes = []
    if tally.unfinished:
        notes.append(f"{tally.unfinished} run(s) have a start record and no end record: their process did not "
                     "finish them (killed?)")
    for sha, (n, first) in sorted(tally.versions.items()):
        notes.append(f"{n} record(s) come from another version of policy {options.policy} (sha256 {sha[:12]}, "
                     f"first at {tally.where(first)})")
    for name, (n, first) in sorted(tally.unknown_signals.items()):
        notes.append(f"{n} record(s) log signal {name!r}, which the policy does not declare (renamed or removed "
                     f"since?), first at {tally.where(first)}")
    for reason, (n, first) in sorted(tally.problems.items()):
        notes.append(f"{n} record(s) skipped: {reason} (first at {tally.where(first)})")
    if tally.outside:
        notes.append(f"{tally.outside} record(s) outside the window")
    if tally.skipped_policy:
        notes.append(f"{tally.skipped_policy} record(s) of other policies than {options.policy}")
    if options.by is not None and options.by not in ("arm", "policy") and any(k[0] is None for k in tally.runs):
        notes.append(f"some records have no signal {options.by!r}: they form the group null")
    return notes
