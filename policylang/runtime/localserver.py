"""A tiny OpenAI-compatible server on 127.0.0.1, for tests and demos: standard library only.

It answers `POST /v1/chat/completions` and, on command, fails the way providers fail:

    with LocalServer() as server:                  # listens on a free port, in a thread
        server.reply("openai/gpt-5.5", '{"answer": "...", "confidence": 0.9}')
        server.fail("deepseek/deepseek-v4-pro", 429, retry_after=1)   # the next call: 429
        server.hang("z-ai/glm-5.2", seconds=2)     # the next call answers after 2 s
        server.reset("z-ai/glm-5.2")               # the next call's connection is closed unanswered
        server.truncate("anthropic/claude-sonnet-4-6")   # finish_reason "length"
        server.filter("openai/gpt-5.5")            # finish_reason "content_filter"
        server.streaming("openai/gpt-5.5", cut_after=3)  # the next stream stops after 3 chunks
        call = runtime.clients.openai(base_url=server.url, api_key="local")

With `"stream": true` it answers as OpenAI does: server-sent events over a chunked response,
one `chat.completion.chunk` per piece of the answer (the first with the assistant's role), a
last chunk with the `finish_reason`, then, when `stream_options.include_usage` is set, a chunk
with no choices and the `usage` (every other chunk then carries `"usage": null`), and
`data: [DONE]`. `streaming(model, ...)` scripts a stream's faults: `first_delay` seconds before
its first chunk, `pace` seconds between chunks, `cut_after` chunks then the connection is cut
(no `[DONE]`, no end of the chunked body), `malformed_at` a chunk that is no JSON. An HTTP
failure scripted with `fail` comes before any event, as a provider's would.

Scripted faults are used up one per call, in order (`times=` repeats one); a model with none
left gets its reply (by default a small JSON answer). Usage is reported as a provider would:
`prompt_tokens` one per 4 characters of the messages (at least 1), `completion_tokens` one per
4 characters of the answer, never above `max_tokens`. `server.calls` lists every request it
received (model, max_tokens, and the status and usage it answered with; for a stream, also
`"stream": True`, the chunks it sent, and `"disconnected": True` when the client closed the
connection before the stream's end).
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

DEFAULT_REPLY = '{"answer": "done", "confidence": 0.9}'


@dataclass(frozen=True)
class _Fault:
    status: int = 200
    retry_after: float | None = None
    seconds: float = 0.0
    finish_reason: str | None = None
    body: dict[str, Any] | None = None
    reset: bool = False
    first_delay: float = 0.0
    pace: float = 0.0
    cut_after: int | None = None
    malformed_at: int | None = None


@dataclass
class _Script:
    reply: str = DEFAULT_REPLY
    faults: deque[_Fault] = field(default_factory=deque)
    tokens: tuple[int | None, int | None] = (None, None)


def _tokens(text: str) -> int:
    return max(1, (len(text) + 3) // 4)


class LocalServer:
    """An OpenAI-compatible chat completions endpoint for tests: `url` is its base URL
    (`http://127.0.0.1:PORT/v1`). Start and stop it with `with`, or `start()` and `stop()`."""

    def __init__(self, port: int = 0) -> None:
        self._scripts: dict[str, _Script] = {}
        self._lock = threading.Lock()
        self.calls: list[dict[str, Any]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet: tests read `calls`
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("content-length") or 0)
                try:
                    body = json.loads(self.rfile.read(length) or b"{}")
                except ValueError:
                    return self._send(400, {"error": {"message": "the body is no JSON", "type": "invalid_request_error"}})
                if self.path.rstrip("/") not in ("/v1/chat/completions", "/chat/completions"):
                    return self._send(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})
                status, payload, headers, fault, record = server._respond(body)
                if fault.seconds:
                    time.sleep(fault.seconds)
                if fault.reset:  # hang up without a word, as a reset connection does
                    self.close_connection = True
                    return None
                try:
                    if status == 200 and body.get("stream"):
                        options = body.get("stream_options")
                        self._stream(payload, fault, record, isinstance(options, dict) and bool(options.get("include_usage")))
                    else:
                        self._send(status, payload, headers)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up waiting
                    record["disconnected"] = True
                    self.close_connection = True

            def _stream(self, payload: dict[str, Any], fault: _Fault, record: dict[str, Any], usage: bool) -> None:
                self.send_response(200)
                self.send_header("content-type", "text/event-stream; charset=utf-8")
                self.send_header("cache-control", "no-cache")
                self.send_header("transfer-encoding", "chunked")
                self.end_headers()
                self.wfile.flush()
                if fault.first_delay:
                    time.sleep(fault.first_delay)
                events = _events(payload, usage)
                record["stream"], record["chunks"] = True, 0
                for index, event in enumerate(events):
                    if fault.cut_after is not None and record["chunks"] >= fault.cut_after:
                        self.close_connection = True  # cut: no [DONE], no end of the chunked body
                        return
                    data = b"data: {not json\n\n" if index == fault.malformed_at else \
                        b"data: " + (event if isinstance(event, bytes) else json.dumps(event).encode("utf-8")) + b"\n\n"
                    if index and fault.pace:
                        time.sleep(fault.pace)
                    self.wfile.write(f"{len(data):x}\r\n".encode("ascii") + data + b"\r\n")
                    self.wfile.flush()
                    record["chunks"] += 1
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()

            def _send(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
                data = json.dumps(payload).encode("utf-8")
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def start(self) -> LocalServer:
        """Serve in a background thread; returns the server."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                            name="policylang-localserver", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- the script ---------------------------------------------------------------------------

    def _script(self, model: str) -> _Script:
        return self._scripts.setdefault(model, _Script())

    def reply(self, model: str, text: str, *, prompt_tokens: int | None = None, completion_tokens: int | None = None) -> None:
        """What `model` answers when no fault is scripted; the token counts it reports, if fixed."""
        with self._lock:
            script = self._script(model)
            script.reply, script.tokens = text, (prompt_tokens, completion_tokens)

    def fail(self, model: str, status: int, *, times: int = 1, retry_after: float | None = None,
             code: str | None = None) -> None:
        """The next `times` calls to `model` fail with this HTTP status (and Retry-After, and
        an error `code` such as `content_filter`)."""
        body = {"error": {"message": f"scripted failure {status}", "type": "server_error" if status >= 500 else "error",
                          "code": code}}
        self._push(model, times, _Fault(status=status, retry_after=retry_after, body=body))

    def hang(self, model: str, seconds: float, *, times: int = 1) -> None:
        """The next `times` calls to `model` answer only after `seconds`."""
        self._push(model, times, _Fault(seconds=seconds))

    def truncate(self, model: str, *, times: int = 1) -> None:
        """The next `times` answers of `model` are cut off half way, `max_tokens` of them
        reported: finish_reason "length"."""
        self._push(model, times, _Fault(finish_reason="length"))

    def filter(self, model: str, *, times: int = 1) -> None:
        """The next `times` answers of `model` are withheld: finish_reason "content_filter"."""
        self._push(model, times, _Fault(finish_reason="content_filter"))

    def reset(self, model: str, *, times: int = 1) -> None:
        """The next `times` calls to `model` get no response: the connection is closed."""
        self._push(model, times, _Fault(reset=True))

    def streaming(self, model: str, *, first_delay: float = 0.0, pace: float = 0.0, cut_after: int | None = None,
                  malformed_at: int | None = None, times: int = 1) -> None:
        """The next `times` streams of `model`: wait `first_delay` seconds before the first
        chunk and `pace` between chunks, cut the connection after `cut_after` chunks (the
        first, with the role, counts), send chunk number `malformed_at` (from 0) as no JSON."""
        self._push(model, times, _Fault(first_delay=first_delay, pace=pace, cut_after=cut_after,
                                        malformed_at=malformed_at))

    def _push(self, model: str, times: int, fault: _Fault) -> None:
        with self._lock:
            self._script(model).faults.extend([fault] * times)

    def calls_to(self, model: str) -> list[dict[str, Any]]:
        """The requests `model` received, in order."""
        with self._lock:
            return [c for c in self.calls if c["model"] == model]

    # ---- answering ----------------------------------------------------------------------------

    def _respond(self, body: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str], _Fault, dict[str, Any]]:
        model = str(body.get("model", ""))
        cap = body.get("max_tokens") or body.get("max_completion_tokens")
        messages = body.get("messages") or []
        prompt = "".join(str(m.get("content", "")) for m in messages if isinstance(m, dict))
        with self._lock:
            script = self._script(model)
            fault = script.faults.popleft() if script.faults else _Fault()
            record: dict[str, Any] = {"model": model, "max_tokens": cap, "status": fault.status, "usage": None}
            self.calls.append(record)
            reply, (fixed_prompt, fixed_completion) = script.reply, script.tokens
        if fault.status != 200:
            headers = {"retry-after": f"{fault.retry_after:g}"} if fault.retry_after is not None else {}
            return fault.status, fault.body or {}, headers, fault, record
        text, reason = reply, fault.finish_reason or "stop"
        completion = fixed_completion if fixed_completion is not None else _tokens(text)
        if reason == "content_filter":
            text, completion = "", 0
        elif reason == "length":  # cut off mid-answer, at the cap
            completion, text = cap if isinstance(cap, int) else completion, text[: len(text) // 2]
        elif isinstance(cap, int) and completion > cap:
            completion, reason, text = cap, "length", text[: cap * 4]
        usage = {"prompt_tokens": fixed_prompt if fixed_prompt is not None else _tokens(prompt),
                 "completion_tokens": completion}
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        record["usage"] = usage
        return 200, {
            "id": f"chatcmpl-local-{len(self.calls)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": reason}],
            "usage": usage,
        }, {}, fault, record


def _events(payload: dict[str, Any], usage: bool) -> list[dict[str, Any] | bytes]:
    """A chat completion as OpenAI streams it: the chunks, the usage chunk, `[DONE]`."""
    text = payload["choices"][0]["message"]["content"]
    base = {"id": payload["id"], "object": "chat.completion.chunk", "created": payload["created"],
            "model": payload["model"]}
    extra: dict[str, Any] = {"usage": None} if usage else {}
    pieces = [text[i:i + 8] for i in range(0, len(text), 8)]
    events: list[dict[str, Any] | bytes] = [
        {**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}], **extra}]
    events += [{**base, "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}], **extra}
               for piece in pieces]
    events.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": payload["choices"][0]["finish_reason"]}],
                   **extra})
    if usage:
        events.append({**base, "choices": [], "usage": payload["usage"]})
    events.append(b"[DONE]")
    return events
