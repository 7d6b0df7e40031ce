"""The decision log as traffic (section 13.3, issue 24.7): a policy run by the Router over a
seeded workload, then simulated on its own log, gives the cost, rule hits, escalations and calls
the runs had, on both engines; records that are no decision are skipped and counted; a start
with no end is counted as a run not finished; `policyc simulate` and `policyc diff --traffic`
read the log."""

from __future__ import annotations

import json
import random
from collections import Counter
from decimal import Decimal

import pytest
from click.testing import CliRunner
from hypothesis import given, settings, strategies as st

import policylang
from policylang import runtime
from policylang.cli import main
from policylang.simulation import simulate
from policylang.simulation.decisionlog import Reader, is_decision_log, is_log_record, traffic_record
from runtime_support import SHOP

ENGINES = ("python", "duckdb")


@pytest.fixture(scope="module")
def shop():
    return policylang.loads(SHOP, "shop.route")


class Seeded:
    """A call whose answers are seeded per request: each request has a natural output length
    (an answer is min(length, cap) tokens long, as a model cut at its cap is) and a confidence
    per model; the input is the request's `input_tokens` signal."""

    def __call__(self, model, request, *, max_output):
        length, confidence, tokens_in = request["length"], request["confidence"][model.name], request["input"]
        return runtime.Answer(json.dumps({"confidence": confidence}), "stop", tokens_in, min(length, max_output))


def workload(count: int, seed: int):
    rng = random.Random(seed)
    for _ in range(count):
        task = rng.choice(["chat", "chat", "chat", "code", "legal", "poetry"])  # poetry: a bad request
        tokens = rng.choice([rng.randint(10, 5_000), rng.randint(10, 5_000), 95_000])
        signals = {"task": task, "input_tokens": tokens}
        request = {"length": rng.choice([rng.randint(1, 900), rng.randint(900, 20_000)]), "input": tokens,
                   "confidence": {m: rng.choice([0.2, 0.45, 0.6, 0.8, 0.95]) for m in ("small", "big", "spare", "huge")}}
        yield signals, request


def run_all(policy, log, count=300, seed=11):
    """The runs' own totals: cost, hits per rule, escalations, calls per model, request errors."""
    router = runtime.Router(policy, Seeded(), assess=runtime.assess.outcomes(json=True), log=log, retry=None,
                            breaker=None)
    cost, hits, calls, climbed, errors = Decimal(0), Counter(), Counter(), 0, Counter()
    for signals, request in workload(count, seed):
        try:
            result = router.run(signals, request)
        except runtime.Rejected as exc:
            hits[exc.decision.rule] += 1
            continue
        except policylang.RequestError as exc:
            errors[exc.code] += 1
            continue
        hits[result.rule] += 1
        cost += result.cost
        climbed += len(result.path) > 1
        for attempt in result.attempts:
            calls[attempt.model] += 1
    return cost, hits, climbed, calls, errors


@pytest.fixture(scope="module")
def logged(shop, tmp_path_factory):
    path = tmp_path_factory.mktemp("log") / "decisions.jsonl"
    with runtime.JsonlLog(path) as log:
        totals = run_all(shop, log)
    return path, totals


def starts_in(path) -> int:
    return sum(json.loads(line).get("event") == "start" for line in path.read_text(encoding="utf-8").splitlines())


@pytest.mark.parametrize("engine", ENGINES)
def test_a_policy_simulated_on_its_own_log_gives_what_its_runs_gave(shop, logged, engine):
    path, (cost, hits, climbed, calls, errors) = logged
    assert climbed > 10 and hits["too_large"] > 10 and errors  # the workload climbs, rejects and errs
    report = simulate(shop, path, engine=engine)
    assert Decimal(report["cost"]["total"]) == cost
    assert {rule: r["hits"] for rule, r in report["rules"].items() if r["hits"]} == dict(hits)
    assert report["escalations"]["requests"] == climbed
    assert {model: m["calls"] for model, m in report["models"].items() if m["calls"]} == dict(calls)
    assert {code: e["count"] for code, e in report["errors"].items()} == dict(errors)
    assert report["tokens"]["output_at_cap"] == 0  # every answered call's output came from the log
    assert report["records"] == 300
    starts = starts_in(path)  # the Router's start records, one per run that made a call
    assert report["notes"] == [f"read as a decision log: 300 runs replayed, {starts:,} records skipped (not "
                               f"decisions: {starts:,} start records, notes, torn lines or other JSON)"]


def test_both_engines_agree_on_a_log_with_records_that_are_no_decisions(shop, logged, tmp_path):
    path, (cost, *_) = logged
    records = path.read_text(encoding="utf-8").splitlines()
    end = json.loads(next(line for line in records if json.loads(line).get("event", "end") == "end"))
    start = {"event": "start", "run_id": "b" * 32, "time": end["time"], "policy": "shop",
             "policy_sha256": end["policy_sha256"], "rule": end["rule"], "decision": end["decision"],
             "signals": end["signals"]}
    mixed = [json.dumps(start), *records,  # run b never ends: its process did not finish it
             json.dumps({"event": "lost", "time": end["time"], "records": 3, "reason": "disk"}),
             json.dumps({"not": "a decision"}), "", json.dumps(end)[:40]]  # a torn last record
    log = tmp_path / "decisions.jsonl.1"  # a rotated log: recognised by its records, not its suffix
    log.write_text("\n".join(mixed), encoding="utf-8")
    assert is_decision_log(log)
    reports = {engine: simulate(shop, log, engine=engine).as_dict() for engine in ENGINES}
    for report in reports.values():
        report.pop("engine")
    assert reports["python"] == reports["duckdb"]
    report = reports["python"]
    assert Decimal(report["cost"]["total"]) == cost and report["records"] == 300
    starts = starts_in(path) + 1
    assert report["notes"] == [
        f"read as a decision log: 300 runs replayed, {starts + 3:,} records skipped (not decisions: {starts:,} "
        "start records, notes, torn lines or other JSON)",
        "1 run started and never ended (the process did not finish them): not replayed",
        "the log says it dropped 3 records it could not write"]
    bad = next(i for i, line in enumerate(mixed, 1) if line.strip() and json.loads(line).get("end") == "request_error")
    assert min(e["first"]["location"] for e in report["errors"].values()) == bad  # locations are the log's lines


def test_a_record_becomes_its_signals_outcomes_and_tokens():
    record = {"policy_sha256": "x", "event": "end", "signals": {"task": "chat", "remaining_budget": "0.25",
                                                               "input_tokens": 40},
              "attempts": [
                  {"step": 0, "model": "small", "error": "unavailable", "skipped": None, "outcomes": None},
                  {"step": 0, "model": "spare", "error": None, "skipped": None, "outcomes": {"confidence": 0.3},
                   "gen_ai.usage.input_tokens": 40, "gen_ai.usage.output_tokens": 1000},
                  {"step": 1, "model": "big", "error": None, "skipped": None, "outcomes": {"confidence": 0.9},
                   "gen_ai.usage.input_tokens": 40, "gen_ai.usage.output_tokens": 1200},
                  {"step": 2, "model": "huge", "error": None, "skipped": "breaker_open", "outcomes": None},
                  {"step": 2, "model": "huge", "error": None, "skipped": None, "cut": "interrupted",
                   "outcomes": None, "gen_ai.usage.output_tokens": 3000}]}  # a stream cut short: no answer
    assert traffic_record(record, {"remaining_budget"}) == {
        "task": "chat", "remaining_budget": 0.25, "input_tokens": 40,
        "@outcomes": [{"confidence": 0.3}, {"confidence": 0.9}], "@output_tokens": 1200, "@input_tokens": 40}
    assert traffic_record({**record, "attempts": []})["remaining_budget"] == "0.25"  # not money here: as logged


def test_other_events_of_a_run_are_log_records_that_are_skipped():
    reader = Reader()
    other = {"event": "shadow", "run_id": "c", "policy_sha256": "x", "signals": {"task": "chat"}}
    assert is_log_record(other) and reader.record(json.dumps(other)) is None
    assert reader.record(json.dumps({**other, "event": "end"})) == {"task": "chat"}
    assert reader.record("") is None and reader.record("[1, 2]") is None
    counts = reader.finish()
    assert (counts.decisions, counts.skipped, counts.starts, counts.unfinished) == (1, 2, 0, 0)


def test_plain_traffic_is_not_taken_for_a_log(shop, tmp_path):
    path = tmp_path / "traffic.jsonl"
    path.write_text('{"task": "chat", "input_tokens": 10, "signals": {"a": 1}}\n', encoding="utf-8")
    assert not is_decision_log(path)
    report = simulate(shop, path, engine="python")
    assert report["records"] == 1 and report["rules"]["chat"]["hits"] == 1
    assert not any("decision log" in note for note in report["notes"])


def test_the_cli_simulates_and_diffs_a_log(shop, logged, tmp_path):
    path, (cost, hits, *_) = logged
    policy = tmp_path / "shop.route"
    policy.write_text(SHOP, encoding="utf-8")
    runner = CliRunner()
    done = runner.invoke(main, ["simulate", str(policy), str(path), "--engine", "python", "--format", "json"])
    assert done.exit_code == 1, done.output  # the logged bad requests are records that are no valid request
    assert Decimal(json.loads(done.output)["cost"]["total"]) == cost
    changed = tmp_path / "shop2.route"
    changed.write_text(SHOP.replace("rule legal     when task == legal         -> huge",
                                    "rule legal     when task == legal         -> big"), encoding="utf-8")
    done = runner.invoke(main, ["diff", str(policy), str(changed), "--traffic", str(path), "--format", "json"])
    assert done.exit_code == 1, done.output
    traffic = json.loads(done.output)["traffic"]
    assert traffic["records"] == 300 and traffic["not_requests"] == 0
    (change,) = json.loads(done.output)["changes"]
    assert change["traffic"]["requests"] == hits["legal"]


BUDGETED = """
policy budgeted
import "std/signals"
model cheap { id = "acme/cheap" tier = 1 input_per_mtok = $1 output_per_mtok = $1 context = 100_000 max_output = 1_000 latency = 1s }
model dear  { id = "acme/dear"  tier = 2 input_per_mtok = $10 output_per_mtok = $10 context = 100_000 max_output = 1_000 latency = 1s }
cascade up { cheap -> dear when confidence < 0.5 }
route {
  rule too_large when input_tokens > 90_000 -> reject "too large"
  rule rich   when remaining_budget >= $0.05 -> dear
  rule thrift when remaining_budget >= $0.02 -> up
  default -> reject "session budget exhausted"
}
"""


@pytest.mark.parametrize("engine", ENGINES)
def test_a_session_log_replays_with_the_remaining_budget_each_run_saw(engine, tmp_path):
    """A Session fills the money signal `remaining_budget`, which the log writes as an exact
    decimal string: the replay reads it back as money and decides every run as it was."""
    policy = policylang.loads(BUDGETED, "budgeted.route")
    path = tmp_path / "session.jsonl"
    with runtime.JsonlLog(path) as log:
        router = runtime.Router(policy, Seeded(), assess=runtime.assess.outcomes(json=True), log=log, retry=None,
                                breaker=None)
        session = runtime.Session(router, Decimal("0.3"))
        hits, cost = Counter(), Decimal(0)
        for signals, request in workload(60, 5):
            signals = {"input_tokens": signals["input_tokens"] % 1_000}
            request["input"] = signals["input_tokens"]
            request["confidence"] = {"cheap": request["confidence"]["small"], "dear": request["confidence"]["big"]}
            try:
                result = session.run(signals, request)
            except runtime.Rejected as exc:
                hits[exc.decision.rule] += 1
                continue
            hits[result.rule] += 1
            cost += result.cost
    assert hits["rich"] and hits["thrift"] and hits["default"]  # the budget ran down through every rule
    report = simulate(policy, path, engine=engine)
    assert {rule: r["hits"] for rule, r in report["rules"].items() if r["hits"]} == dict(hits)
    assert Decimal(report["cost"]["total"]) == cost == session.spent


@settings(max_examples=5, deadline=None)
@given(st.integers(0, 2**32), st.integers(1, 60))
def test_any_seeded_workload_round_trips_on_both_engines(shop, tmp_path_factory, seed, count):
    path = tmp_path_factory.mktemp("seeded") / "decisions.jsonl"
    with runtime.JsonlLog(path) as log:
        cost, hits, climbed, calls, errors = run_all(shop, log, count=count, seed=seed)
    reports = []
    for engine in ENGINES:
        report = simulate(shop, path, engine=engine).as_dict()
        assert Decimal(report["cost"]["total"]) == cost
        assert {rule: r["hits"] for rule, r in report["rules"].items() if r["hits"]} == dict(hits)
        assert report["escalations"]["requests"] == climbed
        assert {model: m["calls"] for model, m in report["models"].items() if m["calls"]} == dict(calls)
        assert {code: e["count"] for code, e in report["errors"].items()} == dict(errors)
        report.pop("engine")
        reports.append(report)
    assert reports[0] == reports[1]


class SeededStream(Seeded):
    """`Seeded`, streamed: the answer's text in two chunks, then its usage; the metrics see
    each streamed call's time to first chunk."""

    def stream(self, model, request, *, max_output):
        answer = self(model, request, max_output=max_output)
        yield answer.text[:5]
        yield answer.text[5:]
        yield runtime.Usage(answer.input_tokens, answer.output_tokens)


def test_a_streamed_workload_round_trips_and_its_metrics_count_every_first_chunk(shop, tmp_path):
    from prometheus_client import CollectorRegistry

    from policylang.runtime.metrics import Metrics

    path = tmp_path / "streamed.jsonl"
    registry = CollectorRegistry()
    metrics = Metrics(registry, otel=False)
    cost, hits, climbed, calls = Decimal(0), Counter(), 0, Counter()
    with runtime.JsonlLog(path) as log:
        router = runtime.Router(shop, SeededStream(), assess=runtime.assess.outcomes(json=True), log=log,
                                metrics=metrics, retry=None, breaker=None)
        for signals, request in workload(80, 23):
            stream = router.stream(signals, request)
            try:
                text = "".join(stream)
            except runtime.Rejected as exc:
                hits[exc.decision.rule] += 1
                continue
            except policylang.RequestError:
                continue
            result = stream.result
            assert json.loads(text) == {"confidence": request["confidence"][result.model]}
            hits[result.rule] += 1
            cost += result.cost
            climbed += len(result.path) > 1
            for attempt in result.attempts:
                calls[attempt.model] += 1
    assert climbed
    for engine in ENGINES:
        report = simulate(shop, path, engine=engine)
        assert Decimal(report["cost"]["total"]) == cost
        assert report["escalations"]["requests"] == climbed
        assert {model: m["calls"] for model, m in report["models"].items() if m["calls"]} == dict(calls)
        assert {rule: r["hits"] for rule, r in report["rules"].items() if r["hits"]} == dict(hits)
    firsts = sum(s.value for family in registry.collect() for s in family.samples
                 if s.name == "policylang_ttft_seconds_count")
    assert firsts == sum(calls.values())  # every streamed call handed its first chunk
