"""The runtime's defined outcomes for faults and for budgets under concurrency (issue 24):
connection errors are transient, the call that trips a breaker keeps its retry, Retry-After
reaches the breaker and odd values of it have one meaning, fail-open when every model a step
can reach is held open, an unexpected exception propagates with nothing held, and a Session
never calls money held by calls in flight "exhausted"."""

from __future__ import annotations

import asyncio
import json
import random
import threading
import time
from decimal import Decimal

import pytest

import policylang
from policylang import runtime
from policylang.runtime.clients import retry_after
from policylang.runtime.resilience import Breakers
from runtime_support import SHOP, FakeClock, Scripted, price

CHAT = {"task": "chat", "input_tokens": 100}
CODE = {"task": "code", "input_tokens": 100}

WALLET = """
policy wallet

import "std/signals"

model cheap { id = "acme/cheap" tier = 1 input_per_mtok = $1 output_per_mtok = $1 context = 100_000 max_output = 1_000 latency = 1s }

route {
  rule too_large when input_tokens > 90_000 -> reject "too large"
  rule ok when remaining_budget >= cost(cheap) -> cheap
  default -> reject "session budget exhausted"
}
"""


@pytest.fixture(scope="module")
def shop():
    return policylang.loads(SHOP, "shop.route")


@pytest.fixture(scope="module")
def wallet():
    return policylang.loads(WALLET, "wallet.route")


def router(policy, call, clock=None, **options):
    clock = clock or FakeClock()
    options.setdefault("retry", None)
    options.setdefault("breaker", None)
    options.setdefault("assess", runtime.assess.outcomes(json=True))
    return runtime.Router(policy, call, clock=clock, sleep=clock.sleep, asleep=clock.asleep,
                          rng=random.Random(7), now=lambda: 1_800_000_000.0, **options)


# ---- faults ---------------------------------------------------------------------------------

def test_a_connection_reset_is_retried_before_its_fallback(shop):
    call = Scripted({"big": [ConnectionResetError("reset by peer")]})
    result = router(shop, call, retry=runtime.Retry(attempts=2, base=0, jitter=0)).run(CODE, "x")
    assert [(a.model, a.error, a.retry) for a in result.attempts] == [("big", "unavailable", 0), ("big", None, 1)]
    transient = runtime.ProviderError("unavailable", "connection refused", transient=True)
    call = Scripted({"small": [transient, transient]})
    result = router(shop, call, retry=runtime.Retry(attempts=2, base=0, jitter=0)).run(CHAT, "x")
    assert [(a.model, a.error) for a in result.attempts] == [("small", "unavailable")] * 2 + [("spare", None)]
    plain = Scripted({"small": ["unavailable"]})  # a plain unavailable (a 503, a 404) goes straight to its fallback
    result = router(shop, plain, retry=runtime.Retry(attempts=2, base=0, jitter=0)).run(CHAT, "x")
    assert [(a.model, a.error) for a in result.attempts] == [("small", "unavailable"), ("spare", None)]


def test_the_call_that_trips_the_breaker_keeps_its_retry(shop):
    clock = FakeClock()
    call = Scripted({"big": ["server_error"]})
    routed = router(shop, call, clock, retry=runtime.Retry(attempts=2, base=0, jitter=0),
                    breaker=runtime.Breaker(failures=1, min_calls=100, cooldown=30, jitter=0))
    result = routed.run(CODE, "x")  # the failure opens big's breaker; its retry is made all the same
    assert [(a.model, a.error) for a in result.attempts] == [("big", "server_error"), ("big", None)]


class Spy(Breakers):
    def __init__(self, config, rng=None):
        super().__init__(config, rng)
        self.recorded = []

    def record(self, key, now, error, retry_after=None):
        self.recorded.append((key, error, retry_after))
        super().record(key, now, error, retry_after=retry_after)


class SpyState(runtime.LocalState):
    def breakers(self, config, rng=None):
        self.spy = Spy(config, rng)
        return self.spy


def test_retry_after_reaches_the_breaker_which_parks_the_model(shop):
    state = SpyState()
    call = Scripted({"small": [runtime.ProviderError("rate_limited", retry_after=20)]})
    routed = router(shop, call, breaker=runtime.Breaker(), state=state)
    result = routed.run(CHAT, "x")  # 20 s is over Retry's cap: no retry, the fallback serves
    assert [(a.model, a.error) for a in result.attempts] == [("small", "rate_limited"), ("spare", None)]
    assert state.spy.recorded[0] == ("acme/small", "rate_limited", 20)
    assert routed.breakers.is_open("acme/small", 1000.0)  # parked, not voted
    assert routed.state is state


@pytest.mark.parametrize(("header", "seconds"), [
    ("1.5", 1.5), ("0", 0.0), ("-5", 0.0), ("86400", 86400.0), ("31536000", None), ("a year", None), ("soon", None),
    ("nan", None), ("inf", None), ("", None), ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0)])
def test_retry_after_headers_have_one_meaning_each(header, seconds):
    assert retry_after({"retry-after": header}) == seconds
    assert retry_after({"retry-after-ms": "-5"}) == 0.0 and retry_after({"retry-after-ms": "1e300"}) is None


def test_fail_open_when_every_model_the_step_reaches_is_open(shop, tmp_path):
    clock = FakeClock()
    log = runtime.JsonlLog(tmp_path / "decisions.jsonl")
    routed = router(shop, Scripted(), clock, log=log,
                    breaker=runtime.Breaker(failures=1, min_calls=100, cooldown=10, jitter=0))
    for model, at in (("acme/small", 1003.0), ("acme/spare", 1002.0), ("acme/big", 1001.0)):
        routed.breakers.record(model, at, "unavailable")  # small -> spare -> big on unavailable: all open
    clock.now = 1004.0
    result = routed.run(CHAT, "x")
    log.close()
    assert result.path == ("big",)  # the one whose breaker reopens first, with its own cap
    [attempt] = result.attempts
    assert attempt.fail_open and attempt.max_output == 1500
    record = [json.loads(line) for line in (tmp_path / "decisions.jsonl").read_text().splitlines()][-1]
    assert record["attempts"][0]["fail_open"] is True
    routed.breakers.record("acme/small", 1004.0, None)  # big answered and closed; once small's is closed, no fail-open
    clock.now = 1020.0
    assert not router(shop, Scripted(), clock, breaker=runtime.Breaker()).run(CHAT, "x").attempts[0].fail_open


def test_an_unexpected_exception_propagates_with_nothing_held(shop, tmp_path):
    log = runtime.JsonlLog(tmp_path / "decisions.jsonl")
    session = runtime.Session(router(shop, Scripted({"big": [KeyError("a bug in the client")]}), log=log,
                                     breaker=runtime.Breaker()), budget=1)
    with pytest.raises(KeyError):
        session.run(CODE, "x")
    log.close()
    assert session.held == 0 and session.spent == 0
    record = [json.loads(line) for line in (tmp_path / "decisions.jsonl").read_text().splitlines()][-1]
    assert record["end"] == "error" and record["error"]["type"] == "KeyError"


# ---- budgets under concurrency --------------------------------------------------------------

class Gate:
    """A call that blocks until `open` is set, then answers with fixed usage."""

    def __init__(self, tokens=(1000, 1000)):
        self.open = threading.Event()
        self.started = threading.Semaphore(0)
        self.tokens = tokens

    def __call__(self, model, request, *, max_output):
        self.started.release()
        assert self.open.wait(10)
        return runtime.Answer("{}", "stop", *self.tokens)


def threads(work, count):
    outcomes, pool = [None] * count, []

    def one(index):
        try:
            outcomes[index] = work()
        except Exception as exc:  # noqa: BLE001 - the test reads each outcome
            outcomes[index] = exc

    for index in range(count):
        pool.append(threading.Thread(target=one, args=(index,)))
        pool[-1].start()
    return outcomes, pool


def test_money_held_by_calls_in_flight_is_waited_for_not_called_exhausted(wallet):
    # cost(cheap) at 1,000 input tokens: 1,000 x $1/M + 1,000 x $1/M = $0.002; $0.005 holds two
    gate = Gate(tokens=(500, 500))
    session = runtime.Session(runtime.Router(wallet, gate, retry=None, breaker=None), budget=Decimal("0.005"), wait=10)
    signals = {"input_tokens": 1000}
    first, pool = threads(lambda: session.run(signals, "x"), 2)
    assert gate.started.acquire(timeout=5) and gate.started.acquire(timeout=5)
    assert session.held == Decimal("0.004") and session.remaining == Decimal("0.001")
    third, more = threads(lambda: session.run(signals, "x"), 1)  # would be rejected on $0.001; it waits
    time.sleep(0.2)
    assert third == [None]  # still waiting
    gate.open.set()
    for thread in pool + more:
        thread.join(10)
    assert all(isinstance(r, runtime.Result) for r in first + third), first + third
    assert session.spent == 3 * Decimal("0.001") and session.held == 0


def test_a_wait_that_runs_out_is_budget_busy_not_rejected(wallet, tmp_path):
    gate = Gate()
    log = runtime.JsonlLog(tmp_path / "decisions.jsonl")
    session = runtime.Session(runtime.Router(wallet, gate, retry=None, breaker=None, log=log), budget=Decimal("0.003"),
                              wait=0.1)
    signals = {"input_tokens": 1000}
    first, pool = threads(lambda: session.run(signals, "x"), 1)
    assert gate.started.acquire(timeout=5)
    with pytest.raises(runtime.BudgetBusy) as busy:
        session.run(signals, "x")
    assert not isinstance(busy.value, (runtime.OverBudget, runtime.Rejected)) and "held by calls in flight" in str(busy.value)
    gate.open.set()
    pool[0].join(10)
    assert isinstance(first[0], runtime.Result)
    with pytest.raises(runtime.Rejected):  # spent, not held: a real rejection, at once
        session.run(signals, "x")
    log.close()
    ends = [r["end"] for r in map(json.loads, (tmp_path / "decisions.jsonl").read_text().splitlines())
            if r["event"] == "end"]
    assert sorted(ends) == ["answered", "budget_busy", "rejected"]


def test_spend_passes_the_budget_only_by_the_tokens_the_signal_undercounted(shop):
    # big's worst case at the signal's 100 input tokens: 100 x $3/M + 8,000 x $15/M = $0.1203.
    # The provider reads 5,000 tokens and writes 8,000: $0.135, past the budget by 4,900 x $3/M.
    session = runtime.Session(router(shop, Scripted(tokens=(5000, 8000))), budget=Decimal("0.1203"))
    result = session.run(CODE, "x")
    assert result.cost == price("big", 5000, 8000)
    over = session.spent - session.budget
    assert 0 < over <= (5000 - 100) * Decimal(3) / 1_000_000 and session.remaining == 0
    with pytest.raises(runtime.OverBudget):
        session.run(CODE, "x")
    assert session.spent == result.cost  # no call was made past the budget


def test_two_sessions_with_one_key_and_state_share_a_budget(shop):
    state = runtime.LocalState()
    routed = router(shop, Scripted())
    one = runtime.Session(routed, budget=Decimal("0.2"), key="team", state=state)
    two = runtime.Session(routed, budget=Decimal("0.2"), key="team", state=state)
    one.run(CODE, "x")
    assert two.spent == one.spent == price("big", 100, 50)


# ---- wiring: metrics, on_breaker ------------------------------------------------------------

class Watcher:
    """A duck-typed `runtime.metrics.Metrics`: what the core hands it."""

    def __init__(self, fail=False):
        self.records, self.changes, self.fail = [], [], fail

    def observe(self, record):
        self.records.append(record)
        if self.fail:
            raise RuntimeError("a broken exporter")

    def breaker(self, model_id, state):
        self.changes.append((model_id, state))


def test_metrics_observe_each_runs_end_and_breakers_report_their_changes(shop):
    clock, watcher, seen = FakeClock(), Watcher(), []
    routed = router(shop, Scripted({"big": ["server_error"]}), clock, metrics=watcher, on_breaker=lambda *c: seen.append(c),
                    breaker=runtime.Breaker(failures=1, min_calls=100, cooldown=10, jitter=0))
    assert routed.run(CODE, "x").path == ("huge",)  # big -> huge on server_error
    with pytest.raises(runtime.Rejected):
        routed.run({"task": "code", "input_tokens": 95_000}, "x")
    assert [r["end"] for r in watcher.records] == ["answered", "rejected"]
    assert all(r["event"] == "end" and r["run_id"] for r in watcher.records)
    assert watcher.changes == seen and ("acme/big", "open") in seen
    broken = router(shop, Scripted(), metrics=Watcher(fail=True))
    assert broken.run(CODE, "x").path == ("big",)  # a metrics failure never reaches the app


def test_ten_concurrent_async_requests_on_a_fresh_session_are_all_served(wallet):
    # each holds $0.002 (its worst case) and costs $0.001: $0.012 holds six at a time, pays all ten
    async def call(model, request, *, max_output):
        await asyncio.sleep(0.05)
        return runtime.Answer("{}", "stop", 500, 500)

    session = runtime.Session(runtime.Router(wallet, call, retry=None, breaker=None), budget=Decimal("0.012"), wait=10)

    async def main():
        return await asyncio.gather(*(session.arun({"input_tokens": 1000}, "x") for _ in range(10)),
                                    return_exceptions=True)

    outcomes = asyncio.run(main())
    assert all(isinstance(o, runtime.Result) for o in outcomes), outcomes
    assert session.spent == Decimal("0.010") and session.held == 0 and session.runs == 10


def test_a_fail_open_call_keeps_its_retries(shop):
    # big has no unavailable fallback: parked by a Retry-After, it is called all the same, and its
    # 429 is retried as the bare SDK would retry it
    clock = FakeClock()
    routed = router(shop, Scripted({"big": ["rate_limited"]}), clock, retry=runtime.Retry(attempts=2, base=0, jitter=0),
                    breaker=runtime.Breaker())
    routed.breakers.record("acme/big", clock.now, "rate_limited", retry_after=5)
    result = routed.run(CODE, "x")
    assert [(a.model, a.error, a.retry, a.fail_open) for a in result.attempts] == [
        ("big", "rate_limited", 0, True), ("big", None, 1, True)]


def test_a_retry_after_given_as_an_int_is_waited_for(shop):
    clock = FakeClock()
    call = Scripted({"big": [runtime.ProviderError("rate_limited", retry_after=1)]})
    result = router(shop, call, clock, retry=runtime.Retry(attempts=2)).run(CODE, "x")
    assert clock.slept == [1.0] and [a.error for a in result.attempts] == ["rate_limited", None]

    async def main():
        call.script["big"].append(runtime.ProviderError("rate_limited", retry_after=2))
        return await router(shop, call, clock, retry=runtime.Retry(attempts=2)).arun(CODE, "x")

    assert [a.error for a in asyncio.run(main()).attempts] == ["rate_limited", None] and clock.slept[-1] == 2.0


class ParkedByOthers(Scripted):
    """A provider that 429s `model` (Retry-After 1 s) on its first two calls; during the second,
    another request's 429 parks the model for 5 s (the load of issue 24's 10% of 429s)."""

    def __init__(self, model: str) -> None:
        super().__init__({model: [runtime.ProviderError("rate_limited", retry_after=1)] * 2})
        self.model, self.routed = model, None

    def __call__(self, model, request, *, max_output, **kwargs):
        if model.name == self.model and len(self.calls) == 1:
            self.routed.breakers.record(model.id, self.routed_clock.now, "rate_limited", retry_after=5)
        return super().__call__(model, request, max_output=max_output, **kwargs)


def test_a_retry_the_breaker_stops_fails_open_when_no_fallback_is_left(shop):
    # big has no rate_limited fallback: stopping its retry because another request parked it
    # would end the request in Exhausted, so the retry is made (fail-open), as the bare SDK would
    clock = FakeClock()
    call = ParkedByOthers("big")
    routed = call.routed = router(shop, call, clock, retry=runtime.Retry(attempts=3), breaker=runtime.Breaker())
    call.routed_clock = clock
    result = routed.run(CODE, "x")
    assert [(a.model, a.error, a.retry, a.fail_open) for a in result.attempts] == [
        ("big", "rate_limited", 0, False), ("big", "rate_limited", 1, False), ("big", None, 2, True)]
    assert clock.slept == [1.0, 1.0]


def test_a_retry_the_breaker_stops_goes_to_the_fallback_when_there_is_one(shop):
    clock = FakeClock()
    call = ParkedByOthers("small")
    routed = call.routed = router(shop, call, clock, retry=runtime.Retry(attempts=3), breaker=runtime.Breaker())
    call.routed_clock = clock
    result = routed.run(CHAT, "x")
    assert [(a.model, a.error, a.retry) for a in result.attempts] == [
        ("small", "rate_limited", 0), ("small", "rate_limited", 1), ("spare", None, 0)]
    assert result.model == "spare"
