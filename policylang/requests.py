"""Requests as JSON, decided: what `policyc eval` prints for each input line (section 9)."""

from __future__ import annotations

import json
from typing import Any

from .backends.python.support import RequestError
from .policy import Engine, Policy

OUTCOMES_KEY = "@outcomes"


def _error(code: str, signal: str | None, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "signal": signal, "message": message}}


def evaluate_line(policy: Policy, line: str, *, engine: Engine = "compiled", strict: bool = False,
                  line_number: int = 1) -> dict[str, Any]:
    """One JSON line in, one JSON object out: the decision (with `path`), or the error."""
    try:
        request = json.loads(line)
    except ValueError as exc:
        return _error("R002", None, f"line {line_number} is not JSON: {exc}")
    return evaluate_request(policy, request, engine=engine, strict=strict)


def evaluate_request(policy: Policy, request: Any, *, engine: Engine = "compiled",
                     strict: bool = False) -> dict[str, Any]:
    """`{"rule", "model", "steps", "max_output", "reject"}` plus `path` when `@outcomes` is given.

    Keys that start with `@` are reserved for the tools (`@outcomes`, `@output_tokens`) and are
    never signals, so strict mode does not count them as unknown.
    """
    if not isinstance(request, dict):
        return _error("R002", None, f"a request is a JSON object of signals, got {type(request).__name__}")
    signals = {k: v for k, v in request.items() if not k.startswith("@")}
    outcomes = request.get(OUTCOMES_KEY)
    if outcomes is not None and not (isinstance(outcomes, list) and all(isinstance(o, dict) for o in outcomes)):
        return _error("R002", None, f"{OUTCOMES_KEY} is a list of objects of outcomes, one per step")
    try:
        decision = policy.decide(signals, engine=engine, strict=strict)
        result = decision.as_dict()
        if outcomes is not None:
            result["path"] = policy.path(decision, outcomes, engine=engine)
    except RequestError as exc:
        return {"error": exc.as_dict()}
    return result
