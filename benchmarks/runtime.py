"""The runtime's overhead: `python -m benchmarks.runtime [--write] [--quick]`.

`Router.run` over a `call` that answers at once (a fixed `runtime.Answer` with its usage),
against deciding and calling that client directly, on the support desk's request mix (the
requests it rejects left out, since `run` raises for them): what the runtime adds to each
request (validation and the decision included in both). Variants: the default Router
(retries and breaker on), one with both off, one that writes every decision to a JSON-lines
log (a start and an end record per run), one with Prometheus metrics (when prometheus_client
is installed), `Router.stream` over a stream of 8 chunks, and a `Session` holding each call's
worst case.
`--write` appends the table to benchmarks/RESULTS.md as its own section (replacing an older
one of this benchmark).
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sys
import tempfile
from decimal import Decimal

import policylang
from policylang import runtime

from .harness import git_revision, machine, time_calls
from .run import SUPPORT_DESK, support_requests

HERE = pathlib.Path(__file__).resolve().parent
TITLE = "## The runtime's overhead (benchmarks/runtime.py)"


ANSWER = runtime.Answer("{}", "stop", 100, 20)


def noop(model, request, *, max_output):
    return ANSWER


class Chunks:
    """A call that answers at once, and streams 8 chunks and its usage."""

    PIECES = ["chunk "] * 8 + [runtime.Usage(100, 20)]

    def __call__(self, model, request, *, max_output):
        return ANSWER

    def stream(self, model, request, *, max_output):
        return iter(self.PIECES)


def streamed(router):
    def run(signals, request):
        for _ in router.stream(signals, request):
            pass
    return run


def metrics_router(policy):
    try:
        from policylang.runtime.metrics import Metrics
        from prometheus_client import CollectorRegistry
    except ImportError:
        return None
    return runtime.Router(policy, noop, metrics=Metrics(registry=CollectorRegistry(), otel=False))


def suite(quick: bool) -> list[str]:
    policy = policylang.load(str(SUPPORT_DESK))
    module = policy.compiled
    requests = [r for r in support_requests(500 if quick else 2_000) if module.decide(r).reject is None]
    folder = tempfile.mkdtemp()
    log = runtime.JsonlLog(os.path.join(folder, "decisions.jsonl"))
    models = runtime.Router(policy, noop).engine.models

    def direct(signals, request):
        decision = module.decide(signals)
        return noop(models[decision.model], request, max_output=decision.max_output)

    candidates = {
        "decide (compiled module, validating)": (module.decide, "f(r)"),
        "decide, then the client called directly": (direct, "f(r, None)"),
        "Policy.decide": (policy.decide, "f(r)"),
        "Router.run, no-op call (retries and breaker on)": (runtime.Router(policy, noop).run, "f(r, None)"),
        "Router.run, no-op call, retries and breaker off": (
            runtime.Router(policy, noop, retry=None, breaker=None).run, "f(r, None)"),
        "Router.run, no-op call, compiled module": (runtime.Router(module, noop).run, "f(r, None)"),
        "Router.run, no-op call, JsonlLog": (runtime.Router(policy, noop, log=log).run, "f(r, None)"),
        "Router.stream, 8 chunks, retries and breaker on": (streamed(runtime.Router(policy, Chunks())), "f(r, None)"),
        "Session.run, no-op call": (runtime.Session(runtime.Router(policy, noop), budget=Decimal(10**6)).run,
                                    "f(r, None)"),
    }
    measured = metrics_router(policy)
    if measured is not None:
        candidates["Router.run, no-op call, Prometheus metrics"] = (measured.run, "f(r, None)")
    results = time_calls(candidates, requests, rounds=9 if quick else 31)
    log.close()
    base = results["decide, then the client called directly"].ns_per_call
    lines = ["| what | ns per request (fastest round) | over deciding and calling directly | median round |",
             "|---|---:|---:|---:|"]
    for name, result in results.items():
        over = "" if result.ns_per_call <= base else f"{(result.ns_per_call - base) / 1000:+.2f} µs"
        lines.append(f"| {name} | {result.ns_per_call:,.0f} | {over} | {result.median:,.0f} |")
    worst = results["Router.run, no-op call (retries and breaker on)"].ns_per_call
    lines += ["", f"Router.run adds {(worst - base) / 1000:.2f} µs per request, one answered call, log off, to deciding "
              f"and calling the client directly, with the default options ({len(requests):,} requests the support "
              "desk serves; target: under 10 µs, against the 0.35-12 ms a gateway adds). The decision log's cost is "
              "building its two records, encoding them, and a write(2) under an flock for each; a Session's is its "
              "ledger's lock around each hold and settle. All are per run, not per token."]
    return lines


def write(section: list[str]) -> pathlib.Path:
    """Replace this benchmark's section of RESULTS.md where it stands (up to the next `## `
    heading; the sections after it stay), or append it at the end."""
    results = HERE / "RESULTS.md"
    text = results.read_text(encoding="utf-8") if results.exists() else "# Benchmark results\n"
    body = "\n".join(section) + "\n"
    if TITLE in text:
        start = text.index(TITLE)
        following = text.find("\n## ", start + len(TITLE))
        rest = text[following + 1:] if following >= 0 else ""
        text = text[:start] + body + ("\n" + rest if rest else "")
    else:
        text = text.rstrip() + "\n\n" + body
    results.write_text(text, encoding="utf-8")
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer requests and rounds")
    parser.add_argument("--write", action="store_true", help="append the results to benchmarks/RESULTS.md")
    args = parser.parse_args(argv)
    print("timing Router.run against decide ...", file=sys.stderr, flush=True)
    section = [TITLE, "", f"Commit {git_revision()}. Machine: {machine()}", "", *suite(args.quick)]
    print("\n".join(section))
    if args.write:
        print(f"wrote {write(section)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
