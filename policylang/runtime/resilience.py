"""Retries with backoff and per-model circuit breakers: Router options around each call, the
way gateway users expect them (LiteLLM's retries and cooldowns, the OpenAI SDK's backoff).

Both read time only through the clock they are given, so a test with a fake clock and a seeded
random generator sees the same delays and the same breaker states every run.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from random import Random

from .errors import RETRYABLE


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


@dataclass(frozen=True)
class Breaker:
    """A circuit breaker per model id: after `failures` errors in `on` within `window` seconds
    the model is not called for `cooldown` seconds, each call it would have had counting as
    `unavailable` (so its `unavailable` fallback serves). After the cooldown one call goes
    through (half open): an answer closes the breaker, a failure opens it for another cooldown.
    `content_filtered` is about the request, not the provider, so it never counts."""

    failures: int = 5
    window: float = 60.0
    cooldown: float = 30.0
    on: frozenset[str] = frozenset({"unavailable", "rate_limited", "timeout", "server_error"})

    def __post_init__(self) -> None:
        if self.failures < 1 or self.window <= 0 or self.cooldown < 0:
            raise ValueError("Breaker needs failures >= 1, window > 0 and cooldown >= 0")
        object.__setattr__(self, "on", frozenset(self.on))


@dataclass
class _State:
    failed: deque[float] = field(default_factory=deque)
    open_until: float | None = None
    probing: bool = False


class Breakers:
    """The breaker states of one Router, keyed by model id; safe across threads and tasks."""

    def __init__(self, config: Breaker) -> None:
        self.config = config
        self._states: dict[str, _State] = {}
        self._lock = threading.Lock()

    def allow(self, key: str, now: float) -> bool:
        """May `key` be called now? True when closed; after the cooldown, True for one probe
        at a time (the caller must `record` or `release` it)."""
        state = self._states.get(key)
        if state is None or state.open_until is None:
            return True
        with self._lock:
            if state.open_until is None:
                return True
            if now < state.open_until or state.probing:
                return False
            state.probing = True
            return True

    def record(self, key: str, now: float, error: str | None) -> None:
        """The result of a call to `key` that `allow` let through: None for an answer."""
        config = self.config
        if error is None and key not in self._states:
            return  # the common case: an answer from a model that never failed
        with self._lock:
            state = self._states.get(key)
            if state is None:
                if error not in config.on:
                    return
                state = self._states[key] = _State()
            if error not in config.on:
                if state.probing:  # the probe answered: the provider is back
                    state.open_until, state.probing = None, False
                    state.failed.clear()
                return
            if state.probing:
                state.open_until, state.probing = now + config.cooldown, False
                return
            state.failed.append(now)
            while state.failed and state.failed[0] <= now - config.window:
                state.failed.popleft()
            if len(state.failed) >= config.failures:
                state.open_until = now + config.cooldown
                state.failed.clear()

    def release(self, key: str) -> None:
        """A call `allow` let through ended with no result to judge (an exception the Router
        re-raised): free the probe slot."""
        with self._lock:
            state = self._states.get(key)
            if state is not None:
                state.probing = False

    def is_open(self, key: str, now: float) -> bool:
        """Whether calls to `key` are being stopped at `now` (open, cooldown not over)."""
        state = self._states.get(key)
        return state is not None and state.open_until is not None and now < state.open_until
