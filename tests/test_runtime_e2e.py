"""The runtime end to end under provider faults (issue 24's table, shorter phases): an async
app calling `Router.arun` over the real `openai` SDK, the local OpenAI-compatible server behind
a fault-injecting proxy, all on 127.0.0.1, about 40 requests a second at concurrency 20 for
about a minute in all. The longer run, with the `breaker=None` rows, is
`python -m benchmarks.runtime_e2e` (its table is in benchmarks/RESULTS.md)."""

from __future__ import annotations

import asyncio
import sys

import pytest

from conftest import ROOT

pytest.importorskip("openai")
pytest.importorskip("httpx")

sys.path.insert(0, str(ROOT))  # the benchmarks package sits beside policylang

from benchmarks.runtime_e2e import Phase, Settings, table  # noqa: E402

pytestmark = pytest.mark.slow

SETTINGS = Settings(seconds=8, rate=40, concurrency=20, down_before=3, down_for=6, down_after=6, reset_seconds=8,
                    breaker_off=False)


@pytest.fixture(scope="module")
def phases() -> dict[str, Phase]:
    return {phase.name: phase for phase in asyncio.run(table(SETTINGS))}


def test_every_phase_ran_its_requests(phases: dict[str, Phase]) -> None:
    assert len(phases) == 5
    for phase in phases.values():
        assert phase.total >= int(SETTINGS.rate * SETTINGS.seconds), phase.name


def test_one_percent_server_errors_serve_at_least_999_per_mille(phases: dict[str, Phase]) -> None:
    phase = phases["1% HTTP 500"]
    assert phase.served >= 0.999 * phase.total, (phase.served, phase.total)
    assert phase.chosen >= 0.99 * phase.total, (phase.chosen, phase.total)
    assert phase.injected["server_error"] >= 1  # the faults were there


def test_ten_percent_429_with_retry_after_serve_at_least_995_per_mille(phases: dict[str, Phase]) -> None:
    phase = phases["10% HTTP 429 with `Retry-After: 1`"]
    assert phase.served >= 0.995 * phase.total, (phase.served, phase.total)
    assert phase.injected["rate_limited"] >= 0.05 * phase.total  # the faults were there


def test_the_app_is_back_within_seconds_of_the_upstream(phases: dict[str, Phase]) -> None:
    phase = next(p for p in phases.values() if p.down is not None)
    down, up = phase.down or (0.0, 0.0)
    assert up - down >= SETTINGS.down_for
    assert phase.served < phase.total  # the outage was real: requests during it failed
    assert phase.back_after() <= 3.0, phase.back_after()
    after = [o for o in phase.outcomes if o.start >= up + 3.0]
    assert after and all(o.served for o in after)


def test_connection_resets_serve_no_fewer_than_the_bare_sdk(phases: dict[str, Phase]) -> None:
    router = phases["5% connection resets, Router (no fallback)"]
    bare = phases["5% connection resets, bare SDK"]
    assert router.total == bare.total
    assert router.injected["reset"] >= 0.02 * router.total and bare.injected["reset"] >= 0.02 * bare.total
    assert router.served >= bare.served, (router.served, bare.served)
    assert router.served >= 0.999 * router.total
