"""The Router (section 13): serve a request as its policy decides, calling the models.

A run decides, then follows `serving.serve`, the walk that test blocks and simulation follow
too: the decision's first step; on a provider error the fallback declared for that error,
along the chain, never the same model twice for one step; after an answer, `assess` gives the
outcomes and the policy's `escalate` says whether to climb. Around each call sit the Router's
retries, its per-model breakers, its timeout and, in a `Session`, the budget. Every run, however
it ends, gives one record to `log`.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from decimal import Decimal
from random import Random
from types import CoroutineType
from typing import Any

from ..ir.policy import ERRORS
from ..ir.values import EXACT
from ..policy import RequestError
from ..serving import Call, serve
from .engine import Engine, Model, engine_of
from .errors import Exhausted, OverBudget, ProviderError, Rejected
from .resilience import NO_RETRY, Breaker, Breakers, Retry
from .results import ZERO, Answer, Attempt, Result, money_text
from .watch import Watched

_DEFAULT_RETRY = Retry()
_DEFAULT_BREAKER = Breaker()


class Router:
    """Runs requests through a policy: `run(signals, request)` and, with an async `call`,
    `await arun(signals, request)`. Safe to share between threads and tasks.

    `policy` is a `Policy`, a compiled module or a `watch()` handle (a new version is picked up
    between runs, never during one). `call(model, request, *, max_output)` makes one call and
    returns the answer, raising `ProviderError` (or an exception `classify` names) when the
    provider fails; with `timeout` set it is also passed `timeout=` seconds. `assess(answer,
    signals)` gives the outcomes that decide a climb (None: never climb); `usage(answer)` the
    (input, output) tokens (None: a `runtime.Answer`'s own counts, else the `input_tokens`
    signal, or the model's context, and the call's cap); `log` takes each run's record.
    `retry`, `breaker` (None: off) and `timeout` wrap each call; `clock`, `sleep`, `asleep`,
    `rng` and `now` are the Router's only view of time and chance.
    """

    def __init__(self, policy: Any, call: Callable[..., Any], assess: Callable[..., Any] | None = None,
                 usage: Callable[[Any], tuple[int, int]] | None = None, log: Callable[[dict[str, Any]], Any] | None = None,
                 classify: Callable[[BaseException], str | None] | None = None, *,
                 retry: Retry | None = _DEFAULT_RETRY, breaker: Breaker | None = _DEFAULT_BREAKER,
                 timeout: float | None = None, tracer: Any = None,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], Any] = time.sleep,
                 asleep: Callable[[float], Any] | None = None, rng: Random | None = None,
                 now: Callable[[], float] = time.time) -> None:
        if not callable(call):
            raise TypeError("call must be callable: call(model, request, *, max_output) -> answer")
        if timeout is not None and timeout <= 0:
            raise ValueError("timeout is in seconds and must be positive (None: no timeout)")
        self._handle: Watched | None = policy if isinstance(policy, Watched) else None
        current = policy.policy if self._handle is not None else policy
        self._engine: tuple[Any, Engine] = (current, engine_of(current))
        self._call = call
        self._acall = getattr(call, "acall", None) or call
        self._assess = assess
        self._usage = usage
        self._log = log
        self._classify = classify
        self._retry = retry or NO_RETRY
        self._breakers = Breakers(breaker) if breaker is not None else None
        self._timeout = timeout
        self._tracer = tracer
        self._clock = clock
        self._sleep = sleep
        self._asleep = asleep or asyncio.sleep
        self._rng = rng or Random()
        self._now = now

    @property
    def engine(self) -> Engine:
        """The policy this Router serves now (with a `watch()` handle, its latest good version)."""
        if self._handle is None:
            return self._engine[1]
        policy = self._handle.policy
        seen, engine = self._engine
        if seen is not policy:
            engine = engine_of(policy)
            if self._handle.policy is policy:  # a run that read an older version must not undo a newer one
                self._engine = (policy, engine)
        return engine

    @property
    def breakers(self) -> Breakers | None:
        """The per-model breaker states (None when the Router has no breaker)."""
        return self._breakers

    # ---- runs ---------------------------------------------------------------------------------

    def run(self, signals: Mapping[str, Any], request: Any) -> Result:
        """Serve one request: the Result, or `Rejected` (nothing called), `Exhausted` (no model
        could serve the first step), `policylang.RequestError` for bad signals or outcomes; an
        exception that is no provider error propagates. Each end gives one log record."""
        return self._run(signals, request, None)

    async def arun(self, signals: Mapping[str, Any], request: Any) -> Result:
        """`run` for async apps: `call` (or its `acall`) and `assess` may be coroutines; the
        timeout cancels a call that runs too long."""
        return await self._arun(signals, request, None)

    def _run(self, signals: Mapping[str, Any], request: Any, tab: Any) -> Result:
        run = _Run(self, self.engine, signals, tab)
        try:
            serving = run.begin()
            try:
                asked = next(serving)
                while True:
                    if asked.__class__ is Call:
                        asked = serving.send(self._serve_call(run, asked, request))
                    else:
                        outcomes = run.observe(asked.step)
                        if inspect.isawaitable(outcomes):
                            getattr(outcomes, "close", lambda: None)()
                            raise TypeError("assess returned an awaitable: use `await router.arun(...)`")
                        asked = serving.send(outcomes)
            except StopIteration as done:
                result = run.finish(done.value)
        except BaseException as exc:
            run.close(exc)
            raise
        run.close(None, result)
        return result

    async def _arun(self, signals: Mapping[str, Any], request: Any, tab: Any) -> Result:
        run = _Run(self, self.engine, signals, tab)
        try:
            serving = run.begin()
            try:
                asked = next(serving)
                while True:
                    if asked.__class__ is Call:
                        asked = serving.send(await self._aserve_call(run, asked, request))
                    else:
                        outcomes = run.observe(asked.step)
                        if inspect.isawaitable(outcomes):
                            outcomes = run.observed(await outcomes)
                        asked = serving.send(outcomes)
            except StopIteration as done:
                result = run.finish(done.value)
        except BaseException as exc:
            run.close(exc)
            raise
        run.close(None, result)
        return result

    # ---- one step's calls: retries, breaker, budget -------------------------------------------

    def _serve_call(self, run: _Run, asked: Call, request: Any) -> str | None:
        """Call the step's model until it answers or its retries are spent; the error the
        walk should take a fallback for, or None."""
        model = run.engine.models[asked.model]
        tries, last = 0, None
        while True:
            if self._breakers is not None or run.tab is not None:
                gate = run.gate(model, asked, tries)
                if gate is not None:
                    return gate if gate != "retry_stopped" else last
            started = self._clock()
            span = run.start_call(model, asked, tries) if run.span is not None else None
            try:
                if self._timeout is None:
                    answer = self._call(model, request, max_output=asked.cap)
                else:
                    answer = self._call(model, request, max_output=asked.cap, timeout=self._timeout)
            except Exception as exc:  # a provider error, or the app's own to re-raise
                error, wait = run.failed(model, asked, tries, exc, self._clock() - started, span)
                if wait is None:
                    return error
                self._sleep(wait)
                tries, last = tries + 1, error
                continue
            except BaseException as exc:
                run.abandon(model, span, asked, exc)
                raise
            if isinstance(answer, CoroutineType):
                answer.close()
                run.abandon(model, span, asked)
                raise TypeError("call returned a coroutine: use `await router.arun(...)` with an async call")
            run.answered(model, asked, tries, answer, self._clock() - started, span)
            return None

    async def _aserve_call(self, run: _Run, asked: Call, request: Any) -> str | None:
        model = run.engine.models[asked.model]
        tries, last = 0, None
        while True:
            if self._breakers is not None or run.tab is not None:
                gate = run.gate(model, asked, tries)
                if gate is not None:
                    return gate if gate != "retry_stopped" else last
            started = self._clock()
            span = run.start_call(model, asked, tries) if run.span is not None else None
            try:
                answer = self._acall(model, request, max_output=asked.cap)
                if inspect.isawaitable(answer):
                    answer = await (answer if self._timeout is None else asyncio.wait_for(answer, self._timeout))
            except Exception as exc:
                error, wait = run.failed(model, asked, tries, exc, self._clock() - started, span)
                if wait is None:
                    return error
                await self._asleep(wait)
                tries, last = tries + 1, error
                continue
            except BaseException as exc:
                run.abandon(model, span, asked, exc)
                raise
            run.answered(model, asked, tries, answer, self._clock() - started, span)
            return None

    def classified(self, exc: BaseException) -> tuple[str | None, float | None, str]:
        """(error name or None to re-raise, Retry-After seconds, message) for an exception a
        call raised: `ProviderError` says itself; then `classify`; a TimeoutError is `timeout`."""
        if isinstance(exc, ProviderError):
            return exc.error, exc.retry_after, exc.message
        message = str(exc) or type(exc).__name__
        if self._classify is not None:
            error = self._classify(exc)
            if error is not None:
                if error not in ERRORS:
                    raise ValueError(f"classify returned {error!r}; it must return one of {', '.join(ERRORS)} "
                                     "or None") from exc
                return error, getattr(exc, "retry_after", None), message
        if isinstance(exc, TimeoutError):  # the Router's own timeout, or the client's
            return "timeout", None, message
        return None, None, message


class _Run:
    """One run's state: its engine (fixed for the run), decision, attempts, answer and cost."""

    __slots__ = ("router", "engine", "signals", "tab", "started", "at", "decision", "attempts", "answer",
                 "model", "path", "cost", "span", "held")

    def __init__(self, router: Router, engine: Engine, signals: Mapping[str, Any], tab: Any) -> None:
        self.router = router
        self.engine = engine
        self.signals = signals
        self.tab = tab
        self.started = router._clock()
        self.at = router._now() if router._log is not None else None
        self.decision: Any = None
        self.attempts: list[Attempt] = []
        self.answer: Any = None
        self.model: str | None = None
        self.path: list[str] = []
        self.cost = ZERO
        self.held: Decimal | None = None
        tracer = router._tracer
        self.span = tracer.start_run(engine.name) if tracer is not None else None

    def begin(self) -> Any:
        engine = self.engine
        if self.tab is not None:
            self.signals, self.decision = self.tab.open(engine, self.signals)
        else:
            self.decision = engine.decide(self.signals)
        decision = self.decision
        if decision.reject is not None:
            raise Rejected(decision.reject, decision)
        rule = decision.rule
        return serve(decision, fallback=engine.fallback, escalate=engine.escalate,
                     cap=lambda model: engine.cap(rule, model))

    # ---- calls --------------------------------------------------------------------------------

    def worst(self, model: Model, cap: int) -> Decimal:
        """The most a call to `model` with this cap can cost, as the policy's `cost()` counts."""
        return model.cost(self.input_tokens(model), cap)

    def input_tokens(self, model: Model) -> int:
        tokens = self.signals.get("input_tokens") if self.engine.input_tokens else None
        return tokens if isinstance(tokens, int) and not isinstance(tokens, bool) else model.context

    def gate(self, model: Model, asked: Call, tries: int) -> str | None:
        """None when the call may be made now; else why not: a breaker that is open
        (`unavailable`), a budget that cannot cover it (`over_budget`), or either on a retry
        (`retry_stopped`: the retries end, the model's last error stands)."""
        router = self.router
        breakers = router._breakers
        if breakers is not None and not breakers.allow(model.id, router._clock()):
            if tries:
                return "retry_stopped"
            self.skip(model, asked, "breaker_open", "unavailable")
            return "unavailable"
        if self.tab is not None:
            worst = self.worst(model, asked.cap)
            if not self.tab.reserve(worst):
                if breakers is not None:
                    breakers.release(model.id)
                if tries:  # a retry the budget cannot cover is not made: the error's fallback serves
                    return "retry_stopped"
                self.skip(model, asked, "over_budget", "over_budget")
                return "over_budget"
            self.held = worst
        return None

    def skip(self, model: Model, asked: Call, why: str, error: str) -> None:
        attempt = Attempt(asked.step, model.name, model.id, asked.cap, error=error, skipped=why)
        self.attempts.append(attempt)
        if self.span is not None:
            self.router._tracer.end_call(self.router._tracer.start_call(self.span, attempt), attempt)

    def start_call(self, model: Model, asked: Call, tries: int) -> Any:
        return self.router._tracer.start_call(self.span, Attempt(asked.step, model.name, model.id, asked.cap, retry=tries))

    def release(self) -> None:
        if self.held is not None:
            self.tab.release(self.held)
            self.held = None

    def abandon(self, model: Model, span: Any = None, asked: Call | None = None,
                exc: BaseException | None = None) -> None:
        """A call that ends in an exception the Router re-raises (the app's own, a
        cancellation): release what it held, and end its span with the exception."""
        self.release()
        if self.router._breakers is not None:
            self.router._breakers.release(model.id)
        if span is not None and asked is not None:
            attempt = Attempt(asked.step, model.name, model.id, asked.cap, message=str(exc) if exc else None)
            self.router._tracer.end_call(span, attempt, exc)

    def failed(self, model: Model, asked: Call, tries: int, exc: Exception, seconds: float,
               span: Any) -> tuple[str, float | None]:
        """Record a failed call: (its error, the seconds to wait before retrying, or None: no
        retry). Re-raises what is no provider error."""
        router = self.router
        try:
            error, retry_after, message = router.classified(exc)
        except BaseException as problem:
            self.abandon(model, span, asked, problem)
            raise
        if error is None:
            self.abandon(model, span, asked, exc)
            raise exc
        self.release()
        if router._breakers is not None:
            router._breakers.record(model.id, router._clock(), error)
        attempt = Attempt(asked.step, model.name, model.id, asked.cap, error=error, seconds=seconds, retry=tries,
                          message=message)
        self.attempts.append(attempt)
        if span is not None:
            router._tracer.end_call(span, attempt)
        retry = router._retry
        if error not in retry.on or tries + 1 >= retry.attempts:
            return error, None
        if router._breakers is not None and router._breakers.is_open(model.id, router._clock()):
            return error, None  # the breaker opened on this failure: no retry into it
        return error, retry.delay(tries + 1, retry_after, router._rng)

    def answered(self, model: Model, asked: Call, tries: int, answer: Any, seconds: float, span: Any) -> None:
        router = self.router
        try:
            if router._usage is not None:
                input_tokens, output_tokens = router._usage(answer)
            elif answer.__class__ is Answer and answer.input_tokens is not None and answer.output_tokens is not None:
                input_tokens, output_tokens = answer.input_tokens, answer.output_tokens
            else:
                input_tokens, output_tokens = self.input_tokens(model), asked.cap
            cost = model.cost(input_tokens, output_tokens)
        except BaseException as exc:
            self.abandon(model, span, asked, exc)
            raise
        if self.held is not None:
            self.tab.settle(self.held, cost)
            self.held = None
        if router._breakers is not None:
            router._breakers.record(model.id, router._clock(), None)
        attempt = Attempt(asked.step, model.name, model.id, asked.cap, input_tokens=input_tokens,
                          output_tokens=output_tokens, cost=cost, seconds=seconds, retry=tries)
        self.attempts.append(attempt)
        self.cost = EXACT.add(self.cost, cost) if self.cost else cost
        self.answer = answer
        self.model = model.name
        self.path.append(model.name)
        if span is not None:
            router._tracer.end_call(span, attempt)

    def observe(self, step: int) -> Any:
        assess = self.router._assess
        if assess is None:
            return None
        outcomes = assess(self.answer, self.signals)
        return outcomes if inspect.isawaitable(outcomes) else self.observed(outcomes)

    def observed(self, outcomes: Any) -> Any:
        if outcomes is not None:
            last = self.attempts[-1]
            self.attempts[-1] = last._replace(outcomes=outcomes)
        return outcomes

    # ---- the end ------------------------------------------------------------------------------

    def finish(self, walk: Any) -> Result:
        attempts = tuple(self.attempts)
        if walk.unserved == 0:
            if attempts and attempts[-1].skipped == "over_budget":
                raise OverBudget(self.decision, attempts, f"the session's budget cannot cover rule "
                                 f"{self.decision.rule}'s first step: {attempts[-1].model} may cost "
                                 f"${money_text(self.worst(self.engine.models[attempts[-1].model], attempts[-1].max_output))}")
            raise Exhausted(self.decision, attempts)
        assert self.model is not None
        return Result(self.answer, self.model, tuple(self.path), self.cost, walk.unserved is None, self.decision,
                      attempts, self.router._clock() - self.started, walk.unserved)

    def close(self, exc: BaseException | None, result: Result | None = None) -> None:
        """Release what the run holds and give its one record to the log and the tracer."""
        if self.tab is not None:
            self.tab.close()
        router = self.router
        if router._log is None and self.span is None:
            return
        record = self.record(exc, result)
        if self.span is not None:
            router._tracer.end_run(self.span, record, exc)
        if router._log is not None:
            router._log(record)

    def record(self, exc: BaseException | None, result: Result | None) -> dict[str, Any]:
        """The decision log's record of this run (section 13), with OpenTelemetry GenAI names
        for the model and the tokens; money as exact decimal strings."""
        decision = self.decision
        end, error = _ending(exc, result)
        answered = [a for a in self.attempts if a.answered]
        model = self.engine.models.get(self.model) if self.model is not None else None
        at = self.at if self.at is not None else self.router._now()
        return {
            "time": datetime.fromtimestamp(at, timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z"),
            "policy": self.engine.name,
            "policy_sha256": self.engine.sha256,
            "rule": decision.rule if decision is not None else None,
            "decision": decision.as_dict() if decision is not None else None,
            "signals": dict(self.signals),
            "end": end,
            "model": self.model,
            "gen_ai.request.model": model.id if model is not None else None,
            "path": list(self.path),
            "attempts": [a.as_dict() for a in self.attempts],
            "gen_ai.usage.input_tokens": sum(a.input_tokens or 0 for a in answered),
            "gen_ai.usage.output_tokens": sum(a.output_tokens or 0 for a in answered),
            "cost": money_text(self.cost),
            "seconds": round(self.router._clock() - self.started, 6),
            "complete": result is not None and result.complete,
            "error": error,
        }


def _ending(exc: BaseException | None, result: Result | None) -> tuple[str, dict[str, Any] | None]:
    """How a run ended, as the log says it: `answered`, `incomplete`, `rejected`, `exhausted`,
    `over_budget`, `request_error` or `error`, and the error's details."""
    if exc is None:
        assert result is not None
        if result.complete:
            return "answered", None
        return "incomplete", {"type": "unserved", "step": result.unserved,
                              "message": f"no model could serve step {result.unserved}"}
    if isinstance(exc, Rejected):
        return "rejected", {"type": "rejected", "message": exc.reason}
    if isinstance(exc, OverBudget):
        return "over_budget", {"type": "over_budget", "message": str(exc)}
    if isinstance(exc, Exhausted):
        return "exhausted", {"type": "exhausted", "message": str(exc)}
    if isinstance(exc, RequestError):
        return "request_error", {"type": "request_error", "code": exc.code, "signal": exc.signal,
                                 "message": exc.message}
    return "error", {"type": type(exc).__name__, "message": str(exc)}
