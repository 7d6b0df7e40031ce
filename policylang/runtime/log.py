"""The decision log: one JSON line per run, appended where every process can share the file.

Each record is encoded first and written with a single `write` on a descriptor opened with
O_APPEND, so lines from threads and processes never interleave, and a record is in the kernel
before `run` returns: no buffer to lose when the app stops, raises or exits. Only a process
killed in the middle of its write (SIGKILL, or a signal it has no handler for) can leave that
one record torn, at the end of the file, since the kernel may cut a write short for a dying
process; the next JsonlLog to open the file ends the torn line first, so it never swallows
another record. (Writers hold an advisory lock, flock, for each record, so the one opening the
file tells a dead writer's torn record from a live writer's record in progress.)
"""

from __future__ import annotations

import json
import math
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from .results import money_text

try:
    import fcntl
except ImportError:  # not on Windows: records are still whole, a torn tail is just not mended
    fcntl = None  # type: ignore[assignment]


def _plain(value: Any) -> Any:
    """What JSON cannot say by itself: decimals as exact strings, sets as sorted lists."""
    if isinstance(value, Decimal):
        return money_text(value) if value.is_finite() else str(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=str)
    return repr(value)


def _finite(value: Any) -> Any:
    """NaN and infinities (a bad request's signals) as strings: JSON has no word for them."""
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value


def encode(record: dict[str, Any]) -> bytes:
    """One record as one line of UTF-8 JSON, newline included; never a raw newline inside."""
    try:
        text = json.dumps(record, ensure_ascii=False, default=_plain, allow_nan=False)
    except ValueError:
        text = json.dumps(_finite(record), ensure_ascii=False, default=_plain, allow_nan=False)
    return (text + "\n").encode("utf-8")


class JsonlLog:
    """A decision log file: `log(record)` appends one complete, flushed line. Safe across
    threads and processes; `fsync=True` also survives a power loss, at a disk write per run."""

    def __init__(self, path: str | os.PathLike[str], *, fsync: bool = False) -> None:
        self.path = os.fspath(path)
        self.fsync = fsync
        self._fd: int | None = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0),
                                       0o644)
        self._lock = threading.Lock()
        with _exclusive(self._fd):  # no live writer is mid-record now: a torn tail is a dead one's
            if _torn(self.path):  # end its line, so that ours start on their own
                os.write(self._fd, b"\n")

    def __call__(self, record: dict[str, Any]) -> None:
        """Append `record` as one line."""
        line = encode(record)
        with self._lock:  # O_APPEND keeps lines whole; the lock keeps close() from racing a write
            fd = self._fd
            if fd is None:
                raise ValueError(f"the decision log {self.path} is closed")
            with _exclusive(fd):
                written = os.write(fd, line)
                while written < len(line):  # only a full disk or a signal cuts a write short
                    written += os.write(fd, line[written:])
            if self.fsync:
                os.fsync(fd)

    def close(self) -> None:
        """Close the file; a record given after this is a ValueError."""
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    def __enter__(self) -> JsonlLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"JsonlLog({self.path!r})"


@contextmanager
def _exclusive(fd: int) -> Iterator[None]:
    """An advisory lock on the log across processes (where the system has flock): a writer
    holds it for each record, so one opening the file never sees another's record half
    written. The kernel drops it when a holder dies."""
    if fcntl is None:
        yield
        return
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)


def _torn(path: str) -> bool:
    """Whether the file ends inside a line (its last byte is no newline)."""
    try:
        with open(path, "rb") as file:
            if file.seek(0, os.SEEK_END) == 0:
                return False
            file.seek(-1, os.SEEK_END)
            return file.read(1) != b"\n"
    except OSError:
        return False


def read_log(path: str | os.PathLike[str], *, skip_torn: bool = False) -> Iterator[dict[str, Any]]:
    """The records of a decision log, in order, blank lines skipped. A line that does not
    parse is a ValueError naming it, or, with `skip_torn=True`, skipped (the torn record of a
    writer that was killed mid-write)."""
    with open(path, encoding="utf-8", errors="replace") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError as exc:
                if not skip_torn:
                    raise ValueError(f"{os.fspath(path)}:{number}: not a JSON record: {exc.msg}") from None
