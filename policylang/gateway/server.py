"""Serving (section 14): uvicorn workers, hot reload, graceful drain.

`check(path)` loads the config and its policies once in the parent (errors stop `serve` at start,
exit 1). `run(path, host, port, workers)` then serves: one process, or `workers` processes
sharing one listening socket (uvicorn's supervisor restarts a worker that dies). Each worker
loads the config itself in the background (/health/live answers at once, /health/ready is 503
until the policies are loaded), opens the decision log (one shared file: each record is one append),
and every `reload.interval` seconds (default 2) compares the sha256 of the config and the policy
files it names: a changed, valid version is swapped in between requests (a request in flight
finishes on the version it started with); a broken one is logged, never served. On SIGTERM a
worker answers /health/ready with 503, stops accepting, lets requests and streams in flight
finish (up to `limits.drain_timeout` seconds), then exits.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import sys
from typing import Any

from .app import Gateway
from .config import ConfigError
from .served import REQUEST, Served, build, fingerprint, read_config

logger = logging.getLogger("policylang.gateway")

CONFIG_ENV = "POLICYLANG_SERVE_CONFIG"
SHADOW_ENV = "POLICYLANG_SERVE_SHADOW"  # the --shadow files of a worker process, os.pathsep-separated


def check(path: str, shadow: tuple[str, ...] = ()) -> Served:
    """The config at `path` (and the `shadow` candidates) loaded and checked whole; ConfigError
    with located messages."""
    return build(path, shadow=shadow)


def _decision_log(path: str | None) -> Any:
    if path is None:
        return None
    from ..runtime import JsonlLog
    from .signals import TOKEN_COUNTER
    log = JsonlLog(path)

    def write(record: dict[str, Any]) -> None:
        extra = REQUEST.get()
        if extra is not None:
            record["gateway"] = {**extra, "input_tokens_counter": TOKEN_COUNTER}
        log(record)
    write.close = log.close  # type: ignore[attr-defined]
    return write


def _metrics() -> tuple[Any, Any]:
    """The runtime's Metrics (13.3) in a registry of the app's own, or (None, None) without the
    metrics extra."""
    try:
        from ..runtime import metrics as runtime_metrics
    except ImportError:
        return None, None
    try:
        from prometheus_client import CollectorRegistry
    except ImportError:  # prometheus_client missing: no /metrics
        return None, None
    registry = CollectorRegistry()  # the app's own: /metrics shows this worker's runs
    return runtime_metrics.Metrics(registry=registry), registry


def _state(url: str | None) -> Any:
    """The runtime's shared state (13.2) for `[state] redis`; else one in-process state, so a
    key's budget is one account across the served policies of this worker."""
    from .. import runtime
    if url is None:
        try:
            from ..runtime.state import LocalState
        except ImportError:
            return None
        return LocalState()
    redis_state = getattr(runtime, "RedisState", None)
    if redis_state is None:
        logger.warning("[state] redis: this runtime has no RedisState (13.2); budgets and breakers stay per process, "
                       "rates are shared")
        return None
    return redis_state(url)


def make_app(path: str, served: Served | None = None, shadow: tuple[str, ...] = ()) -> Gateway:
    """The ASGI app for the config at `path` (loaded at startup unless `served` is given), each
    served policy with the `shadow` files' policies as its shadow candidates."""
    config = served.config if served is not None else read_config(path)
    app = Gateway(None, limits=config.limits)  # `served` (the parent's check) is rebuilt with the log and state
    metrics, registry = _metrics() if config.metrics else (None, None)
    app.metrics, app.registry = metrics, registry
    log = _decision_log(config.log_path)
    tasks: list[asyncio.Task[None]] = []
    retired: list[Any] = []  # the upstream calls of versions replaced by a reload

    async def startup() -> None:
        _drain_on_sigterm(app)
        tasks.append(asyncio.ensure_future(load()))

    async def load() -> None:
        """Load in the background: /health/live answers at once, /health/ready 503 until loaded.
        A version that broke since the parent's check is reported and tried again."""
        state = _state(config.redis)
        while True:
            try:
                loaded = await asyncio.to_thread(build, path, log=log, metrics=metrics, state=state, shadow=shadow)
                break
            except Exception as exc:
                logger.error("not serving yet: %s", exc)
                await asyncio.sleep(max(1.0, config.reload_interval))
        app.served = loaded
        app.limits = loaded.config.limits
        _settle_heap()
        if loaded.config.reload_interval > 0:
            await _reload(app, path, log, metrics, retired, shadow)

    async def shutdown() -> None:
        for task in tasks:
            task.cancel()
        for call in retired:
            await call.close()
        if app.served is not None:
            await app.served.call.close()
            await app.served.keys.close()
        if log is not None:
            log.close()

    app.on_startup.append(startup)
    app.on_shutdown.append(shutdown)
    return app


def _drain_on_sigterm(app: Gateway) -> None:
    """Chain a SIGTERM handler that marks the app draining before uvicorn's own stops it."""
    try:
        previous = signal.getsignal(signal.SIGTERM)
    except ValueError:
        return

    def handler(signum: int, frame: Any) -> None:
        app.draining = True
        if callable(previous):
            previous(signum, frame)
    try:
        signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread (an app embedded in a test's thread)
        pass


async def _reload(app: Gateway, path: str, log: Any, metrics: Any, retired: list[Any],
                  shadow: tuple[str, ...] = ()) -> None:
    """Poll the config's files; swap in a new valid version, report a broken one."""
    seen_broken: str | None = None
    while True:
        served = app.served
        assert served is not None
        await asyncio.sleep(served.config.reload_interval)
        now = await asyncio.to_thread(fingerprint, served.files)
        if now == served.fingerprint or now == seen_broken:
            continue
        try:
            fresh = await asyncio.to_thread(build, path, log=log, metrics=metrics, state=served.state, shadow=shadow)
        except ConfigError as exc:
            seen_broken = now
            logger.error("config not reloaded, still serving the last good version:\n%s", exc)
            continue
        except Exception as exc:  # nothing from a broken file may stop the worker
            seen_broken = now
            logger.error("config not reloaded (%s), still serving the last good version", type(exc).__name__)
            continue
        # budgets survive a reload: the ledgers live in the state, kept from version to version
        if fresh.config.keys == served.config.keys and fresh.config.redis == served.config.redis:
            fresh.keys = served.keys  # the rate windows carry over
        else:
            await served.keys.close()
        app.served, app.limits = fresh, fresh.config.limits
        _settle_heap(reloaded=True)
        seen_broken = None
        logger.warning("reloaded %s: serving %s", path, ", ".join(fresh.policies))
        retired.append(served.call)  # requests in flight on the old version still use its connections
        asyncio.get_running_loop().call_later(fresh.config.limits.total_timeout + 5,
                                              lambda: asyncio.ensure_future(served.call.close()))


def _settle_heap(reloaded: bool = False) -> None:
    """Move what loading left on the heap (the policies, the checker, z3, pydantic's models: tens
    of thousands of long-lived objects) out of the collector's reach, so that a full collection
    during a request walks only the request's own objects: the tail latency it would add. After a
    reload the old version's objects are handed back first, so that they can be freed."""
    if reloaded:
        gc.unfreeze()
    gc.collect()
    gc.freeze()


def worker_app() -> Gateway:
    """The app of one worker process (uvicorn's factory): the config named by the environment."""
    shadow = os.environ.get(SHADOW_ENV, "")
    return make_app(os.environ[CONFIG_ENV], shadow=tuple(shadow.split(os.pathsep)) if shadow else ())


def run(path: str, host: str = "127.0.0.1", port: int = 8080, workers: int = 1, served: Served | None = None,
        log_level: str = "warning", shadow: tuple[str, ...] = ()) -> None:
    """Serve the config at `path` until SIGTERM or SIGINT (section 14)."""
    import uvicorn
    config = served.config if served is not None else read_config(path)
    limits = config.limits
    options: dict[str, Any] = {
        "host": host, "port": port, "log_level": log_level, "access_log": False, "lifespan": "on",
        "timeout_keep_alive": int(max(1, limits.keep_alive)), "timeout_graceful_shutdown": int(limits.drain_timeout),
        "loop": "uvloop" if _has("uvloop") else "asyncio", "http": "httptools" if _has("httptools") else "h11",
        "h11_max_incomplete_event_size": limits.max_header_bytes, "server_header": False,
        "interface": "asgi3", "proxy_headers": False,
    }
    if workers > 1:
        os.environ[CONFIG_ENV] = os.path.abspath(path)
        os.environ[SHADOW_ENV] = os.pathsep.join(os.path.abspath(file) for file in shadow)
        uvicorn.run("policylang.gateway.server:worker_app", factory=True, workers=workers, **options)
    else:
        # uvicorn re-raises the SIGTERM it drained for, once done: then exit 0, a clean stop
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
        uvicorn.run(make_app(path, served, shadow), **options)


def _has(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True
