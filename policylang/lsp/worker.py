"""The analyses of one version of a buffer, off the server's process: the server answers hover,
completion and the next change's front end while they run, and a newer version ends them.

Where the platform forks (Linux, macOS), each analysis is a child process forked from the
server with the snapshot already parsed, resolved and type-checked in its memory: it runs only
the analyses of sections 6 and 7 (`Snapshot.analyses`), sends their findings back over a
socket, then stays to answer where a rule fires (for hovers) until the server ends it.
Cancelling is killing the child: the solver holds no lock of the server's and needs no
cancellation point inside the analyses. The analyses hold the interpreter lock for seconds at a
time, so a thread would slow every request the server answers meanwhile (benchmarks/lsp.py
measures both); a process does not.

Where it cannot fork (Windows), the analyses run on one worker thread, as `policyc lint` runs
them, and a superseded run finishes unseen: its findings are dropped, never published.

Frames on the socket are a length (8 bytes, big-endian) and a pickle; both ends are this module
in processes of the same server, never anything a client sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import pickle
import signal
import socket
import struct
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NoReturn

from ..diagnostics import Diagnostic
from .features import firing_summary, prepare_firing
from .snapshot import Snapshot

FORKS = hasattr(os, "fork")
"""Whether the analyses run in a process of their own (else on a thread)."""

_HEADER = struct.Struct("!Q")
_live: set[socket.socket] = set()
"""The server's ends of the sockets to live children: a new child closes its copies, so that a
child sees its socket close when the server lets go of it (or dies)."""


class AnalysisFailed(Exception):
    """The analyses ended without findings: a checker bug (its text says which) or a child that
    died. The server logs it and keeps serving."""


class Analysis:
    """The analyses of one snapshot, started at once in a child process (`in_process`, which
    needs `FORKS`), else on `pool`'s thread. `findings()` awaits them; `firing()` asks where a
    rule fires once they are done; `close()` ends the child, whatever it is doing."""

    def __init__(self, snapshot: Snapshot, pool: ThreadPoolExecutor, *, in_process: bool = FORKS) -> None:
        self.snapshot = snapshot
        self.closed = False
        self.done = False
        self.cpu: float | None = None
        """CPU seconds the analyses took (their process's or thread's), once done."""
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._asked = 0
        self._pid: int | None = None
        self._sock: socket.socket | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._reading: asyncio.Task[None] | None = None
        loop = asyncio.get_running_loop()
        self._answer: asyncio.Future[Any] = loop.create_future()
        if in_process and FORKS:
            try:
                self._fork()
            except OSError:  # no process to be had (memory, a process limit): a thread, then
                in_process = False
            else:
                self._reading = asyncio.ensure_future(self._read())
        if not (in_process and FORKS):
            self._thread = loop.run_in_executor(pool, self._in_thread)

    # ---- the server's side -----------------------------------------------------------------

    def _fork(self) -> None:
        ours, theirs = socket.socketpair()
        try:
            pid = os.fork()
        except OSError:
            ours.close()
            theirs.close()
            raise
        if pid == 0:  # the child: never returns
            ours.close()
            _child(theirs, self.snapshot)
        theirs.close()
        self._pid, self._sock = pid, ours
        _live.add(ours)

    async def _read(self) -> None:
        """Every frame the child sends: its findings first, then answers to `firing`."""
        assert self._sock is not None
        reader, self._writer = await asyncio.open_unix_connection(sock=self._sock)
        try:
            while True:
                header = await reader.readexactly(_HEADER.size)
                (size,) = _HEADER.unpack(header)
                message = pickle.loads(await reader.readexactly(size))
                if not self._answer.done():
                    self._answer.set_result(message)
                    continue
                ident, text = message
                waiting = self._pending.pop(ident, None)
                if waiting is not None and not waiting.done():
                    waiting.set_result(text)
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            pass  # the child ended (or was ended)
        finally:
            if not self._answer.done():
                self._answer.set_result(("failed", "the analyses' process ended without an answer"))
            for waiting in self._pending.values():
                if not waiting.done():
                    waiting.set_result(None)

    def _in_thread(self) -> None:
        start = time.thread_time()
        try:  # the snapshot's front end is done: its parse is only read here
            found = self.snapshot.analyses()
            message: tuple[Any, ...] = ("findings", found, time.thread_time() - start)
        except Exception as exc:  # a checker bug: the server says so in the client's log
            message = ("failed", repr(exc))
        loop = self._answer.get_loop()
        loop.call_soon_threadsafe(lambda: None if self._answer.done() else self._answer.set_result(message))

    async def findings(self) -> list[Diagnostic]:
        """The analyses' findings for the snapshot (theirs only: `Snapshot.full` adds the
        front end's). Raises `AnalysisFailed`, and `asyncio.CancelledError` when closed first."""
        message = await self._answer
        if message[0] == "failed":
            raise AnalysisFailed(message[1])
        self.done = True
        found: list[Diagnostic] = message[1]
        self.cpu = message[2]
        return found

    async def firing(self, rule: str, wait: float) -> str | None:
        """Where the rule named `rule` fires (features.firing_summary), asked of the child
        once the analyses are done; None if they are not, on a thread, or past `wait` seconds
        (the child goes on, so asking again soon finds the answer made)."""
        if not self.done or self.closed or self._writer is None:
            return None
        self._asked += 1
        ident = self._asked
        waiting: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        self._pending[ident] = waiting
        data = pickle.dumps((ident, rule), pickle.HIGHEST_PROTOCOL)
        try:
            self._writer.write(_HEADER.pack(len(data)) + data)
            await self._writer.drain()
            return await asyncio.wait_for(asyncio.shield(waiting), wait)
        except (asyncio.TimeoutError, ConnectionError, OSError):
            return None
        finally:
            self._pending.pop(ident, None)

    def close(self) -> None:
        """End the analyses (killing the child: at once, whatever it is doing) and forget them;
        `findings()` awaited meanwhile is cancelled."""
        if self.closed:
            return
        self.closed = True
        if not self._answer.done():
            self._answer.cancel()
        if self._reading is not None:
            self._reading.cancel()
        if self._writer is not None:
            self._writer.close()
        if self._sock is not None:
            _live.discard(self._sock)
            self._sock.close()
        if self._pid is not None:
            pid, self._pid = self._pid, None
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            try:  # reaped off the event loop: a killed child with a large heap takes a moment to go
                asyncio.get_running_loop().run_in_executor(None, _reap, pid)
            except RuntimeError:  # no loop running: the kill is quick to wait for
                _reap(pid)

    def kill(self) -> None:
        """Kill the child without waiting for it (the server is exiting: no loop to reap on)."""
        if self._pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._pid, signal.SIGKILL)


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)


# ---- the child's side ----------------------------------------------------------------------------


def _child(sock: socket.socket, snapshot: Snapshot) -> NoReturn:
    """Run the analyses, send their findings, answer `firing` questions until the server
    closes the socket; then exit at once (no cleanup of the server's state it inherited: its
    buffered output belongs to the server, never to be flushed twice)."""
    status = 0
    try:
        quiet = os.open(os.devnull, os.O_RDWR)  # the client's pipes are the server's alone: a
        for fd in (0, 1, 2):                    # client waits for them to close when it exits
            os.dup2(quiet, fd)
        with contextlib.suppress(ValueError):  # only the main thread may (the server's loop runs there)
            signal.set_wakeup_fd(-1)  # the server's event loop's, not ours
            for number in (signal.SIGINT, signal.SIGTERM):
                signal.signal(number, signal.SIG_DFL)
        for other in _live:
            other.close()
        gc.freeze()  # the server's heap, inherited: never scanned (nor copied by scanning)
        gc.set_threshold(100_000, 50, 100)  # as a check does (passes/pipeline.py)
        start = time.process_time()
        try:
            found = snapshot.analyses()
            message: tuple[Any, ...] = ("findings", found, time.process_time() - start)
        except Exception as exc:  # a checker bug: the server says so in the client's log
            message = ("failed", repr(exc))
        _send(sock, message)
        if message[0] == "findings":
            with contextlib.suppress(Exception):  # ready before the first rule's hover asks
                prepare_firing(snapshot)
        while True:
            question = _receive(sock)
            if question is None:
                break
            ident, rule = question
            try:
                answer = firing_summary(snapshot, rule)
            except Exception:  # the hover goes without the region
                answer = None
            _send(sock, (ident, answer))
    except BaseException:  # the server went away mid-answer: nothing left to tell
        status = 1
    finally:
        os._exit(status)


def _send(sock: socket.socket, message: object) -> None:
    data = pickle.dumps(message, pickle.HIGHEST_PROTOCOL)
    sock.sendall(_HEADER.pack(len(data)) + data)


def _receive(sock: socket.socket) -> Any:
    header = _exactly(sock, _HEADER.size)
    if header is None:
        return None
    (size,) = _HEADER.unpack(header)
    data = _exactly(sock, size)
    return None if data is None else pickle.loads(data)


def _exactly(sock: socket.socket, size: int) -> bytes | None:
    chunks: list[bytes] = []
    while size:
        chunk = sock.recv(min(size, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)
