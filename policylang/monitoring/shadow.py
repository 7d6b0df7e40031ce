"""A shadow candidate's estimated cost on the requests the live policy served (`--shadow
--candidate FILE`), by `simulate`'s exact cost model.

The records that logged a decision of the candidate are written as a traffic file (section
9.3): each record's signals, the outcomes of each answered step as `@outcomes`, and the first
answered call's output tokens as `@output_tokens`; `simulate` replays it through the candidate.
The estimate is what the candidate would have cost had its models answered as the live ones
did: an outcome the live path never observed (a step the live run did not reach) is unknown to
it, so the candidate does not climb there.
"""

from __future__ import annotations

import json
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any

from ..policy import Policy
from ..money import money_text
from .reading import Problem, Run, classify, records
from .tally import Options


def _traffic_line(record: dict[str, Any]) -> str:
    signals = {k: v for k, v in record["signals"].items() if v is not None}
    steps: dict[int, Any] = {}
    output = None
    for attempt in record["attempts"]:
        if attempt.get("error") is None and attempt.get("skipped") is None:
            steps.setdefault(attempt["step"], attempt.get("outcomes") or {})
            if output is None:
                output = attempt.get("gen_ai.usage.output_tokens")
    line: dict[str, Any] = dict(signals)
    if steps:
        line["@outcomes"] = [steps.get(i, {}) for i in range(max(steps) + 1)]
    if isinstance(output, int) and output >= 0:
        line["@output_tokens"] = output
    return json.dumps(line)


def candidate_cost(files: list[Path], candidate: Policy, options: Options) -> dict[str, Any]:
    """The candidate's requests, its estimated total cost (simulate, python engine) and the live
    policy's logged cost on the same requests."""
    from ..simulation import SimulationError, simulate

    name = candidate.name
    live = Decimal(0)
    count = 0
    with tempfile.TemporaryDirectory() as folder:
        traffic = Path(folder) / "shadow.jsonl"
        with open(traffic, "w", encoding="utf-8") as stream:
            for path in files:
                for _number, item in records(path):
                    if isinstance(item, Problem):
                        continue
                    run = classify(item)
                    if not isinstance(run, Run) or not _kept(run, options):
                        continue
                    if any(policy == name for policy, _rule in run.shadow):
                        stream.write(_traffic_line(item) + "\n")
                        live += run.cost
                        count += 1
        if not count:
            return {"candidate": name, "requests": 0, "estimated_cost": "0", "live_cost": "0"}
        try:
            result = simulate(candidate, traffic, engine="python")
        except SimulationError as exc:
            return {"candidate": name, "requests": count, "estimated_cost": None, "live_cost": money_text(live),
                    "why": str(exc)}
    data = result.as_dict()
    return {"candidate": name, "requests": count, "estimated_cost": data["cost"]["total"], "live_cost": money_text(live),
            "not_replayed": sum(e["count"] for e in data["errors"].values()),
            "model": "simulate's cost model: tokens from the log, output counted at each call's cap when not logged"}


def _kept(run: Run, options: Options) -> bool:
    if options.since is not None and run.time < options.since:
        return False
    if options.until is not None and run.time >= options.until:
        return False
    return options.policy is None or run.policy == options.policy
