"""Hostile HTTP at `policyc serve`: each bad request gets its status in OpenAI's error shape, and
the gateway keeps serving."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from policylang.gateway.mock import MockUpstream
from test_gateway_support import InThread, read_records, write_config

pytestmark = pytest.mark.xdist_group("gateway")

LIMITS = """
[limits]
idle_timeout = 1
total_timeout = 2
max_messages = 50
"""

GOOD = {"model": "desk", "messages": [{"role": "user", "content": "hello"}]}


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[InThread, MockUpstream, Path]]:
    tmp = tmp_path_factory.mktemp("hostile")
    with MockUpstream(pieces=40, delay=0.0) as upstream:
        with InThread(write_config(tmp, upstream.url, extra=LIMITS)) as running:
            yield running, upstream, tmp


def still_serving(gateway: InThread) -> None:
    response = httpx.post(gateway.url + "/chat/completions", json=GOOD, timeout=10)
    assert response.status_code == 200, response.text


def raw_request(port: int, head: bytes, body: bytes = b"", *, wait: float = 10) -> bytes:
    """Send bytes on a fresh connection and read the answer until the server closes or `wait`."""
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as sock:
        sock.sendall(head + body)
        data = b""
        try:
            while b"\r\n\r\n" not in data or len(data) < data.find(b"\r\n\r\n") + 4 + _length(data):
                piece = sock.recv(65536)
                if not piece:
                    break
                data += piece
        except (TimeoutError, ConnectionResetError):
            pass
        return data


def _length(data: bytes) -> int:
    head = data.split(b"\r\n\r\n")[0].lower()
    for line in head.split(b"\r\n"):
        if line.startswith(b"content-length:"):
            return int(line.split(b":")[1])
    return 0


def status_of(data: bytes) -> int:
    return int(data.split(b" ", 2)[1])


def error_of(data: bytes) -> dict[str, object]:
    error: dict[str, object] = json.loads(data.split(b"\r\n\r\n", 1)[1])["error"]
    assert set(error) == {"message", "type", "param", "code"}
    return error


def test_malformed_json(gateway: tuple[InThread, MockUpstream, Path]) -> None:
    running, _, _ = gateway
    for body in (b"{", b"\xff\xfe", b"[1, 2]", b'"text"', b""):
        response = httpx.post(running.url + "/chat/completions", content=body)
        assert response.status_code == 400, body
        assert response.json()["error"]["code"] in ("invalid_json", "invalid_request")
    still_serving(running)


def test_wrong_types_and_too_many_messages(gateway: tuple[InThread, MockUpstream, Path]) -> None:
    running, _, _ = gateway
    cases = [({"model": 7, "messages": GOOD["messages"]}, "model"),
             ({"model": "desk", "messages": "hello"}, "messages"),
             ({"model": "desk", "messages": [1, 2]}, "messages"),
             ({**GOOD, "max_tokens": "many"}, "max_tokens"),
             ({**GOOD, "max_tokens": True}, "max_tokens"),
             ({**GOOD, "stream": "yes"}, "stream"),
             ({**GOOD, "metadata": ["x"]}, "metadata"),
             ({"model": "desk", "messages": [{"role": "user", "content": "x"}] * 51}, "messages")]
    for body, param in cases:
        response = httpx.post(running.url + "/chat/completions", json=body)
        assert response.status_code == 400, (body, response.text)
        assert response.json()["error"]["param"] == param
    still_serving(running)


def test_unknown_fields_are_forwarded(gateway: tuple[InThread, MockUpstream, Path]) -> None:
    running, _, _ = gateway
    response = httpx.post(running.url + "/chat/completions", json={**GOOD, "frobnicate": {"deep": [1, 2]},
                                                                    "temperature": 0.2})
    assert response.status_code == 200
    still_serving(running)


def test_a_100_mb_body_is_413(gateway: tuple[InThread, MockUpstream, Path]) -> None:
    running, _, _ = gateway
    declared = raw_request(running.port, b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\n"
                           b"content-type: application/json\r\ncontent-length: 104857600\r\n\r\n", b'{"model": "')
    assert status_of(declared) == 413 and error_of(declared)["code"] == "request_too_large"

    def chunks() -> Iterator[bytes]:  # 100 MB with no content-length: refused past the limit
        block = b"x" * (1024 * 1024)
        for _ in range(100):
            yield block
    try:
        response = httpx.post(running.url + "/chat/completions", content=chunks(), timeout=30)
        assert response.status_code == 413
    except (httpx.WriteError, httpx.RemoteProtocolError, httpx.ReadError):
        pass  # the server answered 413 and closed while the client was still writing
    still_serving(running)


def test_headers_over_the_limit(gateway: tuple[InThread, MockUpstream, Path]) -> None:
    running, _, _ = gateway
    response = httpx.post(running.url + "/chat/completions", json=GOOD, headers={"x-filler": "y" * 20_000})
    assert response.status_code in (431, 400)
    still_serving(running)


def test_a_slow_client_gets_408_and_others_are_served_meanwhile(gateway: tuple[InThread, MockUpstream, Path]) -> None:
    running, _, _ = gateway
    with socket.create_connection(("127.0.0.1", running.port), timeout=10) as slow:
        slow.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
                     b"content-length: 500\r\n\r\n{\"model\": \"desk\",")
        started = time.monotonic()
        still_serving(running)  # while the slow one dawdles
        data = b""
        while b"\r\n\r\n" not in data:
            piece = slow.recv(65536)
            if not piece:
                break
            data += piece
        assert status_of(data) == 408
        assert time.monotonic() - started < 5
    still_serving(running)


def test_an_abandoned_stream_is_closed_and_logged(gateway: tuple[InThread, MockUpstream, Path]) -> None:
    running, upstream, tmp = gateway
    before = len(read_records(tmp / "decisions.jsonl"))
    upstream.gap = 0.05  # 40 pieces: two seconds of stream
    with httpx.stream("POST", running.url + "/chat/completions", json={**GOOD, "stream": True}) as response:
        assert response.status_code == 200
        for line in response.iter_lines():
            if line.startswith("data: ") and '"content":"' in line and '"content":""' not in line:
                break  # one piece of text, then the client goes away
    deadline = time.monotonic() + 10
    while len(read_records(tmp / "decisions.jsonl")) <= before and time.monotonic() < deadline:
        time.sleep(0.05)
    records = read_records(tmp / "decisions.jsonl")
    assert len(records) == before + 1
    assert records[-1]["end"] == "abandoned", records[-1]["end"]
    upstream.gap = 0.0
    still_serving(running)


def test_wrong_method_and_path(gateway: tuple[InThread, MockUpstream, Path]) -> None:
    running, _, _ = gateway
    assert httpx.get(running.url + "/chat/completions").status_code == 405
    assert httpx.post(running.url + "/embeddings", json={}).status_code == 404
    assert httpx.delete(running.url.removesuffix("/v1") + "/health/live").status_code == 405
    still_serving(running)


def test_a_request_past_the_total_timeout_is_504(gateway: tuple[InThread, MockUpstream, Path]) -> None:
    running, upstream, _ = gateway
    upstream.delay = 4.0  # within the upstream's own 5 s timeout, past the gateway's total of 2 s
    try:
        started = time.monotonic()
        response = httpx.post(running.url + "/chat/completions", json=GOOD, timeout=20)
        assert response.status_code == 504 and response.json()["error"]["code"] == "timeout"
        assert time.monotonic() - started < 3.5
    finally:
        upstream.delay = 0.0
    still_serving(running)


def test_ready_is_503_until_loaded_and_chat_waits_for_it() -> None:
    import asyncio

    from policylang.gateway.app import Gateway
    app = Gateway(None)
    sent: list[dict[str, object]] = []

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": json.dumps(GOOD).encode(), "more_body": False}

    async def ask(method: str, path: str) -> int:
        sent.clear()
        await app({"type": "http", "method": method, "path": path, "headers": []}, receive, send)  # type: ignore[arg-type]
        status: int = sent[0]["status"]  # type: ignore[assignment]
        return status
    assert asyncio.run(ask("GET", "/health/live")) == 200
    assert asyncio.run(ask("GET", "/health/ready")) == 503
    assert asyncio.run(ask("POST", "/v1/chat/completions")) == 503
    assert json.loads(sent[1]["body"])["error"]["code"] == "not_ready"  # type: ignore[arg-type]
