"""A fast OpenAI-compatible mock upstream on 127.0.0.1 for the gateway's tests and benchmarks:
chat completions as JSON or as server-sent events, with faults injected at random (seeded).

    with MockUpstream(faults={"500": 0.01, "429": 0.05}, retry_after=0.05, down={"z-ai/glm-5.2"}) as up:
        up.url                                   # http://127.0.0.1:PORT/v1
        up.stop(); up.start()                    # the same port again (a restart mid-run)

It runs a raw ASGI app on uvicorn (httptools) in a thread. Usage is reported as
`runtime.localserver` reports it: one prompt token per 4 characters of the messages (at least
1), one completion token per 4 characters of the reply, never above `max_tokens`. `answered`
counts the 200s by model; `usage` sums their tokens by model.
"""

from __future__ import annotations

import asyncio
import json
import random
import socket
import threading
import time
from collections import Counter
from typing import Any

REPLY = "The quick brown fox jumps over the lazy dog; policylang routed this answer."


def _tokens(text: str) -> int:
    return max(1, (len(text) + 3) // 4)


class MockUpstream:
    """See the module's docstring. `faults` maps an HTTP status (as text) to the chance that a
    call gets it; `down` names model ids that always answer 503; `pieces` is how many chunks a
    streamed reply comes in; `delay` seconds before each answer, `gap` seconds between the
    pieces of a stream; `echo_key`: every error message repeats the request's Authorization
    header, as careless providers do (a test that no key leaks needs one)."""

    def __init__(self, *, port: int = 0, faults: dict[str, float] | None = None, retry_after: float | None = None,
                 down: set[str] | frozenset[str] = frozenset(), reply: str = REPLY, pieces: int = 8,
                 delay: float = 0.0, gap: float = 0.0, seed: int = 7, loop: str = "asyncio",
                 echo_key: bool = False) -> None:
        self.faults = dict(faults or {})
        self.retry_after = retry_after
        self.down = set(down)
        self.reply = reply
        self.pieces = pieces
        self.delay = delay
        self.gap = gap
        self.loop = loop
        self.echo_key = echo_key
        self._rng = random.Random(seed)
        self.answered: Counter[str] = Counter()
        self.statuses: Counter[int] = Counter()
        self.usage: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", port))
        self.port = self._sock.getsockname()[1]
        self._sock.close()
        self._server: Any = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The base URL, `http://127.0.0.1:PORT/v1`."""
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> MockUpstream:
        """Listen on the port (again, after `stop`) in a background thread."""
        import uvicorn
        config = uvicorn.Config(self._app, host="127.0.0.1", port=self.port, log_level="critical", access_log=False,
                                lifespan="off", http="httptools", loop=self.loop, timeout_keep_alive=30,
                                interface="asgi3", proxy_headers=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="policylang-mock-upstream", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"the mock upstream did not start on port {self.port}")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Stop listening and close every connection."""
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._server.force_exit = True
            self._thread.join(10)
            self._server = None

    def __enter__(self) -> MockUpstream:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _fault(self, model: str) -> int:
        if model in self.down:
            return 503
        with self._lock:
            draw = self._rng.random()
        for status, chance in self.faults.items():
            if draw < chance:
                return int(status)
            draw -= chance
        return 200

    async def _app(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        try:
            body = json.loads(b"".join(chunks) or b"{}")
        except ValueError:
            await _send(send, 400, {"error": {"message": "no JSON", "type": "invalid_request_error"}})
            return
        model = str(body.get("model", ""))
        status = self._fault(model)
        if self.delay:
            await asyncio.sleep(self.delay)
        with self._lock:
            self.statuses[status] += 1
        if status != 200:
            headers = [(b"retry-after", f"{self.retry_after:g}".encode())] if status == 429 and self.retry_after else []
            message = f"injected {status}"
            if self.echo_key:
                sent = dict(scope["headers"]).get(b"authorization", b"").decode("latin-1")
                message += f" for {sent!r} (key {sent.removeprefix('Bearer ')})"
            await _send(send, status, {"error": {"message": message, "type": "server_error", "code": None}}, headers)
            return
        cap = body.get("max_tokens") or body.get("max_completion_tokens")
        prompt = "".join(str(m.get("content", "")) for m in body.get("messages") or [] if isinstance(m, dict))
        text, reason = self.reply, "stop"
        completion = _tokens(text)
        if isinstance(cap, int) and completion > cap:
            completion, reason, text = cap, "length", text[: cap * 4]
        usage = {"prompt_tokens": _tokens(prompt), "completion_tokens": completion,
                 "total_tokens": _tokens(prompt) + completion}
        with self._lock:
            self.answered[model] += 1
            self.usage[(model, "input")] += usage["prompt_tokens"]
            self.usage[(model, "output")] += completion
        created = int(time.time())
        tools = body.get("tools")
        if isinstance(tools, list) and tools and body.get("stream") is True:
            await _stream_tool_call(send, model, tools[0], usage, created, body)
            return
        if body.get("stream") is True:
            await self._stream(send, model, text, reason, usage, created, body)
            return
        await _send(send, 200, {
            "id": "chatcmpl-mock", "object": "chat.completion", "created": created, "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": reason}],
            "usage": usage})

    async def _stream(self, send: Any, model: str, text: str, reason: str, usage: dict[str, int], created: int,
                      body: dict[str, Any]) -> None:
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/event-stream")]})

        def event(choices: list[dict[str, Any]], with_usage: Any = None) -> bytes:
            payload = {"id": "chatcmpl-mock", "object": "chat.completion.chunk", "created": created, "model": model,
                       "choices": choices}
            if with_usage is not None:
                payload["usage"] = with_usage
            return b"data: " + json.dumps(payload).encode() + b"\n\n"

        size = max(1, -(-len(text) // self.pieces))
        parts = [text[i:i + size] for i in range(0, len(text), size)] or [""]
        out = [event([{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}])]
        out += [event([{"index": 0, "delta": {"content": part}, "finish_reason": None}]) for part in parts]
        out.append(event([{"index": 0, "delta": {}, "finish_reason": reason}]))
        options = body.get("stream_options")
        if isinstance(options, dict) and options.get("include_usage"):
            out.append(event([], usage))
        out.append(b"data: [DONE]\n\n")
        for piece in out:
            await send({"type": "http.response.body", "body": piece, "more_body": True})
            if self.gap:
                await asyncio.sleep(self.gap)
        await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _stream_tool_call(send: Any, model: str, tool: Any, usage: dict[str, int], created: int,
                            body: dict[str, Any]) -> None:
    """A streamed answer that calls the request's first tool, its arguments in three pieces."""
    name = str((tool.get("function") or {}).get("name", "tool")) if isinstance(tool, dict) else "tool"
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]})

    def event(delta: dict[str, Any], reason: str | None = None) -> bytes:
        payload = {"id": "chatcmpl-mock", "object": "chat.completion.chunk", "created": created, "model": model,
                   "choices": [{"index": 0, "delta": delta, "finish_reason": reason}]}
        return b"data: " + json.dumps(payload).encode() + b"\n\n"
    pieces = [event({"role": "assistant", "content": None, "tool_calls": [
        {"index": 0, "id": "call_mock", "type": "function", "function": {"name": name, "arguments": ""}}]})]
    pieces += [event({"tool_calls": [{"index": 0, "function": {"arguments": part}}]})
               for part in ('{"city": ', '"Par', 'is"}')]
    pieces.append(event({}, "tool_calls"))
    options = body.get("stream_options")
    if isinstance(options, dict) and options.get("include_usage"):
        payload = {"id": "chatcmpl-mock", "object": "chat.completion.chunk", "created": created, "model": model,
                   "choices": [], "usage": usage}
        pieces.append(b"data: " + json.dumps(payload).encode() + b"\n\n")
    pieces.append(b"data: [DONE]\n\n")
    for piece in pieces:
        await send({"type": "http.response.body", "body": piece, "more_body": True})
    await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _send(send: Any, status: int, payload: dict[str, Any],
                headers: list[tuple[bytes, bytes]] | None = None) -> None:
    data = json.dumps(payload).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode()),
                            *(headers or [])]})
    await send({"type": "http.response.body", "body": data})
