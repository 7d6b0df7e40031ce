"""`"stream": true` (section 14, 13.1): the runtime's stream as server-sent events, chunk for
chunk as OpenAI sends them.

The first chunk is awaited before anything is sent, so a rejection, bad signals or no model
able to serve still get their HTTP status. Then: a first chunk with the assistant's role, one
chunk per piece of text, a last chunk with the finish reason, the usage chunk (`"choices": []`)
when the client asked with `stream_options.include_usage`, and `data: [DONE]`. Tool calls the
upstream streamed come whole in one chunk before the last (the runtime streams text). The rule,
path, cost and overhead that a non-streamed answer carries in headers follow as an SSE comment line
before `[DONE]` (`: policylang rule=... path=... cost=... overhead_ms=...`; clients skip
comments), since headers go out before the path is known. An error after the first chunk ends
the stream with an error event in OpenAI's shape; a client that goes away closes the runtime's
stream (which closes the upstream's, and logs the run).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from ..money import money_text
from .http import Failure, Receive, Send, failure_of
from .upstream import Exchange, dumps

_SSE = ((b"content-type", b"text/event-stream; charset=utf-8"), (b"cache-control", b"no-cache"),
        (b"x-accel-buffering", b"no"))


async def stream_response(total_timeout: float, runner: Any, signals: dict[str, Any], request: dict[str, Any],
                          body: dict[str, Any], send: Send, request_id: str, exchange: Exchange, started: float,
                          receive: Receive) -> None:
    """Serve one streamed request through `runner.astream` (a Router or a Session)."""
    if not hasattr(runner, "astream"):
        raise Failure(501, "streaming needs policylang.runtime's astream (section 13.1), which this runtime lacks",
                      "server_error", "stream_unsupported")
    options = body.get("stream_options")
    include_usage = isinstance(options, dict) and options.get("include_usage") is True
    deadline = asyncio.get_running_loop().time() + total_timeout
    stream = runner.astream(signals, request)
    iterator = stream.__aiter__()
    try:
        async with asyncio.timeout_at(deadline):
            first: str | None = await iterator.__anext__()
    except StopAsyncIteration:
        first = None
    except TimeoutError:
        await _close(iterator)
        raise Failure(504, f"no answer within {total_timeout:g} s", "server_error", "timeout") from None
    except BaseException as exc:
        await _close(iterator)
        raise failure_of(exc) from None
    created = int(time.time())
    model_id = exchange.extra.get("model_id") or body["model"]
    headers = list(_SSE) + [(b"x-request-id", request_id.encode())]
    decision = getattr(stream, "decision", None)
    if decision is not None:
        headers.append((b"x-policylang-rule", str(decision.rule).encode()))
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    gone = asyncio.Event()
    watcher = asyncio.ensure_future(_watch(receive, gone))

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        event: dict[str, Any] = {"id": request_id, "object": "chat.completion.chunk", "created": created,
                                 "model": model_id, "system_fingerprint": None,
                                 "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}
        if include_usage:
            event["usage"] = None
        return b"data: " + dumps(event) + b"\n\n"

    async def put(data: bytes) -> None:
        if gone.is_set():
            raise ConnectionResetError
        await send({"type": "http.response.body", "body": data, "more_body": True})

    try:
        await put(chunk({"role": "assistant", "content": "", "refusal": None}))
        try:
            if first:
                await put(chunk({"content": first}))
            async with asyncio.timeout_at(deadline):
                async for piece in iterator:
                    if piece:
                        await put(chunk({"content": piece}))
        except (ConnectionResetError, OSError, asyncio.CancelledError):
            raise
        except BaseException as exc:
            failure = failure_of(exc) if not isinstance(exc, TimeoutError) else \
                Failure(504, "the stream ran past the total timeout", "server_error", "timeout")
            if not isinstance(failure, Failure):
                raise
            await put(b"data: " + failure.body() + b"\n\n")
            await send({"type": "http.response.body", "body": b"data: [DONE]\n\n", "more_body": False})
            return
        calls = exchange.extra.get("tool_calls")
        if calls:  # tool calls come whole, in one chunk, once the upstream's stream has ended
            await put(chunk({"tool_calls": [{"index": index, **call} for index, call in sorted(calls.items())]}))
        await put(chunk({}, exchange.finish_reason or "stop"))
        result = getattr(stream, "result", None)
        if include_usage:
            usage = exchange.usage or _usage_of(result)
            event = {"id": request_id, "object": "chat.completion.chunk", "created": created, "model": model_id,
                     "system_fingerprint": None, "choices": [], "usage": usage}
            await put(b"data: " + dumps(event) + b"\n\n")
        overhead = (time.perf_counter() - started - exchange.upstream_seconds) * 1000
        if result is not None:
            await put(f": policylang rule={result.decision.rule} path={','.join(result.path)} "
                      f"cost={money_text(result.cost)} overhead_ms={overhead:.3f}\n\n".encode())
        await send({"type": "http.response.body", "body": b"data: [DONE]\n\n", "more_body": False})
    except (ConnectionResetError, OSError, asyncio.CancelledError):
        await _close(iterator)  # the client went away: the runtime closes the upstream's stream, logs the run
    finally:
        watcher.cancel()


def _usage_of(result: Any) -> dict[str, int] | None:
    if result is None:
        return None
    answered = [a for a in result.attempts if a.input_tokens is not None]
    if not answered:
        return None
    last = answered[-1]
    prompt, completion = last.input_tokens or 0, last.output_tokens or 0
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


async def _watch(receive: Receive, gone: asyncio.Event) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            gone.set()
            return


async def _close(iterator: Any) -> None:
    close = getattr(iterator, "aclose", None)
    if close is not None:
        try:
            await close()
        except Exception:
            pass
