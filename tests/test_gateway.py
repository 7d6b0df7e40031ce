"""`policyc serve` (section 14) driven by the official `openai` SDK against real upstreams on
127.0.0.1: the project's `runtime.localserver` and the gateway's streaming mock."""

from __future__ import annotations

import json
import time
from decimal import Decimal
from pathlib import Path

import httpx
import openai
import pytest

from policylang.gateway.keys import digest
from policylang.gateway.mock import MockUpstream
from policylang.runtime.localserver import LocalServer
from test_gateway_support import TOKEN, UPSTREAM_KEY, InThread, Serve, read_records, write_config

pytestmark = pytest.mark.xdist_group("gateway")


def client(gateway: InThread | Serve, key: str = "unused") -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.url, api_key=key, max_retries=0, timeout=20)


def test_sdk_chat_through_the_policy_on_the_local_server(tmp_path: Path) -> None:
    with LocalServer() as upstream:
        upstream.reply("fast", "hello from fast", prompt_tokens=12, completion_tokens=5)
        config = write_config(tmp_path, upstream.url.replace("/v1", "/v1"))
        with InThread(config) as gateway:
            raw = client(gateway).chat.completions.with_raw_response.create(
                model="desk", messages=[{"role": "user", "content": "hi"}], extra_headers={"x-task": "chat"})
            answer = raw.parse()
            assert answer.choices[0].message.content == "hello from fast"
            assert answer.model == "mock/fast"
            assert raw.headers["x-policylang-rule"] == "chat"
            assert raw.headers["x-policylang-path"] == "fast"
            # 12 input tokens at $1/M and 5 output at $2/M
            assert Decimal(raw.headers["x-policylang-cost"]) == Decimal("0.000022")
            assert float(raw.headers["x-policylang-overhead-ms"]) >= 0
        # the upstream got the model id less its prefix and the rule's cap
        call = upstream.calls[-1]
        assert call["model"] == "fast" and call["max_tokens"] == 500
    records = read_records(tmp_path / "decisions.jsonl")
    assert len(records) == 1 and records[0]["rule"] == "chat" and records[0]["cost"] == "0.000022"
    assert records[0]["gateway"]["served_as"] == "desk"
    assert "input_tokens_counter" in records[0]["gateway"]


def test_sdk_stream_is_openai_shaped_with_usage_and_done(tmp_path: Path) -> None:
    with MockUpstream(pieces=5) as upstream:
        config = write_config(tmp_path, upstream.url)
        with InThread(config) as gateway:
            chunks = list(client(gateway).chat.completions.create(
                model="desk", messages=[{"role": "user", "content": "hello there"}], stream=True,
                stream_options={"include_usage": True}, extra_headers={"x-task": "code"}))
            text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
            assert text == upstream.reply
            assert chunks[0].choices[0].delta.role == "assistant"
            assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
            assert chunks[-1].choices == [] and chunks[-1].usage is not None
            assert chunks[-1].usage.completion_tokens == (len(upstream.reply) + 3) // 4
            assert all(c.model == "mock/fast" for c in chunks)
            # the raw bytes: data lines, the policylang comment, [DONE] last
            with httpx.stream("POST", gateway.url + "/chat/completions", headers={"x-task": "code"},
                              json={"model": "desk", "stream": True,
                                    "messages": [{"role": "user", "content": "x"}]}) as response:
                assert response.headers["content-type"].startswith("text/event-stream")
                assert response.headers["x-policylang-rule"] == "default"  # decided before the first chunk
                lines = [line for line in response.iter_lines() if line]
            assert lines[-1] == "data: [DONE]"
            assert any(line.startswith(": policylang rule=default path=fast cost=") for line in lines)
            assert not any('"usage": {' in line for line in lines)  # no usage chunk unless asked
    ends = read_records(tmp_path / "decisions.jsonl")
    assert len(ends) == 2 and all(r["end"] == "answered" for r in ends)


def test_openai_error_shapes_and_statuses(tmp_path: Path) -> None:
    with MockUpstream(down={"big"}) as upstream:
        config = write_config(tmp_path, upstream.url)
        with InThread(config) as gateway:
            sdk = client(gateway)
            with pytest.raises(openai.BadRequestError) as bad:
                sdk.chat.completions.create(model="desk", messages=[{"role": "user", "content": "x"}],
                                            extra_headers={"x-task": "poetry"})
            assert bad.value.status_code == 400
            assert bad.value.code == "R003" and bad.value.param == "task" and "task" in bad.value.message
            with pytest.raises(openai.BadRequestError) as unknown:
                sdk.chat.completions.create(model="nope", messages=[{"role": "user", "content": "x"}])
            assert unknown.value.code == "model_not_found"
            with pytest.raises(openai.PermissionDeniedError) as rejected:
                sdk.chat.completions.create(model="desk", messages=[{"role": "user", "content": "x" * 400_000}],
                                            extra_headers={"x-task": "code"})
            assert rejected.value.status_code == 403 and "input too large" in rejected.value.message
            with pytest.raises(openai.APIStatusError) as exhausted:  # legal -> big, which is down
                sdk.chat.completions.create(model="desk", messages=[{"role": "user", "content": "x"}],
                                            extra_headers={"x-task": "legal"})
            assert exhausted.value.status_code == 502 and exhausted.value.code == "no_model_available"
            for headers, content, status, code in (({"x-task": "poetry"}, "x", 400, "R003"),
                                                   ({"x-task": "code"}, "x" * 400_000, 403, "rejected"),
                                                   ({"x-task": "legal"}, "x", 502, "no_model_available")):
                streamed = httpx.post(gateway.url + "/chat/completions", headers=headers,
                                      json={"model": "desk", "stream": True,
                                            "messages": [{"role": "user", "content": content}]})
                assert streamed.status_code == status  # a stream that cannot start is a plain error
                assert streamed.headers["content-type"] == "application/json"
                assert streamed.json()["error"]["code"] == code
            missing = httpx.post(gateway.url + "/chat/completions", json={"model": "desk"})
            assert missing.status_code == 400 and missing.json()["error"]["param"] == "messages"
            for response in (missing, httpx.post(gateway.url + "/chat/completions", content=b"{")):
                error = response.json()["error"]
                assert set(error) == {"message", "type", "param", "code"}
                assert UPSTREAM_KEY not in response.text


def test_models_health_and_metrics(tmp_path: Path) -> None:
    with MockUpstream() as upstream:
        with InThread(write_config(tmp_path, upstream.url)) as gateway:
            models = client(gateway).models.list()
            assert [m.id for m in models.data] == ["desk"]
            base = gateway.url.removesuffix("/v1")
            assert httpx.get(base + "/health/live").status_code == 200
            assert httpx.get(base + "/health/ready").status_code == 200
            gateway.app.draining = True
            assert httpx.get(base + "/health/ready").status_code == 503
            gateway.app.draining = False
            metrics = httpx.get(base + "/metrics")
            if gateway.app.metrics is None:
                assert metrics.status_code == 404 and metrics.json()["error"]["code"] == "metrics_unavailable"
            else:
                client(gateway).chat.completions.create(model="desk", messages=[{"role": "user", "content": "x"}])
                text = httpx.get(base + "/metrics").text
                assert "policylang_requests_total" in text


def test_keys_attributes_budget_and_rate(tmp_path: Path) -> None:
    keys = f"""
[[keys]]
sha256 = "{digest(TOKEN)}"
name = "team-a"
budget = "$0.0012"

[[keys]]
sha256 = "{digest('sk-rate')}"
rpm = 2
"""
    with MockUpstream() as upstream:
        with InThread(write_config(tmp_path, upstream.url, keys=keys)) as gateway:
            with pytest.raises(openai.AuthenticationError):
                client(gateway, "sk-wrong").chat.completions.create(model="desk",
                                                                    messages=[{"role": "user", "content": "x"}])
            anonymous = httpx.post(gateway.url + "/chat/completions",
                                   json={"model": "desk", "messages": [{"role": "user", "content": "x"}]})
            assert anonymous.status_code == 401 and anonymous.json()["error"]["code"] == "invalid_api_key"
            sdk = client(gateway, TOKEN)
            spent = Decimal(0)
            statuses = []
            for _ in range(40):
                try:
                    raw = sdk.chat.completions.with_raw_response.create(
                        model="desk", messages=[{"role": "user", "content": "hello"}], max_tokens=50,
                        extra_headers={"x-task": "chat"})
                    spent += Decimal(raw.headers["x-policylang-cost"])
                    statuses.append(200)
                except openai.RateLimitError as exc:
                    assert exc.code == "insufficient_quota"
                    statuses.append(429)
            assert 200 in statuses and statuses[-1] == 429
            assert spent <= Decimal("0.0012")
            if time.time() % 60 > 58:  # keep the three calls in one rate window
                time.sleep(60.5 - time.time() % 60)
            rate = client(gateway, "sk-rate")
            rate.chat.completions.create(model="desk", messages=[{"role": "user", "content": "x"}])
            rate.chat.completions.create(model="desk", messages=[{"role": "user", "content": "x"}])
            with pytest.raises(openai.RateLimitError) as limited:
                rate.chat.completions.create(model="desk", messages=[{"role": "user", "content": "x"}])
            assert limited.value.code == "rate_limit_exceeded"
            assert int(limited.value.response.headers["retry-after"]) >= 1


def test_signals_from_every_source(tmp_path: Path) -> None:
    policy = """
policy sig
import "std/signals"
signal task: enum {chat, code}
signal region: enum {eu, us}
signal tier: enum {free, pro}
signal customer: enum {acme, other}
signal wants_json: bool
signal has_images: bool
model a { id = "mock/a" tier = 1 input_per_mtok = $1 output_per_mtok = $1 context = 10_000_000 max_output = 100 latency = 1s }
model b { id = "mock/b" tier = 1 input_per_mtok = $1 output_per_mtok = $1 context = 10_000_000 max_output = 100 latency = 1s }
route {
  rule eu_pro when region == eu and tier == pro and wants_json and has_images and tool_count == 2
      and conversation_depth == 2 and customer == acme -> b
  default -> a
}
"""
    extra = """
[signals.region]
metadata = "region"
"""
    keys = f"""
[[keys]]
sha256 = "{digest(TOKEN)}"
tier = "pro"
"""
    (tmp_path / "desk.route").write_text(policy)
    with MockUpstream() as upstream:
        text = write_config(tmp_path, upstream.url, policy=policy, keys=keys).read_text()
        text = text.replace('task         = { header = "x-task" }', 'task = { header = "x-task" }\n'
                            'tier = { key = "tier" }\ncustomer = { request = "user" }\n'
                            'wants_json = { extract = "json_mode" }\nhas_images = { extract = "images" }\n'
                            'conversation_depth = { extract = "conversation_depth" }\nregion = { metadata = "region" }')
        (tmp_path / "serve.toml").write_text(text)
        with InThread(tmp_path / "serve.toml") as gateway:
            raw = client(gateway, TOKEN).chat.completions.with_raw_response.create(
                model="desk", user="acme", metadata={"region": "eu"}, response_format={"type": "json_object"},
                extra_headers={"x-task": "chat"},
                tools=[{"type": "function", "function": {"name": f"t{i}", "parameters": {}}} for i in range(2)],
                messages=[{"role": "system", "content": "be brief"}, {"role": "user", "content": [
                    {"type": "text", "text": "what is this"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]},
                    {"role": "assistant", "content": "x"}][:2] + [{"role": "user", "content": "and?"}])
            assert raw.headers["x-policylang-rule"] == "eu_pro", raw.headers
            records = read_records(tmp_path / "decisions.jsonl")
            signals = records[-1]["signals"]
            assert signals["tier"] == "pro" and signals["region"] == "eu" and signals["customer"] == "acme"
            assert signals["wants_json"] is True and signals["has_images"] is True and signals["tool_count"] == 2


def test_config_errors_stop_serve_with_located_messages(tmp_path: Path) -> None:
    (tmp_path / "desk.route").write_text(__import__("test_gateway_support").DESK)
    bad = tmp_path / "bad.toml"
    bad.write_text("""[policies.desk]
file = "desk.route"

[signals]
task = { header = "x-task" }
mood = { header = "x-mood" }
input_tokens = { extract = "input_tokenz" }

[upstreams]
"mock/" = { base_url = "http://127.0.0.1:9/v1" }
""")
    server = Serve(bad)
    status, err = server.stop() if server.process.wait(60) is not None else (None, "")
    assert status == 1, err
    assert f"{bad}:7: signal 'input_tokens': unknown extractor 'input_tokenz'" in err, err
    bad.write_text(bad.read_text().replace("input_tokenz", "input_tokens"))
    server = Serve(bad)
    server.process.wait(60)
    status, err = server.stop()
    assert status == 1 and f"{bad}:6: signal 'mood' has a source but no served policy declares it" in err, err
    bad.write_text(bad.read_text().replace('mood = { header = "x-mood" }\n', ""))
    server = Serve(bad)
    server.process.wait(60)
    status, err = server.stop()
    assert status == 1 and "no upstream serves model id 'other/big'" in err and "bad.toml:2:" in err, err
    assert "Traceback" not in err


def test_upstream_key_never_reaches_a_response_or_the_log(tmp_path: Path) -> None:
    with LocalServer() as upstream:
        upstream.fail("fast", 401, times=1)
        upstream.fail("fast", 400, times=1)
        with InThread(write_config(tmp_path, upstream.url)) as gateway:
            bodies = []
            for _ in range(2):
                response = httpx.post(gateway.url + "/chat/completions", headers={"x-task": "chat"},
                                      json={"model": "desk", "messages": [{"role": "user", "content": "x"}]})
                bodies.append(response)
            assert bodies[0].status_code == 502 and bodies[0].json()["error"]["code"] == "upstream_auth"
            assert bodies[1].status_code == 400
            for response in bodies:
                assert UPSTREAM_KEY not in response.text and UPSTREAM_KEY not in str(response.headers)
    log = (tmp_path / "decisions.jsonl").read_text()
    assert UPSTREAM_KEY not in log and UPSTREAM_KEY[-8:] not in log


def test_hot_reload_serves_a_good_version_and_never_a_broken_one(tmp_path: Path) -> None:
    with MockUpstream() as upstream:
        config = write_config(tmp_path, upstream.url)
        with InThread(config) as gateway:
            sdk = client(gateway)

            def rule() -> str:
                raw = sdk.chat.completions.with_raw_response.create(
                    model="desk", messages=[{"role": "user", "content": "x"}], extra_headers={"x-task": "code"})
                return raw.headers["x-policylang-rule"]
            assert rule() == "default"
            policy = tmp_path / "desk.route"
            policy.write_text(policy.read_text().replace("rule tools     when tool_count > 2        -> big",
                                                         "rule coding    when task == code           -> spare"))
            _wait_for(lambda: rule() == "coding")
            policy.write_text(policy.read_text().replace("-> spare", "-> nowhere"))  # broken
            time.sleep(1.0)
            assert rule() == "coding"
            config.write_text(config.read_text() + "\n[oops\n")  # a broken config too
            time.sleep(1.0)
            assert rule() == "coding"


def _wait_for(condition, timeout: float = 20) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.1)


def test_route_file_served_with_defaults(tmp_path: Path) -> None:
    (tmp_path / "desk.route").write_text(__import__("test_gateway_support").DESK)
    with MockUpstream() as upstream:
        with Serve(tmp_path / "desk.route", env={"OPENAI_BASE_URL": upstream.url, "OPENAI_API_KEY": "sk-x"}) as server:
            raw = client(server).chat.completions.with_raw_response.create(
                model="desk", messages=[{"role": "user", "content": "hi"}], metadata={"task": "legal"})
            assert raw.headers["x-policylang-rule"] == "legal"
            assert raw.parse().model == "other/big"
            assert upstream.answered["other/big"] == 1  # the whole id: the default upstream has no prefix


def test_sigterm_drains_a_stream_in_flight(tmp_path: Path) -> None:
    with MockUpstream(pieces=4, delay=1.0) as upstream:
        config = write_config(tmp_path, upstream.url, log=False)
        with Serve(config) as server:
            result: dict[str, object] = {}

            def call() -> None:
                chunks = list(client(server).chat.completions.create(
                    model="desk", messages=[{"role": "user", "content": "x"}], stream=True))
                result["text"] = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
            import threading
            thread = threading.Thread(target=call)
            thread.start()
            time.sleep(0.5)
            status, err = server.stop()
            thread.join(20)
            assert result.get("text") == upstream.reply, err
            assert status == 0, err


def test_cli_without_the_config_file() -> None:
    server = Serve("/nonexistent/serve.toml")
    server.process.wait(60)
    status, err = server.stop()
    assert status == 1 and "cannot read the config" in err and "Traceback" not in err


def test_docs_walk_runs(tmp_path: Path) -> None:
    """docs/serve.md's five-minute walk, its blocks run as written (the pip install aside)."""
    import re
    import subprocess
    import sys
    text = (Path(__file__).parent.parent / "docs" / "serve.md").read_text()
    walk = text.split("<!-- walk -->")[1].split("<!-- /walk -->")[0]
    files = dict(re.findall(r"`([\w.]+)`:\n\n```\w*\n(.*?)```", walk, re.S))
    for name, body in files.items():
        (tmp_path / name).write_text(body)
    assert {"hello.route", "serve.toml", "client.py"} <= set(files)
    with MockUpstream() as upstream:
        toml = (tmp_path / "serve.toml").read_text().replace("https://api.openai.com/v1", upstream.url)
        (tmp_path / "serve.toml").write_text(toml)
        with Serve(tmp_path / "serve.toml", env={"OPENAI_API_KEY": "sk-walk"}) as server:
            script = (tmp_path / "client.py").read_text().replace("8080", str(server.port))
            done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                                  cwd=tmp_path)
            assert done.returncode == 0, done.stderr
            assert upstream.reply in done.stdout


def test_streams_from_the_local_server_fall_back_before_the_first_chunk_and_end_cleanly_after(tmp_path: Path) -> None:
    with LocalServer() as upstream:
        upstream.reply("fast", "one two three four five six seven eight nine ten")
        upstream.reply("spare", "the spare model answers this one")
        upstream.fail("fast", 503)  # before the first chunk: spare serves the stream
        with InThread(write_config(tmp_path, upstream.url)) as gateway:
            sdk = client(gateway)
            chunks = list(sdk.chat.completions.create(
                model="desk", messages=[{"role": "user", "content": "hi"}], stream=True,
                stream_options={"include_usage": True}))
            assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == \
                "the spare model answers this one"
            assert chunks[0].model == "mock/spare" and chunks[-1].usage is not None
            upstream.streaming("fast", cut_after=3)  # after the first chunk: the stream ends with an error event
            with httpx.stream("POST", gateway.url + "/chat/completions",
                              json={"model": "desk", "stream": True,
                                    "messages": [{"role": "user", "content": "hi"}]}) as response:
                lines = [line for line in response.iter_lines() if line]
            assert response.status_code == 200
            assert lines[-1] == "data: [DONE]"
            error = json.loads(lines[-2].removeprefix("data: "))["error"]
            assert set(error) == {"message", "type", "param", "code"}
            assert any('"content":"one' in line for line in lines)  # what came before the cut was sent
            ends = [r["end"] for r in read_records(tmp_path / "decisions.jsonl")]
            assert ends == ["answered", "interrupted"]


def test_an_upstream_that_echoes_the_key_never_gets_it_to_the_client_or_the_log(tmp_path: Path) -> None:
    with MockUpstream(down={"fast", "spare", "big"}, echo_key=True) as upstream:
        with InThread(write_config(tmp_path, upstream.url)) as gateway:
            for stream in (False, True):
                response = httpx.post(gateway.url + "/chat/completions", headers={"x-task": "chat"},
                                      json={"model": "desk", "stream": stream,
                                            "messages": [{"role": "user", "content": "x"}]})
                assert response.status_code == 502
                assert UPSTREAM_KEY not in response.text and UPSTREAM_KEY not in str(response.headers)
    log = (tmp_path / "decisions.jsonl").read_text()
    assert "[redacted]" in log  # the upstream's messages are logged, less the key
    assert UPSTREAM_KEY not in log


def test_two_workers_share_the_port_and_stop_cleanly(tmp_path: Path) -> None:
    with MockUpstream() as upstream:
        with Serve(write_config(tmp_path, upstream.url), "--workers", "2") as server:
            sdk = client(server)
            for _ in range(6):
                answer = sdk.chat.completions.create(model="desk", messages=[{"role": "user", "content": "x"}])
                assert answer.model == "mock/fast"
            status, err = server.stop()
    assert status == 0, err
    assert len(read_records(tmp_path / "decisions.jsonl")) == 6  # both workers append to one log


def test_several_policies_each_under_its_own_name(tmp_path: Path) -> None:
    from test_gateway_support import DESK
    (tmp_path / "other.route").write_text(DESK.replace("policy desk", "policy other")
                                          .replace("default -> fast", "default -> big"))
    with MockUpstream() as upstream:
        config = write_config(tmp_path, upstream.url)
        config.write_text(config.read_text().replace('[signals]', '[policies.other]\nfile = "other.route"\n\n[signals]'))
        with InThread(config) as gateway:
            sdk = client(gateway)
            assert sorted(m.id for m in sdk.models.list().data) == ["desk", "other"]
            for name, model in (("desk", "mock/fast"), ("other", "other/big")):
                answer = sdk.chat.completions.create(model=name, messages=[{"role": "user", "content": "x"}])
                assert answer.model == model
    assert [r["policy"] for r in read_records(tmp_path / "decisions.jsonl")] == ["desk", "other"]


def test_streamed_tool_calls_arrive_whole(tmp_path: Path) -> None:
    tools = [{"type": "function", "function": {"name": "weather", "parameters": {"type": "object"}}}]
    with MockUpstream() as upstream:
        with InThread(write_config(tmp_path, upstream.url)) as gateway:
            chunks = list(client(gateway).chat.completions.create(
                model="desk", messages=[{"role": "user", "content": "weather in Paris?"}], tools=tools,  # type: ignore[arg-type]
                stream=True, stream_options={"include_usage": True}))
    calls = [call for c in chunks if c.choices for call in (c.choices[0].delta.tool_calls or [])]
    assert len(calls) == 1
    assert calls[0].id == "call_mock" and calls[0].function is not None
    assert calls[0].function.name == "weather" and calls[0].function.arguments == '{"city": "Paris"}'
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "tool_calls"
    assert chunks[-1].usage is not None


def test_key_rates_fail_open_while_redis_is_down() -> None:
    import asyncio

    from policylang.gateway.config import ClientKey, Config
    from policylang.gateway.keys import Keys
    key = ClientKey("0" * 64, "k", {}, None, 1, 1)
    config = Config(path="x", policies={}, signals={}, upstreams=(), keys={key.sha256: key},
                    redis="redis://127.0.0.1:1/0")  # nothing listens on port 1
    keys = Keys(config)
    assert asyncio.run(keys.admit(key)) is None and asyncio.run(keys.admit(key)) is None


def test_money_held_by_requests_in_flight_is_a_429_to_retry_not_a_502() -> None:
    """A key's budget that is only held by calls in flight (`runtime.BudgetBusy`) is OpenAI's
    429 with Retry-After, which the SDKs retry; a spent budget is `insufficient_quota`."""
    from policylang.gateway.http import Failure, failure_of
    from policylang.runtime import BudgetBusy, OverBudget

    class Decided:
        rule = "chat"

    busy = failure_of(BudgetBusy(Decided(), ()))
    spent = failure_of(OverBudget(Decided(), ()))
    assert isinstance(busy, Failure) and isinstance(spent, Failure)
    assert (busy.status, busy.code, busy.headers) == (429, "budget_busy", ((b"retry-after", b"1"),))
    assert (spent.status, spent.code) == (429, "insufficient_quota")


def test_a_loaded_version_is_moved_out_of_the_collectors_reach_and_a_reload_hands_the_old_back() -> None:
    """After a load, what it left on the heap is frozen (a full collection during a request
    walks only the request's objects); a reload unfreezes first, so the old version can be freed."""
    import gc

    from policylang.gateway.server import _settle_heap

    try:
        gc.unfreeze()
        kept = [object() for _ in range(1_000)]
        _settle_heap()
        frozen = gc.get_freeze_count()
        assert frozen >= len(kept)
        del kept
        _settle_heap(reloaded=True)
        assert 0 < gc.get_freeze_count() <= frozen  # the dropped objects were freed, not frozen again
    finally:
        gc.unfreeze()
