"""Streaming runs (section 13.1) through the real `openai` SDK over HTTP against the local
OpenAI-compatible server on 127.0.0.1, sync and async: live steps hand text out as it arrives,
a step that may climb is read whole and replayed if it stays, errors before the first chunk
retry and fall back as `run` does, an error after it ends the stream with StreamInterrupted,
an abandoned stream closes the provider's stream, and every run leaves its record."""

from __future__ import annotations

import asyncio
import json
import os
import time
from decimal import Decimal

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no network at import

import pytest
from hypothesis import given, settings, strategies as st

import policylang
from policylang import runtime
from policylang.runtime.localserver import LocalServer
from runtime_support import SHOP, price

pytest.importorskip("openai")

CHAT = {"task": "chat", "input_tokens": 100}
CODE = {"task": "code", "input_tokens": 100}
PROMPT = "Classify this ticket: my parcel never arrived."
BIG = '{"label": "delivery", "confidence": 0.95, "note": "a longer answer, so that it comes in several chunks"}'
HUGE = '{"label": "delivery", "confidence": 0.99, "note": "the largest model answers at length too"}'


@pytest.fixture(scope="module")
def shop():
    return policylang.loads(SHOP, "shop.route")


@pytest.fixture
def server():
    with LocalServer() as running:
        running.reply("acme/small", '{"label": "delivery", "confidence": 0.9}')
        running.reply("acme/big", BIG)
        running.reply("acme/spare", '{"label": "delivery", "confidence": 0.8}')
        running.reply("acme/huge", HUGE)
        yield running


def make(shop, server, tmp_path, **options):
    options.setdefault("retry", None)
    options.setdefault("breaker", None)
    options.setdefault("assess", runtime.assess.outcomes(json=True))
    log = runtime.JsonlLog(tmp_path / "decisions.jsonl")
    call = runtime.clients.openai(base_url=server.url, api_key="local", timeout=10)
    return runtime.Router(shop, call, log=log, **options), log


def ends(tmp_path):
    lines = (tmp_path / "decisions.jsonl").read_text(encoding="utf-8").splitlines()
    return [r for r in map(json.loads, lines) if r["event"] == "end"]


def usage_of(server, model):
    return server.calls_to(model)[-1]["usage"]


# ---- sync -----------------------------------------------------------------------------------

def test_a_live_step_hands_text_out_as_it_arrives(shop, server, tmp_path):
    router, log = make(shop, server, tmp_path)
    stream = router.stream(CODE, PROMPT)
    assert stream.decision is None  # nothing is decided before the first next
    chunks = [next(stream)]
    assert stream.decision.rule == "default"
    chunks += list(stream)
    log.close()
    assert len(chunks) > 3 and "".join(chunks) == BIG
    result = stream.result
    assert result.path == ("big",) and result.complete
    usage = usage_of(server, "acme/big")
    assert result.cost == price("big", usage["prompt_tokens"], usage["completion_tokens"])
    attempt = result.attempts[0]
    assert attempt.ttft is not None and 0 <= attempt.ttft <= attempt.seconds and not attempt.usage_missing
    assert server.calls_to("acme/big")[-1]["stream"] is True
    [record] = ends(tmp_path)
    assert record["end"] == "answered" and record["stream"] is True and record["attempts"][0]["ttft"] is not None


def test_a_step_that_may_climb_is_read_whole_and_replayed_when_it_stays(shop, server, tmp_path):
    router, _ = make(shop, server, tmp_path)
    stream = router.stream(CHAT, PROMPT)
    assert "".join(stream) == '{"label": "delivery", "confidence": 0.9}'
    assert stream.result.path == ("small",) and stream.result.attempts[0].outcomes["confidence"] == 0.9


def test_a_climb_streams_only_the_step_that_stays(shop, server, tmp_path):
    server.reply("acme/small", '{"label": "delivery", "confidence": 0.3}')
    router, _ = make(shop, server, tmp_path)
    stream = router.stream(CHAT, PROMPT)
    assert "".join(stream) == BIG  # small's answer was judged, never handed out
    assert stream.result.path == ("small", "big")
    assert [a.ttft is not None for a in stream.result.attempts] == [True, True]


def test_errors_before_the_first_chunk_retry_and_fall_back_as_run_does(shop, server, tmp_path):
    server.fail("acme/big", 500)  # server_error: retried once, then big -> huge
    server.fail("acme/big", 500)
    router, log = make(shop, server, tmp_path, retry=runtime.Retry(attempts=2, base=0, jitter=0))
    stream = router.stream(CODE, PROMPT)
    assert "".join(stream) == HUGE
    assert [(a.model, a.error) for a in stream.result.attempts] == [("big", "server_error"), ("big", "server_error"),
                                                                    ("huge", None)]
    server.streaming("acme/big", cut_after=0)  # the connection is cut before any chunk: transient, retried
    stream = router.stream(CODE, PROMPT)
    assert "".join(stream) == BIG
    assert [(a.model, a.error) for a in stream.result.attempts] == [("big", "unavailable"), ("big", None)]
    server.streaming("acme/big", malformed_at=1)  # a chunk that is no JSON before any text: server_error
    server.streaming("acme/big", malformed_at=1)
    stream = router.stream(CODE, PROMPT)
    assert "".join(stream) == HUGE and stream.result.path == ("huge",)
    log.close()
    assert [r["end"] for r in ends(tmp_path)] == ["answered"] * 3


def test_a_slow_first_token_times_out_and_is_retried(shop, server, tmp_path):
    server.streaming("acme/big", first_delay=3.0)  # far past the 0.4 s timeout: a loaded machine keeps the margin
    router, _ = make(shop, server, tmp_path, retry=runtime.Retry(attempts=2, base=0, jitter=0), ttft_timeout=0.4)
    started = time.monotonic()
    stream = router.stream(CODE, PROMPT)
    assert "".join(stream) == BIG
    assert time.monotonic() - started < 2.5
    assert [(a.model, a.error) for a in stream.result.attempts] == [("big", "timeout"), ("big", None)]


def test_an_error_after_the_first_chunk_interrupts_and_never_switches_model(shop, server, tmp_path):
    server.streaming("acme/big", cut_after=3)  # the role chunk and two pieces of text
    router, log = make(shop, server, tmp_path, retry=runtime.Retry(attempts=3, base=0, jitter=0))
    stream = router.stream(CODE, PROMPT)
    handed = []
    with pytest.raises(runtime.StreamInterrupted) as caught:
        for chunk in stream:
            handed.append(chunk)
    log.close()
    assert caught.value.partial == "".join(handed) == BIG[:16]
    last = caught.value.attempts[-1]
    assert (last.model, last.error, last.cut, last.usage_missing) == ("big", "unavailable", "interrupted", True)
    assert last.cost == price("big", 100, 8000)  # no usage came: the worst case
    assert len(server.calls_to("acme/big")) == 1 and server.calls_to("acme/huge") == []
    assert stream.result is None
    [record] = ends(tmp_path)
    assert record["end"] == "interrupted" and record["attempts"][-1]["cut"] == "interrupted"
    assert Decimal(record["cost"]) == last.cost


def test_an_abandoned_stream_closes_the_providers_stream_and_is_logged(shop, server, tmp_path):
    server.reply("acme/big", BIG * 20)
    server.streaming("acme/big", pace=0.02)
    router, log = make(shop, server, tmp_path)
    with router.stream(CODE, PROMPT) as stream:
        first = next(stream)
    assert first
    deadline = time.monotonic() + 5
    while not server.calls_to("acme/big")[-1].get("disconnected") and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.calls_to("acme/big")[-1].get("disconnected") is True  # the connection was closed, not left open
    log.close()
    [record] = ends(tmp_path)
    assert record["end"] == "abandoned" and record["attempts"][0]["cut"] == "abandoned"


def test_the_connection_goes_back_to_the_pool_after_each_stream(shop, server, tmp_path):
    router, _ = make(shop, server, tmp_path, retry=runtime.Retry(attempts=2, base=0, jitter=0))
    for _ in range(3):
        server.streaming("acme/big", cut_after=2)
        with pytest.raises(runtime.StreamInterrupted):
            list(router.stream(CODE, PROMPT))
        assert "".join(router.stream(CODE, PROMPT)) == BIG
    pool = router._call.client._client._transport._pool
    assert all(connection.is_idle() or connection.is_closed() for connection in pool.connections)


# ---- in process: usage missing, malformed items, Rejected --------------------------------------

class Streaming:
    """A `call` with `stream`: yields the scripted items of each model."""

    def __init__(self, items):
        self.items = items

    def __call__(self, model, request, *, max_output):
        raise AssertionError("run is not used here")

    def stream(self, model, request, *, max_output):
        yield from self.items[model.name]


def test_a_stream_without_usage_costs_its_worst_case_and_says_so(shop, tmp_path):
    log = runtime.JsonlLog(tmp_path / "decisions.jsonl")
    router = runtime.Router(shop, Streaming({"big": ["one ", "two"]}), log=log, retry=None, breaker=None)
    stream = router.stream(CODE, PROMPT)
    assert list(stream) == ["one ", "two"]
    log.close()
    attempt = stream.result.attempts[0]
    assert attempt.usage_missing and stream.result.cost == price("big", 100, 8000)
    assert ends(tmp_path)[0]["attempts"][0]["usage_missing"] is True


def test_a_malformed_item_before_the_first_chunk_is_a_server_error(shop):
    router = runtime.Router(shop, Streaming({"big": [42, "no"], "huge": ["yes", runtime.Usage(10, 1)]}), retry=None,
                            breaker=None)
    stream = router.stream(CODE, PROMPT)
    assert list(stream) == ["yes"]
    assert [(a.model, a.error) for a in stream.result.attempts] == [("big", "server_error"), ("huge", None)]
    assert stream.result.cost == price("huge", 10, 1)


def test_a_rejected_request_raises_from_the_first_next(shop):
    stream = runtime.Router(shop, Streaming({})).stream({"task": "code", "input_tokens": 95_000}, PROMPT)
    with pytest.raises(runtime.Rejected):
        next(stream)


def test_a_call_without_stream_is_refused(shop):
    with pytest.raises(TypeError, match="stream"):
        runtime.Router(shop, lambda model, request, *, max_output: None).stream(CODE, PROMPT)


def test_a_session_streams_against_its_budget(shop, server, tmp_path):
    router, _ = make(shop, server, tmp_path)
    session = runtime.Session(router, budget=Decimal(1))
    stream = session.stream(CODE, PROMPT)
    assert "".join(stream) == BIG
    assert session.spent == stream.result.cost and session.held == 0


# ---- async ----------------------------------------------------------------------------------

def test_astream_climbs_falls_back_and_interrupts(shop, server, tmp_path):
    server.reply("acme/small", '{"label": "delivery", "confidence": 0.3}')
    router, log = make(shop, server, tmp_path, retry=runtime.Retry(attempts=2, base=0, jitter=0), ttft_timeout=0.4)

    async def main():
        climbed = router.astream(CHAT, PROMPT)
        text = "".join([chunk async for chunk in climbed])
        server.fail("acme/big", 500, times=2)
        fell = router.astream(CODE, PROMPT)
        fallen = "".join([chunk async for chunk in fell])
        server.streaming("acme/big", first_delay=1.5)
        slow = router.astream(CODE, PROMPT)
        retried = "".join([chunk async for chunk in slow])
        server.streaming("acme/big", cut_after=2)
        handed = []
        with pytest.raises(runtime.StreamInterrupted) as caught:
            async for chunk in router.astream(CODE, PROMPT):
                handed.append(chunk)
        server.reply("acme/big", BIG * 20)
        server.streaming("acme/big", pace=0.02)
        async with router.astream(CODE, PROMPT) as abandoned:
            await abandoned.__anext__()
        return text, climbed.result, fallen, fell.result, retried, slow.result, handed, caught.value

    text, climbed, fallen, fell, retried, slow, handed, interrupted = asyncio.run(main())
    log.close()
    assert text == BIG and climbed.path == ("small", "big")
    assert fallen == HUGE and [(a.model, a.error) for a in fell.attempts] == [
        ("big", "server_error"), ("big", "server_error"), ("huge", None)]
    assert retried == BIG and [(a.model, a.error) for a in slow.attempts] == [("big", "timeout"), ("big", None)]
    assert interrupted.partial == "".join(handed) == BIG[:8] and interrupted.attempts[-1].cut == "interrupted"
    assert [r["end"] for r in ends(tmp_path)] == ["answered"] * 3 + ["interrupted", "abandoned"]
    deadline = time.monotonic() + 5
    while not server.calls_to("acme/big")[-1].get("disconnected") and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.calls_to("acme/big")[-1].get("disconnected") is True


@pytest.mark.slow  # litellm takes ~7 s of CPU to import
@pytest.mark.xdist_group("litellm")
def test_litellm_streams_too(shop, server, tmp_path):
    litellm = pytest.importorskip("litellm")
    assert litellm
    call = runtime.clients.litellm(model_prefix="openai/", api_base=server.url, api_key="local")
    router = runtime.Router(shop, call, retry=None, breaker=None)
    stream = router.stream(CODE, PROMPT)
    assert "".join(stream) == BIG and not stream.result.attempts[0].usage_missing

    async def main():
        astream = router.astream(CODE, PROMPT)
        return "".join([chunk async for chunk in astream]), astream.result

    text, result = asyncio.run(main())
    assert text == BIG and result.path == ("big",)


def test_run_refuses_a_request_that_asks_for_a_stream_before_calling(shop, server, tmp_path):
    router, log = make(shop, server, tmp_path)
    request = {"messages": [{"role": "user", "content": PROMPT}], "stream": True}
    with pytest.raises(TypeError, match="router.stream"):
        router.run(CODE, request)
    assert server.calls == []  # nothing billed, no connection opened
    assert "".join(router.stream(CODE, request)) == BIG  # the same request streams
    log.close()
    assert [r["end"] for r in ends(tmp_path)] == ["error", "answered"]


def test_a_streamed_run_has_its_spans_and_leaves_no_context_behind(shop):
    otel = pytest.importorskip("opentelemetry.sdk.trace")
    from opentelemetry import trace
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = otel.TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    router = runtime.Router(shop, Streaming({"big": ["one ", "two", runtime.Usage(10, 2)]}), retry=None, breaker=None,
                            tracer=runtime.otel.tracer(provider))
    assert "".join(router.stream(CODE, PROMPT)) == "one two"
    with router.stream(CODE, PROMPT) as abandoned:
        next(abandoned)
    names = [(s.name, s.attributes.get("policylang.end")) for s in exporter.get_finished_spans()]
    assert names == [("chat acme/big", None), ("route shop", "answered"), ("chat acme/big", None),
                     ("route shop", "abandoned")]
    assert not trace.get_current_span().get_span_context().is_valid


def test_a_cancelled_astream_is_logged_as_abandoned(shop, server, tmp_path):
    server.reply("acme/big", BIG * 20)
    server.streaming("acme/big", pace=0.05)
    router, log = make(shop, server, tmp_path)

    async def main():
        started = asyncio.Event()

        async def read():
            async for _ in router.astream(CODE, PROMPT):
                started.set()

        task = asyncio.ensure_future(read())
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    log.close()
    [record] = ends(tmp_path)
    assert record["end"] == "abandoned" and record["attempts"][0]["cut"] == "abandoned"


# ---- one core: run, arun, stream and astream make the same calls --------------------------------

class Both:
    """A call with __call__, acall, stream and astream over one script: each model's queue of
    errors (used up one per call, across the four ways of calling), then an answer."""

    def __init__(self, script, confidence):
        self.script = {model: list(errors) for model, errors in script.items()}
        self.confidence = confidence

    def _next(self, model):
        queue = self.script.get(model.name)
        if queue:
            raise runtime.ProviderError(queue.pop(0))
        return f'{{"confidence": {self.confidence.get(model.name, 0.9)}}}'

    def __call__(self, model, request, *, max_output):
        return runtime.Answer(self._next(model), None, 100, 20)

    async def acall(self, model, request, *, max_output):
        return self(model, request, max_output=max_output)

    def stream(self, model, request, *, max_output):
        text = self._next(model)
        yield from (text[i:i + 5] for i in range(0, len(text), 5))
        yield runtime.Usage(100, 20)

    async def astream(self, model, request, *, max_output):
        for item in self.stream(model, request, max_output=max_output):
            yield item


ERRORS = ["unavailable", "rate_limited", "server_error", "timeout"]


@settings(max_examples=60, deadline=None)
@given(task=st.sampled_from(["chat", "code", "legal"]),
       script=st.dictionaries(st.sampled_from(["small", "big", "spare", "huge"]),
                              st.lists(st.sampled_from(ERRORS), max_size=4), max_size=4),
       confidence=st.dictionaries(st.sampled_from(["small", "big"]), st.sampled_from([0.2, 0.6, 0.9]), max_size=2))
def test_run_arun_stream_and_astream_agree(shop, task, script, confidence):
    def routed(call):
        return runtime.Router(shop, call, assess=runtime.assess.outcomes(json=True),
                              retry=runtime.Retry(attempts=2, base=0, jitter=0), breaker=None, sleep=lambda s: None,
                              asleep=lambda s: asyncio.sleep(0))

    def seen(ended):
        if isinstance(ended, runtime.Result):
            return ("result", ended.path, ended.complete, ended.cost, ended.answer.text,
                    [(a.step, a.model, a.error, a.retry, a.max_output, a.cost) for a in ended.attempts])
        return (type(ended).__name__, [(a.step, a.model, a.error, a.retry) for a in ended.attempts])

    signals = {"task": task, "input_tokens": 100}

    def run():
        try:
            return routed(Both(script, confidence)).run(signals, PROMPT)
        except runtime.Exhausted as exc:
            return exc

    def stream():
        handed = routed(Both(script, confidence)).stream(signals, PROMPT)
        try:
            text = "".join(handed)
        except runtime.Exhausted as exc:
            return exc
        assert text == handed.result.answer.text
        return handed.result

    async def arun():
        try:
            return await routed(Both(script, confidence)).arun(signals, PROMPT)
        except runtime.Exhausted as exc:
            return exc

    async def astream():
        handed = routed(Both(script, confidence)).astream(signals, PROMPT)
        try:
            text = "".join([chunk async for chunk in handed])
        except runtime.Exhausted as exc:
            return exc
        assert text == handed.result.answer.text
        return handed.result

    expected = seen(run())
    assert seen(stream()) == expected
    assert seen(asyncio.run(arun())) == expected
    assert seen(asyncio.run(astream())) == expected
