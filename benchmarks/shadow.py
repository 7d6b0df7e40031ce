"""What shadows and canaries cost a run: `python -m benchmarks.shadow [--write] [--quick]`.

`Router.run` of the support desk over a `call` that answers at once, side by side in one run:
with 0, 1 and 3 `shadow=` candidates (each a variant of the desk, deciding every request for
the log), and a `runtime.Split` of the desk and a twin against the plain desk. Shadows decide
only when the run is recorded, so every Router here has a log: a no-op `log` callable (what the
shadows add to building the record), and a `JsonlLog` (what they add once the record is encoded
and written too). Retries and the breaker are on, as by default. The figure per candidate is
(time with n candidates - time with none) / n.
`--write` records the table in benchmarks/RESULTS.md as its own section (replacing an older one).
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sys
import tempfile
from typing import Any

import policylang
from policylang import runtime
from policylang.runtime.split import decide_shadows, shadows

from .harness import git_revision, machine, time_calls
from .run import SUPPORT_DESK, support_requests

HERE = pathlib.Path(__file__).resolve().parent
TITLE = "## Shadows and canaries per run (benchmarks/shadow.py)"
ANSWER = runtime.Answer("{}", "stop", 100, 20)
GOAL_US = 5.0  # "at most a few µs per run per candidate"


def noop(model: Any, request: Any, *, max_output: int) -> runtime.Answer:
    return ANSWER


def discard(record: dict[str, Any]) -> None:
    """A log that keeps nothing: the run still builds its record (and decides its shadows)."""


def variants(source: str) -> list[policylang.Policy]:
    """Three candidates: the desk's default on another model, a renamed twin, a stricter cap."""
    return [policylang.loads(source.replace("policy support_desk", f"policy candidate_{n}")
                             .replace("  default -> mid", f"  default -> {model}"), f"candidate_{n}.route")
            for n, model in enumerate(["frontier", "mid", "fast"], start=1)]


def suite(quick: bool) -> list[str]:
    """The table, as Markdown lines."""
    source = SUPPORT_DESK.read_text(encoding="utf-8")
    desk = policylang.load(str(SUPPORT_DESK))
    candidates = variants(source)
    twin = policylang.loads(source.replace("policy support_desk", "policy desk_twin"), "desk_twin.route")
    requests = [r for r in support_requests(500 if quick else 2_000) if desk.compiled.decide(r).reject is None]
    folder = tempfile.mkdtemp()
    logs = [runtime.JsonlLog(os.path.join(folder, f"decisions{n}.jsonl")) for n in range(2)]
    split = runtime.Split({desk: 1, twin: 1}, key="task")
    rows = {
        "no-op log, no shadow": runtime.Router(desk, noop, log=discard),
        "no-op log, 1 shadow": runtime.Router(desk, noop, log=discard, shadow=candidates[:1]),
        "no-op log, 3 shadows": runtime.Router(desk, noop, log=discard, shadow=candidates),
        "JsonlLog, no shadow": runtime.Router(desk, noop, log=logs[0]),
        "JsonlLog, 3 shadows": runtime.Router(desk, noop, log=logs[1], shadow=candidates),
        "no-op log, Split of the desk and a twin (key task)": runtime.Router(split, noop, log=discard),
    }
    timed: dict[str, tuple[Any, str]] = {name: (router.run, "f(r, None)") for name, router in rows.items()}
    engines = shadows(candidates[:1])
    timed["the shadows' step alone: decide_shadows, 1 candidate"] = (lambda r: decide_shadows(engines, r), "f(r)")
    timed["Split.pick alone"] = (split.pick, "f(r)")
    results = time_calls(timed, requests, rounds=9 if quick else 31)
    for log in logs:
        log.close()
    ns = {name: result.ns_per_call for name, result in results.items()}
    base = ns["no-op log, no shadow"]
    lines = ["| Router.run, no-op call, retries and breaker on | ns per run (fastest round) | added | "
             "per candidate | median round |", "|---|---:|---:|---:|---:|"]
    per: dict[str, float] = {}
    for name, result in results.items():
        if name not in rows:
            lines.append(f"| {name} | {result.ns_per_call:,.0f} | | | {result.median:,.0f} |")
            continue
        reference = ns["JsonlLog, no shadow"] if name.startswith("JsonlLog") else base
        count = 3 if "3 shadows" in name else 1 if "1 shadow" in name else 0
        added = result.ns_per_call - reference
        each = f"{added / count / 1000:+.2f} µs" if count else ""
        if count:
            per[name] = added / count / 1000
        shown = f"{added / 1000:+.2f} µs" if name != "no-op log, no shadow" and "JsonlLog, no" not in name else ""
        lines.append(f"| {name} | {result.ns_per_call:,.0f} | {shown} | {each} | {result.median:,.0f} |")
    deciding, first = per["no-op log, 3 shadows"], per["no-op log, 1 shadow"]
    written = per["JsonlLog, 3 shadows"]
    split_added = (ns["no-op log, Split of the desk and a twin (key task)"] - base) / 1000
    alone = ns["the shadows' step alone: decide_shadows, 1 candidate"] / 1000
    lines += ["", f"A shadow candidate's own step (its compiled `decide`, validating, and its log entry) costs "
              f"{alone:.2f} µs measured alone; inside Router.run with a no-op log, three candidates add {deciding:.2f} µs "
              f"per run per candidate (goal: at most {GOAL_US:.0f} µs: {'met' if deciding <= GOAL_US else 'NOT met'}; "
              f"one candidate alone: {first:+.2f} µs), and with a JsonlLog, which also encodes and writes each "
              f"candidate's entry, {written:.2f} µs per candidate. A Split "
              f"adds {split_added:+.2f} µs per run over its plain policy (Split.pick: the SHA-256 of the key's "
              f"value). {len(requests):,} requests the support desk serves; the differences of two Router.run "
              "timings on a loaded 2-core machine are noisier than the steps timed alone. Shadows are paid only "
              "when the run is recorded (a log or metrics), after the live decision, and never change the answer."]
    return lines


def write(section: list[str]) -> pathlib.Path:
    """Replace this benchmark's section of RESULTS.md where it stands (up to the next `## `
    heading), or append it at the end."""
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
    """Time the table, print it, and with `--write` record it."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer requests and rounds")
    parser.add_argument("--write", action="store_true", help="record the results in benchmarks/RESULTS.md")
    args = parser.parse_args(argv)
    print("timing Router.run with shadows and a Split ...", file=sys.stderr, flush=True)
    section = [TITLE, "", f"Commit {git_revision()}. Machine: {machine()}", "", *suite(args.quick)]
    print("\n".join(section))
    if args.write:
        print(f"wrote {write(section)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
