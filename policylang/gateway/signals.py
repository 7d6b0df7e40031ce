"""Signals from a chat request (section 14): the built-in extractors, and the plan that turns a
request, its headers and the caller's key into one policy's signals.

A header, a `metadata` value or a key attribute arrives as text (or as the config's TOML value);
it is converted to the signal's declared type where it reads as one (`"42"` for an int,
`"true"` for a bool, `"$0.50"` for money), and passed as it came otherwise, so that the policy's
own validation answers with its request-error code (R002, R003) naming the signal. A signal
with no value in the request is left out: the policy's default applies, or R001 when it has
none.

`input_tokens` is an estimate unless a tokenizer is available offline (`TOKEN_COUNTER` says
which): tiktoken with its `cl100k_base` file already cached, never a download. The estimate is
OpenAI's per-message accounting (3 tokens per message, 3 to prime the reply) plus one token per
4 characters of text (rounded up per message), the rule of thumb OpenAI documents for English.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

Extractor = Callable[[Mapping[str, Any]], Any]


def _text_chars(content: Any) -> int:
    if isinstance(content, str):
        return len(content)
    if isinstance(content, list):
        total = 0
        for part in content:
            if isinstance(part, Mapping) and isinstance(part.get("text"), str):
                total += len(part["text"])
        return total
    return 0


def _estimate(messages: Any) -> int:
    """OpenAI's per-message overhead plus one token per 4 characters of each message's text."""
    if not isinstance(messages, list):
        return 0
    total = 3
    for message in messages:
        if isinstance(message, Mapping):
            total += 3 + (_text_chars(message.get("content")) + 3) // 4
            calls = message.get("tool_calls")
            if isinstance(calls, list):
                total += sum((len(str(call)) + 3) // 4 for call in calls)
    return total


def _tiktoken_counter() -> Callable[[Any], int] | None:
    """tiktoken's cl100k_base when its file is in tiktoken's cache already (offline), else None."""
    if os.environ.get("POLICYLANG_TOKENIZER", "auto") == "estimate":
        return None
    try:
        import importlib

        import tiktoken
        importlib.import_module("tiktoken_ext.openai_public")
    except ImportError:
        return None
    cache = os.environ.get("TIKTOKEN_CACHE_DIR") or os.environ.get("DATA_GYM_CACHE_DIR") or \
        os.path.join(os.environ.get("TMPDIR", "/tmp"), "data-gym-cache")
    if not os.path.isdir(cache) or not os.listdir(cache):
        return None
    try:
        encoding = tiktoken.get_encoding("cl100k_base")  # reads the cache; no file there would download
    except Exception:
        return None

    def count(messages: Any) -> int:
        if not isinstance(messages, list):
            return 0
        total = 3
        for message in messages:
            if isinstance(message, Mapping):
                content = message.get("content")
                if isinstance(content, list):
                    content = " ".join(str(part.get("text", "")) for part in content if isinstance(part, Mapping))
                text = content if isinstance(content, str) else ""
                total += 3 + len(encoding.encode(text, disallowed_special=()))
        return total
    return count


_COUNTER = _tiktoken_counter()
TOKEN_COUNTER = "tiktoken cl100k_base" if _COUNTER is not None else "estimate: 3 per message + 1 per 4 characters"
"""How `input_tokens` is counted in this process (the serve log and each decision record say it)."""


def input_tokens(body: Mapping[str, Any]) -> int:
    """The request's input tokens: tiktoken when available offline, else the documented estimate."""
    messages = body.get("messages")
    return _COUNTER(messages) if _COUNTER is not None else _estimate(messages)


def tool_count(body: Mapping[str, Any]) -> int:
    """len(tools) (legacy `functions` too); 0 without."""
    tools = body.get("tools") or body.get("functions")
    return len(tools) if isinstance(tools, list) else 0


def images(body: Mapping[str, Any]) -> bool:
    """Whether any message carries an image part (`image_url` or `input_image`)."""
    messages = body.get("messages")
    if not isinstance(messages, list):
        return False
    for message in messages:
        content = message.get("content") if isinstance(message, Mapping) else None
        if isinstance(content, list):
            for part in content:
                if isinstance(part, Mapping) and part.get("type") in ("image_url", "input_image", "image"):
                    return True
    return False


def json_mode(body: Mapping[str, Any]) -> bool:
    """Whether `response_format` asks for JSON (`json_object` or `json_schema`)."""
    shape = body.get("response_format")
    return isinstance(shape, Mapping) and shape.get("type") in ("json_object", "json_schema")


def stream(body: Mapping[str, Any]) -> bool:
    """Whether the client asked for a stream."""
    return body.get("stream") is True


def conversation_depth(body: Mapping[str, Any]) -> int:
    """The number of messages that are not system or developer instructions."""
    messages = body.get("messages")
    if not isinstance(messages, list):
        return 0
    return sum(1 for m in messages if isinstance(m, Mapping) and m.get("role") not in ("system", "developer"))


def max_tokens(body: Mapping[str, Any]) -> Any:
    """The requested `max_completion_tokens` or `max_tokens`; None (left out) when absent."""
    value = body.get("max_completion_tokens")
    return value if value is not None else body.get("max_tokens")


EXTRACTORS: dict[str, Extractor] = {
    "input_tokens": input_tokens,
    "tool_count": tool_count,
    "images": images,
    "json_mode": json_mode,
    "stream": stream,
    "conversation_depth": conversation_depth,
    "max_tokens": max_tokens,
}
"""The built-in extractors, by the name a config's `extract = "..."` gives."""


def converter(declared: str) -> Callable[[Any], Any]:
    """How a text value becomes a signal of the type the policy declares (`int in 0..10`,
    `bool`, `enum {...}`, `money ...`, `float ...`); a value that does not read as one is
    returned as it came, for the policy to refuse with its own code."""
    kind = declared.split(" ", 1)[0]
    if kind == "int":
        return _to_int
    if kind == "bool":
        return _to_bool
    if kind in ("float", "probability"):
        return _to_float
    if kind == "money":
        return _to_money
    return _same


def _same(value: Any) -> Any:
    return value


def _to_int(value: Any) -> Any:
    if isinstance(value, str):
        text = value.strip().replace("_", "")
        if text.lstrip("-").isdigit() and len(text) < 20:
            return int(text)
    return value


def _to_bool(value: Any) -> Any:
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("true", "1", "yes"):
            return True
        if lowered in ("false", "0", "no"):
            return False
    return value


def _to_float(value: Any) -> Any:
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return value
        return number
    return value


def _to_money(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return Decimal(value.strip().removeprefix("$").replace("_", ""))
        except InvalidOperation:
            return value
    if isinstance(value, float):
        return Decimal(repr(value))
    return value


class Plan:
    """One policy's signal sources, ready to read requests: `signals(body, headers, key)`."""

    __slots__ = ("_steps",)

    def __init__(self, sources: Mapping[str, Any], declared: Mapping[str, Mapping[str, Any]]) -> None:
        steps: list[tuple[str, str, Any, Callable[[Any], Any]]] = []
        for signal, source in sources.items():
            if signal not in declared:
                continue  # a source for another served policy's signal
            convert = converter(str(declared[signal].get("type", "")))
            fetch: Any = EXTRACTORS[source.name] if source.kind == "extract" else source.name
            steps.append((signal, source.kind, fetch, convert))
        self._steps = tuple(steps)

    def signals(self, body: Mapping[str, Any], headers: Mapping[str, str],
                key: Mapping[str, Any] | None) -> dict[str, Any]:
        """The signals of one request; a source with nothing to give leaves its signal out."""
        found: dict[str, Any] = {}
        metadata = body.get("metadata")
        for signal, kind, fetch, convert in self._steps:
            if kind == "extract":
                value = fetch(body)
                if value is None:
                    continue
                found[signal] = value
                continue
            if kind == "header":
                value = headers.get(fetch)
            elif kind == "metadata":
                value = metadata.get(fetch) if isinstance(metadata, Mapping) else None
            elif kind == "request":
                value = body.get(fetch)
            elif kind == "key":
                value = key.get(fetch) if key is not None else None
            else:
                value = fetch
            if value is not None:
                found[signal] = convert(value)
        return found
