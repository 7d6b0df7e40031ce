"""runtime.metrics (section 13.3, issue 24.6): the Prometheus counters and histograms that a
Router's end records feed, scraped over HTTP from 127.0.0.1 with exact counts and cost sums;
breaker states; records it cannot read counted, never raised; the OpenTelemetry GenAI metrics;
and prometheus_client's multiprocess mode with two worker processes."""

from __future__ import annotations

import logging
import os
import random
import subprocess
import sys
import textwrap
import urllib.request
from collections import Counter
from decimal import Decimal

import pytest

import policylang
from policylang import runtime
from policylang.runtime.metrics import Metrics
from runtime_support import SHOP, FakeClock, Scripted

prometheus_client = pytest.importorskip("prometheus_client")
from prometheus_client import CollectorRegistry, start_http_server  # noqa: E402
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

CHAT = {"task": "chat", "input_tokens": 100}
CODE = {"task": "code", "input_tokens": 100}


@pytest.fixture(scope="module")
def shop():
    return policylang.loads(SHOP, "shop.route")


def scrape(registry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample the registry exposes over HTTP, read back as Prometheus would."""
    server, thread = start_http_server(0, addr="127.0.0.1", registry=registry)
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.server_port}/metrics", timeout=10) as response:
            text = response.read().decode("utf-8")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples
            if not s.name.endswith("_created")}  # when each series began: no count


def sample(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))))


def workload(shop):
    """Thirty runs of the shop policy with seeded failures and confidences: their results (or
    exceptions) and the log's records."""
    rng = random.Random(2024)
    records: list[dict] = []
    clock = FakeClock()
    outcomes = []
    for i in range(30):
        script = ({"small": ["unavailable"]} if i % 7 == 0 else {"big": ["server_error"]} if i % 11 == 0
                  else {"small": ["server_error"]} if i % 13 == 4 else {"big": ["unavailable"]} if i % 8 == 5 else {})
        call = Scripted(script, confidence={"small": rng.choice([0.3, 0.9]), "big": rng.choice([0.4, 0.95])},
                        tokens=(100 + i, 10 + i))
        router = runtime.Router(shop, call, assess=runtime.assess.outcomes(json=True), log=records.append,
                                retry=None, breaker=None, clock=clock, sleep=clock.sleep, now=lambda: 1_800_000_000.0)
        signals = CHAT if i % 3 else CODE if i % 5 else {"task": "code", "input_tokens": 95_000}
        try:
            outcomes.append(router.run(signals, f"request {i}"))
        except (runtime.Rejected, runtime.Exhausted) as exc:
            outcomes.append(exc)
    return outcomes, records


def test_the_metrics_of_a_workload_scraped_over_http_are_exact(shop):
    outcomes, records = workload(shop)
    registry = CollectorRegistry()
    metrics = Metrics(registry, otel=False)
    for record in records:
        metrics.observe(record)
    samples = scrape(registry)

    ends = Counter()
    calls = Counter()
    cost: dict[str, Decimal] = {}
    cost_as_added: dict[str, float] = {}
    tokens = Counter()
    for outcome in outcomes:
        attempts = outcome.attempts if hasattr(outcome, "attempts") and not isinstance(outcome, runtime.Rejected) else ()
        if isinstance(outcome, runtime.Result):
            ends[(outcome.rule, "answered" if outcome.complete else "incomplete")] += 1
        elif isinstance(outcome, runtime.Rejected):
            ends[(outcome.decision.rule, "rejected")] += 1
        else:
            ends[(outcome.decision.rule, "exhausted")] += 1
        for a in attempts:
            calls[(a.id, a.error or "")] += 1
            if a.answered:
                cost[a.id] = cost.get(a.id, Decimal(0)) + a.cost
                cost_as_added[a.id] = cost_as_added.get(a.id, 0.0) + float(a.cost)
                tokens[(a.id, "input")] += a.input_tokens
                tokens[(a.id, "output")] += a.output_tokens
    assert len(ends) >= 4 and any(error for _, error in calls)  # the workload has every kind of end
    for (rule, end), count in ends.items():
        assert sample(samples, "policylang_requests_total", policy="shop", rule=rule, end=end) == count
    assert sum(v for (name, _), v in samples.items() if name == "policylang_requests_total") == 30
    for (model, error), count in calls.items():
        assert sample(samples, "policylang_calls_total", model=model, error=error) == count
    for model, dollars in cost.items():
        scraped = sample(samples, "policylang_cost_dollars_total", model=model)
        assert scraped == cost_as_added[model]  # the float sum, in the order the calls were made
        assert abs(Decimal(repr(scraped)) - dollars) < Decimal("1e-15")  # and the exact cost, to a float's width
    for (model, kind), count in tokens.items():
        assert sample(samples, "policylang_tokens_total", model=model, kind=kind) == count
    assert sample(samples, "policylang_run_seconds_count", policy="shop") == 30
    answered_calls = sum(count for (_, error), count in calls.items())
    assert sum(v for (name, _), v in samples.items() if name == "policylang_call_seconds_count") == answered_calls
    assert sample(samples, "policylang_metrics_errors_total") == 0


def test_a_router_with_metrics_counts_what_its_records_say(shop):
    """`Router(metrics=)` (the core calls `observe` at each run's end) gives the same samples as
    feeding the same runs' logged end records to `observe` by hand."""
    wired, by_hand = CollectorRegistry(), CollectorRegistry()
    metrics, records = Metrics(wired, otel=False), []
    clock = FakeClock()
    router = runtime.Router(shop, Scripted({"small": ["unavailable"]}, confidence={"small": 0.3}),
                            assess=runtime.assess.outcomes(json=True), log=records.append, metrics=metrics,
                            retry=None, breaker=None, clock=clock, sleep=clock.sleep)
    for signals in (CHAT, CHAT, CODE):
        router.run(signals, "x")
    with pytest.raises(runtime.Rejected):
        router.run({"task": "code", "input_tokens": 95_000}, "x")
    fed = Metrics(by_hand, otel=False)
    for record in records:
        fed.observe(record)
    samples = scrape(wired)
    assert samples == scrape(by_hand)
    assert sum(v for (name, _), v in samples.items() if name == "policylang_requests_total") == 4
    assert sample(samples, "policylang_calls_total", model="acme/small", error="unavailable") == 1


def test_ttft_and_session_spend_and_start_records(shop):
    registry = CollectorRegistry()
    metrics = Metrics(registry, otel=False)
    attempt = {"step": 0, "model": "small", "gen_ai.request.model": "acme/small", "error": None, "skipped": None,
               "gen_ai.usage.input_tokens": 10, "gen_ai.usage.output_tokens": 5, "cost": "0.00002",
               "seconds": 0.5, "ttft": 0.125}
    skipped = {**attempt, "gen_ai.request.model": "acme/big", "skipped": "breaker_open", "error": "unavailable",
               "cost": "0"}
    metrics.observe({"event": "start", "run_id": "a", "policy": "shop", "rule": "chat"})  # not counted
    metrics.observe({"event": "end", "run_id": "a", "policy": "shop", "rule": "chat", "end": "answered",
                     "seconds": 0.6, "cost": "0.00002", "signals": {"remaining_budget": "1"},
                     "attempts": [skipped, attempt]})
    cut = {**attempt, "cut": "interrupted", "gen_ai.usage.output_tokens": 2, "cost": "0.00001"}  # billed in part
    metrics.observe({"event": "end", "policy": "shop", "rule": "chat", "end": "interrupted", "attempts": [cut]})
    samples = scrape(registry)
    assert sample(samples, "policylang_requests_total", policy="shop", rule="chat", end="answered") == 1
    assert sample(samples, "policylang_calls_total", model="acme/small", error="interrupted") == 1
    assert sample(samples, "policylang_calls_total", model="acme/small", error="") == 1
    assert sample(samples, "policylang_cost_dollars_total", model="acme/small") == 0.00002 + 0.00001
    assert sample(samples, "policylang_tokens_total", model="acme/small", kind="output") == 7
    assert sample(samples, "policylang_ttft_seconds_bucket", model="acme/small", le="0.16") == 2
    assert sample(samples, "policylang_ttft_seconds_bucket", model="acme/small", le="0.08") == 0
    assert sample(samples, "policylang_calls_skipped_total", model="acme/big", reason="breaker_open") == 1
    assert sample(samples, "policylang_calls_total", model="acme/big", error="unavailable") is None
    assert sample(samples, "policylang_session_spend_dollars_total", policy="shop") == 0.00002


def test_breaker_states_set_the_gauge_and_count_transitions():
    registry = CollectorRegistry()
    metrics = Metrics(registry, otel=False)
    for state in ("open", "half_open", "open", "half_open", "closed"):
        metrics.breaker("acme/big", state)
    metrics.breaker("acme/small", "parked")
    samples = scrape(registry)
    assert sample(samples, "policylang_breaker_open", model="acme/big") == 0
    assert sample(samples, "policylang_breaker_open", model="acme/small") == 1
    assert sample(samples, "policylang_breaker_transitions_total", model="acme/big", state="open") == 2
    assert sample(samples, "policylang_breaker_transitions_total", model="acme/big", state="closed") == 1


def test_records_it_cannot_read_are_counted_and_warned_about_once(caplog):
    registry = CollectorRegistry()
    metrics = Metrics(registry, otel=False)
    caplog.set_level(logging.WARNING, logger="policylang.runtime.metrics")
    metrics.observe({"policy": "p", "rule": "r", "end": "answered", "attempts": 5})  # not a list
    metrics.observe({"policy": "p", "rule": "r", "end": "answered",
                     "attempts": [{"gen_ai.request.model": "m", "cost": "a lot"}]})
    metrics.observe(None)  # type: ignore[arg-type]
    metrics.breaker("m", "sideways")
    assert metrics.errors == 4
    assert len(caplog.records) == 1
    assert sample(scrape(registry), "policylang_metrics_errors_total") == 4


def test_the_genai_client_metrics_go_to_an_opentelemetry_meter_provider():
    sdk = pytest.importorskip("opentelemetry.sdk.metrics")
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    reader = InMemoryMetricReader()
    provider = sdk.MeterProvider(metric_readers=[reader])
    metrics = Metrics(CollectorRegistry(), meter_provider=provider)
    answered = {"gen_ai.request.model": "acme/small", "error": None, "gen_ai.usage.input_tokens": 100,
                "gen_ai.usage.output_tokens": 40, "cost": "0.0002", "seconds": 1.5}
    failed = {"gen_ai.request.model": "acme/small", "error": "timeout", "cost": "0", "seconds": 3.0}
    metrics.observe({"policy": "p", "rule": "r", "end": "answered", "attempts": [failed, answered]})
    points = {}
    for resource in reader.get_metrics_data().resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                for point in metric.data.data_points:
                    points[(metric.name, tuple(sorted(point.attributes.items())))] = (point.count, point.sum)
    base = (("gen_ai.operation.name", "chat"), ("gen_ai.provider.name", "acme"), ("gen_ai.request.model", "acme/small"))
    assert points[("gen_ai.client.operation.duration", base)] == (1, 1.5)
    assert points[("gen_ai.client.operation.duration", tuple(sorted((*base, ("error.type", "timeout")))))] == (1, 3.0)
    assert points[("gen_ai.client.token.usage", tuple(sorted((*base, ("gen_ai.token.type", "input")))))] == (1, 100)
    assert points[("gen_ai.client.token.usage", tuple(sorted((*base, ("gen_ai.token.type", "output")))))] == (1, 40)


WORKER = textwrap.dedent(r"""
    import json, sys
    from prometheus_client import values
    from policylang.runtime.metrics import Metrics
    metrics = Metrics(otel=False)          # the default registry; values go to PROMETHEUS_MULTIPROC_DIR
    worker, runs = sys.argv[1], int(sys.argv[2])
    for i in range(runs):
        metrics.observe({"policy": "p", "rule": "r" + worker, "end": "answered", "seconds": 0.05,
                         "attempts": [{"gen_ai.request.model": "acme/m", "error": None, "seconds": 0.04,
                                       "gen_ai.usage.input_tokens": 10, "gen_ai.usage.output_tokens": 3,
                                       "cost": "0.25"}]})
    metrics.breaker("acme/m", sys.argv[3])
    print("done", flush=True)
    sys.stdin.readline()                   # alive until the parent has scraped
""")


def test_two_processes_in_multiprocess_mode_add_up_in_one_scrape(tmp_path):
    from prometheus_client import multiprocess

    folder = tmp_path / "prometheus"
    folder.mkdir()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(folder)}
    workers = [subprocess.Popen([sys.executable, "-c", WORKER, str(k), str(runs), state], env=env,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
               for k, runs, state in ((1, 7, "open"), (2, 5, "closed"))]
    try:
        for worker in workers:
            assert worker.stdout.readline().strip() == "done"
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=str(folder))
        samples = scrape(registry)
    finally:
        for worker in workers:
            worker.communicate("\n", timeout=30)
    assert sample(samples, "policylang_requests_total", policy="p", rule="r1", end="answered") == 7
    assert sample(samples, "policylang_requests_total", policy="p", rule="r2", end="answered") == 5
    assert sample(samples, "policylang_calls_total", model="acme/m", error="") == 12
    assert sample(samples, "policylang_cost_dollars_total", model="acme/m") == 3.0
    assert sample(samples, "policylang_tokens_total", model="acme/m", kind="output") == 36
    assert sample(samples, "policylang_run_seconds_count", policy="p") == 12
    assert sample(samples, "policylang_breaker_open", model="acme/m") == 1  # the largest of the live workers
    assert all(w.returncode == 0 for w in workers)


def test_a_logs_health_is_scraped(tmp_path):
    from policylang.runtime.log import JsonlLog

    path = tmp_path / "decisions.jsonl"
    path.symlink_to("/dev/full")  # a full disk
    log = JsonlLog(path, backlog=2)
    registry = CollectorRegistry()
    Metrics(registry, otel=False).watch_log(log)
    for i in range(3):
        log({"i": i})
    samples = scrape(registry)
    assert sample(samples, "policylang_log_write_errors_total", path=str(path)) == 3
    assert sample(samples, "policylang_log_dropped_records_total", path=str(path)) == 1
    assert sample(samples, "policylang_log_pending_records", path=str(path)) == 2
    path.unlink()
    log.flush()
    assert sample(scrape(registry), "policylang_log_pending_records", path=str(path)) == 0
    log.close()


def test_a_second_metrics_on_one_registry_is_refused_clearly_and_leaves_the_first_whole():
    registry = CollectorRegistry()
    first = Metrics(registry, otel=False)
    with pytest.raises(ValueError, match="share one Metrics between Routers"):
        Metrics(registry, otel=False)
    Metrics(registry, namespace="other", otel=False)  # another namespace is another set of names
    first.observe({"policy": "p", "rule": "r", "end": "answered"})
    assert sample(scrape(registry), "policylang_requests_total", policy="p", rule="r", end="answered") == 1


def test_without_prometheus_client_metrics_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "prometheus_client", None)  # an import of it fails
    with pytest.raises(runtime.MissingExtra, match=r"pip install 'policylang\[metrics\]'"):
        Metrics()
