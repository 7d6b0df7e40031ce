"""`RedisState` (section 13.2): breaker states, session spend and reservations in Redis, shared
by every process and host that uses the same URL and prefix (extra `redis`).

Each change is one Lua script (`redisscripts`): atomic, no read-modify-write from a client.
When Redis cannot be reached, nothing raises into the app: each operation is served on this
process's local state, a warning is logged once per outage, `unavailable` counts the operations
served so, and a background thread tries Redis every `retry_interval` seconds (the request path
never waits on a Redis that is away). When it answers again each
ledger catches up (docs/runtime.md says exactly what that means). Importing this module does
not import redis: the constructor does.
"""

from __future__ import annotations

import logging
import math
import os
import secrets
import threading
import time
import weakref
from collections.abc import Callable
from decimal import Decimal
from random import Random
from typing import Any

from . import redisscripts as lua
from .errors import MissingExtra
from .resilience import Breaker, Breakers

_log = logging.getLogger("policylang.runtime")


class RedisState:
    """A `runtime.state.State` in Redis at `url` (`redis://host:port/db`), every key under
    `prefix`. A reservation is held under a lease of `lease` seconds that this process renews
    every `lease / 3` seconds while the call is in flight: a process killed mid-run strands its
    holds for at most `lease` seconds. `clock` (wall time, shared by hosts) times the breakers;
    `timeout` bounds each Redis command; `client` replaces the connection (tests)."""

    def __init__(self, url: str, prefix: str = "policylang", lease: float = 30.0, *,
                 clock: Callable[[], float] = time.time, timeout: float = 0.5, retry_interval: float = 1.0,
                 client: Any = None) -> None:
        try:
            import redis
            from redis.backoff import NoBackoff
            from redis.retry import Retry as RedisRetry
        except ImportError as exc:
            raise MissingExtra("runtime.RedisState", "redis", "redis") from exc
        if not (math.isfinite(lease) and lease > 0):
            raise ValueError("RedisState(lease=...) is in seconds: finite and positive")
        if not (timeout > 0 and retry_interval > 0):
            raise ValueError("RedisState needs timeout > 0 and retry_interval > 0")
        self.prefix = prefix
        self.lease = lease
        self.clock = clock
        self.retry_interval = retry_interval
        self.timeout = timeout
        self._client = client if client is not None else redis.Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout, retry=RedisRetry(NoBackoff(), 0))
        self._errors: tuple[type[BaseException], ...] = (redis.exceptions.RedisError, OSError)
        self._unreachable: tuple[type[BaseException], ...] = (redis.exceptions.ConnectionError,
                                                              redis.exceptions.TimeoutError, OSError)
        self._scripts = {name: self._client.register_script(getattr(lua, name))
                         for name in ("RESERVE", "SETTLE", "TOTALS", "RENEW", "CATCH_UP", "BREAKER")}
        kwargs = self._client.connection_pool.connection_kwargs
        self.where = f"{kwargs.get('host', kwargs.get('path', '?'))}:{kwargs.get('port', '')}"  # never the password
        self.unavailable = 0
        """Operations served on local state because Redis could not be reached (for metrics)."""
        self.outages = 0
        """Times Redis went from reachable to unreachable."""
        self._down_since: float | None = None
        self._ledgers: dict[str, RedisLedger] = {}
        self._breakers: dict[Breaker, RedisBreakers] = {}
        self._lock = threading.Lock()  # the ledgers and breakers made
        self._health = threading.Lock()  # the outage's bookkeeping and the background thread (never held over I/O)
        self._stop = threading.Event()
        self._background: threading.Thread | None = None
        me = weakref.ref(self)
        os.register_at_fork(after_in_child=lambda: _forked(me))

    @property
    def degraded(self) -> bool:
        """True while Redis is unreachable and local state serves."""
        return self._down_since is not None

    def breakers(self, config: Breaker, rng: Random | None = None) -> RedisBreakers:
        """The shared breaker states for `config` (one object per configuration)."""
        with self._lock:
            found = self._breakers.get(config)
            if found is None:
                found = self._breakers[config] = RedisBreakers(self, config, rng)
            return found

    def ledger(self, key: str, budget: Decimal) -> RedisLedger:
        """The shared account of budget `key`; `budget` is stored when the account is new (an
        existing account keeps its budget). Starts the background thread."""
        with self._lock:
            found = self._ledgers.get(key)
            if found is None:
                found = self._ledgers[key] = RedisLedger(self, key, budget)
        self._start_background()
        return found

    def close(self) -> None:
        """Stop renewing leases (holds still in flight then lapse within `lease`) and close the
        connections."""
        self._stop.set()
        if self._background is not None:
            self._background.join(timeout=5)
        self._client.close()

    # ---- reaching Redis -----------------------------------------------------------------------

    def run(self, script: str, keys: list[str], args: list[Any]) -> Any:
        """Run one of the scripts; raises `Unreachable` (after counting and, once per outage,
        logging) when Redis cannot be reached or refuses the script, and at once while it is
        away (the background thread finds out when it is back)."""
        if self._down_since is not None:
            with self._health:
                self.unavailable += 1
            raise Unreachable()
        try:
            return self._scripts[script](keys=keys, args=args)
        except self._errors as exc:
            with self._health:
                self.unavailable += 1
                first = self._down_since is None
                if first:
                    self._down_since = time.monotonic()
                    self.outages += 1
            if first:
                # a refused script (out of memory, a read-only replica) serves locally like an outage,
                # but says what Redis said; no URL in the message, it may carry a password
                _log.log(logging.WARNING if isinstance(exc, self._unreachable) else logging.ERROR,
                         "policylang.runtime: Redis at %s %s (%s: %s); serving breakers and budgets on this "
                         "process's local state until it answers", self.where,
                         "is unreachable" if isinstance(exc, self._unreachable) else "refused a script",
                         type(exc).__name__, exc)
                self._start_background()
            raise Unreachable() from exc

    def key(self, *parts: str) -> str:
        """A key under the prefix; the braces are a Redis Cluster hash tag, so one account's
        keys share a slot."""
        return ":".join((self.prefix, *parts))

    def _start_background(self) -> None:
        with self._health:
            if self._background is None and not self._stop.is_set():
                self._background = threading.Thread(target=self._keep, name="policylang-redis", daemon=True)
                self._background.start()

    def _keep(self) -> None:
        """The background thread: while Redis is away, try it every `retry_interval` seconds;
        then let each ledger catch up and renew its leases (every `lease / 3` seconds)."""
        while not self._stop.wait(max(0.05, min(self.lease / 6, self.retry_interval))):  # renewals within lease / 2
            if self._down_since is not None:
                try:
                    self._client.ping()
                except self._errors:
                    continue
                with self._health:
                    since, self._down_since = self._down_since, None
                if since is not None:
                    _log.warning("policylang.runtime: Redis at %s answers again after %.1f s; catching up",
                                 self.where, time.monotonic() - since)
            for ledger in list(self._ledgers.values()):
                try:
                    ledger.sync()
                except Exception:  # the thread must outlive any one failure
                    _log.warning("policylang.runtime: keeping the ledgers in Redis failed", exc_info=True)


def _forked(ref: weakref.ReferenceType[RedisState]) -> None:
    """In a child after `fork()`: fresh locks, no background thread (it did not survive), and
    none of the parent's holds or journal (the parent settles, renews and catches them up)."""
    state = ref()
    if state is None:
        return
    state._lock, state._health = threading.Lock(), threading.Lock()
    state._stop, state._background = threading.Event(), None
    for ledger in state._ledgers.values():
        ledger._lock = threading.Lock()
        ledger._mine.clear()
        ledger._local.clear()
        ledger._drops.clear()
        ledger._away_spent, ledger._batch = 0, None
    for breakers in state._breakers.values():
        breakers._lock = threading.Lock()
    if state._ledgers:
        state._start_background()


class Unreachable(Exception):
    """Redis could not be reached for this operation (handled inside the runtime)."""


class RedisLedger:
    """A `runtime.state.Ledger` in Redis, with a local fallback while Redis is unreachable.

    Local mode starts from the last totals this process read from Redis, so it never spends
    what it knew to be gone; it journals what it does (spend settled, Redis holds given back,
    new holds) and the journal is applied to Redis by one script, exactly once, when Redis
    answers again."""

    def __init__(self, state: RedisState, key: str, budget: Decimal) -> None:
        self._state = state
        tag = "{" + key + "}"
        self._keys = [state.key("ledger", tag), state.key("ledger", tag, "leases"), state.key("ledger", tag, "holds"),
                      state.key("ledger", tag, "applied")]
        self._budget = lua.to_units(budget)
        self.budget = budget
        self._lock = threading.Lock()
        self._mine: dict[str, int] = {}  # this process's holds in Redis: units
        self._local: dict[str, int] = {}  # holds made while Redis was away
        self._away_spent = 0  # settled while away on holds made while away, not yet in Redis
        self._drops: dict[str, int] = {}  # Redis holds settled (their cost) or released (0) while away
        self._batch: tuple[str, int, dict[str, int], dict[str, int], int] | None = None  # a catch-up not yet confirmed
        self._spent = self._held = 0  # the last totals read from Redis (units), then local changes
        self._renewed = time.monotonic()
        with self._lock:
            try:
                self._read(state.run("TOTALS", self._keys, [self._budget]))
            except Unreachable:
                pass

    def reserve(self, amount: Decimal) -> str | None:
        """A hold id for `amount`, or None when budget - spent - held < amount: atomic across
        every process sharing the account."""
        units = lua.to_units(amount)
        hold = secrets.token_hex(8)
        with self._lock:
            try:
                self._catch_up()
                answer = self._state.run("RESERVE", self._keys, [hold, units, self._budget, self._spent,
                                                                 int(self._state.lease * 1000)])
                self._read(answer)
                if not int(answer[0]):
                    return None
                self._mine[hold] = units
                return hold
            except Unreachable:
                if self._spent + self._held + units > self._budget:
                    return None
                self._local[hold] = units
                self._held += units
                return hold

    def settle(self, hold: str, cost: Decimal) -> None:
        """`cost` replaces the hold (it is spent even when the hold's lease ran out); a hold
        this process does not know (settled already) costs nothing twice."""
        self._end(hold, lua.to_units(cost))

    def release(self, hold: str) -> None:
        """Give the hold back, nothing spent."""
        self._end(hold, 0)

    def totals(self) -> tuple[Decimal, Decimal]:
        """(spent, held): Redis's, or while it is away the last read with this process's own
        changes since."""
        with self._lock:
            try:
                self._catch_up()
                self._read(self._state.run("TOTALS", self._keys, [self._budget]))
            except Unreachable:
                pass
            return lua.from_units(self._spent), lua.from_units(self._held)

    def sync(self) -> None:
        """Catch up if Redis is back, and renew the leases of this process's holds in flight
        when `lease / 3` seconds have passed since the last renewal (the state's background
        thread calls this)."""
        with self._lock:
            try:
                self._catch_up()
                now = time.monotonic()
                if self._mine and now - self._renewed >= self._state.lease / 3:
                    self._state.run("RENEW", self._keys, [int(self._state.lease * 1000), *self._mine])
                    self._renewed = now
            except Unreachable:
                pass

    def _end(self, hold: str, units: int) -> None:
        with self._lock:
            local = self._local.pop(hold, None)
            if local is not None:  # made while away: journaled, like its cost
                self._held -= local
                self._away_spent += units
                self._spent += units
            elif hold in self._mine:
                try:
                    self._catch_up()
                    self._read(self._state.run("SETTLE", self._keys, [hold, units, int(self._state.lease * 1000)]))
                    del self._mine[hold]
                    return
                except Unreachable:
                    self._held -= self._mine.pop(hold)
                    self._drops[hold] = units
                    self._spent += units
            else:
                return
            try:
                self._catch_up()
            except Unreachable:
                pass

    def _catch_up(self) -> None:
        """Apply the journal of a Redis outage in one script, exactly once: a batch is a
        snapshot with an id, sent again as it was until Redis confirms it (a reply lost after
        Redis applied it is not applied twice), then taken out of the journal; what was
        journaled meanwhile goes in the next batch."""
        landed = False
        while True:
            if self._batch is None:
                if not (self._away_spent or self._drops or self._local):
                    if landed:  # the local view held the journal until now: Redis's totals are whole again
                        self._read(self._state.run("TOTALS", self._keys, [self._budget]))
                    return
                floor = self._spent - self._away_spent - sum(self._drops.values())  # the spent Redis last said
                self._batch = (secrets.token_hex(12), self._away_spent, dict(self._drops), dict(self._local), floor)
            batch, away, drops, adopt, floor = self._batch
            self._state.run("CATCH_UP", self._keys, [
                batch, away, self._budget, floor, int(self._state.lease * 1000), len(drops),
                *(item for hold, units in drops.items() for item in (hold, units)),
                *(item for hold, units in adopt.items() for item in (hold, units))])
            self._batch = None
            self._away_spent -= away
            for hold in drops:
                del self._drops[hold]
            for hold, units in adopt.items():
                if self._local.pop(hold, None) is not None:
                    self._mine[hold] = units  # still in flight: a Redis hold now
                else:
                    self._drops[hold] = 0  # ended while the batch was out (its cost is journaled): drop it
            landed = True

    def _read(self, answer: list[Any]) -> None:
        self._spent, self._held = int(answer[1]), int(answer[2])
        if int(answer[3]):
            self._budget = int(answer[3])
            self.budget = lua.from_units(self._budget)


_MODES = {0: "closed", 1: "open", 2: "half_open"}


class RedisBreakers(Breakers):
    """`Breakers` whose machines live in Redis (the same machine, as the script `BREAKER`), so
    a model one process found down is left alone by all. Times come from the state's `clock`
    (hosts share wall time), not from the Router's `now`; while Redis is away, the inherited
    local machines judge on this process's calls alone."""

    def __init__(self, state: RedisState, config: Breaker, rng: Random | None = None) -> None:
        super().__init__(config, rng)
        self._state = state
        self._seen: dict[str, str] = {}
        self._args = [config.rate, config.min_calls, config.window, config.buckets, config.failures, config.cooldown,
                      config.max_cooldown, config.jitter, config.probes,
                      int(1000 * max(86400.0, 4 * (config.window + config.max_cooldown + config.max_park)))]

    def allow(self, key: str, now: float) -> bool:
        """May `key` be called now (the shared machine decides; a half-open probe counts)."""
        try:
            return bool(self._run(key, "allow")[0])
        except Unreachable:
            return super().allow(key, now)

    def record(self, key: str, now: float, error: str | None, retry_after: float | None = None) -> None:
        """The result of a call `allow` let through, as `Breakers.record`."""
        config = self.config
        park = config.park_for(error, retry_after)
        if park is not None:
            op = "park"
        elif error is None or error in config.on:
            op = "fail" if error is not None else "ok"
        else:
            op = "release"
        try:
            self._run(key, op, self._rng.random() if op in ("ok", "fail") else 0.0, park or 0.0)
        except Unreachable:
            super().record(key, now, error, retry_after=retry_after)

    def release(self, key: str) -> None:
        """An allowed call ended with nothing to judge: a probe's slot is given back."""
        try:
            self._run(key, "release")
        except Unreachable:
            super().release(key)

    def reopens_in(self, key: str, now: float) -> float:
        """Seconds until `key` may be called again (0 when closed or half open)."""
        try:
            _, mode, until, parked = self._run(key, "peek")
        except Unreachable:
            return super().reopens_in(key, now)
        clock = self._state.clock()
        left = parked - clock if parked else 0.0
        if mode == 1:
            left = max(left, until - clock)
        return max(0.0, left)

    def state(self, key: str, now: float) -> str:
        """`key`'s state, one of `resilience.STATES`."""
        try:
            _, mode, _, parked = self._run(key, "peek")
        except Unreachable:
            return super().state(key, now)
        return "parked" if parked and self._state.clock() < parked else _MODES[mode]

    def _run(self, key: str, op: str, draw: float = 0.0, park: float = 0.0) -> tuple[int, int, float, float]:
        tag = "{" + key + "}"
        now = self._state.clock()
        answer = self._state.run("BREAKER", [self._state.key("breaker", tag), self._state.key("breaker", tag, "window")],
                                 [op, repr(float(now)), repr(draw), repr(float(park)), *self._args])
        allowed, mode, until, parked = int(answer[0]), int(answer[1]), float(answer[2]), float(answer[3])
        if op in ("peek", "release"):  # as `Breakers`: a change is told when a call asks or ends
            return allowed, mode, until, parked
        name = "parked" if parked and now < parked else _MODES[mode]
        with self._lock:
            changed = self._seen.get(key, "closed") != name
            self._seen[key] = name
        if changed:
            self._emit(key, name)
        return allowed, mode, until, parked
