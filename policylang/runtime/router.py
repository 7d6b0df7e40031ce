"""The Router (section 13): serve a request as its policy decides, calling the models.

A run decides, then follows `serving.serve`, the walk that test blocks and simulation follow
too: the decision's first step; on a provider error the fallback declared for that error,
along the chain, never the same model twice for one step; after an answer, `assess` gives the
outcomes and the policy's `escalate` says whether to climb. Around each call sit the Router's
retries, its per-model breakers, its timeout and, in a `Session`, the budget. Every run, however
it ends, gives one record to `log`.

All of that lives once, in `core.Run.steps()`; this module holds the Router's options and
the thin drivers that make the calls: `run` (sync), `arun` (async) and, in `streaming`,
`stream` and `astream`.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable, Generator, Mapping
from random import Random
from types import CoroutineType
from typing import Any

from .core import Config, Invoke, Misuse, Run
from .engine import PolicyEngine, engine_of
from .resilience import NO_RETRY, Breaker, Breakers, Retry
from .results import Result
from .split import Split, shadows
from .streaming import AStream, Stream, adrive, drive
from .watch import Watched

_DEFAULT_RETRY = Retry()
_DEFAULT_BREAKER = Breaker()


class Router:
    """Runs requests through a policy: `run(signals, request)` and, with an async `call`,
    `await arun(signals, request)`; `stream` and `astream` hand the answer's text out as it
    arrives (section 13.1). Safe to share between threads and tasks.

    `policy` is a `Policy`, a compiled module or a `watch()` handle (a new version is picked up
    between runs, never during one), or a `runtime.Split` of policies (section 15: one per
    request by a stable hash of a signal; `engine` is then its first arm's).
    `shadow=[policy, ...]` decide each request too, for the log only (`"shadow"`).
    `call(model, request, *, max_output)` makes one call and
    returns the answer, raising `ProviderError` (or an exception `classify` names) when the
    provider fails; with `timeout` set it is also passed `timeout=` seconds. `assess(answer,
    signals)` gives the outcomes that decide a climb (None: never climb); `usage(answer)` the
    (input, output) tokens (None: a `runtime.Answer`'s own counts, else the `input_tokens`
    signal, or the model's context, and the call's cap); `log` takes each run's records and
    `metrics` (a `runtime.metrics.Metrics`) observes each run's end record and each breaker's
    changes; `on_breaker(model_id, state)` is called when a breaker changes state.
    `retry`, `breaker` (None: off) and `timeout` wrap each call; `ttft_timeout` bounds a
    stream's wait for its first chunk (None: `timeout`); `state` (a `runtime.state.State`, such
    as `RedisState`) holds the breakers (None: this process's own). `clock`, `sleep`, `asleep`,
    `rng` and `now` are the Router's only view of time and chance.
    """

    def __init__(self, policy: Any, call: Callable[..., Any], assess: Callable[..., Any] | None = None,
                 usage: Callable[[Any], tuple[int, int]] | None = None, log: Callable[[dict[str, Any]], Any] | None = None,
                 classify: Callable[[BaseException], str | None] | None = None, *,
                 retry: Retry | None = _DEFAULT_RETRY, breaker: Breaker | None = _DEFAULT_BREAKER,
                 timeout: float | None = None, ttft_timeout: float | None = None, tracer: Any = None,
                 metrics: Any = None, state: Any = None, on_breaker: Callable[[str, str], Any] | None = None,
                 shadow: Any = None,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], Any] = time.sleep,
                 asleep: Callable[[float], Any] | None = None, rng: Random | None = None,
                 now: Callable[[], float] = time.time) -> None:
        if not callable(call):
            raise TypeError("call must be callable: call(model, request, *, max_output) -> answer")
        for name, value in (("timeout", timeout), ("ttft_timeout", ttft_timeout)):
            if value is not None and not value > 0:
                raise ValueError(f"{name} is in seconds and must be positive (None: no timeout)")
        self._handle: Watched | None = policy if isinstance(policy, Watched) else None
        self._split: Split | None = policy if isinstance(policy, Split) else None
        current = policy.policy if self._handle is not None else policy
        self._engine: tuple[Any, PolicyEngine] = (current, engine_of(current) if self._split is None else
                                            self._split.engines[0])
        self._call = call
        self._acall = getattr(call, "acall", None) or call
        self._timeout = timeout
        self._ttft_timeout = ttft_timeout if ttft_timeout is not None else timeout
        self._sleep = sleep
        self._asleep = asleep or asyncio.sleep
        self._state = state
        chance = rng or Random()
        breakers: Breakers | None = None
        if breaker is not None:  # the breakers draw their backoff jitter from the Router's rng too
            breakers = state.breakers(breaker, chance) if state is not None else Breakers(breaker, chance)
            for listener in (on_breaker, getattr(metrics, "breaker", None)):
                if listener is not None:
                    breakers.subscribe(listener)
        self._breakers = breakers
        self._config = Config(assess=assess, usage=usage, log=log, metrics=metrics, classify=classify,
                              retry=retry or NO_RETRY, breakers=breakers, tracer=tracer, clock=clock,
                              rng=chance, now=now, shadows=shadows(shadow))

    @property
    def engine(self) -> PolicyEngine:
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
        breakers: Breakers | None = self._breakers
        return breakers

    @property
    def state(self) -> Any:
        """The shared state given as `state=` (None: this process's own)."""
        return self._state

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

    def stream(self, signals: Mapping[str, Any], request: Any) -> Stream:
        """Serve one request, handing the answer's text out as it arrives (section 13.1): an
        iterator of str whose `result` is the run's Result once it is exhausted. It raises what
        `run` raises (from its first `next`), and `StreamInterrupted` when the provider fails
        after text was handed out. Needs `call.stream(model, request, *, max_output)`."""
        return self._stream(signals, request, None)

    def astream(self, signals: Mapping[str, Any], request: Any) -> AStream:
        """`stream` for async apps: an async iterator of str (`async with` closes it), over
        `call.astream`."""
        return self._astream(signals, request, None)

    # ---- the drivers: each makes the calls a run's steps ask for ------------------------------

    def _begin(self, signals: Mapping[str, Any], tab: Any, streaming: bool = False) -> Run:
        if self._split is None:
            return Run(self._config, self.engine, signals, tab, streaming)
        engine, arm = self._split.pick(signals)
        run = Run(self._config, engine, signals, tab, streaming)
        run.arm = arm
        return run

    def _steps(self, signals: Mapping[str, Any], tab: Any) -> Generator[Any, Any, Result]:
        return self._begin(signals, tab).steps()

    def _run(self, signals: Mapping[str, Any], request: Any, tab: Any) -> Result:
        steps = self._steps(signals, tab)
        call, timeout = self._call, self._timeout
        try:
            effect = steps.send(None)
            while True:
                if effect.__class__ is Invoke:
                    try:
                        if timeout is None:
                            answer = call(effect[0], request, max_output=effect[1])
                        else:
                            answer = call(effect[0], request, max_output=effect[1], timeout=timeout)
                    except BaseException as exc:  # the run judges it: retry, fallback or re-raise
                        effect = steps.throw(exc)
                        continue
                    if isinstance(answer, CoroutineType):
                        answer.close()
                        effect = steps.throw(Misuse("call returned a coroutine: use `await router.arun(...)` "
                                                    "with an async call"))
                        continue
                    effect = steps.send(answer)
                elif effect.__class__ is float:
                    self._sleep(effect)
                    effect = steps.send(None)
                else:
                    getattr(effect.awaitable, "close", lambda: None)()
                    effect = steps.throw(Misuse("assess returned an awaitable: use `await router.arun(...)`"))
        except StopIteration as done:
            result: Result = done.value
            return result

    async def _arun(self, signals: Mapping[str, Any], request: Any, tab: Any) -> Result:
        steps = self._steps(signals, tab)
        acall, timeout = self._acall, self._timeout
        try:
            effect = steps.send(None)
            while True:
                try:
                    if effect.__class__ is Invoke:
                        answer = acall(effect[0], request, max_output=effect[1])
                        if inspect.isawaitable(answer):
                            answer = await (answer if timeout is None else asyncio.wait_for(answer, timeout))
                    elif effect.__class__ is float:
                        answer = await self._asleep(effect)
                    else:
                        answer = await effect.awaitable
                except BaseException as exc:
                    effect = steps.throw(exc)
                    continue
                effect = steps.send(answer)
        except StopIteration as done:
            result: Result = done.value
            return result

    def _stream(self, signals: Mapping[str, Any], request: Any, tab: Any) -> Stream:
        opener = getattr(self._call, "stream", None)
        if opener is None:
            raise TypeError("router.stream needs a call with a stream(model, request, *, max_output) method, "
                            "as runtime.clients.openai and litellm have")
        sink = Stream()
        sink._start(drive(sink, lambda: sink._bind(self._begin(signals, tab, True)).steps(), request, opener,
                          self._ttft_timeout,
                          self._sleep, self._config.clock))
        return sink

    def _astream(self, signals: Mapping[str, Any], request: Any, tab: Any) -> AStream:
        opener = getattr(self._call, "astream", None)
        if opener is None:
            raise TypeError("router.astream needs a call with an astream(model, request, *, max_output) method, "
                            "as runtime.clients.openai and litellm have")
        sink = AStream()
        sink._start(adrive(sink, lambda: sink._bind(self._begin(signals, tab, True)).steps(), request, opener,
                           self._ttft_timeout,
                           self._asleep, self._config.clock))
        return sink
