"""Requests as JSON, decided: what `policyc eval` prints for each input line (section 9)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Any

from .backends.python import EngineName
from .backends.python.support import RequestError
from .codes import R002
from .jsontext import OUTCOMES_KEY, RecordError, json_kind, read_record
from .policy import Policy

__all__ = ["OUTCOMES_KEY", "evaluate_line", "evaluate_request", "request_lines"]


def _error(code: str, signal: str | None, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "signal": signal, "message": message}}


def evaluate_line(policy: Policy, line: str | bytes, *, engine: EngineName = "compiled", strict: bool = False,
                  line_number: int = 1, where: str | None = None) -> dict[str, Any]:
    """One JSON line in, one JSON object out: the decision (with `path`), or the error. A line
    is read as every command reads a record (`jsontext.read_record`); one it refuses is R002,
    located at `where` (default `line N`)."""
    where = where or f"line {line_number}"
    try:
        request = read_record(line)
    except RecordError as exc:
        return _error(R002.code, None, f"{where} {exc}")
    if not isinstance(request, dict):
        return _error(R002.code, None, f"{where} is not a JSON object but {json_kind(request)}")
    return evaluate_request(policy, request, engine=engine, strict=strict)


def request_lines(stream: IO[bytes]) -> Iterator[tuple[int, bytes]]:
    """(line number, bytes) for each line of a requests file that is not blank: each line is
    read on its own, so that one bad line (not UTF-8, not JSON) is that line's error only."""
    for number, line in enumerate(stream, start=1):
        if line.strip(b" \t\r\n"):
            yield number, line


def evaluate_request(policy: Policy, request: Any, *, engine: EngineName = "compiled",
                     strict: bool = False) -> dict[str, Any]:
    """`{"rule", "model", "steps", "max_output", "reject"}` plus `path` when `@outcomes` is given.

    Keys that start with `@` are reserved for the tools (`@outcomes`, `@output_tokens`) and are
    never signals, so strict mode does not count them as unknown.
    """
    if not isinstance(request, dict):
        return _error(R002.code, None, f"a request is a JSON object of signals, not {json_kind(request)}")
    signals = {k: v for k, v in request.items() if not k.startswith("@")}
    outcomes = request.get(OUTCOMES_KEY)
    if outcomes is not None and not (isinstance(outcomes, list) and all(isinstance(o, dict) for o in outcomes)):
        return _error(R002.code, None, f"{OUTCOMES_KEY} is a list of objects of outcomes, one per step")
    try:
        decision = policy.decide(signals, engine=engine, strict=strict)
        result = decision.as_dict()
        if outcomes is not None:
            result["path"] = policy.path(decision, outcomes, engine=engine)
    except RequestError as exc:
        return {"error": exc.as_dict()}
    return result
