"""The runtime under load and random faults: 10,000 runs of the support desk policy from 8
threads, and 200 concurrent async tasks, with providers failing at random, retries and
breakers on, every run logged to one file and paid from a shared session budget.

Each run is checked against an oracle written here from the language reference, not from the
runtime: the decision is the interpreter's; each call serves the step it claims with the cap
`min(rule cap, model max_output)`; a failed call is followed by a bounded retry of the same
model or by the fallback *declared* for its error (never a model already tried for the step);
a climb happens exactly when the interpreter's `escalate` says so; no PII request is answered
by a model outside the EU; the cost is the sum of the answered calls at the policy's prices;
and the log holds exactly one matching record per run. The session never goes below zero.

POLICYLANG_STRESS_RUNS and POLICYLANG_STRESS_TASKS scale the load (defaults: 10,000 runs,
200 tasks of 10 runs each).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import random
import subprocess
import sys
import threading
import time
from collections import Counter
from fractions import Fraction

import pytest

import policylang
from policylang import runtime
from policylang.ir.policy import ERRORS
from conftest import EXAMPLES

pytestmark = pytest.mark.slow  # 10,000 runs from 8 threads and the rest: ~15 s in all

RUNS = int(os.environ.get("POLICYLANG_STRESS_RUNS", "10000"))
THREADS = 8
TASKS = int(os.environ.get("POLICYLANG_STRESS_TASKS", "200"))
RUNS_PER_TASK = 10
RETRY = runtime.Retry(attempts=2, base=0.0, jitter=0)
RETRYABLE = {"rate_limited", "server_error", "timeout"}
TASK_VALUES = ["classify", "extract", "format", "translate", "summarize", "draft", "plan", "code", "legal_review",
               "refund_dispute"]


@pytest.fixture(scope="module")
def desk():
    return policylang.load(str(EXAMPLES / "support_desk.route"))


def ticket(index: int) -> tuple[dict, dict]:
    """The signals of ticket `index` and its fault plan: for each model, the errors its calls
    fail with, in order, then the outcomes its answer has. Deterministic per index."""
    draw = random.Random(index)
    signals = {
        "ticket": index,  # not a signal: ignored by decide, kept by the log
        "task": draw.choice(TASK_VALUES),
        "input_tokens": draw.choice([draw.randint(0, 4_000), draw.randint(0, 9_000), draw.randint(0, 230_000)]),
        "tool_count": draw.choice([0, 0, 1, 5]),
        "pii": draw.random() < 0.2,
    }
    plan = {}
    for model in ("fast", "mid", "frontier", "backup", "onprem"):
        errors = [draw.choice(ERRORS) for _ in range(draw.choice([0, 0, 0, 1, 2, 3]))]
        outcomes = {"confidence": round(draw.random(), 2), "valid": draw.random() < 0.9,
                    "tool_failures": draw.choice([0, 0, 3])}
        plan[model] = (errors, outcomes)
    return signals, plan


def make_call(delay: bool = False):
    """A provider simulation: each run's request carries its own fault plan."""

    def answer(model, request, max_output):
        errors, outcomes = request["plan"][model.name]
        tries = request["tries"]
        tries[model.name] = tries.get(model.name, 0) + 1
        if tries[model.name] <= len(errors):
            raise runtime.ProviderError(errors[tries[model.name] - 1])
        used_in = max(1, request["input_tokens"] // 2)
        return runtime.Answer("ok", "stop", used_in, max_output // 3, raw=outcomes)

    if not delay:
        def call(model, request, *, max_output):
            return answer(model, request, max_output)
        return call

    async def acall(model, request, *, max_output):
        await asyncio.sleep(0)  # let the other tasks run between calls
        return answer(model, request, max_output)
    return acall


def build_router(desk, call, log):
    """Retries without waiting, and breakers on a clock that moves 0.1 ms per reading (a run
    reads it a few times), so they open and close by the volume of failures, not by how fast
    this machine happens to be."""
    readings = itertools.count()
    return runtime.Router(desk, call, assess=lambda answer, signals: answer.raw, log=log, retry=RETRY,
                          breaker=runtime.Breaker(failures=40, window=0.5, cooldown=0.01),
                          clock=lambda: next(readings) * 0.0001, sleep=lambda seconds: None,
                          asleep=lambda seconds: asyncio.sleep(0), rng=random.Random(5))


def price(desk, name: str, input_tokens: int, output_tokens: int) -> Fraction:
    model = desk.ir.model(name)
    return (Fraction(model.input_per_mtok) * input_tokens + Fraction(model.output_per_mtok) * output_tokens) / 1_000_000


def expected_walk(desk, signals, attempts):
    """The oracle: how the run must have ended given its attempts, or an AssertionError."""
    decision = desk.decide(signals, engine="interpreted")
    if decision.reject is not None:
        assert attempts == ()
        return decision, "rejected", []
    rule = next(r for r in desk.ir.route if r.name == decision.rule)

    def cap(name):
        limit = desk.ir.model(name).max_output
        return limit if rule.cap is None else min(rule.cap, limit)

    position, step, path = 0, 0, []
    while True:
        model, tried, served, last = decision.steps[step], {decision.steps[step]}, None, None
        while True:
            attempt = attempts[position]
            position += 1
            if attempt.fail_open:  # every model the chain reaches was held open: the one reopening first
                assert (attempt.step, attempt.max_output) == (step, cap(attempt.model)), attempt
            else:
                assert (attempt.step, attempt.model, attempt.max_output) == (step, model, cap(model)), attempt
            assert attempt.retry < RETRY.attempts
            last = attempt
            if attempt.answered:
                served = attempt.model
                break
            following = attempts[position] if position < len(attempts) else None
            called = attempt.model if attempt.fail_open else model
            if (attempt.skipped is None and attempt.error in RETRYABLE and following is not None
                    and (following.step, following.model, following.retry) == (step, called, attempt.retry + 1)):
                continue  # a retry of the same model for the same step
            declared = desk.ir.fallback_of(model, attempt.error) if attempt.error in ERRORS else None
            if declared is None or declared in tried:
                break
            model = declared
            tried.add(model)
        if served is None:
            assert position == len(attempts)
            return decision, "exhausted" if step == 0 else "incomplete", path
        path.append(served)
        climbs = step + 1 < len(decision.steps) and desk.escalate(decision, step, last.outcomes,
                                                                 engine="interpreted") is not None
        if not climbs:
            assert position == len(attempts), "the run went on after a step that does not climb"
            return decision, "answered", path
        step += 1


def check_run(desk, signals, ended, attempts, result):
    """One run against the oracle; returns its cost."""
    decision, end, path = expected_walk(desk, signals, attempts)
    if end in ("answered", "incomplete"):
        assert isinstance(ended, runtime.Result) and ended.decision == decision
        assert ended.complete == (end == "answered") and list(ended.path) == path
    elif end == "rejected":
        assert isinstance(ended, runtime.Rejected)
    else:
        assert isinstance(ended, runtime.Exhausted)
    if signals["pii"]:
        for name in path:
            regions = desk.ir.model(name).regions
            assert regions is not None and regions <= {"eu"}, f"PII answered by {name}"
    cost = sum((price(desk, a.model, a.input_tokens, a.output_tokens) for a in attempts if a.answered), Fraction(0))
    if isinstance(ended, runtime.Result):
        assert Fraction(ended.cost) == cost
    assert all(a.cost == 0 for a in attempts if not a.answered)
    return cost, end


def serve_one(serve, index):
    signals, plan = ticket(index)
    request = {"plan": plan, "tries": {}, "input_tokens": signals["input_tokens"]}
    try:
        result = serve(signals, request)
        return signals, result, result.attempts
    except runtime.Exhausted as exc:
        return signals, exc, exc.attempts
    except runtime.Rejected as exc:
        return signals, exc, ()


def check_log(desk, path, outcomes):
    """Exactly one record per run, matching its end, cost and attempts; every line parses."""
    records = {}
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            record = json.loads(line)
            if record["event"] == "start":  # the run's start, before its first call
                continue
            index = record["signals"]["ticket"]
            assert index not in records, f"two records for ticket {index}"
            records[index] = record
    assert len(records) == len(outcomes)
    for index, (signals, ended, attempts, cost, end) in outcomes.items():
        record = records[index]
        assert record["end"] == ("over_budget" if isinstance(ended, runtime.OverBudget) else end)
        assert Fraction(record["cost"]) == (cost if isinstance(ended, runtime.Result) else 0)
        assert [(a["step"], a["model"], a["error"], a["retry"]) for a in record["attempts"]] == [
            (a.step, a.model, a.error, a.retry) for a in attempts]
        assert sum(Fraction(a["cost"]) for a in record["attempts"]) == cost


def in_threads(work, runs: int) -> None:
    """`work(index)` for every index, spread over THREADS threads; re-raises the first failure
    of any thread here, where pytest sees it."""
    failures = []

    def worker(indexes):
        try:
            for index in indexes:
                work(index)
        except BaseException as exc:  # noqa: BLE001 - handed to the test's thread below
            failures.append(exc)

    threads = [threading.Thread(target=worker, args=(range(k, runs, THREADS),)) for k in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]


def record_outcome(desk, outcomes, lock, signals, ended, attempts):
    """Check a run against the oracle (runs a session's budget cut short end early, which the
    oracle does not model; their costs are still checked) and keep it for the log check."""
    if any(a.skipped == "over_budget" for a in attempts):
        cost, end = sum((price(desk, a.model, a.input_tokens, a.output_tokens) for a in attempts if a.answered),
                        Fraction(0)), _end(ended)
        if isinstance(ended, runtime.Result):
            assert Fraction(ended.cost) == cost
    else:
        cost, end = check_run(desk, signals, ended, attempts, ended)
    with lock:
        outcomes[signals["ticket"]] = (signals, ended, attempts, cost, end)


def test_ten_thousand_runs_from_eight_threads(desk, tmp_path):
    log_path = tmp_path / "decisions.jsonl"
    log = runtime.JsonlLog(log_path)
    routed = build_router(desk, make_call(), log)
    outcomes, lock = {}, threading.Lock()
    in_threads(lambda index: record_outcome(desk, outcomes, lock, *serve_one(routed.run, index)), RUNS)
    log.close()
    assert len(outcomes) == RUNS
    ends = Counter(end for *_, end in outcomes.values())
    assert {"answered", "incomplete", "rejected", "exhausted"} <= set(ends), ends  # every end happened
    assert sum(1 for *_, attempts, _, _ in outcomes.values() for a in attempts if a.retry) > 0
    assert sum(1 for *_, attempts, _, _ in outcomes.values() for a in attempts if a.skipped == "breaker_open") > 0
    check_log(desk, log_path, outcomes)


def run_session(desk, tmp_path, runs: int, call, drive):
    """Serve `runs` tickets through one Session whose budget is half what they cost without
    one; `drive(session, outcomes, lock)` serves them concurrently. The budget is watched
    from another thread all along: never below zero, never overspent."""
    unbudgeted = build_router(desk, make_call(), None)
    total = sum(ended.cost for ended in (serve_one(unbudgeted.run, i)[1] for i in range(runs))
                if isinstance(ended, runtime.Result))
    log_path = tmp_path / "session.jsonl"
    log = runtime.JsonlLog(log_path)
    session = runtime.Session(build_router(desk, call, log), budget=total / 2)
    watching, violations, samples = threading.Event(), [], []

    def watch():
        while not watching.is_set():
            spent, held = session._ledger.totals()  # one consistent view of the account
            remaining = session.budget - spent - held
            samples.append(remaining)
            if remaining < 0 or held < 0 or spent + held > session.budget:
                violations.append((spent, held, remaining))

    watcher = threading.Thread(target=watch)
    watcher.start()
    outcomes, lock = {}, threading.Lock()
    try:
        drive(session, outcomes, lock)
    finally:
        watching.set()
        watcher.join()
        log.close()
    assert not violations and samples
    assert len(outcomes) == runs
    assert 0 <= session.spent <= session.budget and session.held == 0 and session.remaining >= 0
    assert sum(ended.cost for _, ended, *_ in outcomes.values() if isinstance(ended, runtime.Result)) == session.spent
    refused = sum(1 for _, _, attempts, *_ in outcomes.values() if any(a.skipped == "over_budget" for a in attempts))
    assert refused > 0, "the budget never ran out: the test did not test it"
    check_log(desk, log_path, outcomes)


def test_a_session_shared_by_eight_threads_never_goes_negative(desk, tmp_path):
    runs = RUNS // 5

    def drive(session, outcomes, lock):
        in_threads(lambda index: record_outcome(desk, outcomes, lock, *serve_one(session.run, index)), runs)

    run_session(desk, tmp_path, runs, make_call(), drive)


def test_two_hundred_concurrent_async_tasks(desk, tmp_path):
    runs = TASKS * RUNS_PER_TASK

    def drive(session, outcomes, lock):
        async def task(indexes):
            for index in indexes:
                signals, plan = ticket(index)
                request = {"plan": plan, "tries": {}, "input_tokens": signals["input_tokens"]}
                try:
                    ended = await session.arun(signals, request)
                    attempts = ended.attempts
                except runtime.Exhausted as exc:
                    ended, attempts = exc, exc.attempts
                except runtime.Rejected as exc:
                    ended, attempts = exc, ()
                record_outcome(desk, outcomes, lock, signals, ended, attempts)

        async def main():
            await asyncio.gather(*(task(range(k, runs, TASKS)) for k in range(TASKS)))

        asyncio.run(main())

    run_session(desk, tmp_path, runs, make_call(delay=True), drive)


def _end(ended):
    if isinstance(ended, runtime.Result):
        return "answered" if ended.complete else "incomplete"
    if isinstance(ended, runtime.Rejected):
        return "rejected"
    return "exhausted"


WRITER = r"""
import sys
from policylang import runtime
log = runtime.JsonlLog(sys.argv[1])
for i in range(int(sys.argv[3])):
    log({"writer": sys.argv[2], "i": i, "padding": "x" * 70000})
"""


def test_processes_appending_to_one_log_never_interleave(tmp_path):
    path = tmp_path / "shared.jsonl"
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(k), "60"], stderr=subprocess.PIPE,
                                text=True) for k in range(4)]
    for writer in writers:
        _, problem = writer.communicate(timeout=120)
        assert writer.returncode == 0, problem
    seen = Counter()
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            record = json.loads(line)  # a torn or interleaved line would not parse
            assert len(record["padding"]) == 70000
            seen[record["writer"]] += 1
    assert seen == {str(k): 60 for k in range(4)}


ENDLESS = r"""
import sys
from policylang import runtime
log = runtime.JsonlLog(sys.argv[1])
print("ready", flush=True)
i = 0
while True:
    log({"i": i, "padding": "y" * 100000})
    i += 1
"""


def test_a_killed_writer_tears_at_most_its_last_record_and_the_next_writer_starts_clean(tmp_path):
    path = tmp_path / "killed.jsonl"
    writer = subprocess.Popen([sys.executable, "-c", ENDLESS, str(path)], stdout=subprocess.PIPE, text=True)
    assert writer.stdout.readline().strip() == "ready"
    deadline = time.monotonic() + 30
    while (not path.exists() or path.stat().st_size < 2_000_000) and time.monotonic() < deadline:
        time.sleep(0.01)
    writer.kill()  # SIGKILL: no handler, no flush, no goodbye
    writer.wait(timeout=30)
    lines = path.read_bytes().split(b"\n")
    whole, tail = lines[:-1], lines[-1]  # tail: what follows the last newline (a torn record, or nothing)
    numbers = [json.loads(line)["i"] for line in whole]  # every line that ended is a whole record
    assert len(numbers) >= 10 and numbers == list(range(len(numbers)))
    with runtime.JsonlLog(path) as log:  # the next writer: its records start on a line of their own
        log({"i": "after"})
    records = list(runtime.read_log(path, skip_torn=True))
    assert [r["i"] for r in records][: len(numbers)] == numbers and records[-1] == {"i": "after"}
    assert path.read_bytes().endswith((b'{"i": "after"}\n', b'{"i":"after"}\n'))  # orjson's or the stdlib's
    if tail:  # the write was cut short: the torn record is alone on its line, never merged
        with pytest.raises(ValueError, match="not a JSON record"):
            list(runtime.read_log(path))
