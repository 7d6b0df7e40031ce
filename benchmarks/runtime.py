"""The runtime's overhead: `python -m benchmarks.runtime [--write] [--quick]`.

`Router.run` over a `call` that does nothing, against `decide` alone, on the support desk's
request mix (the requests it rejects left out, since `run` raises for them): what the runtime
adds to each request before any provider is called (validation and the decision included in
both). Variants: the default Router (retries and breaker on), one with both off, one that
writes every decision to a JSON-lines log, and a `Session` holding each call's worst case.
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


def noop(model, request, *, max_output):
    return None


def suite(quick: bool) -> list[str]:
    policy = policylang.load(str(SUPPORT_DESK))
    module = policy.compiled
    requests = [r for r in support_requests(500 if quick else 2_000) if module.decide(r).reject is None]
    folder = tempfile.mkdtemp()
    log = runtime.JsonlLog(os.path.join(folder, "decisions.jsonl"))
    candidates = {
        "decide (compiled module, validating)": (module.decide, "f(r)"),
        "Policy.decide": (policy.decide, "f(r)"),
        "Router.run, no-op call (retries and breaker on)": (runtime.Router(policy, noop).run, "f(r, None)"),
        "Router.run, no-op call, retries and breaker off": (
            runtime.Router(policy, noop, retry=None, breaker=None).run, "f(r, None)"),
        "Router.run, no-op call, compiled module": (runtime.Router(module, noop).run, "f(r, None)"),
        "Router.run, no-op call, JsonlLog": (runtime.Router(policy, noop, log=log).run, "f(r, None)"),
        "Session.run, no-op call": (runtime.Session(runtime.Router(policy, noop), budget=Decimal(10**6)).run,
                                    "f(r, None)"),
    }
    results = time_calls(candidates, requests, rounds=9 if quick else 31)
    log.close()
    base = results["decide (compiled module, validating)"].ns_per_call
    lines = ["| what | ns per request (fastest round) | over decide | median round |", "|---|---:|---:|---:|"]
    for name, result in results.items():
        over = "" if result.ns_per_call == base else f"{(result.ns_per_call - base) / 1000:+.2f} µs"
        lines.append(f"| {name} | {result.ns_per_call:,.0f} | {over} | {result.median:,.0f} |")
    worst = max(r.ns_per_call for n, r in results.items() if n.startswith("Router.run, no-op call ("))
    lines += ["", f"Router.run adds {(worst - base) / 1000:.2f} µs per request to decide with the default options "
              f"({len(requests):,} requests the support desk serves; target: under 10 µs, against the 0.35-12 ms "
              "a gateway adds). The decision log's cost is building its record, encoding it, and one write(2) under an flock per "
              "run; a Session's is its lock around each hold and settle. Both are per run, not per token."]
    return lines


def write(section: list[str]) -> pathlib.Path:
    """Append (or replace) this benchmark's section at the end of RESULTS.md."""
    results = HERE / "RESULTS.md"
    text = results.read_text(encoding="utf-8") if results.exists() else "# Benchmark results\n"
    if TITLE in text:
        text = text[: text.index(TITLE)]
    results.write_text(text.rstrip() + "\n\n" + "\n".join(section) + "\n", encoding="utf-8")
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
