"""The runtime's extras stay optional: `import policylang` and `policylang.runtime` load none of
them, everything else works without them, and the glue names the extra to install. And the
`otel` extra's spans, read back with the OpenTelemetry SDK's in-memory exporter.

Needs `opentelemetry-sdk` installed (extra `otel`) for the span tests.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

import policylang
from policylang import runtime
from runtime_support import SHOP, Scripted

EXTRAS = ("openai", "litellm", "watchfiles", "opentelemetry", "httpx", "jsonschema")

WITHOUT_EXTRAS = r"""
import json, sys, tempfile, pathlib
for blocked in ("openai", "litellm", "watchfiles", "opentelemetry", "jsonschema"):
    sys.modules[blocked] = None  # importing any of these now raises ImportError
import policylang
from policylang import runtime
out = {}
policy = policylang.loads(sys.argv[1], "shop.route")
routed = runtime.Router(policy, lambda model, request, *, max_output: runtime.Answer("{}", "stop", 1, 1))
out["path"] = list(routed.run({"task": "chat", "input_tokens": 10}, "x").path)
folder = pathlib.Path(tempfile.mkdtemp())
(folder / "shop.route").write_text(sys.argv[1])
handle = runtime.watch(folder / "shop.route", interval=0)
out["mode"] = handle.mode
messages = {}
for name, make in (("openai", lambda: runtime.clients.openai(base_url="http://127.0.0.1:9/v1", api_key="k")),
                   ("litellm", lambda: runtime.clients.litellm()),
                   ("otel", lambda: runtime.otel.tracer()),
                   ("watch", lambda: runtime.watch(folder / "shop.route", interval=0, use_watchfiles=True)),
                   ("schema", lambda: runtime.assess.outcomes(schema={"type": "object"}))):
    try:
        make()
        messages[name] = None
    except runtime.MissingExtra as exc:
        messages[name] = str(exc)
out["messages"] = messages
print(json.dumps(out))
"""

LOADED = r"""
import json, sys
import policylang
from policylang import runtime
import policylang.runtime.otel, policylang.runtime.clients, policylang.runtime.localserver
print(json.dumps(sorted({m.split(".")[0] for m, v in sys.modules.items() if v is not None})))
"""


def test_without_the_extras_everything_else_works_and_the_glue_names_its_extra():
    done = subprocess.run([sys.executable, "-c", WITHOUT_EXTRAS, SHOP], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["path"] == ["small"] and out["mode"] == "polling"
    for extra, package in (("openai", "openai"), ("litellm", "litellm"), ("otel", "opentelemetry-sdk"),
                           ("watch", "watchfiles"), ("schema", "jsonschema")):
        assert f"pip install 'policylang[{extra}]'" in (out["messages"][extra] or ""), out["messages"]
        assert f"'{package}'" in out["messages"][extra]


def test_importing_the_runtime_loads_no_extra():
    done = subprocess.run([sys.executable, "-c", LOADED], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    loaded = set(json.loads(done.stdout))
    assert not loaded & set(EXTRAS), loaded & set(EXTRAS)


@pytest.fixture
def spans():
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


def test_a_span_per_run_and_per_call_with_the_genai_attributes(spans):
    provider, exporter = spans
    policy = policylang.loads(SHOP, "shop.route")
    routed = runtime.Router(policy, Scripted({"small": ["unavailable"]}, tokens=(120, 40)), retry=None, breaker=None,
                            tracer=runtime.otel.tracer(provider))
    result = routed.run({"task": "chat", "input_tokens": 120}, "x")
    finished = exporter.get_finished_spans()
    assert [s.name for s in finished] == ["chat acme/small", "chat acme/spare", "route shop"]
    small, spare, run = finished
    assert small.parent.span_id == run.context.span_id == spare.parent.span_id
    assert small.context.trace_id == run.context.trace_id
    assert small.status.status_code == StatusCode.ERROR and small.attributes["error.type"] == "unavailable"
    assert dict(spare.attributes) == {
        "gen_ai.operation.name": "chat", "gen_ai.request.model": "acme/spare", "gen_ai.request.max_tokens": 1000,
        "policylang.model": "spare", "policylang.step": 0, "policylang.retry": 0,
        "gen_ai.usage.input_tokens": 120, "gen_ai.usage.output_tokens": 40, "policylang.cost": "0.0001"}
    assert run.attributes["policylang.rule"] == "chat" and run.attributes["policylang.end"] == "answered"
    assert run.attributes["policylang.cost"] == "0.0001" == str(result.cost.normalize())
    assert run.attributes["gen_ai.request.model"] == "acme/spare"
    assert tuple(run.attributes["policylang.path"]) == ("spare",)
    assert run.status.status_code != StatusCode.ERROR


def test_spans_of_failed_and_async_runs(spans):
    provider, exporter = spans
    policy = policylang.loads(SHOP, "shop.route")
    routed = runtime.Router(policy, Scripted({"big": ["timeout"]}), retry=None, breaker=None,
                            tracer=runtime.otel.tracer(provider))
    with pytest.raises(runtime.Exhausted):
        routed.run({"task": "code", "input_tokens": 10}, "x")
    call, run = exporter.get_finished_spans()
    assert run.status.status_code == StatusCode.ERROR and run.attributes["policylang.end"] == "exhausted"
    assert run.attributes["error.type"] == "Exhausted" and call.attributes["error.type"] == "timeout"
    exporter.clear()

    async def many():
        async def call(model, request, *, max_output):
            await asyncio.sleep(0)
            return runtime.Answer("{}", "stop", 1, 1)

        tracing = runtime.Router(policy, call, retry=None, breaker=None, tracer=runtime.otel.tracer(provider))
        await asyncio.gather(*(tracing.arun({"task": "code", "input_tokens": 10}, "x") for _ in range(20)))

    asyncio.run(many())
    finished = exporter.get_finished_spans()
    runs = {s.context.span_id: s for s in finished if s.name == "route shop"}
    calls = [s for s in finished if s.name.startswith("chat")]
    assert len(runs) == 20 and len(calls) == 20
    assert sorted(s.parent.span_id for s in calls) == sorted(runs)  # each call under its own run


def test_a_call_that_raises_ends_its_span_and_leaves_no_context_behind(spans):
    from opentelemetry import trace

    provider, exporter = spans
    policy = policylang.loads(SHOP, "shop.route")
    routed = runtime.Router(policy, Scripted({"big": [KeyError("bug")]}), retry=None, breaker=None,
                            tracer=runtime.otel.tracer(provider))
    with pytest.raises(KeyError):
        routed.run({"task": "code", "input_tokens": 10}, "x")
    call, run = exporter.get_finished_spans()
    assert call.attributes["error.type"] == "KeyError" and call.status.status_code == StatusCode.ERROR
    assert run.attributes["policylang.end"] == "error" and run.attributes["error.type"] == "KeyError"
    assert not trace.get_current_span().get_span_context().is_valid
