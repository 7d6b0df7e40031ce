"""The runtime end to end, under provider faults: `python -m benchmarks.runtime_e2e [--write] [--quick]`.

Issue 24's table, re-run with the documented defaults. Everything runs on 127.0.0.1 in one
process, bounded in count and time:

- the upstream: `policylang.runtime.localserver.LocalServer`, an OpenAI-compatible server
  (in threads);
- between them, `FaultProxy`, an asyncio HTTP/1.1 proxy that answers a seeded share of the
  requests itself with an HTTP 500, an HTTP 429 with `Retry-After: 1`, or a reset connection
  (nothing answered, the socket closed with RST), and that can be stopped (connections refused,
  open ones cut) and started again on the same port: the upstream "down", then "back";
- the app: a small ASGI app whose one route calls `await router.arun(signals, prompt)` with
  `runtime.clients.openai(base_url=proxy)` (the real `openai` SDK, its AsyncOpenAI), the
  support desk policy and `runtime.assess.outcomes(json=True)`; or, for the comparison, the
  bare SDK (`AsyncOpenAI(base_url=proxy)`, its own default retries) in the same route;
- the load: an open loop of `rate` requests a second, at most `concurrency` in flight, sent to
  the app through httpx's ASGI transport.

A request is *served* when the app answers 200, and served *by the policy's choice* when the
model that answered is the one the decision named first. For the outage phase the table gives
the time from the upstream's return to the end of the last request the app failed (how long
the app stayed down after its upstream was back), and the app's outage from its first failed
request to its last.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import pathlib
import random
import socket
import struct
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
SUPPORT_DESK = ROOT / "examples" / "support_desk.route"
TITLE = "## The runtime end to end under provider faults (benchmarks/runtime_e2e.py)"

SIGNALS = {"task": "classify", "input_tokens": 300}
PROMPT = "Where is my parcel? Order 1182 was due on Monday."
ONE_MODEL = """policy one_model

model solo {
  id              = "openai/gpt-5.5"
  tier            = 3
  input_per_mtok  = $5
  output_per_mtok = $30
  context         = 400_000
  max_output      = 4_000
  latency         = 2s
}

route {
  default -> solo
}
"""
"""A model without a fallback: the connection-reset phase compares the Router with the bare SDK."""


# ---- the fault-injecting proxy ----------------------------------------------------------------------


@dataclass
class Faults:
    """The share of requests the proxy answers itself, each drawn independently."""

    server_error: float = 0.0  # HTTP 500
    rate_limited: float = 0.0  # HTTP 429 with Retry-After
    reset: float = 0.0  # the connection reset, nothing answered
    retry_after: str = "1"


class FaultProxy:
    """An asyncio HTTP/1.1 reverse proxy to `upstream` (host, port) on 127.0.0.1 that injects
    `faults` (seeded); `stop()` refuses connections and cuts open ones, `start()` listens again
    on the same port. `counts` tallies what it did."""

    def __init__(self, upstream: tuple[str, int], seed: int = 24) -> None:
        self.upstream = upstream
        self.faults = Faults()
        self.rng = random.Random(seed)
        self.port = 0
        self.counts: dict[str, int] = {"forwarded": 0, "server_error": 0, "rate_limited": 0, "reset": 0}
        self._server: asyncio.base_events.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    async def start(self) -> None:
        """Listen (on the port of the last start, if any)."""
        self._server = await asyncio.start_server(self._client, "127.0.0.1", self.port, reuse_address=True,
                                                  backlog=256)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Refuse new connections and cut every open one (the upstream is down)."""
        if self._server is not None:
            self._server.close()
            for writer in list(self._writers):
                _abort(writer)
            for task in list(self._tasks):  # idle keep-alive connections wait in a read
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await self._server.wait_closed()
            self._server = None

    def _draw(self) -> str | None:
        faults, draw = self.faults, self.rng.random()
        for name, share in (("server_error", faults.server_error), ("rate_limited", faults.rate_limited),
                            ("reset", faults.reset)):
            if draw < share:
                return name
            draw -= share
        return None

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        try:
            while True:
                request = await _read_message(reader)
                if request is None:
                    return
                fault = self._draw()
                if fault is not None:
                    self.counts[fault] += 1
                if fault == "reset":
                    _abort(writer)
                    return
                if fault == "server_error":
                    writer.write(_response(500, {"error": {"message": "injected", "type": "server_error"}}))
                elif fault == "rate_limited":
                    writer.write(_response(429, {"error": {"message": "injected", "type": "rate_limit_exceeded"}},
                                           {"retry-after": self.faults.retry_after}))
                else:
                    if upstream is None:
                        upstream = await asyncio.open_connection(*self.upstream)
                    upstream[1].write(request)
                    await upstream[1].drain()
                    answer = await _read_message(upstream[0])
                    if answer is None:
                        _abort(writer)
                        return
                    self.counts["forwarded"] += 1
                    writer.write(answer)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, OSError):
            _abort(writer)
        except asyncio.CancelledError:  # stop(): the connection is cut
            _abort(writer)
        finally:
            self._writers.discard(writer)
            if task is not None:
                self._tasks.discard(task)
            if upstream is not None:
                upstream[1].close()
            if not writer.is_closing():
                writer.close()


async def _read_message(reader: asyncio.StreamReader) -> bytes | None:
    """One HTTP/1.1 message with a content-length body (what the SDK and LocalServer send),
    or None at the end of the connection."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return head + (await reader.readexactly(length) if length else b"")


def _response(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> bytes:
    data = json.dumps(body).encode()
    reason = {500: "Internal Server Error", 429: "Too Many Requests"}.get(status, "Error")
    lines = [f"HTTP/1.1 {status} {reason}", "content-type: application/json", f"content-length: {len(data)}"]
    lines += [f"{key}: {value}" for key, value in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + data


def _abort(writer: asyncio.StreamWriter) -> None:
    """Close with RST, as a reset connection is."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
    writer.transport.abort()


# ---- the app ----------------------------------------------------------------------------------------


Handler = Callable[[], Awaitable[tuple[bool, bool]]]


def asgi_app(handle: Handler) -> Callable[..., Awaitable[None]]:
    """A one-route ASGI app: 200 {"chosen": ...} when `handle` serves the request, else 503."""

    async def app(scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]) -> None:
        assert scope["type"] == "http"
        while (await receive()).get("more_body"):
            pass
        try:
            served, chosen = await handle()
            status, body = (200, {"chosen": chosen}) if served else (503, {"error": "not served"})
        except Exception as exc:  # what the app would turn into a 500
            status, body = 500, {"error": type(exc).__name__}
        data = json.dumps(body).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]})
        await send({"type": "http.response.body", "body": data})

    return app


def router_handler(url: str, policy_text: str | None = None, **options: Any) -> Handler:
    """The app's route over `Router.arun` (the documented defaults unless `options` say)."""
    import policylang
    from policylang import runtime

    policy = policylang.loads(policy_text) if policy_text else policylang.load(str(SUPPORT_DESK))
    router = runtime.Router(policy, runtime.clients.openai(base_url=url, api_key="local"),
                            assess=runtime.assess.outcomes(json=True), **options)

    async def handle() -> tuple[bool, bool]:
        try:
            result = await router.arun(SIGNALS, PROMPT)
        except runtime.Exhausted:
            return False, False
        return True, bool(result.path) and result.path[0] == result.decision.steps[0] and result.complete

    return handle


def bare_handler(url: str) -> Handler:
    """The same route over the bare SDK (AsyncOpenAI's own defaults: 2 retries)."""
    import openai

    client = openai.AsyncOpenAI(base_url=url, api_key="local")

    async def handle() -> tuple[bool, bool]:
        try:
            await client.chat.completions.create(model="openai/gpt-5.5", max_tokens=4000,
                                                 messages=[{"role": "user", "content": PROMPT}])
        except openai.APIError:
            return False, False
        return True, True

    return handle


# ---- the load ---------------------------------------------------------------------------------------


@dataclass
class Outcome:
    start: float
    end: float
    served: bool
    chosen: bool


@dataclass
class Phase:
    name: str
    outcomes: list[Outcome] = field(default_factory=list)
    down: tuple[float, float] | None = None  # when the upstream went down and came back
    injected: dict[str, int] = field(default_factory=dict)  # what the proxy did during the phase

    @property
    def total(self) -> int:
        return len(self.outcomes)

    @property
    def served(self) -> int:
        return sum(o.served for o in self.outcomes)

    @property
    def chosen(self) -> int:
        return sum(o.chosen for o in self.outcomes)

    def back_after(self) -> float:
        """Seconds from the upstream's return to the end of the last failed request (0: none
        failed after it was back)."""
        assert self.down is not None
        failed = [o.end for o in self.outcomes if not o.served]
        return max(0.0, max(failed, default=self.down[1]) - self.down[1])

    def outage(self) -> float:
        """Seconds from the first failed request's start to the last one's end."""
        failed = [o for o in self.outcomes if not o.served]
        return max(o.end for o in failed) - min(o.start for o in failed) if failed else 0.0


async def load(app: Callable[..., Awaitable[None]], phase: Phase, seconds: float, rate: float,
               concurrency: int, during: Callable[[float], Awaitable[None]] | None = None) -> Phase:
    """Send `rate` requests a second for `seconds` (at most `concurrency` in flight) to `app`;
    `during(t0)` runs beside the load (the outage's script)."""
    import httpx

    gate = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://app",
                                 timeout=120.0) as client:

        async def one() -> None:
            async with gate:
                start = time.monotonic()
                response = await client.post("/answer", json={"ticket": PROMPT})
                served = response.status_code == 200
                chosen = served and bool(response.json().get("chosen"))
                phase.outcomes.append(Outcome(start, time.monotonic(), served, chosen))

        t0 = time.monotonic()
        side = asyncio.ensure_future(during(t0)) if during is not None else None
        tasks = []
        for index in range(int(seconds * rate)):
            delay = t0 + index / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.ensure_future(one()))
        await asyncio.gather(*tasks)
        if side is not None:
            await side
    return phase


# ---- the table --------------------------------------------------------------------------------------


@dataclass
class Settings:
    seconds: float = 60.0  # each fault phase
    rate: float = 40.0
    concurrency: int = 20
    down_before: float = 8.0  # the outage phase: up, down, back up
    down_for: float = 18.0
    down_after: float = 14.0
    reset_seconds: float = 30.0
    breaker_off: bool = True  # also run the 500 and 429 phases with breaker=None (and 429 without parking)


async def table(settings: Settings, progress: Callable[[str], None] = lambda line: None) -> list[Phase]:
    """Every phase of the table, in order, against one upstream and one proxy."""
    from policylang.runtime.localserver import LocalServer

    phases: list[Phase] = []
    with LocalServer() as upstream:
        host, port = upstream.url.split("//", 1)[1].split("/", 1)[0].split(":")
        proxy = FaultProxy((host, int(port)))
        await proxy.start()
        try:
            async def run(name: str, faults: Faults, handler: Handler, seconds: float,
                          during: Callable[[float], Awaitable[None]] | None = None) -> Phase:
                proxy.faults = faults
                before = dict(proxy.counts)
                phase = await load(asgi_app(handler), Phase(name), seconds, settings.rate, settings.concurrency,
                                   during)
                proxy.faults = Faults()
                phase.injected = {key: proxy.counts[key] - before[key] for key in before}
                phases.append(phase)
                progress(row(phase))
                return phase

            url = proxy.url
            await run("1% HTTP 500", Faults(server_error=0.01), router_handler(url), settings.seconds)
            if settings.breaker_off:
                await run("the same, `breaker=None`", Faults(server_error=0.01), router_handler(url, breaker=None),
                          settings.seconds)
            await run("10% HTTP 429 with `Retry-After: 1`", Faults(rate_limited=0.10), router_handler(url),
                      settings.seconds)
            if settings.breaker_off:
                await run("the same, `breaker=None`", Faults(rate_limited=0.10), router_handler(url, breaker=None),
                          settings.seconds)
                from policylang import runtime

                await run("the same, `Breaker(max_park=0)` (a 429 votes, never parks)", Faults(rate_limited=0.10),
                          router_handler(url, breaker=runtime.Breaker(max_park=0)), settings.seconds)
            marks: list[float] = []

            async def outage(t0: float) -> None:
                await asyncio.sleep(max(0.0, t0 + settings.down_before - time.monotonic()))
                await proxy.stop()
                marks.append(time.monotonic())
                await asyncio.sleep(settings.down_for)
                await proxy.start()
                marks.append(time.monotonic())

            phase = Phase(f"upstream down {settings.down_for:g} s, then back")
            proxy.faults = Faults()
            await load(asgi_app(router_handler(url)), phase,
                       settings.down_before + settings.down_for + settings.down_after, settings.rate,
                       settings.concurrency, outage)
            phase.down = (marks[0], marks[1])
            phases.append(phase)
            progress(row(phase))
            proxy.rng = random.Random(24)  # the Router and the bare SDK see the same draws
            await run("5% connection resets, Router (no fallback)", Faults(reset=0.05),
                      router_handler(url, ONE_MODEL), settings.reset_seconds)
            proxy.rng = random.Random(24)
            await run("5% connection resets, bare SDK", Faults(reset=0.05), bare_handler(url), settings.reset_seconds)
        finally:
            await proxy.stop()
    return phases


def row(phase: Phase) -> str:
    if phase.down is not None:
        failed = phase.total - phase.served
        return (f"| {phase.name} | {phase.served:,} of {phase.total:,} ({failed} failed) "
                f"| {100 * phase.chosen / phase.total:.2f}% | app outage {phase.outage():.1f} s, back "
                f"{phase.back_after():.1f} s after the upstream was |")
    injected = ", ".join(f"{count} {name.replace('_', ' ')}" for name, count in phase.injected.items()
                         if count and name != "forwarded")
    return (f"| {phase.name} | {phase.served:,} of {phase.total:,} ({100 * phase.served / phase.total:.2f}%) "
            f"| {100 * phase.chosen / phase.total:.2f}% | {phase.injected.get('forwarded', 0):,} forwarded, "
            f"{injected or 'no fault'} |")


HEADER = "| phase | served | by the policy's choice | upstream calls (the proxy's count) |\n|---|---:|---:|---|"


def report(phases: list[Phase], settings: Settings) -> str:
    from .harness import git_revision, machine, python

    import openai

    lines = [TITLE, "",
             f"Machine: {machine()}; {python()}; openai {openai.__version__}; revision {git_revision()}.",
             f"Load: {settings.rate:g} requests a second, at most {settings.concurrency} in flight, "
             f"{settings.seconds:g} s per fault phase ({settings.reset_seconds:g} s for the resets); the upstream "
             f"down {settings.down_for:g} s after {settings.down_before:g} s, then {settings.down_after:g} s back. "
             "The documented defaults (`Retry()`, `Breaker()`), the support desk policy, rule `cheap` "
             "(fast, falling back to backup on unavailable and rate_limited).", "", HEADER]
    lines += [row(phase) for phase in phases]
    return "\n".join(lines) + "\n"


def suite(quick: bool) -> list[str]:
    """The table as `benchmarks.run` records it (`runtime_e2e` suite)."""
    settings = QUICK if quick else Settings()
    lines = report(asyncio.run(table(settings)), settings).splitlines()
    return ["### runtime_e2e: the runtime end to end under provider faults", *lines[1:], ""]


QUICK = Settings(seconds=10, down_before=4, down_for=8, down_after=6, reset_seconds=10, breaker_off=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--write", action="store_true", help="record the table in benchmarks/RESULTS.md")
    parser.add_argument("--quick", action="store_true", help="short phases (about a minute in all)")
    options = parser.parse_args(argv)
    settings = QUICK if options.quick else Settings()
    print(HEADER, flush=True)
    phases = asyncio.run(table(settings, lambda line: print(line, flush=True)))
    text = report(phases, settings)
    print()
    print(text)
    if options.write:
        write(text)
    return 0


def write(section: str) -> None:
    """Put the table in RESULTS.md: in place of an older one of this benchmark (up to the next
    section), or at the end."""
    results = HERE / "RESULTS.md"
    text = results.read_text(encoding="utf-8")
    if TITLE in text:
        start = text.index(TITLE)
        following = text.find("\n## ", start + len(TITLE))
        text = text[:start] + section + ("\n" + text[following + 1:] if following != -1 else "")
    else:
        text = text.rstrip() + "\n\n" + section
    results.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
