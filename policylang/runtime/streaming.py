"""Streaming runs (section 13.1): the drivers behind `router.stream` and `router.astream`.

A run's steps (`core.Run.steps`) decide every retry, fallback, climb and cost; these drivers
only open each call's stream and read it:

- a step that may climb (the call's `live` false) is read whole before any of it is handed out;
  its answer is assessed by the run; if the run ends on it, its chunks are handed out then;
- a live step hands each chunk out as it arrives. An error (or the `ttft_timeout`) before its
  first chunk is the call's failure, retried and taken to a fallback as in `run`; an error
  after it is thrown into the run as `Interrupted`, and the run ends the stream with
  `StreamInterrupted`; the app closing the stream (or a `break` out of a `with` block) closes
  the provider's stream and is thrown into the run as `Abandoned`, which logs it.

A provider's stream is always closed when its call ends, however it ends, so no connection is
left open.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncGenerator, Callable, Generator
from typing import Any

from .core import Abandoned, Await, Interrupted, Invoke, Misuse, Run, Streamed
from .errors import ProviderError
from .results import Answer, Result, Usage


class _Handle:
    """What the sync and async streams share: the run they read, bound when it starts, and its
    `result` once the stream is exhausted."""

    def __init__(self) -> None:
        self.result: Result | None = None
        self._run: Run | None = None

    def _bind(self, run: Run) -> Run:
        self._run = run
        return run

    @property
    def decision(self) -> Any:
        """The run's decision, once the first chunk has been asked for (None before)."""
        return self._run.decision if self._run is not None else None


class Stream(_Handle):
    """What `router.stream` returns: iterate it for the answer's text (str chunks); once it is
    exhausted, `result` is the run's `Result`; `decision` is the run's decision once the first
    chunk came (a gateway's headers). `close()` (or leaving a `with` block) abandons
    the run: the provider's stream is closed and the run is logged as abandoned."""

    def __init__(self) -> None:
        super().__init__()
        self._chunks: Generator[str, None, None] | None = None

    def _start(self, chunks: Generator[str, None, None]) -> None:
        self._chunks = chunks

    def __iter__(self) -> Stream:
        return self

    def __next__(self) -> str:
        assert self._chunks is not None
        return next(self._chunks)

    def close(self) -> None:
        """Stop the run here: nothing more is read from the provider."""
        if self._chunks is not None:
            self._chunks.close()

    def __enter__(self) -> Stream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AStream(_Handle):
    """What `router.astream` returns: `async for` it for the text; `result` once exhausted;
    `await aclose()` (or leaving an `async with` block) abandons the run."""

    def __init__(self) -> None:
        super().__init__()
        self._chunks: AsyncGenerator[str, None] | None = None

    def _start(self, chunks: AsyncGenerator[str, None]) -> None:
        self._chunks = chunks

    def __aiter__(self) -> AStream:
        return self

    async def __anext__(self) -> str:
        assert self._chunks is not None
        return await self._chunks.__anext__()

    async def aclose(self) -> None:
        """Stop the run here: nothing more is read from the provider."""
        if self._chunks is not None:
            await self._chunks.aclose()

    async def __aenter__(self) -> AStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def _answer(chunks: list[str], usage: Usage | None) -> Answer:
    if usage is None:
        return Answer("".join(chunks))
    return Answer("".join(chunks), input_tokens=usage.input_tokens, output_tokens=usage.output_tokens)


def _malformed(item: object) -> ProviderError:
    return ProviderError("server_error", f"the stream gave a {type(item).__name__}, not a str chunk or a runtime.Usage")


def drive(sink: Stream, start: Callable[[], Generator[Any, Any, Result]], request: Any, opener: Callable[..., Any],
          timeout: float | None, sleep: Callable[[float], Any], clock: Callable[[], float]) -> Generator[str, None, None]:
    """The sync streaming driver: the text of the run's answer; sets `sink.result` at the end."""
    steps = start()
    pending: list[str] | None = None  # the chunks of a whole-read answer the run may end on
    try:
        effect = steps.send(None)
        while True:
            if effect.__class__ is Invoke:
                model, cap, live = effect
                started = clock()
                chunks: list[str] = []
                usage: Usage | None = None
                ttft: float | None = None
                source: Any = None
                try:
                    if timeout is None:
                        source = opener(model, request, max_output=cap)
                    else:
                        source = opener(model, request, max_output=cap, timeout=timeout)
                    for item in source:
                        if isinstance(item, str):
                            if item:
                                if ttft is None:
                                    ttft = clock() - started
                                chunks.append(item)
                                if live:
                                    yield item
                        elif isinstance(item, Usage):
                            usage = item
                        else:
                            raise _malformed(item)
                except GeneratorExit:
                    _close(source)
                    try:
                        steps.throw(Abandoned("".join(chunks), ttft))
                    except Abandoned:
                        pass
                    raise
                except BaseException as exc:
                    _close(source)
                    if live and chunks and isinstance(exc, Exception):
                        exc = Interrupted(exc, "".join(chunks), ttft or 0.0)
                    effect = steps.throw(exc)
                    continue
                _close(source)
                pending = None if live else chunks
                effect = steps.send(Streamed(_answer(chunks, usage), ttft if ttft is not None else clock() - started,
                                             usage is None))
            elif effect.__class__ is float:
                sleep(effect)
                effect = steps.send(None)
            else:
                assert effect.__class__ is Await
                getattr(effect.awaitable, "close", lambda: None)()
                effect = steps.throw(Misuse("assess returned an awaitable: use router.astream(...)"))
    except StopIteration as done:
        result: Result = done.value
    if pending:
        yield from pending
    sink.result = result


async def adrive(sink: AStream, start: Callable[[], Generator[Any, Any, Result]], request: Any,
                 opener: Callable[..., Any], timeout: float | None, asleep: Callable[[float], Any],
                 clock: Callable[[], float]) -> AsyncGenerator[str, None]:
    """The async streaming driver: `drive` over `call.astream`, with `timeout` bounding the wait
    for each call's first chunk."""
    steps = start()
    pending: list[str] | None = None
    try:
        effect = steps.send(None)
        while True:
            if effect.__class__ is Invoke:
                model, cap, live = effect
                started = clock()
                chunks: list[str] = []
                usage: Usage | None = None
                ttft: float | None = None
                source: Any = None
                try:
                    source = opener(model, request, max_output=cap)
                    if inspect.isawaitable(source):
                        source = await (source if timeout is None else asyncio.wait_for(source, timeout))
                    iterator = source.__aiter__()
                    while True:
                        try:
                            if ttft is None and timeout is not None:
                                item = await asyncio.wait_for(iterator.__anext__(), timeout - (clock() - started))
                            else:
                                item = await iterator.__anext__()
                        except StopAsyncIteration:
                            break
                        if isinstance(item, str):
                            if item:
                                if ttft is None:
                                    ttft = clock() - started
                                chunks.append(item)
                                if live:
                                    yield item
                        elif isinstance(item, Usage):
                            usage = item
                        else:
                            raise _malformed(item)
                except GeneratorExit:
                    await _aclose(source)
                    try:
                        steps.throw(Abandoned("".join(chunks), ttft))
                    except Abandoned:
                        pass
                    raise
                except BaseException as exc:
                    await _aclose(source)
                    if live and chunks and isinstance(exc, asyncio.CancelledError):  # the app's task gave up
                        try:
                            steps.throw(Abandoned("".join(chunks), ttft))
                        except Abandoned:
                            pass
                        raise
                    if live and chunks and isinstance(exc, Exception):
                        exc = Interrupted(exc, "".join(chunks), ttft or 0.0)
                    effect = steps.throw(exc)
                    continue
                await _aclose(source)
                pending = None if live else chunks
                effect = steps.send(Streamed(_answer(chunks, usage), ttft if ttft is not None else clock() - started,
                                             usage is None))
            else:
                try:
                    value = await (asleep(effect) if effect.__class__ is float else effect.awaitable)
                except BaseException as exc:
                    effect = steps.throw(exc)
                    continue
                effect = steps.send(value)
    except StopIteration as done:
        result: Result = done.value
    if pending:
        for chunk in pending:
            yield chunk
    sink.result = result


def _close(source: Any) -> None:
    close = getattr(source, "close", None)
    if close is not None:
        try:
            close()
        except Exception:  # noqa: BLE001 - closing a broken stream may fail again; it is closed
            pass


async def _aclose(source: Any) -> None:
    close = getattr(source, "aclose", None) or getattr(source, "close", None)
    if close is not None:
        try:
            closed = close()
            if inspect.isawaitable(closed):
                await closed
        except Exception:  # noqa: BLE001 - as in _close
            pass
