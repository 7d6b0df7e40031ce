"""Client keys (section 14): who may call, with which attributes, at what rate, on what budget.

Keys are stored as the sha256 of the bearer token (the config never holds a token); a request's
`Authorization: Bearer TOKEN` is hashed and looked up. With no `[[keys]]` in the config no key
is needed. A key's `rpm` counts requests in fixed one-minute windows; its `budget` is a runtime
`Session` per served policy (13's budgets: each call reserves its worst case first, so spending
never passes the budget). With `[state] redis`, the rate windows are counters in Redis, and the
budgets are kept in the runtime's shared state when it offers one (13.2), so every worker and
host shares them; without Redis both are per process (docs/serve.md says so). While Redis does
not answer, rates are not enforced (one warning per outage), as the runtime's state serves
budgets locally then.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from .config import ClientKey, Config

logger = logging.getLogger("policylang.gateway")


def digest(token: str) -> str:
    """The sha256 (hex) a config lists for the bearer token `token`."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class Keys:
    """The config's keys: `find(authorization header)` and the per-key rate windows."""

    def __init__(self, config: Config, clock: Callable[[], float] = time.time) -> None:
        self.keys = config.keys
        self.required = bool(config.keys)
        self._clock = clock
        self._windows: dict[str, tuple[int, int]] = {}
        self._lock = threading.Lock()
        self._redis: Any = None
        self._redis_url = config.redis
        self._outage = False

    def find(self, authorization: str | None) -> ClientKey | None:
        """The key a request's Authorization header names (`Bearer TOKEN`), or None."""
        if not authorization:
            return None
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        hashed = digest(token.strip())
        key = self.keys.get(hashed)
        if key is not None and hmac.compare_digest(key.sha256, hashed):
            return key
        return None

    async def admit(self, key: ClientKey) -> float | None:
        """None when `key` may make one more request now (and counts it); else the seconds
        until its rate window opens again."""
        if key.rpm is None:
            return None
        now = self._clock()
        window = int(now // 60)
        if self._redis_url is not None:
            try:
                count = await self._redis_count(key, window)
            except (OSError, ConnectionError, TimeoutError) as exc:  # Redis down: admit, as the state does
                self._warn(exc)
                return None
            except Exception as exc:
                if type(exc).__module__.split(".")[0] != "redis":
                    raise
                self._warn(exc)
                return None
        else:
            with self._lock:
                seen_window, seen = self._windows.get(key.sha256, (window, 0))
                count = (seen if seen_window == window else 0) + 1
                self._windows[key.sha256] = (window, count)
        if count > key.rpm:
            return max(0.001, (window + 1) * 60 - now)
        return None

    def _warn(self, exc: BaseException) -> None:
        """One warning per outage: rates are not enforced while Redis does not answer."""
        if not self._outage:
            self._outage = True
            logger.warning("Redis unreachable (%s): key rates are not enforced until it answers", type(exc).__name__)

    async def _redis_count(self, key: ClientKey, window: int) -> int:
        if self._redis is None:
            assert self._redis_url is not None
            try:
                import redis.asyncio as aredis
            except ImportError:
                from ..runtime import MissingExtra
                raise MissingExtra("policyc serve with [state] redis", "redis", "redis") from None
            self._redis = aredis.from_url(self._redis_url)
        name = f"policylang:gateway:rpm:{key.sha256}:{window}"
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(name)
            pipe.expire(name, 120)
            count, _ = await pipe.execute()
        self._outage = False
        return int(count)

    async def close(self) -> None:
        """Close the Redis connection, if one was opened."""
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None
