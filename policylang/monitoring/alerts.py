"""`--alert` expressions: a tiny grammar parsed here, evaluated on a finished report, never eval'd.

    alert    := METRIC [ "{" LABEL "=" VALUE { "," LABEL "=" VALUE } "}" ] OP NUMBER
    METRIC   := escalation_rate | fallback_rate | error_rate | success_rate | reject_rate
              | cost_per_1000_requests | cost_per_success | requests | p50 | p95 | p99
    OP       := > | >= | < | <= | == | !=
    LABEL    := the --by signal (or `group`), `model` (error_rate only), `error` (with model)

`escalation_rate{task=classify} > 0.2` reads the group `classify` of `--by task`;
`error_rate{model=fast} > 0.05` the model's share of failed calls. An alert whose scope has no
requests, or fewer than the minimum for a rate, does not fire and says why.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from .build import rate
from .stats import MIN_REQUESTS

METRICS = ("escalation_rate", "fallback_rate", "error_rate", "success_rate", "reject_rate",
           "cost_per_1000_requests", "cost_per_success", "requests", "p50", "p95", "p99")
OPERATORS = {">": lambda a, b: a > b, ">=": lambda a, b: a >= b, "<": lambda a, b: a < b,
             "<=": lambda a, b: a <= b, "==": lambda a, b: a == b, "!=": lambda a, b: a != b}
_ALERT = re.compile(r"\s*([a-z_0-9]+)\s*(?:\{([^{}]*)\})?\s*(>=|<=|==|!=|>|<)\s*(-?[0-9]+(?:\.[0-9]+)?)\s*")
_LABEL = re.compile(r"\s*([A-Za-z_][A-Za-z_0-9.]*)\s*=\s*(\"[^\"]*\"|[^,\"]*?)\s*")


class AlertError(ValueError):
    """An alert expression that does not parse; the message says where."""


@dataclass(frozen=True)
class Alert:
    """One parsed alert."""

    text: str
    metric: str
    labels: tuple[tuple[str, str], ...]
    operator: str
    threshold: Decimal


def parse(text: str) -> Alert:
    """The alert `text` means, or AlertError saying what is wrong."""
    match = _ALERT.fullmatch(text)
    if match is None:
        raise AlertError(f"--alert {text!r}: expected METRIC{{LABEL=VALUE,...}} OP NUMBER, "
                         "e.g. 'escalation_rate{task=classify} > 0.2'")
    metric, body, operator, number = match.groups()
    if metric not in METRICS:
        raise AlertError(f"--alert {text!r}: unknown metric {metric!r}; the metrics are {', '.join(METRICS)}")
    labels: list[tuple[str, str]] = []
    for part in (body.split(",") if body and body.strip() else []):
        label = _LABEL.fullmatch(part)
        if label is None:
            raise AlertError(f"--alert {text!r}: {part.strip()!r} is no LABEL=VALUE")
        name, value = label.groups()
        labels.append((name, value[1:-1] if value.startswith('"') else value))
    names = [n for n, _ in labels]
    if len(set(names)) != len(names):
        raise AlertError(f"--alert {text!r}: a label is given twice")
    if ("model" in names or "error" in names) and metric != "error_rate":
        raise AlertError(f"--alert {text!r}: model= and error= label only error_rate")
    if "error" in names and "model" not in names:
        raise AlertError(f"--alert {text!r}: error= needs model=")
    try:
        threshold = Decimal(number)
    except InvalidOperation:  # the pattern admits only numbers; kept for safety
        raise AlertError(f"--alert {text!r}: {number!r} is no number") from None
    return Alert(text.strip(), metric, tuple(labels), operator, threshold)


def evaluate(alert: Alert, report: dict[str, Any]) -> dict[str, Any]:
    """{"alert", "value", "fired", "why"?}: the metric's value in the report's scope, and
    whether `value OP threshold` holds. Never fires on a missing or too-thin value."""
    labels = dict(alert.labels)
    model, error = labels.pop("model", None), labels.pop("error", None)
    scope: dict[str, Any] = report["summary"]
    if len(labels) > 1:
        return _quiet(alert, "at most one group label (the --by signal) may be given")
    if labels:
        ((label, value),) = labels.items()
        if "groups" not in report:
            return _quiet(alert, f"{label}= needs --by {label}")
        if label not in (report["by"], "group"):
            return _quiet(alert, f"the report is grouped by {report['by']!r}, not {label!r}")
        found = next((g for g in report["groups"] if g["value"] == value), None)
        if found is None:
            return _quiet(alert, f"no request has {label}={value}")
        scope = found
    if alert.metric == "error_rate" and model is not None:
        return _model_error_rate(alert, report, scope, model, error, grouped=bool(labels))
    if alert.metric in ("p50", "p95", "p99"):
        latency = scope.get("latency")
        return _compare(alert, latency[alert.metric] if latency else None)
    if alert.metric.endswith("_rate") and scope["requests"] < MIN_REQUESTS:
        return _quiet(alert, f"only {scope['requests']} request(s): too few for a rate")
    if alert.metric == "reject_rate":
        return _compare(alert, rate(scope["rejected"], scope["requests"]))
    return _compare(alert, scope.get(alert.metric))


def _model_error_rate(alert: Alert, report: dict[str, Any], scope: dict[str, Any], model: str, error: str | None,
                      grouped: bool) -> dict[str, Any]:
    """`error_rate{model=M}` (and `error=E`): the model's failed calls over its calls."""
    if grouped:
        if error is not None:
            return _quiet(alert, "error= is read over the whole report, not per group")
        return _compare(alert, scope.get("error_rates", {}).get(model))
    calls = next((m["calls"] for m in report["models"] if m["model"] == model), 0)
    if calls < MIN_REQUESTS:
        return _quiet(alert, f"only {calls} call(s) of {model}: too few for a rate")
    failed = sum(r["count"] for r in report["errors"] if r["model"] == model and error in (None, r["error"]))
    return _compare(alert, rate(failed, calls))


def _compare(alert: Alert, value: Any) -> dict[str, Any]:
    if value is None:
        return _quiet(alert, "no value in this report")
    number = Decimal(str(value))
    fired = bool(OPERATORS[alert.operator](number, alert.threshold))
    return {"alert": alert.text, "value": value, "fired": fired}


def _quiet(alert: Alert, why: str) -> dict[str, Any]:
    return {"alert": alert.text, "value": None, "fired": False, "why": why}
