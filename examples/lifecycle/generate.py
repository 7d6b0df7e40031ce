"""Two weeks of decision logs for the lifecycle example, written by a real `runtime.Router`.

    python examples/lifecycle/generate.py [FOLDER]      # writes FOLDER/before.jsonl, after.jsonl

The live policy is desk.route; desk_next.route runs beside it in shadow (`shadow=[...]`), so
each record also says what the candidate would have decided. The providers are a seeded fake
`call` (no network): each answer's confidence and validity are drawn per request. Week one
(`before.jsonl`, from 2026-11-02) is normal. On 2026-11-09 the provider updates DeepSeek V4 Pro:
from then on (`after.jsonl`) its confidence drops for summaries only, so they climb to GPT-5.5
far more often, and cost more. Same seed, same logs, on every machine.
"""

from __future__ import annotations

import random
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import policylang
from policylang import runtime

HERE = Path(__file__).resolve().parent
RUNS = 2_000  # per week
TASKS = ["classify", "extract", "summarize", "draft"]
WEIGHTS = [35, 25, 25, 15]
WEEKS = {"before.jsonl": datetime(2026, 11, 2, tzinfo=timezone.utc),
         "after.jsonl": datetime(2026, 11, 9, tzinfo=timezone.utc)}


def confidence(draw: random.Random, model: str, task: str, updated: bool) -> float:
    """The answer's confidence: GPT-5.5 is sure; DeepSeek V4 Pro mostly, until its update,
    after which its summaries are unsure."""
    if model == "frontier":
        return round(draw.uniform(0.8, 1.0), 2)
    if updated and task == "summarize":
        return round(draw.uniform(0.3, 0.8), 2)
    return round(draw.uniform(0.55, 1.0), 2)


def call(model: Any, request: dict[str, Any], *, max_output: int) -> runtime.Answer:
    """The fake provider: the tokens and the outcomes this request's draw says."""
    draw, task = request["draw"], request["task"]
    outcomes = {"confidence": confidence(draw, model.name, task, request["updated"]), "valid": draw.random() < 0.97}
    return runtime.Answer("...", "stop", request["input_tokens"], min(max_output, draw.randint(80, 600)),
                          raw=outcomes)


def week(live: policylang.Policy, candidate: policylang.Policy, path: Path, start: datetime, seed: int) -> None:
    """RUNS requests over the week from `start`, served by a Router that logs to `path`."""
    draw = random.Random(seed)
    moments = sorted(start.timestamp() + draw.uniform(0, 7 * 86_400) for _ in range(RUNS))
    clock = iter(moments)
    now = [moments[0]]

    def tick() -> float:
        return now[0]

    log = runtime.JsonlLog(path)
    router = runtime.Router(live, call, assess=lambda answer, signals: answer.raw, log=log, retry=None, breaker=None,
                            shadow=[candidate], now=tick, rng=random.Random(seed))
    updated = path.name == "after.jsonl"
    for _ in range(RUNS):
        now[0] = next(clock)
        task = draw.choices(TASKS, WEIGHTS)[0]
        tokens = draw.choice([draw.randint(200, 1_800), draw.randint(200, 6_000), draw.randint(200, 120_000)])
        signals = {"task": task, "input_tokens": tokens}
        try:
            router.run(signals, {"draw": draw, "task": task, "input_tokens": tokens, "updated": updated})
        except runtime.Rejected:
            pass
    log.close()


def main(folder: str = ".") -> int:
    """Write both weeks' logs into `folder`."""
    live = policylang.load(str(HERE / "desk.route"))
    candidate = policylang.load(str(HERE / "desk_next.route"))
    out = Path(folder)
    for seed, (name, start) in enumerate(WEEKS.items(), start=1):
        (out / name).unlink(missing_ok=True)
        week(live, candidate, out / name, start, seed)
    print(f"wrote {out / 'before.jsonl'} and {out / 'after.jsonl'}: {RUNS:,} runs each, desk_next in shadow")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:2]))
