"""How soon `policyc lsp` answers a change on a 1,000-rule policy, and whether hover and
completion wait for the analyses: `python -m benchmarks.lsp [--rounds N] [--shapes tenant,pairs]
[--write]` (needs the lsp extra).

A real `policyc lsp` process is driven over stdio by pygls's client, once with the analyses in
a process of their own (the default where the platform forks) and once on a thread
(`analysisIn: "thread"`), each with the default `analysisDelay` (0.4 s). For each shape of
benchmarks/scale.py named (1,000 rules), the policy is opened; then, round after round, the
target of its 500th rule is switched (`-> small` to `-> large` and back: the policy stays valid,
so both phases run) and timed from sending `didChange` to

- the first publish for that version: syntax, names and types (target: 150 ms);
- the second: the same with the analyses' findings (target: 2 s, the quiet delay included).

Between the two, from the moment the server's trace says the analyses started until their
publish arrives, hover (a signal, a rule) and completion requests are sent one after another,
50 ms apart, and each is timed: the latency an editor sees while the analyses run. The same requests are timed
again with nothing running, as the baseline. The server's own CPU seconds for the first phase
are read from /proc (Linux), as the wall time on a shared machine is noisy.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import pathlib
import re
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field

from lsprotocol import types
from pygls.lsp.client import LanguageClient

from . import scale
from .harness import git_revision, machine

HERE = pathlib.Path(__file__).resolve().parent
TITLE = "## The language server: both phases of a change, and requests meanwhile (benchmarks/lsp.py)"
RULES = 1_000
SHAPES = ("tenant", "pairs")
PACE = 0.05
"""Seconds between two requests: an editor asks at typing speed, not as fast as it can (and a
client that did would take the analyses' CPU on a two-core machine)."""


@dataclass
class Times:
    """Seconds per event of one run (one shape, one place for the analyses)."""

    fast: list[float] = field(default_factory=list)
    full: list[float] = field(default_factory=list)
    fast_cpu: list[float] = field(default_factory=list)
    analyses_cpu: list[float] = field(default_factory=list)
    during: dict[str, list[float]] = field(default_factory=dict)
    idle: dict[str, list[float]] = field(default_factory=dict)


def _cpu(pid: int) -> float:
    """The process's user and system CPU seconds (its reaped children not counted)."""
    try:
        fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _place(text: str) -> tuple[int, int, str]:
    """The 500th rule whose target is `small` or `large`: its line, the target's column, which."""
    lines = text.splitlines()
    rules = [i for i, line in enumerate(lines) if line.lstrip().startswith("rule ")
             and line.rstrip().endswith(("-> small", "-> large"))]
    line = rules[min(len(rules) - 1, 500)]
    column = lines[line].rindex("-> ") + 3
    return line, column, lines[line][column:column + 5]


def _position(text: str, needle: str, after: int = 0) -> types.Position:
    at = text.index(needle, after)
    line = text.count("\n", 0, at)
    return types.Position(line=line, character=at - (text.rfind("\n", 0, at) + 1))


async def measure(shape: str, rounds: int, where: str) -> Times:
    text = getattr(scale, shape)(RULES)
    folder = pathlib.Path(tempfile.mkdtemp())
    path = folder / f"{shape}.route"
    path.write_text(text, encoding="utf-8")
    uri = path.as_uri()
    client = LanguageClient("benchmark", "1")
    published: asyncio.Queue[types.PublishDiagnosticsParams] = asyncio.Queue()
    started: asyncio.Queue[str] = asyncio.Queue()
    times = Times()

    @client.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    def on_publish(params: types.PublishDiagnosticsParams) -> None:
        if params.uri == uri:
            published.put_nowait(params)

    @client.feature("$/logTrace")
    def on_trace(params: types.LogTraceParams) -> None:
        if "analyses started" in params.message:
            started.put_nowait(params.message)
        cpu = re.search(r"([0-9.]+) s CPU in the analyses", params.message)
        if cpu and "version 1:" not in params.message:
            times.analyses_cpu.append(float(cpu.group(1)))

    @client.feature(types.WINDOW_LOG_MESSAGE)
    def on_log(params: types.LogMessageParams) -> None:
        print(f"server: {params.message}", file=sys.stderr)

    policyc = str(pathlib.Path(sys.executable).parent / "policyc")
    await client.start_io(policyc, "lsp")
    pid = client._server.pid if client._server is not None else 0  # the server process, for /proc
    await client.initialize_async(types.InitializeParams(
        capabilities=types.ClientCapabilities(), trace=types.TraceValue.Messages,
        initialization_options={"analysisIn": where}))
    client.initialized(types.InitializedParams())
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        text_document=types.TextDocumentItem(uri=uri, language_id="route", version=1, text=text)))

    async def publish_of(version: int) -> types.PublishDiagnosticsParams:
        while True:
            params = await asyncio.wait_for(published.get(), 120)
            if params.version == version:
                return params

    await publish_of(1)
    await publish_of(1)  # the analyses of the opened file
    line, column, target = _place(text)
    rule_line = text.splitlines()[line]
    rule_name = rule_line.split()[1]
    offset = text.index(rule_line)
    document = types.TextDocumentIdentifier(uri=uri)
    requests = {
        "hover on a signal": lambda: client.text_document_hover_async(types.HoverParams(
            text_document=document, position=_position(text, "when ", offset))),
        "hover on a rule": lambda: client.text_document_hover_async(types.HoverParams(
            text_document=document, position=_position(text, rule_name, offset))),
        "completion": lambda: client.text_document_completion_async(types.CompletionParams(
            text_document=document, position=_position(text, " -> ", offset))),
    }
    times.during = {name: [] for name in requests}
    times.idle = {name: [] for name in requests}
    for _ in range(10):  # the baseline: nothing running
        for name, ask in requests.items():
            start = time.perf_counter()
            await ask()
            times.idle[name].append(time.perf_counter() - start)
            await asyncio.sleep(PACE)
    # the requests' positions lie before the edited target, so they stay valid across versions
    version = 1
    for _ in range(rounds):
        version += 1
        target = "large" if target == "small" else "small"
        where_range = types.Range(start=types.Position(line=line, character=column),
                                  end=types.Position(line=line, character=column + 5))
        while not started.empty():
            started.get_nowait()
        cpu = _cpu(pid)
        start = time.perf_counter()
        client.text_document_did_change(types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[types.TextDocumentContentChangePartial(range=where_range, text=target)]))
        await publish_of(version)
        times.fast.append(time.perf_counter() - start)
        times.fast_cpu.append(_cpu(pid) - cpu)
        full = asyncio.ensure_future(publish_of(version))
        await asyncio.wait_for(started.get(), 60)
        while not full.done():
            for name, ask in requests.items():
                asked = time.perf_counter()
                await ask()
                if not full.done():
                    times.during[name].append(time.perf_counter() - asked)
                await asyncio.sleep(PACE)
        await full
        times.full.append(time.perf_counter() - start)
    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()
    return times


def _stats(values: list[float]) -> str:
    if not values:
        return "(none) | | "
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return f"{statistics.median(values) * 1000:.0f} ms | {p95 * 1000:.0f} ms | {len(values)}"


def write(section: list[str]) -> pathlib.Path:
    """Append (or replace) this benchmark's section at the end of RESULTS.md."""
    results = HERE / "RESULTS.md"
    text = results.read_text(encoding="utf-8") if results.exists() else "# Benchmark results\n"
    if TITLE in text:
        start = text.index(TITLE)
        following = text.find("\n## ", start + 1)
        text = text[:start] + (text[following + 1:] if following != -1 else "")
    results.write_text(text.rstrip() + "\n\n" + "\n".join(section) + "\n", encoding="utf-8")
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10, help="changes per shape and place (default 10)")
    parser.add_argument("--shapes", default=",".join(SHAPES), help=f"benchmarks/scale.py shapes (default {','.join(SHAPES)})")
    parser.add_argument("--in", dest="places", default="process,thread", help="where the analyses run (default both)")
    parser.add_argument("--write", action="store_true", help="append the results to benchmarks/RESULTS.md")
    args = parser.parse_args(argv)
    shapes = [s for s in args.shapes.split(",") if s]
    places = [p for p in args.places.split(",") if p]
    load = os.getloadavg()[0]
    runs: dict[tuple[str, str], Times] = {}
    for shape in shapes:
        for place in places:
            print(f"timing policyc lsp on {RULES:,} {shape} rules, analyses in a {place}, {args.rounds} rounds ...",
                  file=sys.stderr, flush=True)
            runs[shape, place] = asyncio.run(measure(shape, args.rounds, place))
    end_load = os.getloadavg()[0]
    section = [TITLE, "", f"Commit {git_revision()}. Machine: {machine()} "
               f"(`python -m benchmarks.lsp --rounds {args.rounds}`).", "",
               f"A {RULES:,}-rule policy of each shape (benchmarks/scale.py) open in `policyc lsp`; the target of its "
               "500th rule switched and switched back, timed from sending `didChange` to each publish for that "
               "version; meanwhile hover and completion asked one after another (50 ms apart) while the analyses ran "
               f"({args.rounds} changes per row; p95 over the changes; requests: median, p95 and how many).", "",
               "| shape | analyses in | syntax, names, types: median | p95 | server CPU (median) "
               "| with the analyses: median | p95 | analyses' CPU (median) |",
               "|---|---|---:|---:|---:|---:|---:|---:|"]
    for (shape, place), times in runs.items():
        fast, full = sorted(times.fast), sorted(times.full)
        section.append(f"| {shape} | a {place} | {statistics.median(fast) * 1000:.0f} ms "
                       f"| {fast[min(len(fast) - 1, int(len(fast) * 0.95))] * 1000:.0f} ms "
                       f"| {statistics.median(times.fast_cpu) * 1000:.0f} ms "
                       f"| {statistics.median(full):.2f} s | {full[min(len(full) - 1, int(len(full) * 0.95))]:.2f} s "
                       f"| {statistics.median(times.analyses_cpu or [float('nan')]):.2f} s |")
    section += ["", "| shape | analyses in | request | while the analyses run: median | p95 | n "
                "| nothing running: median | p95 | n |", "|---|---|---|---:|---:|---:|---:|---:|---:|"]
    for (shape, place), times in runs.items():
        for name in times.during:
            section.append(f"| {shape} | a {place} | {name} | {_stats(times.during[name])} | {_stats(times.idle[name])} |")
    section += ["", f"Load average {load:.2f} at the start, {end_load:.2f} at the end."]
    print("\n".join(section))
    if args.write:
        print(f"wrote {write(section)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
