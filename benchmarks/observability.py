"""What the decision log and the metrics cost: `python -m benchmarks.observability [--write] [--quick]`.

Side by side in one run, on the support desk's request mix (the requests it rejects left out):
`Router.run` over a `call` that answers at once, without a log or metrics, then with a
`JsonlLog` (checking for rotation at most every millisecond, before each write, and never),
with `runtime.metrics.Metrics` (with and without the OpenTelemetry instruments, the global
provider unset), and with both.
Then `simulate` (both engines) on a decision log of those runs against the same requests as a
plain traffic file: what reading a log as traffic adds (its line-for-line translation).
`--write` puts the tables in benchmarks/RESULTS.md as their own section, replacing an older one
of this benchmark and nothing else.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys
import tempfile

import policylang
from policylang import runtime
from policylang.simulation import simulate

from .harness import git_revision, machine, time_calls, time_once
from .run import SUPPORT_DESK, support_requests

HERE = pathlib.Path(__file__).resolve().parent
TITLE = "## The decision log and the metrics (benchmarks/observability.py)"


def answer(model, request, *, max_output):
    return runtime.Answer('{"confidence": 0.9}', "stop", 500, min(300, max_output))


def per_run(policy, requests, folder: str, quick: bool) -> list[str]:
    from prometheus_client import CollectorRegistry

    from policylang.runtime.metrics import Metrics

    def router(**options):
        return runtime.Router(policy, answer, retry=None, breaker=None, **options).run

    watched = runtime.JsonlLog(os.path.join(folder, "watched.jsonl"))
    every = runtime.JsonlLog(os.path.join(folder, "every.jsonl"), watch_every=0)
    unwatched = runtime.JsonlLog(os.path.join(folder, "unwatched.jsonl"), watch=False)
    both = runtime.JsonlLog(os.path.join(folder, "both.jsonl"))
    candidates = {
        "Router.run, no log, no metrics": (router(), "f(r, None)"),
        "JsonlLog (rotation checked at most every ms, the default)": (router(log=watched), "f(r, None)"),
        "JsonlLog(watch_every=0) (rotation checked at each write)": (router(log=every), "f(r, None)"),
        "JsonlLog(watch=False)": (router(log=unwatched), "f(r, None)"),
        "Metrics(otel=False)": (router(metrics=Metrics(CollectorRegistry(), otel=False)), "f(r, None)"),
        "Metrics() (OTel instruments, no provider set)": (router(metrics=Metrics(CollectorRegistry())), "f(r, None)"),
        "JsonlLog and Metrics(otel=False)": (router(log=both, metrics=Metrics(CollectorRegistry(), otel=False)),
                                             "f(r, None)"),
    }
    results = time_calls(candidates, requests, rounds=7 if quick else 21)
    for log in (watched, every, unwatched, both):
        log.close()
    base = results["Router.run, no log, no metrics"].ns_per_call
    lines = ["| Router.run with | µs per run (fastest round) | added | median round |", "|---|---:|---:|---:|"]
    for name, result in results.items():
        added = "" if result.ns_per_call == base else f"{(result.ns_per_call - base) / 1000:+.2f} µs"
        lines.append(f"| {name} | {result.ns_per_call / 1000:,.2f} | {added} | {result.median / 1000:,.2f} |")
    return lines


def replay(policy, requests, folder: str, quick: bool) -> list[str]:
    log_path = os.path.join(folder, "decisions.jsonl")
    with runtime.JsonlLog(log_path) as log:
        run = runtime.Router(policy, answer, retry=None, breaker=None, log=log).run
        for request in requests:
            run(request, None)
    traffic = os.path.join(folder, "traffic.jsonl")
    with open(traffic, "w", encoding="utf-8") as out:  # the same requests as plain traffic
        for request in requests:
            out.write(json.dumps({**request, "@outcomes": [{"confidence": 0.9, "valid": True}],
                                  "@output_tokens": 300}) + "\n")
    lines = [f"{len(requests):,} runs; the log is {os.path.getsize(log_path) / 1e6:.1f} MB, the plain traffic "
             f"{os.path.getsize(traffic) / 1e6:.1f} MB.", "",
             "| simulate | plain traffic (s) | decision log (s) | log / plain |", "|---|---:|---:|---:|"]
    for engine in ("python", "duckdb"):
        plain = time_once(lambda: simulate(policy, traffic, engine=engine), repeat=3 if quick else 5)
        logged = time_once(lambda: simulate(policy, log_path, engine=engine), repeat=3 if quick else 5)
        lines.append(f"| {engine} | {plain:.3f} | {logged:.3f} | {logged / plain:.2f}x |")
    return lines


def suite(quick: bool) -> list[str]:
    policy = policylang.load(str(SUPPORT_DESK))
    module = policy.compiled
    requests = [r for r in support_requests(500 if quick else 2_000) if module.decide(r).reject is None]
    with tempfile.TemporaryDirectory() as folder:
        lines = per_run(policy, requests, folder, quick)
        lines += ["", *replay(policy, requests * (5 if quick else 50), folder, quick)]
    lines += ["", "A log's cost per run is encoding the record and one write(2) under an flock (plus one stat(2) "
              "when it checks for rotation); the metrics' cost is counting the end record (no work per call "
              "inside the run). Reading a log as traffic translates it line for line into a plain traffic file "
              "first (one JSON parse and one encode per line), then runs the engine as on any traffic file."]
    return lines


def write(section: list[str]) -> pathlib.Path:
    """Put this benchmark's section in RESULTS.md: in place of an older one (up to the next
    section), or at the end."""
    results = HERE / "RESULTS.md"
    text = results.read_text(encoding="utf-8") if results.exists() else "# Benchmark results\n"
    body = "\n".join(section) + "\n"
    if TITLE in text:
        start = text.index(TITLE)
        following = text.find("\n## ", start + len(TITLE))
        text = text[:start] + body + ("\n" + text[following + 1:] if following != -1 else "")
    else:
        text = text.rstrip() + "\n\n" + body
    results.write_text(text, encoding="utf-8")
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer requests and rounds")
    parser.add_argument("--write", action="store_true", help="put the results in benchmarks/RESULTS.md")
    args = parser.parse_args(argv)
    print("timing the decision log and the metrics ...", file=sys.stderr, flush=True)
    section = [TITLE, "", f"Commit {git_revision()}. Machine: {machine()}", "", *suite(args.quick)]
    print("\n".join(section))
    if args.write:
        print(f"wrote {write(section)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
