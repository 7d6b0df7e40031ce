"""Client glue for the Router's `call`: any OpenAI-compatible endpoint through the official
`openai` SDK (extra `openai`), or any provider LiteLLM knows (extra `litellm`).

    call = runtime.clients.openai(base_url="http://127.0.0.1:8000/v1", api_key="...")
    router = runtime.Router(policy, call)              # router.run uses the SDK's sync client
    await router.arun(signals, request)                # arun uses its async client (call.acall)

Each call sends `model.id` (or `model_name(model)`) and the call's cap as `max_tokens`, and
returns a `runtime.Answer` with the provider's token counts, which the Router prices. Provider
failures become the error names of section 3.6: 429 is `rate_limited` (with its Retry-After),
503 `unavailable`, 408 and 504 `timeout`, other 5xx `server_error`, 404 (the model is gone)
`unavailable`, a connection refused, reset or cut `unavailable` but transient (the Router
retries it, as the SDKs do, before its fallback), a timeout `timeout`, and a content filter (a
refusal, or `finish_reason == "content_filter"`) `content_filtered`. Anything else (a bad key,
a bad request) is re-raised: it is a bug to fix, not an outage to route around. The SDKs' own
retries are turned off, so that the Router's `Retry` is the only one.

`call.stream(model, request, *, max_output)` (and `await`-free `call.astream`, an async
iterator) stream the answer (section 13.1): str chunks, then a `runtime.Usage` when the provider
reports it (OpenAI's `stream_options={"include_usage": True}` is always asked for). The
provider's stream is closed however the iteration ends. A chunk that is not what the SDK's
types say (no JSON, no choices where content was due) is a `server_error`.

A Retry-After is read as seconds (or an HTTP date); a negative one is 0, one that is no number
(nor date), not finite, or more than a day is ignored (None), so that a provider cannot park a
model for a year.

A `request` is a string (one user message), a list of messages, or a dict of the SDK's
keyword arguments holding `messages`.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable, Mapping
from typing import Any

from collections.abc import AsyncIterator, Iterator

from .engine import Model
from .errors import MissingExtra, ProviderError
from .results import Answer, Usage

_DAY = 86_400.0

_FILTER_WORDS = ("content_filter", "content_policy", "content policy", "responsibleaipolicyviolation")


def _kwargs_of(request: Any) -> dict[str, Any]:
    if isinstance(request, str):
        return {"messages": [{"role": "user", "content": request}]}
    if isinstance(request, Mapping):
        if "messages" not in request:
            raise TypeError("a request given as a dict holds the SDK's keyword arguments, with 'messages'")
        return dict(request)
    if isinstance(request, (list, tuple)):
        return {"messages": list(request)}
    raise TypeError(f"a request is a string, a list of messages or a dict of keyword arguments, not "
                    f"{type(request).__name__}")


def retry_after(headers: Any) -> float | None:
    """Seconds from a response's `retry-after-ms` or `retry-after` header (a number of
    seconds or an HTTP date): negative is 0; garbage, not finite or over a day is None."""
    if headers is None:
        return None
    try:
        milliseconds = headers.get("retry-after-ms")
        if milliseconds is not None:
            return _seconds(float(milliseconds) / 1000)
        value = headers.get("retry-after")
    except (AttributeError, TypeError, ValueError, OverflowError):
        return None
    if value is None:
        return None
    try:
        return _seconds(float(value))
    except (TypeError, ValueError, OverflowError):
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        try:
            return _seconds(when.timestamp() - time.time())
        except (TypeError, ValueError, OverflowError):
            return None


def _seconds(value: float) -> float | None:
    if value != value or value in (float("inf"), float("-inf")) or value > _DAY:
        return None
    return max(0.0, value)


def provider_error(status: int | None, message: str, headers: Any = None, body: Any = None) -> ProviderError | None:
    """The provider error an HTTP status stands for (see the module's docstring), or None."""
    text = f"{message} {body}".lower()
    if status == 429:
        return ProviderError("rate_limited", message, retry_after=retry_after(headers))
    if status in (408, 504):
        return ProviderError("timeout", message)
    if status == 503:
        return ProviderError("unavailable", message, retry_after=retry_after(headers))
    if status is not None and status >= 500:
        return ProviderError("server_error", message, retry_after=retry_after(headers))
    if status == 404:
        return ProviderError("unavailable", message)
    if status in (400, 403, 422) and any(word in text for word in _FILTER_WORDS):
        return ProviderError("content_filtered", message)
    return None


def _answer(response: Any) -> Answer:
    choice = response.choices[0]
    reason = getattr(choice, "finish_reason", None)
    if reason == "content_filter":
        raise ProviderError("content_filtered", "the provider filtered the answer (finish_reason content_filter)")
    usage = getattr(response, "usage", None)
    return Answer(text=getattr(choice.message, "content", None) or "", finish_reason=reason,
                  input_tokens=getattr(usage, "prompt_tokens", None), output_tokens=getattr(usage, "completion_tokens", None),
                  model=getattr(response, "model", None), raw=response)


def _streamed(request: Any) -> dict[str, Any]:
    """A request's keyword arguments, marked as asked for by a stream method."""
    return {**_kwargs_of(request), "_streaming": True}


def _items(chunk: Any) -> Iterator[str | Usage]:
    """The text and the usage a stream chunk carries (OpenAI's and LiteLLM's shapes)."""
    try:
        choices = chunk.choices
        if choices:
            choice = choices[0]
            content = getattr(choice.delta, "content", None) if choice.delta is not None else None
            if getattr(choice, "finish_reason", None) == "content_filter":
                raise ProviderError("content_filtered", "the provider filtered the answer (finish_reason content_filter)")
            if content:
                if not isinstance(content, str):
                    raise TypeError(f"content is a {type(content).__name__}")
                yield content
        usage = getattr(chunk, "usage", None)
        if usage is not None:
            prompt, completion = getattr(usage, "prompt_tokens", None), getattr(usage, "completion_tokens", None)
            if isinstance(prompt, int) and isinstance(completion, int):
                yield Usage(prompt, completion)
    except (AttributeError, TypeError, IndexError) as exc:
        raise ProviderError("server_error", f"a malformed stream chunk: {exc}") from exc


def _stream_error(exc: BaseException) -> ProviderError | None:
    """A transport failure while a stream is read (the SDKs let httpx's errors through)."""
    if isinstance(exc, TimeoutError) or type(exc).__name__ in ("ReadTimeout", "TimeoutException", "PoolTimeout",
                                                                  "ConnectTimeout", "WriteTimeout"):
        return ProviderError("timeout", str(exc) or type(exc).__name__)
    if isinstance(exc, ConnectionError) or any(k.__name__ == "TransportError" for k in type(exc).__mro__):
        return ProviderError("unavailable", str(exc) or type(exc).__name__, transient=True)
    if isinstance(exc, ValueError):  # a chunk that is no JSON
        return ProviderError("server_error", f"a malformed stream chunk: {exc}")
    return None


class _Client:
    """A `call` with a sync `__call__` and an async `acall` over one SDK."""

    def __init__(self, model_name: Callable[[Model], str] | None, max_tokens_param: str, extra: dict[str, Any]) -> None:
        self._model_name = model_name
        self._max_tokens_param = max_tokens_param
        self._extra = extra

    def _arguments(self, model: Model, request: Any, max_output: int, timeout: float | None) -> dict[str, Any]:
        arguments = {**self._extra, **_kwargs_of(request)}
        if arguments.pop("stream", None) and not arguments.pop("_streaming", False):
            # a whole answer was asked for: a streamed one would be billed, then unreadable here
            raise TypeError("a request with stream=True is served by router.stream or astream, not run or arun")
        arguments.pop("_streaming", None)
        arguments["model"] = self._model_name(model) if self._model_name is not None else model.id
        arguments[self._max_tokens_param] = max_output
        if timeout is not None:
            arguments["timeout"] = timeout
        return arguments


class OpenAICall(_Client):
    """`runtime.clients.openai(...)`: see the module's docstring."""

    def __init__(self, client: Any, async_client: Any, settings: dict[str, Any], **rest: Any) -> None:
        super().__init__(**rest)
        self._sdk = _import("openai", "runtime.clients.openai", "openai")
        self._settings = settings
        self.client = client.with_options(max_retries=0) if client is not None else \
            self._sdk.OpenAI(max_retries=0, **settings)
        self._async_client = async_client.with_options(max_retries=0) if async_client is not None else None

    @property
    def async_client(self) -> Any:
        if self._async_client is None:
            settings = self._settings or {"base_url": str(self.client.base_url), "api_key": self.client.api_key,
                                          "timeout": self.client.timeout}
            self._async_client = self._sdk.AsyncOpenAI(max_retries=0, **settings)
        return self._async_client

    def __call__(self, model: Model, request: Any, *, max_output: int, timeout: float | None = None) -> Answer:
        """One chat completion; ProviderError for a provider failure."""
        try:
            response = self.client.chat.completions.create(**self._arguments(model, request, max_output, timeout))
        except self._sdk.APIError as exc:
            raise self._error(exc) from exc
        return _answer(response)

    async def acall(self, model: Model, request: Any, *, max_output: int, timeout: float | None = None) -> Answer:
        """`__call__` on the SDK's async client."""
        try:
            response = await self.async_client.chat.completions.create(**self._arguments(model, request, max_output, timeout))
        except self._sdk.APIError as exc:
            raise self._error(exc) from exc
        return _answer(response)

    def stream(self, model: Model, request: Any, *, max_output: int,
               timeout: float | None = None) -> Iterator[str | Usage]:
        """One streamed chat completion: str chunks, then its `Usage`; ProviderError for a
        provider failure (before or during the stream). Closes the stream however it ends."""
        arguments = self._arguments(model, _streamed(request), max_output, timeout)
        arguments["stream"], arguments["stream_options"] = True, {"include_usage": True}
        try:
            response = self.client.chat.completions.create(**arguments)
        except self._sdk.APIError as exc:
            raise self._error(exc) from exc
        try:
            for chunk in response:
                yield from _items(chunk)
        except self._sdk.APIError as exc:
            raise self._error(exc) from exc
        except ProviderError:
            raise
        except Exception as exc:
            found = _stream_error(exc)
            if found is None:
                raise
            raise found from exc
        finally:
            response.close()

    async def astream(self, model: Model, request: Any, *, max_output: int,
                      timeout: float | None = None) -> AsyncIterator[str | Usage]:
        """`stream` on the SDK's async client."""
        arguments = self._arguments(model, _streamed(request), max_output, timeout)
        arguments["stream"], arguments["stream_options"] = True, {"include_usage": True}
        try:
            response = await self.async_client.chat.completions.create(**arguments)
        except self._sdk.APIError as exc:
            raise self._error(exc) from exc
        try:
            async for chunk in response:
                for item in _items(chunk):
                    yield item
        except self._sdk.APIError as exc:
            raise self._error(exc) from exc
        except ProviderError:
            raise
        except Exception as exc:
            found = _stream_error(exc)
            if found is None:
                raise
            raise found from exc
        finally:
            await response.close()

    def _error(self, exc: Exception) -> Exception:
        sdk = self._sdk
        if isinstance(exc, sdk.APITimeoutError):
            return ProviderError("timeout", str(exc))
        if isinstance(exc, sdk.APIConnectionError):  # refused, reset, cut: the SDK retries these
            return ProviderError("unavailable", str(exc), transient=True)
        if isinstance(exc, sdk.APIStatusError):
            found = provider_error(exc.status_code, str(exc), exc.response.headers, getattr(exc, "body", None))
            if found is not None:
                return found
        return exc


class LiteLLMCall(_Client):
    """`runtime.clients.litellm(...)`: see the module's docstring."""

    def __init__(self, prefix: str, **rest: Any) -> None:
        super().__init__(**rest)
        self._litellm = _import("litellm", "runtime.clients.litellm", "litellm")
        self._prefix = prefix

    def _arguments(self, model: Model, request: Any, max_output: int, timeout: float | None) -> dict[str, Any]:
        arguments = super()._arguments(model, request, max_output, timeout)
        arguments["model"] = self._prefix + arguments["model"]
        arguments.setdefault("num_retries", 0)
        arguments.setdefault("max_retries", 0)
        return arguments

    def __call__(self, model: Model, request: Any, *, max_output: int, timeout: float | None = None) -> Answer:
        """One `litellm.completion`; ProviderError for a provider failure."""
        try:
            response = self._litellm.completion(**self._arguments(model, request, max_output, timeout))
        except Exception as exc:
            raise self._error(exc) from exc
        return _answer(response)

    async def acall(self, model: Model, request: Any, *, max_output: int, timeout: float | None = None) -> Answer:
        """One `litellm.acompletion`."""
        try:
            response = await self._litellm.acompletion(**self._arguments(model, request, max_output, timeout))
        except Exception as exc:
            raise self._error(exc) from exc
        return _answer(response)

    def stream(self, model: Model, request: Any, *, max_output: int,
               timeout: float | None = None) -> Iterator[str | Usage]:
        """One streamed `litellm.completion`: str chunks, then its `Usage`."""
        arguments = self._arguments(model, _streamed(request), max_output, timeout)
        arguments["stream"], arguments["stream_options"] = True, {"include_usage": True}
        response: Any = None
        try:
            response = self._litellm.completion(**arguments)
            for chunk in response:
                yield from _items(chunk)
        except ProviderError:
            raise
        except Exception as exc:
            found = self._error(exc)
            if found is exc:
                found = _stream_error(exc) or exc
            raise found from exc
        finally:
            close = getattr(response, "close", None) or getattr(getattr(response, "completion_stream", None), "close", None)
            if close is not None:
                try:
                    close()
                except Exception:  # noqa: BLE001 - already broken: closed either way
                    pass

    async def astream(self, model: Model, request: Any, *, max_output: int,
                      timeout: float | None = None) -> AsyncIterator[str | Usage]:
        """One streamed `litellm.acompletion`."""
        arguments = self._arguments(model, _streamed(request), max_output, timeout)
        arguments["stream"], arguments["stream_options"] = True, {"include_usage": True}
        response: Any = None
        try:
            response = await self._litellm.acompletion(**arguments)
            async for chunk in response:
                for item in _items(chunk):
                    yield item
        except ProviderError:
            raise
        except Exception as exc:
            found = self._error(exc)
            if found is exc:
                found = _stream_error(exc) or exc
            raise found from exc
        finally:
            stream = getattr(response, "completion_stream", None)
            close = getattr(stream, "aclose", None) or getattr(stream, "close", None)
            if close is not None:
                try:
                    closed = close()
                    if hasattr(closed, "__await__"):
                        await closed
                except Exception:  # noqa: BLE001 - as in stream
                    pass

    def _error(self, exc: Exception) -> Exception:
        lite = self._litellm
        if isinstance(exc, ProviderError):
            return exc
        if isinstance(exc, lite.Timeout):
            return ProviderError("timeout", str(exc))
        if isinstance(exc, lite.ContentPolicyViolationError):
            return ProviderError("content_filtered", str(exc))
        status = getattr(exc, "status_code", None)
        response = getattr(exc, "response", None)
        headers = getattr(exc, "litellm_response_headers", None) or getattr(response, "headers", None)
        found = provider_error(status if isinstance(status, int) else None, str(exc), headers, getattr(exc, "body", None))
        if found is not None:
            return found
        if isinstance(exc, lite.APIConnectionError):
            return ProviderError("unavailable", str(exc), transient=True)
        return exc


def _import(package: str, feature: str, extra: str) -> Any:
    try:
        return __import__(package)
    except ImportError:
        raise MissingExtra(feature, package, extra) from None


def openai(client: Any = None, *, base_url: str | None = None, api_key: str | None = None, timeout: float = 60.0,
           async_client: Any = None, model_name: Callable[[Model], str] | None = None,
           max_tokens_param: str = "max_tokens", **create: Any) -> OpenAICall:
    """A `call` over the `openai` SDK for any OpenAI-compatible endpoint. Give a configured
    `client` (and `async_client`), or `base_url`/`api_key` (default: the SDK's environment
    variables) and `timeout` (seconds per call, 60). `max_tokens_param="max_completion_tokens"`
    for OpenAI's reasoning models; other keyword arguments go to every `create` call."""
    settings = {} if client is not None else {
        key: value for key, value in (("base_url", base_url), ("api_key", api_key), ("timeout", timeout)) if value is not None}
    return OpenAICall(client, async_client, settings, model_name=model_name, max_tokens_param=max_tokens_param,
                      extra=create)


def litellm(*, model_prefix: str = "", api_base: str | None = None, api_key: str | None = None, timeout: float = 60.0,
            model_name: Callable[[Model], str] | None = None, **completion: Any) -> LiteLLMCall:
    """A `call` over `litellm.completion` / `acompletion`. The model sent is `model_prefix`
    followed by `model.id` (the catalog's ids, `openai/gpt-5.5`, are LiteLLM's own; use
    `model_prefix="openai/"` with `api_base` for an OpenAI-compatible server). Other keyword
    arguments go to every call."""
    extra = {key: value for key, value in (("api_base", api_base), ("api_key", api_key), ("timeout", timeout))
             if value is not None}
    return LiteLLMCall(model_prefix, model_name=model_name, max_tokens_param="max_tokens", extra={**extra, **completion})
