"""What a simulation counts (`Tally`), and the report of section 9.3 made from it.

Both engines fill the same tallies, one per value of the `--by` signal (or one in all), and
the report is computed from them by one function, so that equal tallies give equal reports.
Costs are summed as tokens per model and priced once, exactly: `tokens x price / 1,000,000`.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Context, Decimal
from typing import Any

from ..ir.policy import CheckedPolicy
from ..ir.values import EXACT
from ..money import money_text

WIDE = Context(prec=60)
"""For the few quotients (a saving, a mean): 60 digits, then rounded to the places shown."""


@dataclass
class Tally:
    """The counts of one group of valid requests."""

    valid: int = 0
    rejected: int = 0
    unserved: int = 0
    climbed: int = 0
    hits: Counter[str] = field(default_factory=Counter)
    calls: Counter[str] = field(default_factory=Counter)
    answered: Counter[str] = field(default_factory=Counter)
    tokens_in: Counter[str] = field(default_factory=Counter)
    tokens_out: Counter[str] = field(default_factory=Counter)
    at_cap: int = 0
    edges: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    fallbacks: Counter[tuple[str, str, str | None]] = field(default_factory=Counter)
    latency: Counter[Decimal] = field(default_factory=Counter)
    baseline_in: int = 0
    baseline_out: int = 0

    def add(self, other: Tally) -> None:
        for name in ("valid", "rejected", "unserved", "climbed", "at_cap", "baseline_in", "baseline_out"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for name in ("hits", "calls", "answered", "tokens_in", "tokens_out", "edges", "fallbacks", "latency"):
            getattr(self, name).update(getattr(other, name))


@dataclass
class Errors:
    """Request errors by code: how many, and the first (location, signal, message)."""

    counts: Counter[str] = field(default_factory=Counter)
    first: dict[str, tuple[int, str | None, str | None]] = field(default_factory=dict)

    def add(self, code: str, location: int, signal: str | None, message: str | None, count: int = 1) -> None:
        self.counts[code] += count
        if code not in self.first or location < self.first[code][0]:
            self.first[code] = (location, signal, message)


def _q(value: Decimal, places: int) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN, context=EXACT)


def _share(part: int, whole: int) -> str:
    return format(_q(WIDE.divide(Decimal(part), Decimal(whole)), 4), "f") if whole else "0"


@dataclass(frozen=True)
class Report:
    """The report of `simulate` (section 9.3). `as_dict()` is what `--format json` prints:
    counts as ints, money and fractions as decimal strings."""

    data: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return self.data

    def __getitem__(self, key: str) -> Any:
        return self.data[key]


def cost_of(policy: CheckedPolicy, tally: Tally) -> tuple[dict[str, Decimal], Decimal]:
    """Each model's cost and the total, exactly."""
    costs = {}
    for model in sorted(set(tally.calls) | set(tally.answered)):
        costs[model] = policy.model(model).cost(tally.tokens_in[model], tally.tokens_out[model])
    total = sum(costs.values(), Decimal(0))
    return costs, total


def _group(policy: CheckedPolicy, tally: Tally, baseline: str | None) -> dict[str, Any]:
    costs, total = cost_of(policy, tally)
    served = tally.valid - tally.rejected
    out: dict[str, Any] = {
        "requests": tally.valid,
        "rejected": tally.rejected,
        "unserved": tally.unserved,
        "rules": {r.name: {"hits": tally.hits[r.name], "share": _share(tally.hits[r.name], tally.valid)}
                  for r in policy.route},
        "models": {m: {"calls": tally.calls[m], "answered": tally.answered[m], "tokens_in": tally.tokens_in[m],
                       "tokens_out": tally.tokens_out[m], "cost": money_text(costs[m])} for m in costs},
        "escalations": {"requests": tally.climbed, "rate": _share(tally.climbed, served),
                        "edges": [{"cascade": c, "from": a, "to": b, "count": n}
                                  for (c, a, b), n in sorted(tally.edges.items())]},
        "fallbacks": [{"model": m, "error": e, "fallback": f, "count": n}
                      for (m, e, f), n in sorted(tally.fallbacks.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2] or ""))],
        "cost": {"total": money_text(total)},
    }
    if baseline is not None:
        base = policy.model(baseline).cost(tally.baseline_in, tally.baseline_out)
        saving = _q(WIDE.divide(EXACT.subtract(base, total), base), 4) if base else Decimal(0)
        out["cost"].update({"baseline_model": baseline, "baseline": money_text(base), "saving": format(saving, "f")})
    return out


def _latency(histogram: Counter[Decimal]) -> dict[str, int | str | None]:
    """`requests` (a count, as every count of the report), then the figures in seconds."""
    count = sum(histogram.values())
    if not count:
        return {"requests": 0, "mean": None, "p50": None, "p95": None, "max": None}
    ordered = sorted(histogram.items())

    def rank(fraction: Decimal) -> str:  # nearest rank: the smallest value with ceil(p * n) at or below it
        target = max(1, math.ceil(fraction * count))  # a Decimal's // truncates: no ceiling from it
        seen = 0
        for value, n in ordered:
            seen += n
            if seen >= target:
                return format(value.normalize(EXACT), "f")
        raise AssertionError("unreachable")

    total = sum((EXACT.multiply(v, n) for v, n in ordered), Decimal(0))
    return {"requests": count, "mean": format(_q(WIDE.divide(total, Decimal(count)), 3).normalize(EXACT), "f"),
            "p50": rank(Decimal("0.5")), "p95": rank(Decimal("0.95")),
            "max": format(ordered[-1][0].normalize(EXACT), "f")}


def make_report(policy: CheckedPolicy, groups: dict[str | None, Tally], errors: Errors, records: int, *,
                baseline: str | None, by: str | None, down: dict[str, str], engine: str, traffic: str,
                notes: list[str]) -> Report:
    """The report of section 9.3 from the engines' tallies (one per `--by` value, or None)."""
    overall = Tally()
    for tally in groups.values():
        overall.add(tally)
    body = _group(policy, overall, baseline)
    costs, total = cost_of(policy, overall)
    per_thousand = _q(WIDE.divide(EXACT.multiply(total, 1000), Decimal(records)), 6) if records else Decimal(0)
    body["cost"]["per_1000_requests"] = money_text(per_thousand)
    data: dict[str, Any] = {
        "policy": policy.name,
        "traffic": traffic,
        "engine": engine,
        "down": [{"model": m, "error": e} for m, e in sorted(down.items())],
        "records": records,
        "errors": {code: {"count": errors.counts[code], "first": {"location": errors.first[code][0],
                                                                   "signal": errors.first[code][1]}}
                   for code in sorted(errors.counts)},
        **body,
        "latency": _latency(overall.latency),
        "tokens": {"in": sum(overall.tokens_in.values()), "out": sum(overall.tokens_out.values()),
                   "output_at_cap": overall.at_cap},
        "notes": list(notes),
    }
    data["requests"] = records
    data["valid"] = overall.valid
    if by is not None:
        data["by"] = {"signal": by, "groups": {str(value): _group(policy, groups[value], baseline)
                                               for value in sorted(groups, key=str)}}
    if overall.at_cap:
        data["notes"].append(f"{overall.at_cap} answered call had no @output_tokens: its output is counted at its cap"
                             if overall.at_cap == 1 else
                             f"{overall.at_cap} answered calls had no @output_tokens: their output is counted at its cap")
    return Report(data)
