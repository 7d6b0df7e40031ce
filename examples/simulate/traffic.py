"""A month of seeded traffic for monthly.route: JSON lines, one logged request per line.

    python examples/simulate/traffic.py month.jsonl [RECORDS]

317,460 records by default: at GPT-5.5's prices ($5 / $30 per million tokens) and about 300
input and 1,000 output tokens per request, sending all of them to GPT-5.5 costs about $10,000.
70% of the requests are routine (classify, extract, summarize, translate); 5% of summaries
come back invalid and climb. Standard library only; the same seed gives the same file.
"""

from __future__ import annotations

import json
import random
import sys

TASKS = [("classify", 30), ("extract", 20), ("summarize", 10), ("translate", 10), ("draft", 15), ("code", 10),
         ("legal_review", 5)]


def main(path: str, count: int = 317_460, seed: int = 2026) -> None:
    rng = random.Random(seed)
    names = [t for t, _ in TASKS]
    weights = [w for _, w in TASKS]
    with open(path, "w", encoding="utf-8") as out:
        for _ in range(count):
            task = rng.choices(names, weights)[0]
            record = {"task": task, "input_tokens": rng.randint(100, 500), "@output_tokens": rng.randint(500, 1500)}
            if task == "summarize" and rng.random() < 0.05:
                record["@outcomes"] = [{"valid": False}]
            out.write(json.dumps(record) + "\n")


if __name__ == "__main__":
    main(sys.argv[1], *(int(a) for a in sys.argv[2:3]))
