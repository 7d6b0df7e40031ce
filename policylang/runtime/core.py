"""One run of the Router, as a step machine that sync, async and streaming drivers share.

`Run.steps()` is a generator that owns everything a run decides and records: the decision
(through a session's tab when there is one), the serving walk of `policylang.serving`, each
call's retries, breaker gating and fail-open, the budget's holds, the attempts, the cost, the
tracer's spans and the decision log's records. It never calls a model, sleeps or awaits: it
yields what it needs done and the driver does it:

- a tuple `(model, cap, live)` (`Invoke`): make this call and send back its answer (a stream
  driver sends a `Streamed`), or throw the exception the call raised into the generator;
- a float: sleep that many seconds (a retry's backoff, a wait for held money), send None;
- `Await(awaitable)`: await it (an async `assess`) and send back its value; a sync driver
  throws `Misuse` instead.

The generator returns the run's `Result`, or raises how the run ended (`Rejected`,
`Exhausted`, `StreamInterrupted`, a `RequestError`, the app's own exception).
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable, Generator, Mapping
from datetime import datetime, timezone
from decimal import Decimal
from random import Random
from typing import Any, NamedTuple

from ..ir.policy import ERRORS
from ..ir.values import EXACT
from ..policy import RequestError
from ..serving import ModelCall, serve
from .engine import PolicyEngine, Model
from .errors import BudgetBusy, Exhausted, OverBudget, ProviderError, Rejected, StreamInterrupted
from .resilience import Retry
from ..money import money_text
from .results import ZERO, Answer, Attempt, Result
from .split import decide_shadows


Invoke: type[tuple[Any, ...]] = tuple
"""The class of what the steps yield to ask for a call: a plain tuple `(model, cap, live)`
(the cheapest thing to make once per call): call `model` with `cap` as its max_output;
`live`: a stream may hand its chunks to the app as they come (the step cannot climb)."""


_make = tuple.__new__
"""Makes a named tuple from a tuple of all its fields without the Python-level `__new__` that
checks its arguments: the hot path's Attempt and Result (their field counts are asserted)."""
assert len(Attempt._fields) == 17 and len(Result._fields) == 9


class Await(NamedTuple):
    """Await `awaitable` (an async assess) and send back its value."""

    awaitable: Any


class Streamed(NamedTuple):
    """A streamed call that ran to its end: the answer (a `runtime.Answer`), the seconds to
    its first chunk, and whether the provider reported no usage."""

    answer: Any
    ttft: float
    usage_missing: bool


class Interrupted(Exception):
    """Thrown into a run by a stream driver: the stream failed with `cause` after `partial`
    had been handed to the app."""

    def __init__(self, cause: BaseException, partial: str, ttft: float) -> None:
        super().__init__(str(cause))
        self.cause = cause
        self.partial = partial
        self.ttft = ttft


class Abandoned(BaseException):
    """Thrown into a run by a stream driver: the app stopped reading (or closed the stream)
    after `partial` had been handed out."""

    def __init__(self, partial: str, ttft: float | None) -> None:
        super().__init__("the app abandoned the stream")
        self.partial = partial
        self.ttft = ttft


class Misuse(TypeError):
    """A sync driver was given a coroutine (an async call or assess): re-raised as it is."""


class Config:
    """What every run of one Router reads: set once by the Router, never changed."""

    __slots__ = ("assess", "usage", "log", "metrics", "classify", "retry", "breakers", "tracer", "clock", "rng",
                 "now", "recorded", "shadows")

    def __init__(self, *, assess: Callable[..., Any] | None, usage: Callable[[Any], tuple[int, int]] | None,
                 log: Callable[[dict[str, Any]], Any] | None, metrics: Any,
                 classify: Callable[[BaseException], str | None] | None,
                 retry: Retry, breakers: Any, tracer: Any, clock: Callable[[], float], rng: Random,
                 now: Callable[[], float], shadows: tuple[PolicyEngine, ...] = ()) -> None:
        self.assess = assess
        self.usage = usage
        self.log = log
        self.metrics = metrics
        self.classify = classify
        self.retry = retry
        self.breakers = breakers
        self.tracer = tracer
        self.clock = clock
        self.rng = rng
        self.now = now
        self.recorded = log is not None or metrics is not None
        self.shadows = shadows if self.recorded else ()  # shadows only write into the records


def classified(classify: Callable[[BaseException], str | None] | None,
               exc: BaseException) -> tuple[str | None, float | None, str, bool]:
    """(error name or None to re-raise, Retry-After seconds, message, transient) for an
    exception a call raised: `ProviderError` says itself; then `classify`; a TimeoutError is
    `timeout`, a ConnectionError (refused, reset) a transient `unavailable`."""
    if isinstance(exc, ProviderError):
        return exc.error, exc.retry_after, exc.message, exc.transient
    message = str(exc) or type(exc).__name__
    if classify is not None:
        error = classify(exc)
        if error is not None:
            if error not in ERRORS:
                raise ValueError(f"classify returned {error!r}; it must return one of {', '.join(ERRORS)} "
                                 "or None") from exc
            after = getattr(exc, "retry_after", None)
            return error, after if isinstance(after, (int, float)) else None, message, False
    if isinstance(exc, TimeoutError):  # the Router's own timeout, or the client's
        return "timeout", None, message, False
    if isinstance(exc, ConnectionError):
        return "unavailable", None, message, True
    return None, None, message, False


class Run:
    """One run's state: its engine (fixed for the run), decision, attempts, answer and cost."""

    __slots__ = ("config", "engine", "signals", "tab", "streaming", "started", "at", "decision", "attempts",
                 "answer", "model", "path", "cost", "span", "hold", "run_id", "opened", "arm", "shadow")

    def __init__(self, config: Config, engine: PolicyEngine, signals: Mapping[str, Any], tab: Any,
                 streaming: bool = False) -> None:
        self.config = config
        self.engine = engine
        self.signals = signals
        self.tab = tab
        self.streaming = streaming
        self.started = config.clock()
        self.at = config.now() if config.recorded else None
        self.run_id: str | None = os.urandom(8).hex() if config.recorded else None
        self.decision: Any = None
        self.attempts: list[Attempt] = []
        self.answer: Any = None
        self.model: str | None = None
        self.path: list[str] = []
        self.cost = ZERO
        self.hold: Any = None
        self.opened = False  # the start record is written
        self.arm: str | None = None
        self.shadow: list[dict[str, Any]] | None = None
        tracer = config.tracer
        self.span = tracer.start_run(engine.name) if tracer is not None else None

    # ---- the machine --------------------------------------------------------------------------

    def steps(self) -> Generator[Any, Any, Result]:
        """The run, as the module's docstring says. Each call's retries, breaker gating and
        budget holds are inline here (not a generator of their own): this is the hot path."""
        config = self.config
        try:
            engine = self.engine
            if self.tab is None:
                self.decision = engine.decide(self.signals)
            else:
                opened = self.tab.open(engine, self.signals, config.clock)
                while opened.__class__ is float:  # the money is held by calls in flight: wait for it
                    yield opened
                    opened = self.tab.open(engine, self.signals, config.clock)
                self.signals, self.decision = opened
            decision = self.decision
            if config.shadows:
                self.shadow = decide_shadows(config.shadows, self.signals)
            if decision.reject is not None:
                raise Rejected(decision.reject, decision)
            rule = decision.rule
            walk = serve(decision, fallback=engine.fallback, escalate=engine.escalate,
                         cap=lambda model: engine.cap(rule, model))
            gated = config.breakers is not None or self.tab is not None
            try:
                asked = next(walk)
                while True:
                    if asked.__class__ is not ModelCall:
                        outcomes = self.judge()
                        if inspect.isawaitable(outcomes):
                            outcomes = self.observed((yield Await(outcomes)))
                        asked = walk.send(outcomes)
                        continue
                    # one step's calls: until the model answers or its retries are spent
                    model = engine.models[asked.model]
                    live = self.streaming and (config.assess is None or asked.step + 1 >= len(decision.steps))
                    tries, last, tripped, fail_open = 0, None, False, False
                    while True:
                        if gated:
                            gate = self.gate(model, asked, tries, tripped or fail_open, last)
                            while gate.__class__ is float:
                                yield gate
                                gate = self.gate(model, asked, tries, tripped or fail_open, last)
                            if gate.__class__ is str:
                                error = gate if gate != "retry_stopped" else last
                                break
                            if gate is not None:  # every model the step could reach is held open
                                model, fail_open = gate, True
                                asked = ModelCall(asked.step, model.name, engine.cap(rule, model.name))
                        if not self.opened and config.log is not None:
                            self.start_record()
                        started = config.clock()
                        span = self.start_call(model, asked, tries) if self.span is not None else None
                        try:
                            answer = yield (model, asked.cap, live)
                        except Exception as exc:  # a provider error, or the app's own to re-raise
                            if exc.__class__ is Misuse:
                                self.abandon(model, span, asked, exc)
                                raise
                            if isinstance(exc, Interrupted):
                                self.interrupted(model, asked, tries, exc, config.clock() - started, span)
                            error, wait, tripped = self.failed(model, asked, tries, exc, config.clock() - started,
                                                               span, fail_open)
                            if wait is None:
                                break
                            yield wait
                            tries, last = tries + 1, error
                            continue
                        except BaseException as exc:
                            if isinstance(exc, Abandoned):
                                self.cut(model, asked, tries, exc, config.clock() - started, span)
                            else:
                                self.abandon(model, span, asked, exc)
                            raise
                        self.answered(model, asked, tries, answer, config.clock() - started, span, fail_open)
                        error = None
                        break
                    asked = walk.send(error)
            except StopIteration as done:
                result = self.finish(done.value)
        except BaseException as exc:
            self.close(exc)
            raise
        self.close(None, result)
        return result

    # ---- calls --------------------------------------------------------------------------------

    def worst(self, model: Model, cap: int) -> Decimal:
        """The most a call to `model` with this cap can cost, as the policy's `cost()` counts."""
        return model.cost(self.input_tokens(model), cap)

    def input_tokens(self, model: Model) -> int:
        tokens = self.signals.get("input_tokens") if self.engine.input_tokens else None
        return tokens if isinstance(tokens, int) and not isinstance(tokens, bool) else model.context

    def gate(self, model: Model, asked: ModelCall, tries: int, tripped: bool, last: str | None = None) -> Any:
        """None when the call may be made now; a float: wait that long, then ask again (money
        held by other runs may come back); a Model: call that one instead (fail-open); else
        why not: a breaker that is open (`unavailable`), a budget that cannot cover it
        (`over_budget`, `budget_busy`), or either on a retry (`retry_stopped`: the retries end,
        the model's last error stands; but when no model that error falls back to is left
        untried, the retry fails open: the model is the last resort). `tripped`: the breaker is
        not asked (the retry of the call that opened it, or of a fail-open call)."""
        config = self.config
        breakers = config.breakers
        chosen: Model | None = None
        if breakers is not None and not tripped and not breakers.allow(model.id, config.clock()):
            if tries:
                if not self.last_resort(model, asked, last):
                    return "retry_stopped"
                chosen = model  # stopping would end the step in an error: retry, as the bare SDK would
            else:
                chosen = self.fail_open(model, asked)
            if chosen is None:
                self.skip(model, asked, "breaker_open", "unavailable")  # (tries == 0 here)
                return "unavailable"
        if self.tab is not None:
            target = chosen or model
            cap = asked.cap if chosen is None else self.engine.cap(self.decision.rule, target.name)
            hold = self.tab.pooled(target.name, cap)  # the first call's hold, taken with the decision
            if hold is None:
                hold = self.tab.reserve(self.worst(target, cap), tries == 0 and asked.step == 0, config.clock)
            if hold.__class__ is float:
                if breakers is not None and chosen is None and not tripped:
                    breakers.release(model.id)
                return hold
            if hold is None or hold is False:
                if breakers is not None and chosen is None and not tripped:
                    breakers.release(model.id)
                if tries:  # a retry the budget cannot cover is not made: the error's fallback serves
                    return "retry_stopped"
                self.skip(target, asked, "over_budget" if hold is None else "budget_busy", "over_budget")
                return "over_budget"
            self.hold = hold
        return chosen

    def fail_open(self, model: Model, asked: ModelCall) -> Model | None:
        """When `model` and every model its `unavailable` fallbacks reach (not yet tried for
        this step) are held open by their breakers, the one that reopens soonest; else None."""
        breakers = self.config.breakers
        now = self.config.clock()
        tried = {a.model for a in self.attempts if a.step == asked.step and not a.skipped}
        chain: list[Model] = []
        name: str | None = model.name
        while name is not None and name not in {m.name for m in chain}:
            candidate = self.engine.models[name]
            if name not in tried:
                if not breakers.is_open(candidate.id, now):
                    return None  # one of them may still be called: the walk will reach it
                chain.append(candidate)
            name = self.engine.fallback(name, "unavailable")
        if not chain:
            return None
        reopens = getattr(breakers, "reopens_in", None)
        if reopens is None:
            return chain[0]
        return min(chain, key=lambda m: reopens(m.id, now))

    def last_resort(self, model: Model, asked: ModelCall, error: str | None) -> bool:
        """Whether `model`, which failed with `error` for this step, is the last model that can
        serve it: the fallbacks declared for `error` reach no model not yet tried."""
        if error is None:
            return False
        tried = {a.model for a in self.attempts if a.step == asked.step and not a.skipped}
        seen = {model.name}
        name = self.engine.fallback(model.name, error)
        while name is not None and name not in seen:
            if name not in tried:
                return False
            seen.add(name)
            name = self.engine.fallback(name, error)
        return True

    def skip(self, model: Model, asked: ModelCall, why: str, error: str) -> None:
        attempt = Attempt(asked.step, model.name, model.id, asked.cap, error=error, skipped=why)
        self.attempts.append(attempt)
        if self.span is not None:
            tracer = self.config.tracer
            tracer.end_call(tracer.start_call(self.span, attempt), attempt)

    def start_call(self, model: Model, asked: ModelCall, tries: int) -> Any:
        attempt = Attempt(asked.step, model.name, model.id, asked.cap, retry=tries)
        return self.config.tracer.start_call(self.span, attempt)

    def release(self) -> None:
        if self.hold is not None:
            self.tab.release(self.hold)
            self.hold = None

    def abandon(self, model: Model, span: Any = None, asked: ModelCall | None = None,
                exc: BaseException | None = None) -> None:
        """A call that ends in an exception the Router re-raises (the app's own, a
        cancellation): release what it held, and end its span with the exception."""
        self.release()
        if self.config.breakers is not None:
            self.config.breakers.release(model.id)
        if span is not None and asked is not None:
            attempt = Attempt(asked.step, model.name, model.id, asked.cap, message=str(exc) if exc else None)
            self.config.tracer.end_call(span, attempt, exc)

    def failed(self, model: Model, asked: ModelCall, tries: int, exc: Exception, seconds: float, span: Any,
               fail_open: bool) -> tuple[str, float | None, bool]:
        """Record a failed call: (its error, the seconds to wait before retrying or None: no
        retry, whether this failure opened the model's breaker). Re-raises what is no provider
        error."""
        config = self.config
        try:
            error, retry_after, message, transient = classified(config.classify, exc)
        except BaseException as problem:
            self.abandon(model, span, asked, problem)
            raise
        if error is None:
            self.abandon(model, span, asked, exc)
            raise exc
        self.release()
        breakers = config.breakers
        tripped = False
        if breakers is not None:
            now = config.clock()
            was_open = breakers.is_open(model.id, now)
            if retry_after is not None and error == "rate_limited":
                breakers.record(model.id, now, error, retry_after=retry_after)
            else:
                breakers.record(model.id, now, error)
            tripped = not was_open and not fail_open and breakers.is_open(model.id, now)
        attempt = Attempt(asked.step, model.name, model.id, asked.cap, error=error, seconds=seconds, retry=tries,
                          message=message, fail_open=fail_open)
        self.attempts.append(attempt)
        if span is not None:
            config.tracer.end_call(span, attempt)
        retry = config.retry
        if not (error in retry.on or (transient and retry.on)) or tries + 1 >= retry.attempts:
            return error, None, False
        wait = retry.delay(tries + 1, retry_after, config.rng)
        return error, None if wait is None else float(wait), tripped  # a float: the drivers' sleep

    def answered(self, model: Model, asked: ModelCall, tries: int, answer: Any, seconds: float, span: Any,
                 fail_open: bool) -> None:
        ttft: float | None = None
        usage_missing = False
        if answer.__class__ is Streamed:
            answer, ttft, usage_missing = answer
        try:
            usage = self.config.usage
            if usage is not None:
                input_tokens, output_tokens = usage(answer)
            elif answer.__class__ is Answer and answer.input_tokens is not None and answer.output_tokens is not None:
                input_tokens, output_tokens = answer.input_tokens, answer.output_tokens
            else:
                input_tokens, output_tokens = self.input_tokens(model), asked.cap
            cost = model.cost(input_tokens, output_tokens)
        except BaseException as exc:
            self.abandon(model, span, asked, exc)
            raise
        if self.hold is not None:
            self.tab.settle(self.hold, cost)
            self.hold = None
        breakers = self.config.breakers
        if breakers is not None:
            breakers.record(model.id, self.config.clock(), None)
        attempt = _make(Attempt, (asked.step, model.name, model.id, asked.cap, None, None, input_tokens, output_tokens,
                                  cost, seconds, tries, None, None, ttft, fail_open, usage_missing, None))
        self.attempts.append(attempt)
        self.cost = EXACT.add(self.cost, cost) if self.cost else cost
        self.answer = answer
        self.model = model.name
        self.path.append(model.name)
        if span is not None:
            self.config.tracer.end_call(span, attempt)

    def interrupted(self, model: Model, asked: ModelCall, tries: int, exc: Interrupted, seconds: float, span: Any) -> None:
        """A stream failed after its first chunk was handed out: the call is charged its worst
        case (the provider bills what it sent; no usage came), the breaker hears the error, and
        the run ends with `StreamInterrupted`."""
        error, _, message, _ = classified(self.config.classify, exc.cause)
        self.charge(model, asked, tries, seconds, span, exc.ttft, error or "server_error", message, "interrupted")
        raise StreamInterrupted(exc.partial, tuple(self.attempts), exc.cause) from exc.cause

    def cut(self, model: Model, asked: ModelCall, tries: int, exc: Abandoned, seconds: float, span: Any) -> None:
        """The app abandoned a live stream: charged its worst case, the breaker not told."""
        self.charge(model, asked, tries, seconds, span, exc.ttft, None, "the app abandoned the stream", "abandoned")

    def charge(self, model: Model, asked: ModelCall, tries: int, seconds: float, span: Any, ttft: float | None,
               error: str | None, message: str, how: str) -> None:
        input_tokens, cap = self.input_tokens(model), asked.cap
        cost = model.cost(input_tokens, cap)
        if self.hold is not None:
            self.tab.settle(self.hold, cost)
            self.hold = None
        breakers = self.config.breakers
        if breakers is not None:
            if error is not None:
                breakers.record(model.id, self.config.clock(), error)
            else:
                breakers.release(model.id)
        attempt = Attempt(asked.step, model.name, model.id, cap, error=error, input_tokens=input_tokens,
                          output_tokens=cap, cost=cost, seconds=seconds, retry=tries, message=message, ttft=ttft,
                          usage_missing=True, cut=how)
        self.attempts.append(attempt)
        self.cost = EXACT.add(self.cost, cost)
        if span is not None:
            self.config.tracer.end_call(span, attempt)

    def judge(self) -> Any:
        assess = self.config.assess
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
            if attempts and attempts[-1].skipped in ("over_budget", "budget_busy"):
                last = attempts[-1]
                worst = money_text(self.worst(self.engine.models[last.model], last.max_output))
                if last.skipped == "budget_busy":
                    raise BudgetBusy(self.decision, attempts, f"the session's budget is held by calls in flight: "
                                     f"rule {self.decision.rule}'s first step ({last.model}, up to ${worst}) "
                                     "waited for it and could not be covered")
                raise OverBudget(self.decision, attempts, f"the session's budget cannot cover rule "
                                 f"{self.decision.rule}'s first step: {last.model} may cost ${worst}")
            raise Exhausted(self.decision, attempts)
        assert self.model is not None
        return _make(Result, (self.answer, self.model, tuple(self.path), self.cost, walk.unserved is None, self.decision,
                              attempts, self.config.clock() - self.started, walk.unserved))

    def close(self, exc: BaseException | None, result: Result | None = None) -> None:
        """Release what the run holds and give its one record to the log, the metrics and the
        tracer."""
        if self.hold is not None:
            self.release()
        if self.tab is not None:
            self.tab.close()
        config = self.config
        if not config.recorded and self.span is None:
            return
        record = self.record(exc, result)
        if self.span is not None:
            config.tracer.end_run(self.span, record, exc)
        if config.log is not None:
            config.log(record)
        if config.metrics is not None:
            try:
                config.metrics.observe(record)
            except Exception:  # noqa: BLE001 - metrics never fail a request
                pass

    def start_record(self) -> None:
        """The log's start record, before the run's first upstream call: a start with no end
        of the same run_id is a run the process did not finish."""
        self.opened = True
        decision = self.decision
        assert self.config.log is not None
        self.config.log({
            "event": "start",
            "run_id": self.run_id,
            "time": _time(self.at if self.at is not None else self.config.now()),
            "policy": self.engine.name,
            "policy_sha256": self.engine.sha256,
            "rule": decision.rule,
            "decision": decision.as_dict(),
            "signals": dict(self.signals),
        })

    def record(self, exc: BaseException | None, result: Result | None) -> dict[str, Any]:
        """The decision log's record of this run (section 13), with OpenTelemetry GenAI names
        for the model and the tokens; money as exact decimal strings."""
        decision = self.decision
        end, error = _ending(exc, result)
        answered = [a for a in self.attempts if a.answered or a.cut]
        model = self.engine.models.get(self.model) if self.model is not None else None
        record = {
            "event": "end",
            "run_id": self.run_id,
            "time": _time(self.at if self.at is not None else self.config.now()),
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
            "seconds": round(self.config.clock() - self.started, 6),
            "complete": result is not None and result.complete,
            "error": error,
        }
        if self.streaming:
            record["stream"] = True
        if self.arm is not None:
            record["arm"] = self.arm
        if self.shadow is not None:
            record["shadow"] = self.shadow
        return record


def _time(at: float) -> str:
    return datetime.fromtimestamp(at, timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _ending(exc: BaseException | None, result: Result | None) -> tuple[str, dict[str, Any] | None]:
    """How a run ended, as the log says it: `answered`, `incomplete`, `rejected`, `exhausted`,
    `over_budget`, `budget_busy`, `request_error`, `interrupted`, `abandoned` or `error`, and
    the error's details."""
    if exc is None:
        assert result is not None
        if result.complete:
            return "answered", None
        return "incomplete", {"type": "unserved", "step": result.unserved,
                              "message": f"no model could serve step {result.unserved}"}
    if isinstance(exc, Rejected):
        return "rejected", {"type": "rejected", "message": exc.reason}
    if isinstance(exc, BudgetBusy):
        return "budget_busy", {"type": "budget_busy", "message": str(exc)}
    if isinstance(exc, OverBudget):
        return "over_budget", {"type": "over_budget", "message": str(exc)}
    if isinstance(exc, Exhausted):
        return "exhausted", {"type": "exhausted", "message": str(exc)}
    if isinstance(exc, StreamInterrupted):
        return "interrupted", {"type": "interrupted", "message": str(exc)}
    if isinstance(exc, (Abandoned, GeneratorExit)):
        return "abandoned", {"type": "abandoned", "message": "the app stopped reading the stream"}
    if isinstance(exc, RequestError):
        return "request_error", {"type": "request_error", "code": exc.code, "signal": exc.signal,
                                 "message": exc.message}
    return "error", {"type": type(exc).__name__, "message": str(exc)}
