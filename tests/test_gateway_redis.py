"""Two `policyc serve` processes sharing one real Redis (13.2): one key's budget is spent exactly
once across both, and its request rate is counted across both."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from policylang.gateway.keys import digest
from policylang.gateway.mock import MockUpstream
from test_gateway_support import TOKEN, Serve, free_port, write_config

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("gateway")]

BUDGET = Decimal("0.0030")


@pytest.fixture()
def redis_url(tmp_path: Path) -> Iterator[str]:
    binary = shutil.which("redis-server")
    assert binary, "redis-server is not installed: tools/dev-setup installs it (Debian package redis-server)"
    port = free_port()
    process = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                                "--dir", str(tmp_path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import redis
    client = redis.Redis(port=port)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    process.terminate()
    process.wait(10)


def _ask(url: str, token: str) -> tuple[int, Decimal]:
    response = httpx.post(url + "/chat/completions", headers={"authorization": f"Bearer {token}", "x-task": "chat"},
                          json={"model": "desk", "messages": [{"role": "user", "content": "hello"}]}, timeout=30)
    return response.status_code, Decimal(response.headers.get("x-policylang-cost", "0"))


def test_two_processes_spend_one_budget_exactly(tmp_path: Path, redis_url: str) -> None:
    keys = f"""
[[keys]]
sha256 = "{digest(TOKEN)}"
budget = "${BUDGET}"

[[keys]]
sha256 = "{digest('sk-rate')}"
rpm = 10

[state]
redis = "{redis_url}"
"""
    with MockUpstream() as upstream:
        config = write_config(tmp_path, upstream.url, keys=keys)
        with Serve(config) as one, Serve(config) as two:
            with ThreadPoolExecutor(8) as pool:
                results = list(pool.map(lambda i: _ask((one, two)[i % 2].url, TOKEN), range(200)))
            answered = [cost for status, cost in results if status == 200]
            refused = [status for status, _ in results if status != 200]
            assert answered and refused and set(refused) == {429}
            spent = sum(answered, Decimal(0))
            # the shared ledger holds exactly what the answers cost, nothing held, never over the budget
            from policylang.runtime import RedisState
            state = RedisState(redis_url)
            try:
                ledger_spent, held = state.ledger(f"gateway:{digest(TOKEN)}", BUDGET).totals()
            finally:
                state.close()
            assert ledger_spent == spent and held == 0
            assert spent <= BUDGET
            # each process alone would have let the whole budget through: together they stopped once
            per_call = max(answered)
            assert spent > BUDGET - Decimal("0.0011") - per_call  # the last refusals: a worst case did not fit

            if time.time() % 60 > 50:  # keep the rate's one-minute window whole
                time.sleep(61 - time.time() % 60)
            with ThreadPoolExecutor(4) as pool:
                statuses = list(pool.map(lambda i: _ask((one, two)[i % 2].url, "sk-rate")[0], range(14)))
            assert statuses.count(200) == 10 and statuses.count(429) == 4
