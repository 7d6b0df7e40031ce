"""The gateway's ASGI application (section 14): OpenAI's Chat Completions API over the runtime.

A raw ASGI app (no framework: docs/choices.md says why): `POST /v1/chat/completions`, `GET
/v1/models`, `GET /health/live`, `GET /health/ready`, `GET /metrics`. Every chat request runs
through the served policy's `runtime.Router` (`arun`, or `astream` for `"stream": true`); the
app adds HTTP: limits, keys, signals, OpenAI's response and error shapes, headers naming the
rule, the path, the cost and the gateway's own overhead.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

from ..money import money_text
from .config import ClientKey, Limits
from .http import Failure, Receive, Scope, Send, failure_of
from .served import REQUEST, Served
from .upstream import CURRENT, Exchange, dumps, loads

logger = logging.getLogger("policylang.gateway")

_JSON = (b"content-type", b"application/json")


class Gateway:
    """The ASGI app. `served` is what it serves now (None until loaded: /health/ready 503);
    `draining` is set when the worker is stopping (/health/ready 503)."""

    def __init__(self, served: Served | None = None, *, limits: Limits | None = None,
                 metrics: Any = None) -> None:
        self.served = served
        self.limits = limits or (served.config.limits if served is not None else Limits())
        self.draining = False
        self.metrics = metrics
        self.registry: Any = None
        self.on_startup: list[Callable[[], Awaitable[None]]] = []
        self.on_shutdown: list[Callable[[], Awaitable[None]]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self.http(scope, receive, send)
        elif kind == "lifespan":
            await self.lifespan(receive, send)

    async def lifespan(self, receive: Receive, send: Send) -> None:
        """Run the startup hooks (load the policies) and, at the end, the shutdown hooks."""
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    for hook in self.on_startup:
                        await hook()
                except Exception as exc:  # a config that broke between the check and the worker's start
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.draining = True
                for hook in self.on_shutdown:
                    try:
                        await hook()
                    except Exception:
                        logger.exception("shutting down")
                await send({"type": "lifespan.shutdown.complete"})
                return

    # ---- routing ------------------------------------------------------------------------------

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        """One HTTP request: the endpoint's answer, or an error in OpenAI's shape."""
        path, method = scope["path"], scope["method"]
        try:
            if sum(len(k) + len(v) for k, v in scope["headers"]) > self.limits.max_header_bytes:
                raise Failure(431, f"the request headers exceed {self.limits.max_header_bytes} bytes",
                              "invalid_request_error", "headers_too_large")
            if path == "/v1/chat/completions" or path == "/chat/completions":
                if method != "POST":
                    raise Failure(405, "use POST", "invalid_request_error", "method_not_allowed")
                await self.chat(scope, receive, send)
            elif method not in ("GET", "HEAD"):
                raise Failure(405 if path in _GETS else 404, f"no {method} {path}", "invalid_request_error",
                              "not_found")
            elif path == "/health/live":
                await _respond(send, 200, b'{"status":"live"}')
            elif path == "/health/ready":
                ready = self.served is not None and not self.draining
                await _respond(send, 200 if ready else 503,
                               b'{"status":"ready"}' if ready else
                               (b'{"status":"draining"}' if self.draining else b'{"status":"loading"}'))
            elif path == "/v1/models" or path == "/models":
                await self.models(send)
            elif path == "/metrics":
                await self.metrics_text(send)
            else:
                raise Failure(404, f"no route {path}", "invalid_request_error", "not_found")
        except Failure as failure:
            await _respond(send, failure.status, failure.body(), failure.headers)

    async def models(self, send: Send) -> None:
        """The served policies, as OpenAI lists models."""
        served = self._served()
        data = [{"id": name, "object": "model", "created": 0, "owned_by": "policylang"} for name in served.policies]
        await _respond(send, 200, json.dumps({"object": "list", "data": data}).encode("utf-8"))

    async def metrics_text(self, send: Send) -> None:
        """Prometheus' text format of the runtime's metrics (13.3)."""
        if self.metrics is None or self.registry is None:
            raise Failure(404, "metrics need the runtime's metrics (policylang.runtime.metrics, extra 'metrics')",
                          "invalid_request_error", "metrics_unavailable")
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
        body = generate_latest(self.registry)
        await _respond(send, 200, body, ((b"content-type", CONTENT_TYPE_LATEST.encode("latin-1")),), json_type=False)

    def _served(self) -> Served:
        served = self.served
        if served is None:
            raise Failure(503, "the gateway is still loading its policies", "server_error", "not_ready")
        return served

    # ---- chat completions ---------------------------------------------------------------------

    async def read_body(self, scope: Scope, receive: Receive, clock: asyncio.Timeout) -> bytes:
        """The request body, within the size limit (413); `clock` (the request's one timer) is
        moved on by the idle timeout at each chunk."""
        limit = self.limits.max_body_bytes
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    raise Failure(400, "content-length is no number", "invalid_request_error", "bad_request") from None
                if declared > limit:
                    raise Failure(413, f"the request body exceeds {limit} bytes", "invalid_request_error",
                                  "request_too_large")
        chunks: list[bytes] = []
        size = 0
        idle = self.limits.idle_timeout
        loop = asyncio.get_running_loop()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise asyncio.CancelledError
            chunk: bytes = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise Failure(413, f"the request body exceeds {limit} bytes", "invalid_request_error",
                              "request_too_large")
            if not message.get("more_body", False):
                return b"".join(chunks) + chunk if chunks else chunk
            chunks.append(chunk)
            clock.reschedule(loop.time() + idle)

    async def chat(self, scope: Scope, receive: Receive, send: Send) -> None:
        """`POST /v1/chat/completions`: authenticate, read the signals, run the policy. One
        timer bounds the request: the idle timeout while its body arrives (408), then the total
        timeout (504)."""
        started = time.perf_counter()
        served = self._served()
        if self.draining:
            raise Failure(503, "the gateway is shutting down", "server_error", "draining")
        limits = self.limits
        reading = True
        try:
            async with asyncio.timeout(limits.idle_timeout) as clock:
                raw = await self.read_body(scope, receive, clock)
                reading = False
                clock.reschedule(asyncio.get_running_loop().time() + limits.total_timeout - limits.idle_timeout)
                await self.answer(served, scope, raw, send, receive, started, clock)
        except TimeoutError:
            if reading:
                raise Failure(408, f"the request body stalled for {limits.idle_timeout:g} s", "invalid_request_error",
                              "request_timeout") from None
            raise Failure(504, f"no answer within {limits.total_timeout:g} s", "server_error", "timeout") from None

    async def answer(self, served: Served, scope: Scope, raw: bytes, send: Send, receive: Receive, started: float,
                     clock: asyncio.Timeout) -> None:
        """Run a read request through its policy and send the answer."""
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]} \
            if served.needs_headers else {}
        key = await self.authenticate(served, scope["headers"])
        body = _parse(raw, self.limits)
        served_policy = served.policies.get(body["model"])
        if served_policy is None:
            raise Failure(400, f"the model {body['model']!r} is not served here; the models are "
                          f"{', '.join(served.policies)}", "invalid_request_error", "model_not_found", "model")
        signals = served_policy.plan.signals(body, headers, key.attributes if key is not None else None)
        request = {k: v for k, v in body.items() if k not in _GATEWAY_FIELDS}
        session = served_policy.session(key, served.state) if key is not None else None
        runner: Any = session if session is not None else served_policy.router
        exchange = Exchange()
        CURRENT.set(exchange)
        request_id = "chatcmpl-" + secrets.token_hex(12)
        REQUEST.set({"request_id": request_id, "key": key.name if key is not None else None,
                     "served_as": body["model"], "stream": body.get("stream") is True})
        if body.get("stream") is True:
            clock.reschedule(None)  # a stream keeps its own deadline, and sends its own errors
            await self.stream(runner, signals, request, body, send, request_id, exchange, started, receive)
            return
        try:
            result = await runner.arun(signals, request)
        except BaseException as exc:
            raise failure_of(exc) from None
        model = served_policy.router.engine.models[result.model]
        answer = result.answer
        payload = dict(answer.raw) if isinstance(getattr(answer, "raw", None), dict) else _minimal(answer)
        payload["model"] = model.id
        overhead = (time.perf_counter() - started - exchange.upstream_seconds) * 1000
        await _respond(send, 200, dumps(payload), (
            (b"x-policylang-rule", result.decision.rule.encode()),
            (b"x-policylang-path", ",".join(result.path).encode()),
            (b"x-policylang-cost", money_text(result.cost).encode()),
            (b"x-policylang-overhead-ms", f"{overhead:.3f}".encode()),
            (b"x-request-id", request_id.encode()),
        ))

    async def authenticate(self, served: Served, headers: list[tuple[bytes, bytes]]) -> ClientKey | None:
        """The caller's key (None when the config lists none); 401 unknown, 429 over its rate."""
        keys = served.keys
        if not keys.required:
            return None
        authorization = next((v.decode("latin-1") for k, v in headers if k == b"authorization"), None)
        key = keys.find(authorization)
        if key is None:
            raise Failure(401, "a valid API key is required (Authorization: Bearer ...)", "invalid_request_error",
                          "invalid_api_key")
        wait = await keys.admit(key)
        if wait is not None:
            raise Failure(429, f"the key's rate of {key.rpm} requests a minute is spent; retry in {wait:.0f} s",
                          "rate_limit_error", "rate_limit_exceeded",
                          headers=((b"retry-after", str(max(1, round(wait))).encode()),))
        return key

    async def stream(self, runner: Any, signals: dict[str, Any], request: dict[str, Any], body: dict[str, Any],
                     send: Send, request_id: str, exchange: Exchange, started: float, receive: Receive) -> None:
        """`"stream": true`: server-sent events as OpenAI sends them (13.1's rules)."""
        from .streaming import stream_response
        await stream_response(self.limits.total_timeout, runner, signals, request, body, send, request_id, exchange,
                              started, receive)


_GETS = ("/health/live", "/health/ready", "/v1/models", "/metrics")
_GATEWAY_FIELDS = frozenset({"model", "metadata", "stream", "stream_options"})


def _parse(raw: bytes, limits: Limits) -> dict[str, Any]:
    """The chat request, its shape checked as far as the gateway needs it (400 otherwise)."""
    try:
        body = loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise Failure(400, f"the request body is not valid JSON: {str(exc)[:200]}", "invalid_request_error",
                      "invalid_json") from None
    if not isinstance(body, dict):
        raise Failure(400, "the request body must be a JSON object", "invalid_request_error", "invalid_request")
    if not isinstance(body.get("model"), str):
        raise Failure(400, "'model' is required: the name of a served policy", "invalid_request_error",
                      "invalid_type", "model")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
        raise Failure(400, "'messages' must be a non-empty array of message objects", "invalid_request_error",
                      "invalid_type", "messages")
    if len(messages) > limits.max_messages:
        raise Failure(400, f"'messages' holds {len(messages)} messages; the limit is {limits.max_messages}",
                      "invalid_request_error", "too_many_messages", "messages")
    for name, kinds in (("stream", (bool,)), ("max_tokens", (int,)), ("max_completion_tokens", (int,)),
                        ("metadata", (dict,)), ("tools", (list,)), ("stream_options", (dict,))):
        value = body.get(name)
        if value is not None and (not isinstance(value, kinds) or (kinds == (int,) and isinstance(value, bool))):
            raise Failure(400, f"'{name}' has the wrong type: {type(value).__name__}", "invalid_request_error",
                          "invalid_type", name)
    return body


def _minimal(answer: Any) -> dict[str, Any]:
    return {"id": "chatcmpl-policylang", "object": "chat.completion", "created": int(time.time()),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": getattr(answer, "text", str(answer))},
                         "finish_reason": getattr(answer, "finish_reason", "stop")}]}


async def _respond(send: Send, status: int, body: bytes, headers: tuple[tuple[bytes, bytes], ...] = (),
                   json_type: bool = True) -> None:
    start = [(b"content-length", str(len(body)).encode())]
    if json_type:
        start.append(_JSON)
    start.extend(headers)
    await send({"type": "http.response.start", "status": status, "headers": start})
    await send({"type": "http.response.body", "body": body})
