"""Upstream calls (section 14): the Router's `call` object for the gateway, speaking the OpenAI
Chat Completions API to the endpoint each model id's prefix names.

One pooled `aiohttp` session per upstream base URL and worker (keep-alive connections reused
across requests); a timeout per call from the upstream's config. The call sends the client's
request with `model` set to the model's id less the upstream's prefix and the call's cap as
`max_tokens` (or `max_completion_tokens`; the client's own `max_tokens` when it is lower), and
returns a `runtime.Answer` whose `raw` is the upstream's JSON answer. Provider failures become
section 3.6's errors exactly as `runtime.clients` maps them (429 `rate_limited` with its Retry-After, 5xx `server_error`, 503
and a refused connection `unavailable`, a timeout `timeout`); an upstream that refuses the
gateway's own credentials (401, 403) is an `UpstreamRefused` whose message never carries the
key; any other 4xx is the client's request, passed back as `UpstreamRefused` with the upstream's
status and its message, scrubbed of the key.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import os
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..runtime import Answer, Model, ProviderError
from ..runtime.clients import provider_error
from .config import Config, Upstream


class UpstreamRefused(Exception):
    """The upstream refused the request for a reason no fallback can cure: `status` is the
    HTTP status to answer the client with, `message` is safe to show (no key in it)."""

    def __init__(self, status: int, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code


@dataclass
class Exchange:
    """What the calls of one client request did, for its response: the seconds spent waiting
    on upstreams (the gateway's overhead is the rest), the last answer's raw JSON and finish
    reason, and the stream's role/id details."""

    upstream_seconds: float = 0.0
    raw: dict[str, Any] | None = None
    finish_reason: str | None = None
    usage: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


try:  # orjson (in the serve extra) is 5-10x the standard library's speed; the output is the same JSON
    import orjson

    def dumps(value: Any) -> bytes:
        """Compact JSON bytes."""
        return orjson.dumps(value)

    loads: Callable[[bytes | str], Any] = orjson.loads
    DecodeError: type[Exception] = orjson.JSONDecodeError
except ImportError:  # pragma: no cover - the standard library's
    def dumps(value: Any) -> bytes:
        """Compact JSON bytes."""
        return json.dumps(value, separators=(",", ":")).encode("utf-8")

    loads = json.loads
    DecodeError = ValueError


CURRENT: contextvars.ContextVar[Exchange | None] = contextvars.ContextVar("policylang_gateway_exchange", default=None)


def _scrub(text: str, secrets: tuple[str, ...]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[redacted]")
    return text[:1000]


class _Endpoint:
    """One upstream's session (created in the running loop, on first use) and its headers."""

    def __init__(self, upstream: Upstream) -> None:
        self.upstream = upstream
        self.url = upstream.base_url + "/chat/completions"
        key = os.environ.get(upstream.api_key_env, "") if upstream.api_key_env else ""
        self.secrets = (key,) if key else ()
        self.headers = {"content-type": "application/json"}
        if key:
            self.headers["authorization"] = f"Bearer {key}"
        self.session: Any = None

    def client(self) -> Any:
        if self.session is None or self.session.closed:
            import aiohttp
            connector = aiohttp.TCPConnector(limit=512, keepalive_timeout=30, ttl_dns_cache=300)
            self.session = aiohttp.ClientSession(connector=connector, json_serialize=json.dumps,
                                                 skip_auto_headers=("User-Agent",))
        return self.session


class GatewayCall:
    """The Router's call: `await call.acall(model, request, max_output=...)` and
    `call.astream(...)`. `request` is the client's chat request (a dict) less `model`."""

    def __init__(self, config: Config) -> None:
        self._config = config
        self._endpoints: dict[str, _Endpoint] = {}
        for upstream in config.upstreams:
            self._endpoints[upstream.prefix] = _Endpoint(upstream)

    def endpoint(self, model_id: str) -> _Endpoint:
        upstream = self._config.upstream_for(model_id)
        if upstream is None:  # the config check at start makes this unreachable
            raise UpstreamRefused(502, f"no upstream serves model id {model_id!r}")
        return self._endpoints[upstream.prefix]

    def __call__(self, model: Model, request: Any, *, max_output: int, timeout: float | None = None) -> Answer:
        raise TypeError("the gateway's call is async: the Router runs it with arun")

    def body(self, endpoint: _Endpoint, model: Model, request: Mapping[str, Any], max_output: int,
             stream: bool) -> bytes:
        """The upstream request's JSON: the client's, with the model and the call's cap."""
        body = dict(request)
        body["model"] = model.id[len(endpoint.upstream.prefix):]
        asked = body.pop("max_completion_tokens", None)
        asked = body.pop("max_tokens", asked) if asked is None else (body.pop("max_tokens", None), asked)[1]
        if isinstance(asked, int) and not isinstance(asked, bool) and 0 < asked < max_output:
            max_output = asked  # the client asked for less than the policy's cap
        body[endpoint.upstream.max_tokens_param] = max_output
        if stream:
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
        else:
            body.pop("stream", None)
            body.pop("stream_options", None)
        return dumps(body)

    async def acall(self, model: Model, request: Any, *, max_output: int, timeout: float | None = None) -> Answer:
        """One chat completion upstream; ProviderError for a provider failure, UpstreamRefused
        for one no fallback can cure."""
        endpoint = self.endpoint(model.id)
        data = self.body(endpoint, model, request, max_output, stream=False)
        exchange = CURRENT.get()
        started = time.perf_counter()
        try:
            import aiohttp
            try:
                async with endpoint.client().post(
                        endpoint.url, data=data, headers=endpoint.headers,
                        timeout=aiohttp.ClientTimeout(total=timeout or endpoint.upstream.timeout)) as response:
                    payload = await response.read()
                    status = response.status
                    headers = response.headers
            except asyncio.TimeoutError:
                raise ProviderError("timeout", f"{model.id}: no answer within "
                                               f"{timeout or endpoint.upstream.timeout:g} s") from None
            except aiohttp.ClientError as exc:
                raise _unreachable(model, exc, endpoint.secrets) from None
        finally:
            if exchange is not None:
                exchange.upstream_seconds += time.perf_counter() - started
        if status != 200:
            raise _failure(model, status, payload, headers, endpoint.secrets)
        try:
            answer = loads(payload)
            choice = answer["choices"][0]
            usage = answer.get("usage") or {}
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            raise ProviderError("server_error", f"{model.id}: the upstream's answer is not a chat completion") from None
        reason = choice.get("finish_reason")
        if reason == "content_filter":
            raise ProviderError("content_filtered", f"{model.id}: the provider filtered the answer")
        if exchange is not None:
            exchange.raw, exchange.finish_reason, exchange.usage = answer, reason, usage
        message = choice.get("message") or {}
        return Answer(text=message.get("content") or "", finish_reason=reason,
                      input_tokens=usage.get("prompt_tokens"), output_tokens=usage.get("completion_tokens"),
                      model=answer.get("model"), raw=answer)

    async def astream(self, model: Model, request: Any, *, max_output: int,
                      timeout: float | None = None) -> AsyncIterator[Any]:
        """A streamed chat completion upstream (13.1): the text as it arrives, then a
        `runtime.Usage` when the upstream reports one. Errors before the first chunk are
        ProviderErrors as in `acall`."""
        from .. import runtime
        usage_type = getattr(runtime, "Usage", None)
        endpoint = self.endpoint(model.id)
        data = self.body(endpoint, model, request, max_output, stream=True)
        exchange = CURRENT.get()
        calls: dict[int, dict[str, Any]] = {}
        if exchange is not None:
            exchange.extra["model_id"] = model.id
            exchange.extra["tool_calls"] = calls  # this call's; a later call (a climb) starts afresh
        started = time.perf_counter()
        import aiohttp
        limit = timeout or endpoint.upstream.timeout
        try:
            response = await endpoint.client().post(
                endpoint.url, data=data, headers=endpoint.headers,
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=limit, sock_read=limit))
        except asyncio.TimeoutError:
            raise ProviderError("timeout", f"{model.id}: no answer within {limit:g} s") from None
        except aiohttp.ClientError as exc:
            raise _unreachable(model, exc, endpoint.secrets) from None
        finally:
            if exchange is not None:
                exchange.upstream_seconds += time.perf_counter() - started
        try:
            if response.status != 200:
                raise _failure(model, response.status, await response.read(), response.headers, endpoint.secrets)
            usage: dict[str, Any] | None = None
            buffer = b""
            while True:
                waited = time.perf_counter()
                try:
                    piece = await response.content.readany()
                except asyncio.TimeoutError:
                    raise ProviderError("timeout", f"{model.id}: the stream stalled for {limit:g} s") from None
                except aiohttp.ClientError as exc:
                    raise ProviderError("unavailable", f"{model.id}: the stream broke: {type(exc).__name__}") from None
                finally:
                    if exchange is not None:
                        exchange.upstream_seconds += time.perf_counter() - waited
                if not piece:
                    break
                buffer += piece
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    line = line.strip()
                    if not line.startswith(b"data:"):
                        continue
                    text = line[5:].strip()
                    if text == b"[DONE]":
                        continue
                    try:
                        chunk = loads(text)
                    except ValueError:
                        continue
                    if chunk.get("usage"):
                        usage = chunk["usage"]
                    for choice in chunk.get("choices") or ():
                        if choice.get("finish_reason"):
                            if exchange is not None:
                                exchange.finish_reason = choice["finish_reason"]
                            if choice["finish_reason"] == "content_filter":
                                raise ProviderError("content_filtered", f"{model.id}: the provider filtered the answer")
                        delta = choice.get("delta") or {}
                        if delta.get("tool_calls"):
                            _gather(calls, delta["tool_calls"])
                        content = delta.get("content")
                        if content:
                            yield content
            if exchange is not None:
                exchange.usage = usage
            if usage is not None and usage_type is not None:
                yield usage_type(usage.get("prompt_tokens") or 0, usage.get("completion_tokens") or 0)
        finally:
            response.release()

    async def close(self) -> None:
        """Close every pooled session (the worker is stopping)."""
        for endpoint in self._endpoints.values():
            if endpoint.session is not None and not endpoint.session.closed:
                await endpoint.session.close()


def _gather(calls: dict[int, dict[str, Any]], deltas: Any) -> None:
    """Add a streamed chunk's tool-call deltas to the calls gathered so far (by index): the id,
    type and name as first sent, the arguments' pieces joined."""
    for delta in deltas if isinstance(deltas, list) else ():
        if not isinstance(delta, dict):
            continue
        index = delta.get("index", 0)
        call = calls.setdefault(index if isinstance(index, int) else 0,
                                {"id": None, "type": "function", "function": {"name": None, "arguments": ""}})
        call["id"] = call["id"] or delta.get("id")
        call["type"] = delta.get("type") or call["type"]
        function = delta.get("function") or {}
        call["function"]["name"] = call["function"]["name"] or function.get("name")
        call["function"]["arguments"] += function.get("arguments") or ""


def _unreachable(model: Model, exc: Exception, secrets: tuple[str, ...]) -> ProviderError:
    """A connection that failed: `unavailable`, the message scrubbed of the key."""
    return ProviderError("unavailable", f"{model.id}: {_scrub(str(exc) or type(exc).__name__, secrets)}")


def _failure(model: Model, status: int, payload: bytes, headers: Any, secrets: tuple[str, ...]) -> Exception:
    """The exception an upstream's error answer stands for."""
    try:
        detail = loads(payload)
        message = str(detail.get("error", {}).get("message") or detail)
    except (ValueError, AttributeError):
        detail, message = None, payload[:300].decode("utf-8", "replace")
    message = _scrub(message, secrets)
    found = provider_error(status, f"{model.id}: upstream answered {status}: {message}", headers, message)
    if found is not None:
        return found
    if status in (401, 403):
        return UpstreamRefused(502, f"the upstream for {model.id} refused the gateway's credentials ({status})",
                               "upstream_auth")
    if 400 <= status < 500:
        return UpstreamRefused(status, f"{model.id}: {message}", "upstream_rejected")
    return ProviderError("server_error", f"{model.id}: upstream answered {status}")
