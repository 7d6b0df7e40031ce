"""Seeded decision logs for `policyc report`'s tests and benchmark, made by a real
`runtime.Router` serving a seeded workload with a fake `call` (so every record has the
Router's exact shape), then, for the benchmark's million, repeated with fresh times and run ids.

    python -m benchmarks.report_logs OUT.jsonl [RECORDS] [--seed N]
"""

from __future__ import annotations

import json
import random
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from policylang import loads, runtime

DESK = """
policy desk

import "std/signals"

signal task: enum {classify, chat, code, legal}

model fast     { id = "acme/fast"     tier = 1 input_per_mtok = $0.15 output_per_mtok = $0.6 context = 128_000 max_output = 4_000 latency = 1s }
model frontier { id = "acme/frontier" tier = 3 input_per_mtok = $2.5  output_per_mtok = $10  context = 200_000 max_output = 8_000 latency = 3s }
model spare    { id = "other/spare"   tier = 1 input_per_mtok = $0.1  output_per_mtok = $0.4 context = 128_000 max_output = 4_000 latency = 1s }

cascade ladder {
  fast -> frontier when confidence < 0.7 or not valid
}

fallback fast -> spare on unavailable, rate_limited
fallback frontier -> fast on server_error

route {
  rule too_large when input_tokens > 100_000 -> reject "too large"
  rule legal     when task == legal          -> frontier
  rule code      when task == code           -> ladder with max_output = 2_000
  default -> ladder
}
"""

TASKS = ("classify", "chat", "code", "legal")
START = 1_796_688_000.0  # 2026-12-08T00:00:00Z


def desk_policy() -> Any:
    """The policy the generated logs come from."""
    return loads(DESK, "desk.route")


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def router_records(count: int, seed: int = 1, *, start: float = START, spacing: float = 7.0,
                   drift_after: int | None = None, policy: Any = None, shadow: Any = None,
                   extra: Callable[[dict[str, Any], random.Random], None] | None = None) -> list[dict[str, Any]]:
    """`count` end records from a Router serving a seeded workload, `spacing` seconds apart
    from `start`; after `drift_after` records, the fast model's confidence on `classify` drops
    (the simulated model update). `policy` may be a `runtime.Split`, `shadow` the Router's
    shadow policies; `extra(record, rng)` may add fields."""
    rng = random.Random(seed)
    clock = _Clock()
    state = {"now": start, "index": 0}
    out: list[dict[str, Any]] = []

    def call(model: runtime.Model, request: dict[str, Any], *, max_output: int) -> runtime.Answer:
        clock.now += rng.choice((0.2, 0.35, 0.5, 0.8, 1.3, 2.1)) * (3 if model.name == "frontier" else 1)
        roll = rng.random()
        if roll < 0.04:
            raise runtime.ProviderError("unavailable")
        if roll < 0.06:
            raise runtime.ProviderError("rate_limited")
        if roll < 0.07 and model.name == "frontier":
            raise runtime.ProviderError("server_error")
        return runtime.Answer(text=request["task"], input_tokens=request["tokens"],
                              output_tokens=rng.randint(10, max_output // 4))

    def assess(answer: runtime.Answer, signals: Any) -> dict[str, Any]:
        drifted = drift_after is not None and state["index"] >= drift_after and answer.text == "classify"
        confidence = round(rng.uniform(0.3, 0.8) if drifted else rng.uniform(0.55, 1.0), 2)
        return {"confidence": confidence, "valid": rng.random() < 0.9}

    options: dict[str, Any] = {"shadow": shadow} if shadow is not None else {}
    router = runtime.Router(policy or desk_policy(), call, assess=assess, log=out.append, clock=clock,
                            now=lambda: state["now"], sleep=lambda s: None, rng=random.Random(seed),
                            breaker=None, **options)
    for index in range(count):
        state["index"] = index
        state["now"] = start + index * spacing
        task = rng.choice(TASKS)
        tokens = int(10 ** rng.uniform(1.5, 5.1))
        signals: dict[str, Any] = {"task": task, "input_tokens": tokens}
        if rng.random() < 0.4:
            signals["user_tier"] = rng.choice(("free", "pro"))
        try:
            router.run(signals, {"task": task, "tokens": tokens})
        except (runtime.Rejected, runtime.Exhausted):
            pass
        if extra is not None:
            extra(out[-1], rng)
    for record in out:
        record.setdefault("run_id", f"{rng.getrandbits(64):016x}")
    return out


def repeated(base: list[dict[str, Any]], count: int, *, start: float = START, spacing: float = 0.5) -> Iterator[str]:
    """`count` JSON lines cycling through `base` with fresh times and run ids: the benchmark's log."""
    from datetime import datetime, timezone

    for index in range(count):
        record = dict(base[index % len(base)])
        moment = datetime.fromtimestamp(start + index * spacing, timezone.utc)
        record["time"] = moment.isoformat(timespec="microseconds").replace("+00:00", "Z")
        record["run_id"] = f"{index // len(base):06x}-{record.get('run_id')}"
        yield json.dumps(record)


def write(path: Path, records: list[dict[str, Any]]) -> Path:
    """The records as a JSON lines file."""
    with open(path, "w", encoding="utf-8") as stream:
        for record in records:
            stream.write(json.dumps(record) + "\n")
    return path


def main(argv: list[str]) -> int:
    out = Path(argv[0])
    count = int(argv[1]) if len(argv) > 1 else 10_000
    base = router_records(min(count, 20_000))
    with open(out, "w", encoding="utf-8") as stream:
        for line in repeated(base, count):
            stream.write(line + "\n")
    return 0



if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
