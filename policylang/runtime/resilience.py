"""Retries with backoff and per-model circuit breakers: Router options around each call, the
way gateway users expect them (LiteLLM's retries and cooldowns, the OpenAI SDK's backoff).

Both read time only through the clock they are given, so a test with a fake clock and a seeded
random generator sees the same delays and the same breaker states every run. The breaker's
state machine is written once here, over plain fields; `state.RedisState` runs the same machine
in Redis (a Lua script that mirrors `_Machine` line for line) so that processes share it.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from random import Random

from .errors import RETRYABLE

_log = logging.getLogger("policylang.runtime")


@dataclass(frozen=True)
class Retry:
    """Up to `attempts` tries of one model for one step (the first call included) when it
    fails with an error in `on`, waiting between tries.

    The wait before retry n (1, 2, ...) is `min(cap, base * 2 ** (n - 1))`, shortened by up to
    `jitter` of itself at random (the OpenAI SDK's defaults: 0.5 s doubling to 8 s, up to a
    quarter off). A provider's Retry-After replaces that wait when it is at most `cap`; one
    longer than `cap` ends the retries at once, so the fallback serves instead of a long wait.
    """

    attempts: int = 3
    base: float = 0.5
    cap: float = 8.0
    jitter: float = 0.25
    on: frozenset[str] = RETRYABLE

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("Retry(attempts=...) counts the first call too: at least 1")
        if self.base < 0 or self.cap < 0 or not 0 <= self.jitter <= 1:
            raise ValueError("Retry needs base >= 0, cap >= 0 and 0 <= jitter <= 1")
        object.__setattr__(self, "on", frozenset(self.on))

    def delay(self, retry: int, retry_after: float | None, rng: Random) -> float | None:
        """Seconds to wait before retry number `retry` (1 for the first), or None: do not retry
        (the provider asked for a longer wait than `cap`)."""
        if retry_after is not None:
            return None if retry_after > self.cap else max(0.0, retry_after)
        wait: float = min(self.cap, self.base * 2.0 ** (retry - 1))
        return wait * (1 - self.jitter * rng.random())


NO_RETRY = Retry(attempts=1)



STATES = ("closed", "open", "half_open", "parked")
"""The states a breaker reports to `Breakers.subscribe` listeners and to `Breakers.state`."""

_CLOSED, _OPEN, _HALF_OPEN = 0, 1, 2
_NAMES = {_CLOSED: "closed", _OPEN: "open", _HALF_OPEN: "half_open"}


@dataclass(frozen=True)
class Breaker:
    """A circuit breaker per model id, tripping on a failure rate at volume and on consecutive
    failures below it (docs/runtime.md, "Circuit breakers", gives the reasoning and numbers).

    Closed, each answer and each error in `on` is a vote in a rolling window of `window`
    seconds (`buckets` slices of it roll over one at a time). A failure opens the breaker when
    the window holds at least `min_calls` votes and at least `rate` of them are failures; with
    fewer votes, when it is the `failures`-th failure in a row. Open, the model is not called
    (its calls count as `unavailable`, so that fallback serves) for `cooldown` seconds, doubled
    at each opening that follows another without a close between, at most `max_cooldown`, and
    shortened by a random fraction of at most `jitter`. Then `probes` calls go through (half
    open): the breaker closes as soon as more than `1 - rate` of them answered and opens again
    as soon as at least `rate` of them failed. A `rate_limited` error with a Retry-After parks
    the model for that long (at most `max_park` seconds; 0 turns parking off) instead of
    voting. Errors outside `on` (`content_filtered`: the request, not the provider) never vote.
    """

    rate: float = 0.5
    min_calls: int = 20
    window: float = 10.0
    buckets: int = 10
    failures: int = 5
    cooldown: float = 5.0
    max_cooldown: float = 60.0
    jitter: float = 0.25
    probes: int = 1
    max_park: float = 60.0
    on: frozenset[str] = frozenset({"unavailable", "rate_limited", "timeout", "server_error"})

    def __post_init__(self) -> None:
        if not 0 < self.rate <= 1:
            raise ValueError("Breaker(rate=...) is the failure rate that trips it: 0 < rate <= 1")
        if self.min_calls < 1 or self.failures < 1 or self.probes < 1 or self.buckets < 1:
            raise ValueError("Breaker needs min_calls >= 1, failures >= 1, probes >= 1 and buckets >= 1")
        if not (math.isfinite(self.window) and self.window > 0):
            raise ValueError("Breaker(window=...) is in seconds and must be positive")
        if not (0 <= self.cooldown <= self.max_cooldown < math.inf) or not 0 <= self.jitter <= 1:
            raise ValueError("Breaker needs 0 <= cooldown <= max_cooldown (finite) and 0 <= jitter <= 1")
        if not (0 <= self.max_park < math.inf):
            raise ValueError("Breaker(max_park=...) is in seconds: finite and >= 0 (0: never park)")
        object.__setattr__(self, "on", frozenset(self.on))

    def open_for(self, openings: int, draw: float) -> float:
        """Seconds the breaker stays open at its `openings`-th opening in a row (1 for the
        first), for a random `draw` in [0, 1): `min(max_cooldown, cooldown * 2 ** (openings - 1))`
        shortened by `jitter * draw` of itself."""
        wait = min(self.max_cooldown, self.cooldown * 2.0 ** min(openings - 1, 64))
        return wait * (1.0 - self.jitter * draw)

    def park_for(self, error: str | None, retry_after: float | None) -> float | None:
        """Seconds to park a model for this result, or None when the result votes: only a
        `rate_limited` error with a positive, finite Retry-After parks, for at most `max_park`."""
        if error != "rate_limited" or retry_after is None or self.max_park <= 0:
            return None
        try:
            seconds = float(retry_after)
        except (TypeError, ValueError):
            return None
        if not seconds > 0:  # negative, zero or NaN: the header says nothing usable
            return None
        return min(seconds, self.max_park)


Listener = Callable[[str, str], None]


@dataclass
class _Machine:
    """One model's breaker, as plain fields (Redis keeps the same fields in a hash)."""

    mode: int = _CLOSED
    until: float = 0.0  # open until (mode open)
    openings: int = 0  # openings since the last close: the backoff's exponent
    parked: float = 0.0  # parked until (0: not parked)
    streak: int = 0  # consecutive failures (closed)
    granted: int = 0  # half open: probes let through, their answers and failures
    good: int = 0
    bad: int = 0
    window: dict[int, list[int]] = field(default_factory=dict)  # bucket -> [votes, failures]
    seen: str = "closed"  # the state last told to the listeners

    def name(self, now: float) -> str:
        return "parked" if self.parked and now < self.parked else _NAMES[self.mode]


class Breakers:
    """The breaker states of one Router (or one `State`), keyed by model id; safe across
    threads and tasks. `rng` draws the cooldowns' jitter."""

    def __init__(self, config: Breaker, rng: Random | None = None) -> None:
        self.config = config
        self._rng = rng or Random()
        self._width = config.window / config.buckets
        self._states: dict[str, _Machine] = {}
        self._listeners: list[Listener] = []
        self._lock = threading.Lock()

    # ---- the interface the Router calls -------------------------------------------------------

    def allow(self, key: str, now: float) -> bool:
        """May `key` be called now? True when closed; False while open or parked; half open,
        True for at most `probes` calls (each must be given to `record` or `release`)."""
        machine = self._states.get(key)
        if machine is None or (machine.mode == _CLOSED and not machine.parked):
            return True  # the common case, without the lock: nothing to change
        with self._lock:
            allowed = self._allow(machine, now)
            changed = self._changed(machine, now)
        if changed is not None:
            self._emit(key, changed)
        return allowed

    def record(self, key: str, now: float, error: str | None, retry_after: float | None = None) -> None:
        """The result of a call `allow` let through: None for an answer, else its error and
        the Retry-After seconds the provider gave, if any."""
        if error is None:  # the common case: an answer from a closed breaker is one vote
            machine = self._states.get(key)
            if machine is None:
                with self._lock:
                    machine = self._states.setdefault(key, _Machine())
            if machine.mode == _CLOSED and not machine.parked:
                with self._lock:
                    if machine.mode == _CLOSED and not machine.parked:
                        self._count(machine, now, False)
                        return
        config = self.config
        park = config.park_for(error, retry_after)
        votes = park is None and (error is None or error in config.on)
        if not votes and park is None and key not in self._states:
            return
        draw = self._rng.random() if votes and error is not None else 0.0  # only a failure can open
        with self._lock:
            machine = self._states.get(key)
            if machine is None:
                machine = self._states[key] = _Machine()
            if park is not None:
                self._park(machine, now, park)
            elif votes:
                self._vote(machine, now, error is not None, draw)
            else:
                _give_back(machine)  # no vote (content_filtered...): a probe's slot comes back
            changed = self._changed(machine, now)
        if changed is not None:
            self._emit(key, changed)

    def release(self, key: str) -> None:
        """A call `allow` let through ended with no result to judge (an exception the Router
        re-raised, a request error): a half-open probe's slot is given back."""
        with self._lock:
            machine = self._states.get(key)
            if machine is not None:
                _give_back(machine)

    def is_open(self, key: str, now: float) -> bool:
        """Whether calls to `key` are stopped at `now`: open with time left, or parked."""
        return self.reopens_in(key, now) > 0

    def reopens_in(self, key: str, now: float) -> float:
        """Seconds until `key` may be called again: 0 when closed or half open, else what is
        left of its cooldown or its parking (whichever ends later)."""
        machine = self._states.get(key)
        if machine is None:
            return 0.0
        left = machine.parked - now if machine.parked else 0.0
        if machine.mode == _OPEN:
            left = max(left, machine.until - now)
        return max(0.0, left)

    def state(self, key: str, now: float) -> str:
        """`key`'s state at `now`, one of `STATES` (an open breaker whose cooldown is over
        reads "open" until a call asks for it: the asking turns it half open)."""
        machine = self._states.get(key)
        return "closed" if machine is None else machine.name(now)

    def subscribe(self, listener: Listener) -> None:
        """Call `listener(model id, new state)` at every change of a breaker's state, after
        the change, outside any lock. A listener that raises is logged and never reaches the
        request path."""
        with self._lock:
            self._listeners.append(listener)

    # ---- the machine --------------------------------------------------------------------------

    def _allow(self, machine: _Machine, now: float) -> bool:
        if machine.parked:
            if now < machine.parked:
                return False
            machine.parked = 0.0
        if machine.mode == _OPEN:
            if now < machine.until:
                return False
            machine.mode, machine.granted, machine.good, machine.bad = _HALF_OPEN, 0, 0, 0
        if machine.mode == _HALF_OPEN:
            if machine.granted >= self.config.probes:
                return False
            machine.granted += 1
        return True

    def _park(self, machine: _Machine, now: float, seconds: float) -> None:
        machine.parked = max(machine.parked, now + seconds)
        _give_back(machine)

    def _vote(self, machine: _Machine, now: float, failed: bool, draw: float) -> None:
        config = self.config
        if machine.mode == _OPEN:
            return  # a call let through before the breaker opened: the cooldown stands
        if machine.mode == _HALF_OPEN:
            if machine.granted <= machine.good + machine.bad:
                return  # no probe is out: a straggler from before the opening
            if failed:
                machine.bad += 1
                if machine.bad >= config.rate * config.probes:
                    self._trip(machine, now, draw)
            else:
                machine.good += 1
                if machine.good > (1.0 - config.rate) * config.probes:
                    machine.mode, machine.openings, machine.streak = _CLOSED, 0, 0
                    machine.window.clear()
            return
        if self._count(machine, now, failed):
            self._trip(machine, now, draw)

    def _count(self, machine: _Machine, now: float, failed: bool) -> bool:
        """A closed breaker's vote into its window; whether it opens the breaker."""
        config = self.config
        bucket = math.floor(now / self._width)
        window = machine.window
        oldest = bucket - config.buckets
        counts = window.get(bucket)
        if counts is None:  # a new slice: the ones that left the window go
            for index in [index for index in window if index <= oldest]:
                del window[index]
            counts = window[bucket] = [0, 0]
        counts[0] += 1
        if not failed:
            machine.streak = 0
            return False
        counts[1] += 1
        machine.streak += 1
        votes = failures = 0
        for index, (calls, failed_calls) in window.items():
            if index > oldest:
                votes += calls
                failures += failed_calls
        if votes >= config.min_calls:
            return failures >= config.rate * votes
        return machine.streak >= config.failures

    def _trip(self, machine: _Machine, now: float, draw: float) -> None:
        machine.openings += 1
        machine.mode, machine.until = _OPEN, now + self.config.open_for(machine.openings, draw)
        machine.streak, machine.granted, machine.good, machine.bad = 0, 0, 0, 0
        machine.window.clear()

    @staticmethod
    def _changed(machine: _Machine, now: float) -> str | None:
        """The machine's state when it differs from the one last told (and now told), else None."""
        name = machine.name(now)
        if name == machine.seen:
            return None
        machine.seen = name
        return name

    def _emit(self, key: str, state: str) -> None:
        _log.info("policylang.runtime: the breaker of %s is %s", key, state.replace("_", " "))
        for listener in list(self._listeners):
            try:
                listener(key, state)
            except Exception:  # a listener's bug must not fail the app's request
                _log.warning("a breaker listener raised on %s -> %s", key, state, exc_info=True)


def _give_back(machine: _Machine) -> None:
    """A half-open probe ended without a vote: its slot is free again."""
    if machine.mode == _HALF_OPEN and machine.granted > machine.good + machine.bad:
        machine.granted -= 1
