"""The client glue against a real OpenAI-compatible HTTP server on 127.0.0.1 (the standard
library's http.server, started in the test), through the official `openai` SDK and through
`litellm.completion`/`acompletion`: the server's failures become section 3.6's errors,
fallbacks are taken only for the declared error, retries wait as configured, the breaker opens
and closes, and costs come from the usage the server reports.

Needs the extras `openai` and `litellm` installed (`pip install -e '.[dev,openai,litellm]'`).
"""

from __future__ import annotations

import asyncio
import os
import random
import time

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no network at import

import pytest

import policylang
from policylang import runtime
from policylang.runtime.localserver import LocalServer
from runtime_support import SHOP, FakeClock, price

CHAT = {"task": "chat", "input_tokens": 100}
CODE = {"task": "code", "input_tokens": 100}
PROMPT = "Classify this ticket: my parcel never arrived."


@pytest.fixture(scope="module")
def shop():
    return policylang.loads(SHOP, "shop.route")


@pytest.fixture
def server():
    with LocalServer() as running:
        running.reply("acme/small", '{"label": "delivery", "confidence": 0.9}')
        running.reply("acme/big", '{"label": "delivery", "confidence": 0.95}')
        running.reply("acme/spare", '{"label": "delivery", "confidence": 0.8}')
        running.reply("acme/huge", '{"label": "delivery", "confidence": 0.99}')
        yield running


def client(kind, server, **options):
    if kind == "openai":
        return runtime.clients.openai(base_url=server.url, api_key="local", **options)
    import litellm  # 7 s to import: only the worker that runs the litellm group pays it

    litellm.suppress_debug_info = True
    return runtime.clients.litellm(model_prefix="openai/", api_base=server.url, api_key="local", **options)


def router(shop, call, clock=None, **options):
    clock = clock or FakeClock()
    options.setdefault("retry", None)
    options.setdefault("breaker", None)
    return runtime.Router(shop, call, assess=runtime.assess.outcomes(json=True), clock=clock, sleep=clock.sleep,
                          asleep=clock.asleep, rng=random.Random(3), **options)


def served_cost(server):
    """The cost of the calls the server answered, from the usage it reported."""
    names = {"acme/small": "small", "acme/big": "big", "acme/spare": "spare", "acme/huge": "huge"}
    return sum(price(names[c["model"]], c["usage"]["prompt_tokens"], c["usage"]["completion_tokens"])
               for c in server.calls if c["usage"] is not None)


# litellm takes ~7 s of CPU to import: its half of these tests is slow (.ci/run runs it)
KINDS = ["openai", pytest.param("litellm", marks=[pytest.mark.xdist_group("litellm"), pytest.mark.slow])]


@pytest.mark.parametrize("kind", KINDS)
def test_answers_climb_and_are_priced_from_the_servers_usage(kind, shop, server):
    server.reply("acme/small", '{"label": "delivery", "confidence": 0.4}')
    result = router(shop, client(kind, server)).run(CHAT, PROMPT)
    assert result.path == ("small", "big") and result.complete
    assert [(c["model"], c["max_tokens"]) for c in server.calls] == [("acme/small", 1500), ("acme/big", 1500)]
    assert result.cost == served_cost(server) > 0
    assert [a.input_tokens for a in result.attempts] == [c["usage"]["prompt_tokens"] for c in server.calls]
    assert result.answer.text == '{"label": "delivery", "confidence": 0.95}'


@pytest.mark.parametrize("kind", KINDS)
def test_429_waits_its_retry_after_then_takes_the_declared_fallback(kind, shop, server):
    clock = FakeClock()
    server.fail("acme/small", 429, times=2, retry_after=1.5)
    result = router(shop, client(kind, server), clock, retry=runtime.Retry(attempts=2, cap=8.0)).run(CHAT, PROMPT)
    assert clock.slept == [1.5]
    assert [(a.model, a.error) for a in result.attempts] == [("small", "rate_limited"), ("small", "rate_limited"),
                                                           ("spare", None)]
    assert [(c["model"], c["max_tokens"]) for c in server.calls] == [("acme/small", 1500), ("acme/small", 1500),
                                                                    ("acme/spare", 1000)]
    assert result.cost == served_cost(server)


@pytest.mark.parametrize("kind", KINDS)
def test_a_reset_connection_is_retried_like_the_sdk_does(kind, shop, server):
    # big has no fallback for unavailable: at 1 reset in 4 calls, the bare SDK (2 retries) serves
    # every request; the Router must too
    clock = FakeClock()
    routed = router(shop, client(kind, server), clock, retry=runtime.Retry(attempts=3, base=0.25, jitter=0),
                    breaker=runtime.Breaker())
    served = 0
    for index in range(12):
        if index % 4 == 0:
            server.reset("acme/big")
        result = routed.run(CODE, PROMPT)
        served += result.path == ("big",)
    assert served == 12
    assert sum(c["model"] == "acme/big" for c in server.calls) == 15  # 12 answers and 3 retried resets


@pytest.mark.parametrize("kind", KINDS)
def test_500_is_retried_but_has_no_fallback_declared_for_small(kind, shop, server):
    clock = FakeClock()
    server.fail("acme/small", 500, times=3)
    retry = runtime.Retry(attempts=3, base=0.25, jitter=0)
    with pytest.raises(runtime.Exhausted) as raised:
        router(shop, client(kind, server), clock, retry=retry).run(CHAT, PROMPT)
    assert clock.slept == [0.25, 0.5]
    assert [a.error for a in raised.value.attempts] == ["server_error"] * 3
    assert [c["model"] for c in server.calls] == ["acme/small"] * 3  # never the spare: not declared


@pytest.mark.parametrize("kind", KINDS)
def test_503_is_unavailable_and_big_falls_back_on_server_error_only(kind, shop, server):
    server.fail("acme/small", 503)
    assert router(shop, client(kind, server)).run(CHAT, PROMPT).path == ("spare",)
    server.fail("acme/big", 500)
    assert router(shop, client(kind, server)).run(CODE, PROMPT).path == ("huge",)
    server.fail("acme/big", 503)
    with pytest.raises(runtime.Exhausted):
        router(shop, client(kind, server)).run(CODE, PROMPT)
    server.fail("acme/small", 404)  # the model is gone: unavailable
    assert router(shop, client(kind, server)).run(CHAT, PROMPT).path == ("spare",)


@pytest.mark.parametrize("kind", KINDS)
def test_a_call_that_outlasts_the_timeout_is_a_timeout(kind, shop, server):
    """The call gives up at the 0.3 s timeout, long before the 3 s hang ends. The client is built
    before the clock starts: importing litellm takes seconds on a loaded machine."""
    server.hang("acme/small", 3.0)
    routed = router(shop, client(kind, server), timeout=0.3)
    started = time.monotonic()
    with pytest.raises(runtime.Exhausted) as raised:
        routed.run(CHAT, PROMPT)
    assert time.monotonic() - started < 2.5
    assert [(a.model, a.error) for a in raised.value.attempts] == [("small", "timeout")]


@pytest.mark.parametrize("kind", KINDS)
def test_truncated_output_climbs_and_is_charged_its_cap(kind, shop, server):
    server.truncate("acme/small")
    result = router(shop, client(kind, server)).run(CHAT, PROMPT)
    assert result.path == ("small", "big")
    assert result.attempts[0].outcomes == {"valid": False, "confidence": 0.0}
    assert result.attempts[0].output_tokens == 1500 and result.cost == served_cost(server)


@pytest.mark.parametrize("kind", KINDS)
def test_content_filtering_is_content_filtered(kind, shop, server):
    server.filter("acme/big")
    with pytest.raises(runtime.Exhausted) as raised:
        router(shop, client(kind, server)).run(CODE, PROMPT)
    assert [a.error for a in raised.value.attempts] == ["content_filtered"]
    server.fail("acme/big", 400, code="content_filter")
    with pytest.raises(runtime.Exhausted) as raised:
        router(shop, client(kind, server)).run(CODE, PROMPT)
    assert [a.error for a in raised.value.attempts] == ["content_filtered"]


@pytest.mark.parametrize("kind", KINDS)
def test_the_breaker_opens_and_closes_over_http(kind, shop, server):
    clock = FakeClock()
    server.fail("acme/small", 503, times=2)
    routed = router(shop, client(kind, server), clock, breaker=runtime.Breaker(failures=2, window=60, cooldown=10))
    assert [routed.run(CHAT, PROMPT).path for _ in range(3)] == [("spare",)] * 3
    assert len(server.calls_to("acme/small")) == 2  # the third run never called it: open
    clock.advance(10)
    assert routed.run(CHAT, PROMPT).path == ("small",)  # the probe answers: closed
    assert routed.run(CHAT, PROMPT).path == ("small",)
    assert len(server.calls_to("acme/small")) == 4


@pytest.mark.parametrize("kind", KINDS)
def test_arun_drives_the_async_client(kind, shop, server):
    server.fail("acme/small", 429)
    server.reply("acme/spare", '{"label": "delivery", "confidence": 0.2}')
    result = asyncio.run(router(shop, client(kind, server)).arun(CHAT, PROMPT))
    assert result.path == ("spare", "big")
    assert [c["model"] for c in server.calls] == ["acme/small", "acme/spare", "acme/big"]
    assert result.cost == served_cost(server)


def test_a_bad_request_is_re_raised_not_routed_around(shop, server):
    import openai

    server.fail("acme/big", 401)
    with pytest.raises(openai.AuthenticationError):
        router(shop, client("openai", server)).run(CODE, PROMPT)


def test_retry_after_headers():
    from policylang.runtime.clients import retry_after

    assert retry_after({"retry-after": "2"}) == 2.0
    assert retry_after({"retry-after-ms": "250"}) == 0.25
    assert retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0
    assert retry_after({"retry-after": "soon"}) is None and retry_after(None) is None
