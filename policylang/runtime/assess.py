"""Judging answers: the outcomes the seeds' cascades climb on (std/signals' `valid` and
`confidence`), from an answer's text and why it ended.

    router = runtime.Router(policy, call, assess=runtime.assess.outcomes(json=True))

An answer is not valid when it is empty, when the cap cut it (`finish_reason == "length"`),
when `json=True` and it is no JSON, or when it breaks `schema`. Its confidence is the number
in its JSON `confidence` field; an answer that is not valid and states none has confidence 0.
"""

from __future__ import annotations

import json as _json
from collections.abc import Callable, Mapping
from typing import Any

from .errors import MissingExtra
from .results import Answer


def text_of(answer: Any) -> tuple[str, str | None]:
    """(text, finish_reason) of a `runtime.Answer`, a string, an OpenAI-style response (object
    or dict with `choices`), or anything with `text`/`content`."""
    if isinstance(answer, Answer):
        return answer.text, answer.finish_reason
    if isinstance(answer, str):
        return answer, None
    choices = answer.get("choices") if isinstance(answer, Mapping) else getattr(answer, "choices", None)
    if choices:
        first = choices[0]
        message = first.get("message") if isinstance(first, Mapping) else getattr(first, "message", None)
        content = message.get("content") if isinstance(message, Mapping) else getattr(message, "content", None)
        reason = first.get("finish_reason") if isinstance(first, Mapping) else getattr(first, "finish_reason", None)
        return content or "", reason
    for name in ("text", "content"):
        value = answer.get(name) if isinstance(answer, Mapping) else getattr(answer, name, None)
        if isinstance(value, str):
            return value, None
    return "", None


def parse_json(text: str) -> Any:
    """The JSON value of an answer's text, a ```json fence around it allowed; ValueError if none."""
    body = text.strip()
    if body.startswith("```"):
        body = body.split("\n", 1)[1] if "\n" in body else ""
        body = body.rsplit("```", 1)[0]
    return _json.loads(body)


def _validator(schema: Any) -> Callable[[Any], bool]:
    """A schema as a test: a pydantic model class, a JSON Schema dict (needs `jsonschema`), or
    a callable that returns false or raises for a bad value."""
    if isinstance(schema, type) and hasattr(schema, "model_validate"):
        def by_model(value: Any) -> bool:
            schema.model_validate(value)
            return True
        return by_model
    if isinstance(schema, Mapping):
        try:
            import jsonschema
        except ImportError:
            raise MissingExtra("a JSON Schema in runtime.assess", "jsonschema", "schema") from None
        checker = jsonschema.validators.validator_for(schema)(schema)
        return lambda value: checker.is_valid(value)
    if callable(schema):
        return lambda value: bool(schema(value))
    raise TypeError("schema is a pydantic model class, a JSON Schema dict or a callable, "
                    f"not {type(schema).__name__}")


def outcomes(*, json: bool = False, schema: Any = None, valid: str | None = "valid",
             confidence: str | None = "confidence", confidence_field: str = "confidence"
             ) -> Callable[[Any, Mapping[str, Any]], dict[str, Any]]:
    """An `assess` for a Router: `{valid: bool, confidence: float}` for each answer, under the
    outcome names given (None leaves one out, for a policy that declares no such outcome)."""
    check = _validator(schema) if schema is not None else None

    def assess(answer: Any, signals: Mapping[str, Any]) -> dict[str, Any]:
        text, finish = text_of(answer)
        ok = finish != "length" and bool(text.strip())
        parsed: Any = None
        try:
            parsed = parse_json(text) if text.strip() else None
        except ValueError:
            ok = ok and not (json or check is not None)
        if ok and check is not None:
            try:
                ok = check(parsed)
            except Exception:
                ok = False
        found: dict[str, Any] = {}
        if valid is not None:
            found[valid] = ok
        if confidence is not None:
            stated = parsed.get(confidence_field) if isinstance(parsed, dict) else None
            if isinstance(stated, (int, float)) and not isinstance(stated, bool) and 0 <= stated <= 1:
                found[confidence] = float(stated)
            elif not ok:
                found[confidence] = 0.0
        return found

    return assess
