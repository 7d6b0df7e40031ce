"""The gateway's added latency: `python -m benchmarks.gateway [--write] [--quick] [--litellm PATH]`.

Four ways to reach one local mock upstream (`policylang.gateway.mock`, a separate process):
directly; through a bare pass-through proxy on the gateway's own stack (a raw ASGI app on uvicorn
with httptools and uvloop, forwarding the body with aiohttp: the floor any gateway on this stack
pays); through `policyc serve` (one policy, signals extracted, the runtime's Router, retries and
breakers on, no decision log, no metrics: LiteLLM's Prometheus is a callback, off here too; a
second row with `/metrics` on); and through LiteLLM's proxy (`litellm --config`, pinned version,
config only: no database, no Redis, no callbacks, no retries, its Rust core, the separate
`litellm-proxy` package, not installed). Each proxy runs with the same number of workers.

- Sequential: `--rounds` interleaved rounds (7) of `--per-round` sequential requests (50) to each
  target in a shuffled order; a target's added latency is its round median less the direct
  call's in the same round; the table gives the median of those round overheads.
- Open loop: requests sent on a fixed schedule (200 and 500 a second, `--seconds` per target, cut
  in `--slices` slices taken in turn with the other targets), each latency measured from its
  scheduled time (no coordinated omission); p50 and p99 per target, overhead = target's less the
  direct call's, measured in the same slices.
- Memory: each server's resident set (VmRSS) per worker process, after the runs.

LiteLLM's proxy needs `litellm[proxy]`'s dependencies; on a machine where the `litellm-proxy`
package is not published the proxy still runs from `litellm/proxy` (pass `--litellm` the path
of a `litellm` executable in a virtual environment that has them; without one, its rows are
left out and the run says so). `--write` appends the tables to benchmarks/RESULTS.md. `--stacks` compares the pass-through on
the candidate stacks instead (raw ASGI or Starlette, httptools or h11, uvloop or asyncio, aiohttp
or httpx for the upstream calls): the measurement behind docs/choices.md's choice.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import pathlib
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

from .harness import git_revision, machine

HERE = pathlib.Path(__file__).resolve().parent
TITLE = "## The gateway's added latency (benchmarks/gateway.py)"
BODY = {"model": "desk", "messages": [{"role": "user", "content": "Summarise this ticket in one line: the printer "
                                                                   "on floor 3 jams on every second page."}]}
POLICY = """
policy desk
import "std/signals"
model fast { id = "mock/fast" tier = 1 input_per_mtok = $1 output_per_mtok = $2 context = 10_000_000 max_output = 1_000 latency = 1s }
route {
  rule too_large when input_tokens > 9_000_000 -> reject "too large"
  default -> fast
}
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# ---- the bare pass-through proxy ---------------------------------------------------------------

def passthrough_app(upstream: str, client: str = "aiohttp") -> Any:
    """A raw ASGI app that forwards POST /v1/chat/completions to `upstream` (same stack), its
    upstream calls made with aiohttp (the gateway's) or httpx."""
    import aiohttp

    from policylang.gateway.upstream import dumps, loads
    state: dict[str, Any] = {}
    target = upstream.rstrip("/") + "/chat/completions"

    async def forward(data: bytes) -> tuple[int, bytes]:
        if client == "httpx":
            import httpx
            pool = state.get("httpx")
            if pool is None:
                pool = state["httpx"] = httpx.AsyncClient(limits=httpx.Limits(max_connections=512))
            response = await pool.post(target, content=data, headers={"content-type": "application/json"})
            return response.status_code, response.content
        session = state.get("session")
        if session is None:
            session = state["session"] = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=512))
        async with session.post(target, data=data, headers={"content-type": "application/json"}) as answer:
            return answer.status, await answer.read()

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        body = loads(b"".join(chunks))  # the gateway's JSON codec (orjson when installed): the same stack
        body["model"] = "fast"
        status, data = await forward(dumps(body))
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]})
        await send({"type": "http.response.body", "body": data})
    return app


def starlette_passthrough(upstream: str) -> Any:
    """The pass-through as a Starlette app (a Route and Request/Response objects)."""
    import aiohttp
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route
    state: dict[str, Any] = {}
    target = upstream.rstrip("/") + "/chat/completions"

    async def chat(request: Request) -> Response:
        session = state.get("session")
        if session is None:
            session = state["session"] = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=512))
        body = json.loads(await request.body())
        body["model"] = "fast"
        async with session.post(target, data=json.dumps(body).encode(),
                                headers={"content-type": "application/json"}) as answer:
            return Response(await answer.read(), status_code=answer.status, media_type="application/json")
    return Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"])])


STACKS = {
    "raw ASGI, uvicorn httptools + uvloop, aiohttp client (the gateway's)": ("raw", "httptools", "uvloop", "aiohttp"),
    "raw ASGI, uvicorn h11 + asyncio loop, aiohttp client": ("raw", "h11", "asyncio", "aiohttp"),
    "raw ASGI, uvicorn httptools + uvloop, httpx client": ("raw", "httptools", "uvloop", "httpx"),
    "Starlette, uvicorn httptools + uvloop, aiohttp client": ("starlette", "httptools", "uvloop", "aiohttp"),
}


def _serve_passthrough(port: int, upstream: str, workers: int, stack: str = "") -> None:
    import uvicorn
    os.environ["PASSTHROUGH_UPSTREAM"] = upstream
    framework, http, loop, client = STACKS.get(stack, ("raw", "httptools", "uvloop", "aiohttp"))
    options: dict[str, Any] = dict(host="127.0.0.1", port=port, log_level="warning", access_log=False, http=http,
                   loop=loop, interface="asgi3", proxy_headers=False, server_header=False)
    if workers > 1:
        uvicorn.run("benchmarks.gateway:_passthrough_factory", factory=True, workers=workers, **options)
    elif framework == "starlette":
        uvicorn.run(starlette_passthrough(upstream), **options)
    else:
        uvicorn.run(passthrough_app(upstream, client), **options)


def stacks(args: argparse.Namespace) -> list[str]:
    """`--stacks`: the pass-through on each candidate stack, sequential rounds against the mock."""
    python = sys.executable
    mock_port = _free_port()
    servers = [Server("mock upstream", [python, "-c", f"from benchmarks.gateway import _serve_mock; _serve_mock({mock_port})"],
                      mock_port, "/v1")]
    try:
        servers[0].wait()
        upstream = servers[0].url
        body = json.dumps(BODY).encode()
        headers = {"content-type": "application/json"}
        targets = {"direct": (upstream + "/chat/completions", json.dumps({**BODY, "model": "fast"}).encode(), headers)}
        for name in STACKS:
            port = _free_port()
            server = Server(name, [python, "-c", f"from benchmarks.gateway import _serve_passthrough; "
                                                 f"_serve_passthrough({port}, {upstream!r}, 1, {name!r})"], port, "/v1")
            servers.append(server)
            server.wait()
            targets[name] = (server.url + "/chat/completions", body, headers)
        medians = asyncio.run(_sequential(targets, args.rounds, args.per_round))
    finally:
        for server in reversed(servers):
            server.stop()
    direct = medians["direct"]
    lines = [f"Pass-through proxies on candidate stacks: median of {args.rounds} interleaved rounds of "
             f"{args.per_round} sequential requests; direct call {statistics.median(direct):.3f} ms.", "",
             "| stack | round median (ms) | added over direct (ms) |", "|---|---:|---:|"]
    for name, values in medians.items():
        if name != "direct":
            added = statistics.median(m - d for m, d in zip(values, direct))
            lines.append(f"| {name} | {statistics.median(values):.3f} | {added:.3f} |")
    return lines


def _passthrough_factory() -> Any:
    return passthrough_app(os.environ["PASSTHROUGH_UPSTREAM"])


def _serve_mock(port: int) -> None:
    from policylang.gateway.mock import MockUpstream
    MockUpstream(port=port, loop="uvloop").start()
    while True:  # until SIGTERM
        time.sleep(3600)


# ---- processes ---------------------------------------------------------------------------------

class Server:
    """A server process and the URL it answers on; `rss()` its workers' resident sets (MB)."""

    def __init__(self, name: str, command: list[str], port: int, base: str, env: dict[str, str] | None = None) -> None:
        self.name = name
        self.url = f"http://127.0.0.1:{port}{base}"
        self.port = port
        self.log = tempfile.TemporaryFile()
        self.process = subprocess.Popen(command, stdout=self.log, stderr=subprocess.STDOUT,
                                        env={**os.environ, **(env or {})}, cwd=str(HERE.parent), start_new_session=True)

    def wait(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.log.seek(0)
                raise RuntimeError(f"{self.name} exited: {self.log.read().decode(errors='replace')[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"{self.name} did not start")

    def rss(self) -> list[float]:
        pids = [self.process.pid] + _children(self.process.pid)
        sizes = []
        for pid in pids:
            try:
                with open(f"/proc/{pid}/status") as status:
                    for line in status:
                        if line.startswith("VmRSS:"):
                            sizes.append(int(line.split()[1]) / 1024)
            except OSError:
                pass
        return sizes

    def stop(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def _children(pid: int) -> list[int]:
    found = []
    try:
        for child in pathlib.Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
            found.append(int(child))
            found.extend(_children(int(child)))
    except OSError:
        pass
    return found


# ---- measuring ---------------------------------------------------------------------------------

async def _one(session: Any, url: str, body: bytes, headers: dict[str, str]) -> None:
    async with session.post(url, data=body, headers=headers) as response:
        await response.read()
        if response.status != 200:
            raise RuntimeError(f"{url} answered {response.status}")


async def _sequential(targets: dict[str, tuple[str, bytes, dict[str, str]]], rounds: int, per_round: int
                      ) -> dict[str, list[float]]:
    import aiohttp
    medians: dict[str, list[float]] = {name: [] for name in targets}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64)) as session:
        for name, (url, body, headers) in targets.items():  # warm every connection pool and cache
            for _ in range(50):
                await _one(session, url, body, headers)
        order = list(targets)
        for _ in range(rounds):
            random.shuffle(order)
            for name in order:
                url, body, headers = targets[name]
                times = []
                for _ in range(per_round):
                    started = time.perf_counter()
                    await _one(session, url, body, headers)
                    times.append(time.perf_counter() - started)
                medians[name].append(statistics.median(times) * 1000)
    return medians


async def _open_loop(url: str, body: bytes, headers: dict[str, str], rate: float, seconds: float) -> list[float]:
    import aiohttp
    latencies: list[float] = []
    failures = 0
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1024)) as session:
        for _ in range(20):
            await _one(session, url, body, headers)
        loop = asyncio.get_running_loop()
        start = loop.time() + 0.05
        count = int(rate * seconds)

        async def fire(at: float) -> None:
            nonlocal failures
            await asyncio.sleep(max(0.0, at - loop.time()))
            try:
                await _one(session, url, body, headers)
            except Exception:
                failures += 1
                return
            latencies.append((loop.time() - at) * 1000)
        await asyncio.gather(*(fire(start + i / rate) for i in range(count)))
    if failures:
        print(f"  {url}: {failures} of {count} requests failed", file=sys.stderr)
    return latencies


async def _open_loop_interleaved(targets: dict[str, tuple[str, bytes, dict[str, str]]], rate: float, seconds: float,
                                 slices: int) -> dict[str, list[float]]:
    """Each target's open-loop latencies over `seconds`, run as `slices` slices taken in turn
    (a shuffled order each time), so that every target sees the machine's load alike."""
    found: dict[str, list[float]] = {name: [] for name in targets}
    order = list(targets)
    for _ in range(slices):
        random.shuffle(order)
        for name in order:
            url, data, headers = targets[name]
            found[name] += await _open_loop(url, data, headers, rate, seconds / slices)
    return found


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


# ---- the suite ---------------------------------------------------------------------------------

def suite(args: argparse.Namespace) -> list[str]:
    folder = pathlib.Path(tempfile.mkdtemp())
    python = sys.executable
    mock_port = _free_port()
    mock = Server("mock upstream", [python, "-c", f"from benchmarks.gateway import _serve_mock; _serve_mock({mock_port})"],
                  mock_port, "/v1")
    servers = [mock]
    try:
        mock.wait()
        upstream = mock.url
        (folder / "desk.route").write_text(POLICY)
        for metrics in (False, True):
            (folder / f"serve-{metrics}.toml").write_text(f"""
[policies.desk]
file = "desk.route"
[signals]
input_tokens = {{ extract = "input_tokens" }}
[upstreams]
"mock/" = {{ base_url = "{upstream}" }}
[reload]
interval = 0
[metrics]
enabled = {"true" if metrics else "false"}
""")
        pass_port, gate_port, metered_port = _free_port(), _free_port(), _free_port()
        passthrough = Server("pass-through", [python, "-c", f"from benchmarks.gateway import _serve_passthrough; "
                                                            f"_serve_passthrough({pass_port}, {upstream!r}, {args.workers})"],
                             pass_port, "/v1")
        gateway, metered = (Server(name, [python, "-c", "from policylang.cli import main; main()", "serve",
                                          str(folder / f"serve-{metrics}.toml"), "--port", str(port),
                                          "--workers", str(args.workers)], port, "/v1")
                            for name, metrics, port in (("policyc serve", False, gate_port),
                                                        ("policyc serve, metrics on", True, metered_port)))
        servers += [passthrough, gateway, metered]
        for server in servers[1:]:
            server.wait(180)
        body = json.dumps(BODY).encode()
        direct_body = json.dumps({**BODY, "model": "fast", "max_tokens": 1000}).encode()
        json_headers = {"content-type": "application/json"}
        direct = ("direct", (upstream + "/chat/completions", direct_body, json_headers))
        floor = ("pass-through", (passthrough.url + "/chat/completions", body, json_headers))
        phases = [dict([direct, floor, ("policyc serve", (gateway.url + "/chat/completions", body, json_headers)),
                        ("policyc serve, metrics on", (metered.url + "/chat/completions", body, json_headers))])]
        rounds: dict[str, list[tuple[float, float]]] = {}
        opened: dict[tuple[str, int], tuple[list[float], list[float]]] = {}
        memory: dict[str, list[float]] = {}
        litellm_version = None
        for phase in range(2):
            if phase == 1:  # LiteLLM's own phase: idle, its background tasks would slow the others' rounds
                for server in servers[1:]:
                    if server is not passthrough:
                        server.stop()
                litellm, litellm_version = _start_litellm(args, folder, upstream, servers)
                if litellm is None:
                    break
                phases.append(dict([direct, floor, ("LiteLLM proxy", (litellm.url + "/chat/completions", body,
                                                                       {**json_headers, "authorization": "Bearer local"}))]))
            targets = phases[phase]
            print(f"sequential: {list(targets)}, {args.rounds} rounds of {args.per_round}", file=sys.stderr)
            medians = asyncio.run(_sequential(targets, args.rounds, args.per_round))
            rounds.setdefault("direct", [(d, d) for d in medians["direct"]])
            for name, values in medians.items():
                if name != "direct" and name not in rounds:
                    rounds[name] = list(zip(values, medians["direct"]))
            for rate in (200, 500) if args.seconds > 0 else ():
                chosen = {name: target for name, target in targets.items()
                          if not (phase == 1 and name == "pass-through")}
                print(f"open loop at {rate}/s: {list(chosen)}, {args.slices} interleaved slices", file=sys.stderr)
                found = asyncio.run(_open_loop_interleaved(chosen, rate, args.seconds, args.slices))
                for name, values in found.items():
                    if name != "direct" or phase == 0:
                        opened[(name, rate)] = (values, found["direct"])
            for server in servers[1:]:
                if server.process.poll() is None and server.name not in memory:
                    memory[server.name] = server.rss()
    finally:
        for server in reversed(servers):
            server.stop()
    return _tables(args, rounds, opened, memory, litellm_version)


def _start_litellm(args: argparse.Namespace, folder: pathlib.Path, upstream: str,
                   servers: list[Server]) -> tuple[Server | None, str | None]:
    """LiteLLM's proxy on the mock, config only, or (None, None) when no litellm is found."""
    litellm = None
    litellm_path = args.litellm if args.litellm != "none" else None
    litellm_path = litellm_path or (shutil.which("litellm") if args.litellm is None else None)
    if litellm_path and not os.path.exists(litellm_path):
        print(f"no litellm at {litellm_path}: its rows are left out", file=sys.stderr)
        litellm_path = None
    litellm_version = None
    if litellm_path:
        llm_port = _free_port()
        (folder / "litellm.yaml").write_text(f"""
model_list:
  - model_name: desk
    litellm_params:
      model: openai/fast
      api_base: {upstream}
      api_key: local
litellm_settings:
  num_retries: 0
  request_timeout: 60
  telemetry: false
  drop_params: true
""")
        litellm = Server("LiteLLM proxy", [litellm_path, "--config", str(folder / "litellm.yaml"), "--port", str(llm_port),
                           "--host", "127.0.0.1", "--num_workers", str(args.workers)],
                 llm_port, "/v1", env={"LITELLM_LOG": "ERROR", "LITELLM_TELEMETRY": "False",
                           "DISABLE_SCHEMA_UPDATE": "True",
                           # no master key, as no key is asked by the others
                           "LITELLM_DANGEROUSLY_PERMIT_WEAK_OR_UNSET_MASTER_KEY": "true"})
        servers.append(litellm)
        version = subprocess.run([str(pathlib.Path(litellm_path).parent / "python"), "-c",
                      "import importlib.metadata as m; print(m.version('litellm'))"],
                     capture_output=True, text=True)
        litellm_version = version.stdout.strip() or "unknown"
    if litellm is not None:
        litellm.wait(180)
    return litellm, litellm_version


def _tables(args: argparse.Namespace, rounds: dict[str, list[tuple[float, float]]],
            opened: dict[tuple[str, int], tuple[list[float], list[float]]], memory: dict[str, list[float]],
            litellm_version: str | None) -> list[str]:
    over = {name: statistics.median(m - d for m, d in pairs) for name, pairs in rounds.items() if name != "direct"}
    lines = [f"Sequential: median of {args.rounds} interleaved rounds of {args.per_round} requests each; "
             f"{args.workers} worker(s) per proxy; the direct call's round median is "
             f"{statistics.median(d for d, _ in rounds['direct']):.3f} ms. LiteLLM is measured in a second phase "
             "(interleaved with the direct call, the others stopped), since its idle process takes CPU from "
             "the others' rounds on this 2-core machine; each overhead is over the direct call of its own rounds.",
             "", "| target | round median (ms) | added over direct (ms) | vs pass-through | vs LiteLLM |",
             "|---|---:|---:|---:|---:|"]
    for name, pairs in rounds.items():
        added = over.get(name)
        ratio_pass = f"{added / over['pass-through']:.2f}x" if added is not None and over.get("pass-through") else ""
        ratio_llm = f"{added / over['LiteLLM proxy']:.3f}x" if added is not None and over.get("LiteLLM proxy") else ""
        lines.append(f"| {name} | {statistics.median(m for m, _ in pairs):.3f} | {'' if added is None else f'{added:.3f}'} | "
                     f"{ratio_pass} | {ratio_llm} |")
    if not opened:
        lines += ["", "(no open-loop runs: --seconds 0)"]
    else:
        lines += ["", f"Open loop, {args.seconds:g} s at each rate; latency from each request's scheduled time; "
                  f"cut in {args.slices} slices taken in turn by the targets; added = the target's percentile "
                  "less the direct call's (measured in the same slices).", "",
                  "| target | rate (/s) | p50 (ms) | p99 (ms) | p50 added (ms) | p99 added (ms) | p50, p99 vs pass-through | "
                  "p50, p99 vs LiteLLM |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for rate in (200, 500) if opened else ():
        gap: dict[str, tuple[float, float]] = {}
        for (name, at), (values, base) in opened.items():
            if at == rate:
                gap[name] = (_percentile(values, 0.5) - _percentile(base, 0.5),
                             _percentile(values, 0.99) - _percentile(base, 0.99))
        for (name, at), (values, base) in opened.items():
            if at != rate:
                continue
            a50, a99 = gap[name]
            vs_pass = vs_llm = ""
            if name not in ("direct", "pass-through"):
                p50, p99 = gap["pass-through"]
                vs_pass = ", ".join(f"{a / p:.2f}x" if p > 0 else "n/a" for a, p in ((a50, p50), (a99, p99)))
            if name not in ("direct", "LiteLLM proxy") and "LiteLLM proxy" in gap:
                l50, l99 = gap["LiteLLM proxy"]
                vs_llm = ", ".join(f"{a / p:.4f}x" if p > 0 else "n/a" for a, p in ((a50, l50), (a99, l99)))
            lines.append(f"| {name} | {rate} | {_percentile(values, 0.5):.2f} | {_percentile(values, 0.99):.2f} | "
                         f"{'' if name == 'direct' else f'{a50:.2f}'} | {'' if name == 'direct' else f'{a99:.2f}'} | "
                         f"{vs_pass} | {vs_llm} |")
    lines += ["", "Memory after the runs (VmRSS, MB, per process: the server, then its workers):", ""]
    for name, sizes in memory.items():
        lines.append(f"- {name}: {', '.join(f'{s:.0f}' for s in sizes)}")
    lines += ["", f"LiteLLM: {'version ' + litellm_version if litellm_version else 'not run (no litellm executable)'}"
                  f"{', proxy from litellm/proxy without the litellm-proxy package (its Rust core off)' if litellm_version else ''}."]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="append the tables to benchmarks/RESULTS.md")
    parser.add_argument("--quick", action="store_true", help="3 rounds of 20, 2 s per open-loop rate")
    parser.add_argument("--litellm", help="the litellm executable (a virtual environment with litellm[proxy]'s deps); "
                        "'none' leaves LiteLLM out")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--per-round", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=5.0, help="open-loop seconds per target and rate (0: none)")
    parser.add_argument("--slices", type=int, default=5, help="interleaved slices the open-loop seconds are cut in")
    parser.add_argument("--stacks", action="store_true", help="compare the pass-through on candidate ASGI stacks")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.per_round, args.seconds, args.slices = 3, 20, 2.0, 2
    lines = [TITLE + (": the ASGI stack" if args.stacks else ""), "",
             f"Machine: {machine()}; commit {git_revision()}; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.",
             ""] + (stacks(args) if args.stacks else suite(args))
    text = "\n".join(lines) + "\n"
    print(text)
    if args.write:
        results = HERE / "RESULTS.md"
        with results.open("a") as handle:
            handle.write("\n" + text)


if __name__ == "__main__":
    main()
