"""What one decided request does when it is served: the calls it makes, step by step, along
fallbacks when a provider fails and up the cascade when an answer is poor (sections 3.6, 5, 9.3).

The walk is the same wherever requests are served for real or on paper: a test block with
`down` clauses, `policyc simulate` and `policylang.runtime` ask the same questions in the same
order (`serve` is the walk as a generator, for drivers that make the calls themselves). A
step's own model is called first; on a failure the fallback declared for that error serves,
along the chain, never calling a model twice for one step; after an answer, the outcomes
observed decide the climb. A step that no model can serve ends the walk, unserved.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping, Sequence
from typing import Any, NamedTuple, Protocol, TypeVar


class Decided(Protocol):
    """What a serving walk reads of a decision: the model it calls first (None: the request is
    rejected) and the cascade's steps (one for a single model). Either engine's `Decision`
    is one, and so is any object with these two fields."""

    @property
    def model(self) -> str | None: ...

    @property
    def steps(self) -> Sequence[str]: ...


DecisionT = TypeVar("DecisionT", bound=Decided)
"""The decision a walk serves, handed back as is to the engine's `escalate`."""

Outcomes = Mapping[str, Any]
"""The outcomes observed after a step: a JSON object, so its values are any JSON."""


class ModelCall(NamedTuple):
    """One call: for which step, to which model, with which cap, and the error it failed
    with (None: the model answered). A named tuple: one is made per call, on the hot path of
    `policylang.runtime`."""

    step: int
    model: str
    cap: int
    error: str | None = None


class Walk(NamedTuple):
    """Every call a request made, in order; the model that answered each step it reached; and
    the step that no model could serve, if one could not be."""

    calls: tuple[ModelCall, ...]
    answered: tuple[str, ...]
    unserved: int | None = None


class Observe(NamedTuple):
    """What a serving walk asks after step `step` answered: the outcomes observed (None: the
    climb stops there)."""

    step: int


def serve(decision: DecisionT, *, fallback: Callable[[str, str], str | None],
          escalate: Callable[[DecisionT, int, Outcomes], str | None],
          cap: Callable[[str], int]) -> Generator[ModelCall | Observe, Any, Walk]:
    """The walk as a generator, for drivers that make real calls (`policylang.runtime`, sync
    or async): it yields `ModelCall(step, model, cap)` and must be sent the error that call failed
    with (None: it answered), and yields `Observe(step)` and must be sent the outcomes seen
    after that step (None: stop). It returns the `Walk`. It asks for outcomes only where the
    cascade has a step above; a rejected decision asks nothing.

    What is sent back depends on what was yielded (the error, `str | None`, after a `ModelCall`;
    the outcomes, `Outcomes | None`, after an `Observe`), which a generator's one send type
    cannot say: hence `Any` there."""
    calls: list[ModelCall] = []
    answered: list[str] = []
    if decision.model is None:
        return Walk((), ())
    step = 0
    while True:
        model: str | None = decision.steps[step]
        tried: set[str] = set()
        while model is not None:
            tried.add(model)
            call = ModelCall(step, model, cap(model))
            error = yield call
            calls.append(call if error is None else ModelCall(step, model, call.cap, error))
            if error is None:
                break
            following = fallback(model, error)
            model = following if following not in tried else None
        if model is None:
            return Walk(tuple(calls), tuple(answered), step)
        answered.append(model)
        if step + 1 >= len(decision.steps):
            return Walk(tuple(calls), tuple(answered))
        observed = yield Observe(step)
        if observed is None or escalate(decision, step, observed) is None:
            return Walk(tuple(calls), tuple(answered))
        step += 1


def walk(decision: DecisionT, *, fails: Callable[[str], str | None], observe: Callable[[int], Outcomes | None],
         fallback: Callable[[str, str], str | None], escalate: Callable[[DecisionT, int, Outcomes], str | None],
         cap: Callable[[str], int]) -> Walk:
    """Serve a decision. `fails(model)` is the error a call to `model` fails with, or None when
    it answers; `observe(step)` the outcomes seen after step `step` answered (None: the climb
    stops there); `fallback` and `escalate` are an engine's; `cap(model)` is the max_output a
    call to that model gets. A rejected decision makes no call."""
    serving = serve(decision, fallback=fallback, escalate=escalate, cap=cap)
    try:
        asked = next(serving)
        while True:
            asked = serving.send(fails(asked.model) if isinstance(asked, ModelCall) else observe(asked.step))
    except StopIteration as done:
        result: Walk = done.value
        return result
