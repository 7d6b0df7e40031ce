"""What one decided request does when it is served: the calls it makes, step by step, along
fallbacks when a provider fails and up the cascade when an answer is poor (sections 3.6, 5, 9.3).

The walk is the same wherever requests are served for real or on paper: a test block with
`down` clauses, `policyc simulate` and `policylang.runtime` ask the same questions in the same
order. A step's own model is called first; on a failure the fallback declared for that error
serves, along the chain, never calling a model twice for one step; after an answer, the
outcomes observed decide the climb. A step that no model can serve ends the walk, unserved.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Call:
    """One call: for which step, to which model, with which cap, and the error it failed
    with (None: the model answered)."""

    step: int
    model: str
    cap: int
    error: str | None = None


@dataclass(frozen=True)
class Walk:
    """Every call a request made, in order; the model that answered each step it reached; and
    the step that no model could serve, if one could not be."""

    calls: tuple[Call, ...]
    answered: tuple[str, ...]
    unserved: int | None = None


def walk(decision: Any, *, fails: Callable[[str], str | None], observe: Callable[[int], Mapping[str, Any] | None],
         fallback: Callable[[str, str], str | None], escalate: Callable[[Any, int, Mapping[str, Any]], str | None],
         cap: Callable[[str], int]) -> Walk:
    """Serve a decision. `fails(model)` is the error a call to `model` fails with, or None when
    it answers; `observe(step)` the outcomes seen after step `step` answered (None: the climb
    stops there); `fallback` and `escalate` are an engine's; `cap(model)` is the max_output a
    call to that model gets. A rejected decision makes no call."""
    calls: list[Call] = []
    answered: list[str] = []
    if decision.model is None:
        return Walk((), ())
    step = 0
    while True:
        model: str | None = decision.steps[step]
        tried: set[str] = set()
        while model is not None:
            tried.add(model)
            error = fails(model)
            calls.append(Call(step, model, cap(model), error))
            if error is None:
                break
            following = fallback(model, error)
            model = following if following not in tried else None
        if model is None:
            return Walk(tuple(calls), tuple(answered), step)
        answered.append(model)
        observed = observe(step) if step + 1 < len(decision.steps) else None
        if observed is None or escalate(decision, step, observed) is None:
            return Walk(tuple(calls), tuple(answered))
        step += 1
