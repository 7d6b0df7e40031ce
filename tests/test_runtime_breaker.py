"""The circuit breaker (runtime.resilience): agreement with a plain reference model written
from docs/runtime.md, and simulations through a real Router on a fake clock at 100 requests a
second on examples/support_desk.route (issue 24: 1% errors must not turn into an outage; a dead
model is left alone and found again when it is back)."""

from __future__ import annotations

import math
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

import policylang
from policylang import runtime
from policylang.runtime.resilience import Breakers
from runtime_support import FakeClock

ROOT = Path(__file__).resolve().parent.parent
ON = ("unavailable", "rate_limited", "timeout", "server_error")


# ---- the reference model ------------------------------------------------------------------------


class Reference:
    """The breaker as docs/runtime.md states it, written plainly: every vote since the last
    opening or closing kept in a list, the window and the failures in a row read from it."""

    def __init__(self, config: runtime.Breaker) -> None:
        self.c = config
        self.mode = "closed"
        self.votes: list[tuple[float, bool]] = []
        self.open_until = 0.0
        self.openings = 0
        self.parked_until: float | None = None
        self.probe_results: list[bool] = []  # True: failed
        self.out = 0  # probes let through and not yet judged
        self.told = "closed"
        self.events: list[str] = []

    def name(self, now: float) -> str:
        if self.parked_until is not None and now < self.parked_until:
            return "parked"
        return self.mode

    def tell(self, now: float) -> None:
        if self.name(now) != self.told:
            self.told = self.name(now)
            self.events.append(self.told)

    def allow(self, now: float) -> bool:
        allowed = self._allow(now)
        self.tell(now)
        return allowed

    def _allow(self, now: float) -> bool:
        if self.parked_until is not None:
            if now < self.parked_until:
                return False
            self.parked_until = None
        if self.mode == "open":
            if now < self.open_until:
                return False
            self.mode, self.probe_results, self.out = "half_open", [], 0
        if self.mode == "half_open":
            if self.out + len(self.probe_results) >= self.c.probes:
                return False
            self.out += 1
        return True

    def record(self, now: float, error: str | None, retry_after: float | None = None) -> None:
        c = self.c
        parks = (error == "rate_limited" and retry_after is not None and c.max_park > 0
                 and not math.isnan(retry_after) and retry_after > 0)
        if parks:
            self.parked_until = max(self.parked_until or 0.0, now + min(retry_after, c.max_park))
            self.give_back()
        elif error is not None and error not in c.on:
            self.give_back()
        else:
            self.vote(now, error is not None)
        self.tell(now)

    def release(self) -> None:
        self.give_back()

    def give_back(self) -> None:
        if self.mode == "half_open" and self.out > 0:
            self.out -= 1

    def vote(self, now: float, failed: bool) -> None:
        c = self.c
        if self.mode == "open":
            return
        if self.mode == "half_open":
            if self.out == 0:
                return
            self.out -= 1
            self.probe_results.append(failed)
            bad = sum(self.probe_results)
            good = len(self.probe_results) - bad
            if bad >= c.rate * c.probes:
                self.trip(now)
            elif good > (1 - c.rate) * c.probes:
                self.mode, self.openings, self.votes = "closed", 0, []
            return
        self.votes.append((now, failed))
        if not failed:
            return
        width = c.window / c.buckets
        recent = [f for t, f in self.votes if math.floor(t / width) > math.floor(now / width) - c.buckets]
        in_a_row = 0
        for _, f in reversed(self.votes):
            if not f:
                break
            in_a_row += 1
        if len(recent) >= c.min_calls:
            if sum(recent) >= c.rate * len(recent):
                self.trip(now)
        elif in_a_row >= c.failures:
            self.trip(now)

    def trip(self, now: float) -> None:
        c = self.c
        self.openings += 1
        self.mode = "open"
        self.open_until = now + min(c.max_cooldown, c.cooldown * 2 ** (self.openings - 1))
        self.votes, self.probe_results, self.out = [], [], 0

    def reopens_in(self, now: float) -> float:
        left = self.parked_until - now if self.parked_until is not None else 0.0
        if self.mode == "open":
            left = max(left, self.open_until - now)
        return max(0.0, left)


configs = st.builds(
    runtime.Breaker,
    rate=st.sampled_from([0.25, 0.5, 0.75, 1.0]),
    min_calls=st.integers(1, 6),
    window=st.sampled_from([1.0, 2.5, 10.0]),
    buckets=st.integers(1, 4),
    failures=st.integers(1, 4),
    cooldown=st.sampled_from([0.0, 1.0, 3.0]),
    max_cooldown=st.just(8.0),
    jitter=st.just(0.0),
    probes=st.integers(1, 3),
    max_park=st.sampled_from([0.0, 2.0, 10.0]),
)
results = st.one_of(
    st.tuples(st.none(), st.none()),
    st.tuples(st.sampled_from(ON), st.none()),
    st.tuples(st.just("content_filtered"), st.none()),
    st.tuples(st.just("rate_limited"), st.sampled_from([-5.0, 0.0, 0.5, 3.0, 1e9, math.nan])),
)
operations = st.lists(st.tuples(st.sampled_from([0.0, 0.0, 0.1, 0.4, 1.0, 2.0, 7.0]),
                                st.one_of(results.map(lambda r: ("call", r)), results.map(lambda r: ("call", r)),
                                          st.just("allow"), st.just("release"), results)),
                      max_size=80)


def replay(breakers, config, steps, clock=None):
    """Drive `breakers` and a Reference with the same steps, as the Router would (a result or
    a release only for a call `allow` let through); assert they agree after every step."""
    reference = Reference(config)
    events: list[str] = []
    breakers.subscribe(lambda key, state: events.append(state))
    now, outstanding = 1000.0, 0
    for dt, op in steps:
        now += dt
        if clock is not None:
            clock.now = now
        if op[0] == "call":  # a call as the Router makes it: asked for, then its result
            allowed = breakers.allow("m", now)
            assert allowed == reference.allow(now)
            op, outstanding = op[1], outstanding + allowed
        if op == "allow":
            allowed = breakers.allow("m", now)
            assert allowed == reference.allow(now)
            outstanding += allowed
        elif outstanding:
            outstanding -= 1
            if op == "release":
                breakers.release("m")
                reference.release()
            else:
                error, retry_after = op
                breakers.record("m", now, error, retry_after=retry_after)
                reference.record(now, error, retry_after)
        assert breakers.state("m", now) == reference.name(now)
        assert breakers.reopens_in("m", now) == pytest.approx(reference.reopens_in(now))
        assert breakers.is_open("m", now) == (reference.reopens_in(now) > 0)
        assert events == reference.events


@settings(max_examples=500, deadline=None)
@given(configs, operations)
def test_the_breaker_agrees_with_the_reference_model(config, steps):
    replay(Breakers(config, random.Random(1)), config, steps)


# ---- single behaviours --------------------------------------------------------------------------


def test_one_percent_failures_at_volume_never_trip_but_a_dead_model_does():
    config = runtime.Breaker()
    breakers, rng, now = Breakers(config, random.Random(3)), random.Random(5), 0.0
    for _ in range(100_000):  # 1,000 s at 100 calls a second, 1% failing
        now += 0.01
        assert breakers.allow("m", now)
        breakers.record("m", now, "server_error" if rng.random() < 0.01 else None)
    assert breakers.state("m", now) == "closed"
    calls = 0
    while breakers.allow("m", now):  # the provider dies: the rate trips within the window
        calls += 1
        breakers.record("m", now, "unavailable")
        now += 0.01
    assert breakers.state("m", now) == "open" and calls <= 100 * config.window


def test_the_window_keeps_its_slices_only():
    breakers = Breakers(runtime.Breaker(buckets=10))
    for index in range(20_000):  # 200 s of answers and a few failures
        breakers.record("m", index * 0.01, "timeout" if index % 500 == 0 else None)
    assert len(breakers._states["m"].window) <= 11


def test_a_slow_outage_at_low_traffic_opens_on_failures_in_a_row():
    breakers, now = Breakers(runtime.Breaker(), random.Random(3)), 0.0
    for _ in range(5):  # one call a minute, each failing: never 20 votes in a window
        now += 60
        assert breakers.allow("m", now)
        breakers.record("m", now, "timeout")
    assert breakers.state("m", now) == "open"


def test_cooldowns_double_with_jitter_up_to_the_cap():
    config = runtime.Breaker(failures=1, cooldown=5, max_cooldown=60, jitter=0.25)
    breakers, now, waits = Breakers(config, random.Random(11)), 0.0, []
    for opening in range(1, 8):
        assert breakers.allow("m", now)
        breakers.record("m", now, "unavailable")
        waits.append(breakers.reopens_in("m", now))
        full = min(60.0, 5.0 * 2 ** (opening - 1))
        assert full * 0.75 <= waits[-1] <= full
        now += waits[-1]
    assert len(set(waits)) == len(waits)  # jittered: no two processes retry in lockstep
    assert breakers.allow("m", now)
    breakers.record("m", now, None)  # the probe answers: closed, and the backoff starts over
    assert breakers.state("m", now) == "closed"
    breakers.record("m", now, "unavailable") if breakers.allow("m", now) else None
    assert 3.75 <= breakers.reopens_in("m", now) <= 5


def test_retry_after_parks_instead_of_voting_and_odd_values_are_refused():
    config = runtime.Breaker(failures=1)
    breakers = Breakers(config, random.Random(1))
    events: list[tuple[str, str]] = []
    breakers.subscribe(lambda key, state: events.append((key, state)))
    assert breakers.allow("m", 0.0)
    breakers.record("m", 0.0, "rate_limited", retry_after=2.0)
    assert breakers.state("m", 1.0) == "parked" and not breakers.allow("m", 1.0)
    assert breakers.reopens_in("m", 1.0) == 1.0
    assert breakers.allow("m", 2.0) and breakers.state("m", 2.0) == "closed"
    assert events == [("m", "parked"), ("m", "closed")]
    breakers.record("m", 2.0, "rate_limited", retry_after=365 * 86400.0)  # "a year": cut to max_park
    assert breakers.reopens_in("m", 2.0) == config.max_park
    for odd in (-5.0, 0.0, math.nan):  # no usable Retry-After: the 429 is a failure vote
        fresh = Breakers(config, random.Random(1))
        assert fresh.allow("m", 0.0)
        fresh.record("m", 0.0, "rate_limited", retry_after=odd)
        assert fresh.state("m", 0.0) == "open"


def test_content_filtered_never_counts_and_gives_a_probe_back():
    config = runtime.Breaker(failures=1, cooldown=1, jitter=0)
    breakers = Breakers(config)
    for _ in range(50):
        assert breakers.allow("m", 0.0)
        breakers.record("m", 0.0, "content_filtered")
    assert breakers.state("m", 0.0) == "closed"
    breakers.record("m", 0.0, "server_error")
    assert breakers.allow("m", 1.0) and not breakers.allow("m", 1.0)  # the one probe is out
    breakers.record("m", 1.0, "content_filtered")
    assert breakers.allow("m", 1.0)  # its slot came back


def test_several_probes_close_on_a_majority():
    config = runtime.Breaker(failures=1, cooldown=1, jitter=0, probes=3)
    breakers = Breakers(config)
    breakers.allow("m", 0.0)
    breakers.record("m", 0.0, "timeout")
    assert [breakers.allow("m", 1.0) for _ in range(4)] == [True, True, True, False]
    breakers.record("m", 1.0, None)
    breakers.record("m", 1.0, "timeout")
    assert breakers.state("m", 1.0) == "half_open"
    breakers.record("m", 1.0, None)  # two of three answered: more than half
    assert breakers.state("m", 1.0) == "closed"


def test_a_listener_that_raises_never_reaches_the_caller(caplog):
    breakers = Breakers(runtime.Breaker(failures=1))

    def broken(key: str, state: str) -> None:
        raise RuntimeError("listener bug")

    seen: list[str] = []
    breakers.subscribe(broken)
    breakers.subscribe(lambda key, state: seen.append(state))
    breakers.allow("m", 0.0)
    breakers.record("m", 0.0, "unavailable")
    assert seen == ["open"] and "listener raised" in caplog.text


@pytest.mark.parametrize("options", [dict(rate=0), dict(rate=1.5), dict(min_calls=0), dict(window=0),
                                     dict(cooldown=90, max_cooldown=60), dict(jitter=2), dict(probes=0),
                                     dict(max_park=-1), dict(max_cooldown=math.inf)])
def test_a_bad_configuration_is_refused(options):
    with pytest.raises(ValueError):
        runtime.Breaker(**options)


# ---- simulations through a Router ----------------------------------------------------------------

TASKS = ("classify", "extract", "format", "translate", "summarize", "draft", "plan", "code", "legal_review",
         "refund_dispute")


@dataclass
class Traffic:
    """Calls that fail as scripted: `error_rate` of them with `server_error`, every call to a
    model in `down` with `unavailable`; each answer gives the confidence its request carries."""

    rng: random.Random
    error_rate: float = 0.0
    down: set[str] = field(default_factory=set)
    calls: Counter[str] = field(default_factory=Counter)
    touched: set[str] = field(default_factory=set)  # models this request called

    def __call__(self, model, request, *, max_output):
        self.calls[model.name] += 1
        self.touched.add(model.name)
        if model.name in self.down:
            raise runtime.ProviderError("unavailable", "connection refused")
        if self.rng.random() < self.error_rate:
            raise runtime.ProviderError("server_error", "HTTP 500")
        return runtime.Answer('{"confidence": %s, "valid": true}' % request, "stop", 300, 120)


def workload(seed: int, seconds: float, per_second: int = 100):
    """(arrival time, signals, confidence) at `per_second` requests a second: a support desk's
    mix of tasks and sizes, one answer in ten unsure enough to climb."""
    rng = random.Random(seed)
    for index in range(int(seconds * per_second)):
        signals = {"task": rng.choice(TASKS), "input_tokens": rng.choice([300, 2_000, 6_000, 12_000, 150_000]),
                   "tool_count": rng.choice([0, 0, 0, 1, 5]), "pii": rng.random() < 0.02}
        yield index / per_second, signals, rng.choice([0.95] * 9 + [0.4])


@pytest.fixture(scope="module")
def desk():
    return policylang.load(ROOT / "examples" / "support_desk.route")


def simulate(desk, traffic, seconds, events=None, on_request=None):
    """Every request of the workload through one Router with the default retry and breaker,
    on a fake clock at the arrival times; per request: (time, result or None, error-free path,
    models called)."""
    clock = FakeClock(start=0.0)
    routed = runtime.Router(desk, traffic, assess=runtime.assess.outcomes(json=True), clock=clock,
                            sleep=lambda seconds: None, asleep=None, rng=random.Random(2))
    healthy = runtime.Router(desk, lambda model, request, *, max_output: runtime.Answer(
        '{"confidence": %s, "valid": true}' % request, "stop", 300, 120), assess=runtime.assess.outcomes(json=True),
        breaker=None, retry=None)
    if events is not None:
        routed.breakers.subscribe(lambda key, state: events.append((clock.now, key, state)))
    expected: dict[tuple, tuple[str, ...]] = {}
    out = []
    for at, signals, confidence in workload(7, seconds):
        clock.now = at
        if on_request is not None:
            on_request(at, traffic)
        key = (tuple(sorted(signals.items())), confidence)
        try:
            chosen = expected[key]
        except KeyError:
            try:
                chosen = expected[key] = healthy.run(signals, confidence).path
            except runtime.Rejected:
                chosen = expected[key] = ()
        traffic.touched = set()
        try:
            result = routed.run(signals, confidence)
        except runtime.Rejected:
            continue
        except runtime.Exhausted:
            result = None
        out.append((at, result, chosen, frozenset(traffic.touched)))
    return out


def served(runs):
    return sum(1 for _, result, _, _ in runs if result is not None and result.complete) / len(runs)


def by_choice(runs):
    return sum(1 for _, result, chosen, _ in runs if result is not None and result.path == chosen) / len(runs)


NUMBERS: dict[str, float] = {}


@pytest.mark.slow
def test_one_percent_server_errors_at_100_a_second_for_ten_minutes(desk):
    events: list[tuple[float, str, str]] = []
    runs = simulate(desk, Traffic(random.Random(1), error_rate=0.01), 600, events)
    NUMBERS.update(one_percent_served=served(runs), one_percent_by_choice=by_choice(runs), requests=len(runs))
    print(f"\n1% server_error, 10 min at 100/s: {len(runs)} requests, served {served(runs):.4%}, "
          f"by the policy's choice {by_choice(runs):.4%}, breaker events {len(events)}")
    assert len(runs) > 55_000
    assert served(runs) >= 0.999
    assert by_choice(runs) >= 0.99
    assert events == []  # 1% is no outage: no breaker opened


@pytest.mark.slow
def test_a_model_down_for_five_minutes_then_back(desk):
    def outage(at, traffic):
        if 120 <= at < 420:
            traffic.down.add("fast")
        else:
            traffic.down.discard("fast")

    events: list[tuple[float, str, str]] = []
    runs = simulate(desk, Traffic(random.Random(1), error_rate=0.01), 600, events, outage)
    wants_fast = [run for run in runs if run[2][:1] == ("fast",)]
    during = [run for run in wants_fast if 120 <= run[0] < 420]
    called_dead = sum(1 for run in during if "fast" in run[3]) / len(during)
    served_during = sum(1 for run in during if run[1] is not None and run[1].path[0] == "backup") / len(during)
    back = min(at for at, result, _, _ in wants_fast if at >= 420 and result is not None and result.path[0] == "fast")
    last_minute = [run for run in wants_fast if run[0] >= 540]
    fast_again = sum(1 for run in last_minute if run[1] is not None and run[1].path == run[2]) / len(last_minute)
    opened = [e for e in events if e[1] == "deepseek/deepseek-v4-pro" or "fast" in e[1]]
    print(f"\nfast down 120-420 s: {len(during)} requests wanted it, backup served {served_during:.4%}, "
          f"fast called for {called_dead:.4%} of them; overall served {served(runs):.4%}; "
          f"fast serves again {back - 420:.1f} s after it is back; last minute by choice {fast_again:.4%}; "
          f"breaker events {[(round(t, 1), s) for t, _, s in events]}")
    assert served(runs) >= 0.999
    assert served_during >= 0.999  # the fallback serves everything
    assert called_dead <= 0.03  # the dead model is left alone
    assert back - 420 <= 120  # traffic returns within a couple of minutes
    assert fast_again >= 0.99
    assert opened and opened[0][2] == "open"


def test_the_breakers_draw_their_jitter_from_the_routers_rng():
    """A Router given a seeded `rng` opens its breakers for the same jittered cooldowns every
    run (the breakers share the Router's view of chance, as its backoffs do)."""
    def cooldowns(seed):
        clock = FakeClock(start=0.0)

        def down(model, request, *, max_output):
            raise runtime.ProviderError("server_error")

        router = runtime.Router(policylang.load(ROOT / "examples" / "support_desk.route"), down, clock=clock,
                                sleep=lambda seconds: None, retry=None, rng=random.Random(seed))
        seen = []
        for _ in range(12):
            clock.now += 0.5
            with pytest.raises(runtime.Exhausted):
                router.run({"task": "classify", "input_tokens": 300}, "0.9")
            seen.append(tuple(round(router.breakers.reopens_in(model.id, clock.now), 9)
                              for model in router.engine.models.values()))
        return seen

    assert cooldowns(4) == cooldowns(4)
    assert any(any(x) for x in cooldowns(4))
