"""Prometheus metrics of the runs (section 13.3, extra `metrics`), and the OpenTelemetry GenAI
client metrics beside them when an OTel MeterProvider is set.

    from prometheus_client import start_http_server
    metrics = runtime.metrics.Metrics()                 # prometheus_client's default registry
    router = runtime.Router(policy, call, metrics=metrics)
    start_http_server(9464)                             # GET /metrics

Everything is counted from each run's end record (the decision log's dict, `observe`) and from
the breakers' changes of state (`breaker`), so a Router with metrics pays for one record per
run and nothing per call. `observe` never raises into the request path: a record it cannot read
is counted in `policylang_metrics_errors_total` and warned about once.

In prometheus_client's multiprocess mode (PROMETHEUS_MULTIPROC_DIR set before the app imports
prometheus_client, every worker writing its values there), the counters and histograms add up
over the workers and `policylang_breaker_open` shows the largest value among the live ones; the
exposition reads the folder with `prometheus_client.multiprocess.MultiProcessCollector`
(docs/runtime.md).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from .errors import MissingExtra

_warn = logging.getLogger(__name__)

DURATION_BUCKETS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)
"""Seconds: the bucket bounds the OpenTelemetry GenAI conventions give
`gen_ai.client.operation.duration`, used by every latency histogram here."""

TOKEN_BUCKETS = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864)
"""Tokens: the bucket bounds of `gen_ai.client.token.usage`."""

OPEN_STATES = {"open": 1.0, "parked": 1.0, "half_open": 0.0, "closed": 0.0}
"""`policylang_breaker_open` per breaker state: 1 while the model is not called (open, or
parked after a Retry-After), 0 while it is (closed, or half-open letting probes through)."""


class Metrics:
    """Counters and histograms of a Router's runs, in a prometheus_client registry (None: the
    default one), named `{namespace}_...` (see docs/runtime.md for the table). With the `otel`
    extra and `otel=True`, the GenAI client metrics `gen_ai.client.token.usage`,
    `gen_ai.client.operation.duration` and `gen_ai.client.operation.time_to_first_chunk` are
    also recorded through `meter_provider` (None: OpenTelemetry's global one, which records
    nothing until the app sets one). Raises MissingExtra without prometheus_client."""

    def __init__(self, registry: Any = None, namespace: str = "policylang", *, otel: bool = True,
                 meter_provider: Any = None) -> None:
        try:
            import prometheus_client as prom
        except ImportError:
            raise MissingExtra("runtime.metrics", "prometheus_client", "metrics") from None
        where: dict[str, Any] = {"namespace": namespace, "registry": None}  # registered below, all or none
        self.errors = 0
        self._warned = False
        self.requests = prom.Counter("requests", "Runs by policy, deciding rule and how they ended",
                                     ["policy", "rule", "end"], **where)
        self.calls = prom.Counter("calls", "Upstream calls made, by model id and error ('' when answered)",
                                  ["model", "error"], **where)
        self.skipped = prom.Counter("calls_skipped", "Calls not made, by model id and why (breaker_open, over_budget)",
                                    ["model", "reason"], **where)
        self.cost = prom.Counter("cost_dollars", "Dollars spent on answered calls, by model id", ["model"], **where)
        self.tokens = prom.Counter("tokens", "Tokens of answered calls, by model id and kind (input, output)",
                                   ["model", "kind"], **where)
        self.run_seconds = prom.Histogram("run_seconds", "Seconds per run, from decision to end", ["policy"],
                                          buckets=DURATION_BUCKETS, **where)
        self.call_seconds = prom.Histogram("call_seconds", "Seconds per upstream call, by model id", ["model"],
                                           buckets=DURATION_BUCKETS, **where)
        self.ttft_seconds = prom.Histogram("ttft_seconds", "Seconds to the first chunk of a streamed call, by model id",
                                           ["model"], buckets=DURATION_BUCKETS, **where)
        self.breaker_open = prom.Gauge("breaker_open", "1 while a model's breaker keeps calls away (open or parked)",
                                       ["model"], multiprocess_mode="livemax", **where)
        self.breaker_changes = prom.Counter("breaker_transitions", "Breaker changes of state, by model id and new state",
                                            ["model", "state"], **where)
        self.session_spend = prom.Counter("session_spend_dollars", "Dollars spent by runs made inside a Session",
                                          ["policy"], **where)
        self.failures = prom.Counter("metrics_errors", "Records or events the metrics could not read", **where)
        self._registry = registry if registry is not None else prom.REGISTRY
        self._namespace = namespace
        self._register([self.requests, self.calls, self.skipped, self.cost, self.tokens, self.run_seconds,
                        self.call_seconds, self.ttft_seconds, self.breaker_open, self.breaker_changes,
                        self.session_spend, self.failures])
        self._otel = _OtelInstruments(meter_provider) if otel else None
        self._children: dict[tuple[Any, ...], Any] = {}  # (metric, *labels) -> its child: labels() is slow

    def _register(self, collectors: list[Any]) -> None:
        done: list[Any] = []
        try:
            for collector in collectors:
                self._registry.register(collector)
                done.append(collector)
        except ValueError:  # prometheus_client: "Duplicated timeseries"
            for collector in done:
                self._registry.unregister(collector)
            raise ValueError(f"this registry already has the {self._namespace}_ metrics (another Metrics made on it): "
                             "share one Metrics between Routers, or give this one its own registry or "
                             "namespace") from None

    def _child(self, metric: Any, *labels: str) -> Any:
        """The child of `metric` for these label values, made once (bounded by the policy's
        rules, models and ends, like the labels themselves)."""
        key = (metric, *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    # ---- the seams the Router calls ---------------------------------------------------------

    def observe(self, record: Mapping[str, Any]) -> None:
        """Count one run from its end record (start records and other events are ignored).
        Never raises: a record it cannot read is counted and warned about once."""
        try:
            if record.get("event", "end") != "end":
                return
            self._observe(record)
        except Exception as exc:
            self._failed(exc)

    def breaker(self, model_id: str, state: str) -> None:
        """A model's breaker changed state (`closed`, `open`, `half_open`, `parked`). Never raises."""
        try:
            self._child(self.breaker_open, model_id).set(OPEN_STATES[state])
            self._child(self.breaker_changes, model_id, state).inc()
        except Exception as exc:
            self._failed(exc)

    def watch_log(self, log: Any) -> None:
        """Export a `JsonlLog`'s health at each scrape, labelled by its path:
        `{namespace}_log_write_errors_total`, `{namespace}_log_dropped_records_total` and
        `{namespace}_log_pending_records` (held in memory while the file cannot take them).
        Read from this process's log object, so in prometheus_client's multiprocess mode they
        are exported only by a registry of the worker itself, not by the shared folder."""
        self._registry.register(_LogHealth(log, self._namespace))

    # ---- counting ---------------------------------------------------------------------------

    def _observe(self, record: Mapping[str, Any]) -> None:
        policy = str(record.get("policy") or "")
        self._child(self.requests, policy, _text(record.get("rule")), _text(record.get("end"))).inc()
        seconds = record.get("seconds")
        if isinstance(seconds, (int, float)) and seconds >= 0:
            self._child(self.run_seconds, policy).observe(seconds)
        if record.get("session") is not None or "remaining_budget" in (record.get("signals") or {}):
            spent = _dollars(record.get("cost"))
            if spent:
                self._child(self.session_spend, policy).inc(spent)
        otel = self._otel
        for attempt in record.get("attempts") or ():
            model = _text(attempt.get("gen_ai.request.model") or attempt.get("model"))
            skipped = attempt.get("skipped")
            if skipped:
                self._child(self.skipped, model, str(skipped)).inc()
                continue
            error = _text(attempt.get("error") or attempt.get("cut"))  # a stream cut short: interrupted, abandoned
            self._child(self.calls, model, error).inc()
            took = attempt.get("seconds")
            if isinstance(took, (int, float)) and took >= 0:
                self._child(self.call_seconds, model).observe(took)
            ttft = attempt.get("ttft")
            if isinstance(ttft, (int, float)) and ttft >= 0:
                self._child(self.ttft_seconds, model).observe(ttft)
            tokens_in, tokens_out = attempt.get("gen_ai.usage.input_tokens"), attempt.get("gen_ai.usage.output_tokens")
            cost = _dollars(attempt.get("cost"))  # what was billed: an answer, or a stream cut short
            if cost:
                self._child(self.cost, model).inc(cost)
            if isinstance(tokens_in, int) and tokens_in > 0:
                self._child(self.tokens, model, "input").inc(tokens_in)
            if isinstance(tokens_out, int) and tokens_out > 0:
                self._child(self.tokens, model, "output").inc(tokens_out)
            if otel is not None:
                otel.call(model, error, took, ttft, tokens_in, tokens_out)

    def _failed(self, exc: Exception) -> None:
        self.errors += 1
        try:
            self.failures.inc()
        except Exception:  # the counter itself (a multiprocess folder gone): the attribute still counts
            pass
        if not self._warned:
            self._warned = True
            _warn.warning("runtime.metrics could not count a record (%s: %s); further failures are counted in "
                          "policylang_metrics_errors_total", type(exc).__name__, exc)


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _dollars(value: Any) -> float:
    """A logged cost (an exact decimal string) as a float for a counter; 0 for what is none."""
    if value is None:
        return 0.0
    try:
        amount = Decimal(value) if isinstance(value, (str, int, Decimal)) else Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise ValueError(f"a cost that is no number: {value!r}") from None
    if not amount.is_finite() or amount < 0:
        raise ValueError(f"a cost that is no amount of money: {value!r}")
    return float(amount)


class _OtelInstruments:
    """The GenAI client metrics, recorded per call through an OpenTelemetry meter."""

    def __init__(self, meter_provider: Any) -> None:
        try:
            from opentelemetry import metrics as otel_metrics
        except ImportError:
            self._duration = None
            return
        provider = meter_provider if meter_provider is not None else otel_metrics.get_meter_provider()
        meter = provider.get_meter("policylang.runtime")
        self._duration = meter.create_histogram("gen_ai.client.operation.duration", unit="s",
                                                description="GenAI operation duration",
                                                explicit_bucket_boundaries_advisory=list(DURATION_BUCKETS))
        self._tokens = meter.create_histogram("gen_ai.client.token.usage", unit="{token}",
                                              description="Number of input and output tokens used",
                                              explicit_bucket_boundaries_advisory=list(TOKEN_BUCKETS))
        self._ttft = meter.create_histogram("gen_ai.client.operation.time_to_first_chunk", unit="s",
                                            description="Time to receive the first chunk of a streamed call",
                                            explicit_bucket_boundaries_advisory=list(DURATION_BUCKETS))

    def call(self, model: str, error: str, seconds: Any, ttft: Any, tokens_in: Any, tokens_out: Any) -> None:
        if self._duration is None:
            return
        attributes: dict[str, str] = {"gen_ai.operation.name": "chat", "gen_ai.request.model": model}
        if "/" in model:
            attributes["gen_ai.provider.name"] = model.split("/", 1)[0]
        if error:
            attributes["error.type"] = error
        if isinstance(seconds, (int, float)) and seconds >= 0:
            self._duration.record(seconds, attributes)
        if isinstance(ttft, (int, float)) and ttft >= 0:
            self._ttft.record(ttft, attributes)
        for kind, tokens in (("input", tokens_in), ("output", tokens_out)):
            if isinstance(tokens, int) and tokens >= 0:
                self._tokens.record(tokens, {**attributes, "gen_ai.token.type": kind})


class _LogHealth:
    """A prometheus_client collector reading a JsonlLog's counters when scraped."""

    def __init__(self, log: Any, namespace: str) -> None:
        self.log = log
        self.prefix = f"{namespace}_" if namespace else ""

    def collect(self) -> Any:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        path = str(getattr(self.log, "path", ""))
        errors = CounterMetricFamily(f"{self.prefix}log_write_errors", "Writes of the decision log that failed",
                                     labels=["path"])
        errors.add_metric([path], self.log.errors)
        dropped = CounterMetricFamily(f"{self.prefix}log_dropped_records",
                                      "Decision-log records lost past the backlog's bound", labels=["path"])
        dropped.add_metric([path], self.log.dropped)
        pending = GaugeMetricFamily(f"{self.prefix}log_pending_records",
                                    "Decision-log records held in memory until the file takes them", labels=["path"])
        pending.add_metric([path], self.log.pending)
        return [errors, dropped, pending]
