"""Load and faults through `policyc serve`: 20,000 requests at concurrency 64 while the upstream
fails 1% with 500 and 5% with 429 (Retry-After), one model is down, and the upstream is stopped
and restarted mid-run. Every request gets an answer or a well-formed error, the decision log has
one record per request, and the logged cost is the answers' usage at the policy's prices."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest

from policylang.gateway.mock import MockUpstream
from test_gateway_support import Serve, read_records, write_config

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("gateway")]

REQUESTS = 20_000
CONCURRENCY = 64
# $ per token, as DESK declares them: (input, output)
PRICES = {"mock/fast": (Decimal(1), Decimal(2)), "mock/spare": (Decimal("0.5"), Decimal(1)),
          "other/big": (Decimal(3), Decimal(15))}


async def _drive(url: str, restart: threading.Event, answers: list[tuple[int, dict[str, object]]]) -> None:
    import aiohttp
    counter = iter(range(REQUESTS))
    tasks = ("chat", "code", "legal")
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CONCURRENCY)) as session:
        async def worker() -> None:
            for index in counter:
                if index == REQUESTS // 3:
                    restart.set()
                body = {"model": "desk", "messages": [{"role": "user", "content": f"request {index} " + "x" * (index % 50)}]}
                async with session.post(url + "/chat/completions", json=body,
                                        headers={"x-task": tasks[index % 3]},
                                        timeout=aiohttp.ClientTimeout(total=60)) as response:
                    answers.append((response.status, json.loads(await response.read())))
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))


def test_twenty_thousand_requests_with_faults(tmp_path: Path) -> None:
    with MockUpstream(faults={"500": 0.01, "429": 0.05}, retry_after=0.01, down={"spare"}) as upstream:
        config = write_config(tmp_path, upstream.url, extra="[router]\nretries = 1\n")
        restart = threading.Event()

        def bounce() -> None:  # the upstream stopped and restarted mid-run
            restart.wait()
            upstream.stop()
            time.sleep(0.5)
            upstream.start()
        bouncer = threading.Thread(target=bounce, daemon=True)
        bouncer.start()
        with Serve(config) as server:
            answers: list[tuple[int, dict[str, object]]] = []
            started = time.monotonic()
            asyncio.run(_drive(server.url, restart, answers))
            elapsed = time.monotonic() - started
            bouncer.join(10)
            time.sleep(0.5)
        assert len(answers) == REQUESTS
        statuses = Counter(status for status, _ in answers)
        cost = Decimal(0)
        for status, body in answers:
            if status == 200:
                usage = body["usage"]
                assert isinstance(usage, dict)
                per_input, per_output = PRICES[str(body["model"])]
                cost += (usage["prompt_tokens"] * per_input + usage["completion_tokens"] * per_output) / 1_000_000
            else:
                assert status == 502, (status, body)  # no model could serve: the restart's gap
                error = body["error"]
                assert isinstance(error, dict) and set(error) == {"message", "type", "param", "code"}
        assert statuses[200] > REQUESTS * 0.9, statuses
        records = read_records(tmp_path / "decisions.jsonl")
        assert len(records) == REQUESTS
        assert Counter(r["end"] for r in records)["answered"] == statuses[200]
        assert sum(Decimal(r["cost"]) for r in records) == cost
        assert upstream.statuses[503] > 0 and upstream.statuses[429] > 0 and upstream.statuses[500] > 0
        print(f"\n{REQUESTS} requests in {elapsed:.1f} s ({REQUESTS / elapsed:.0f}/s): {dict(statuses)}; "
              f"upstream statuses {dict(upstream.statuses)}")
