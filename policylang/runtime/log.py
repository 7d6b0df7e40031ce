"""The decision log: one JSON line per record, appended where every process can share the file.

Each record is encoded first and written with a single `write` on a descriptor opened with
O_APPEND, so lines from threads and processes never interleave, and a record is in the kernel
before the call returns: no buffer to lose when the app stops, raises or exits. Only a process
killed in the middle of its write (SIGKILL, or a signal it has no handler for) can leave that
one record torn, at the end of the file, since the kernel may cut a write short for a dying
process; the next JsonlLog to open the file ends the torn line first, so it never swallows
another record. (Writers hold an advisory lock, flock, for each record, so the one opening the
file tells a dead writer's torn record from a live writer's record in progress.)

Writing never raises into the app's request path. A write that fails (a full disk, an I/O error,
a descriptor closed behind the log's back) keeps the record in a bounded backlog, in order,
logs one warning for the episode and counts it (`errors`); the backlog is written first as soon
as a write works again (the next record, or `flush()`). Past the bound the oldest records are
dropped (`dropped`) and the file gets an `{"event": "lost", "records": N}` note where they would
have been. The file is reopened when it was moved away (log rotation by `mv`: a write
compares the path's inode with the open file's, as `logging.handlers.WatchedFileHandler` does,
at most once every `watch_every` seconds, a millisecond by default, and at every write while
writes fail) and after `reopen()`, which a signal handler may call. Records are encoded by
orjson when it is installed and the record holds only plain values (the same JSON values as
the standard library's, written compactly), else by the standard library.

Runs write two records (section 13, the Router): `{"event": "start", "run_id", ...}` before the
run's first upstream call and its end record (`"event": "end"`) when it ends, so a process killed
mid-run still leaves the start of every run whose call was made. `read_log` gives the end
records and, on request, a record for each start that has no end (`"end": "unfinished"`).
"""

from __future__ import annotations

import errno
import json
import logging
import math
import os
import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from ..logrecords import is_end, is_start
from ..money import money_text

try:
    import fcntl
except ImportError:  # not on Windows: records are still whole, a torn tail is just not mended
    fcntl = None  # type: ignore[assignment]

_warn = logging.getLogger(__name__)

BACKLOG = 10_000
"""Records a JsonlLog holds in memory while it cannot write, by default."""

WATCH_EVERY = 0.001
"""Seconds between two checks for rotation, by default: a write checks (one `stat`) unless
another checked less than this long ago."""

_OPEN_FLAGS = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)


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


_ENCODER = json.JSONEncoder(ensure_ascii=False, default=_plain, allow_nan=False)
"""Made once: `json.dumps` with options builds a new encoder at every call."""

try:  # orjson (in the serve extra) writes the same JSON values about ten times as fast
    import orjson as _orjson
except ImportError:  # pragma: no cover - the standard library writes every record
    _orjson = None  # type: ignore[assignment]

_SCALARS = frozenset({str, int, bool, type(None), Decimal})
"""The leaf types orjson writes as the standard library does (a Decimal through `_plain`)."""


def _plain_tree(record: Any) -> bool:
    """Whether `record` holds only dicts, lists, tuples, finite floats and `_SCALARS`: what
    orjson encodes to the same values as `_ENCODER` (orjson writes NaN as null and has its
    own words for dataclasses, enums, datetimes and UUIDs: those records take the standard
    library's path). A loop per container, recursing into containers: no stack of leaves."""
    items: Any = record.values() if record.__class__ is dict else record
    for value in items:
        kind = value.__class__
        if kind in _SCALARS:
            continue
        if kind is dict or kind is list or kind is tuple:
            if not _plain_tree(value):
                return False
        elif kind is not float or value - value != 0.0:  # inf - inf and nan - nan are nan
            return False
    return True


def encode(record: dict[str, Any]) -> bytes:
    """One record as one line of UTF-8 JSON, newline included; never a raw newline inside.
    With orjson installed, a record of plain values is written compactly by orjson; any
    other, and every record without it, by the standard library: the same values either way
    (decimals as exact strings, sets as sorted lists, NaN and other values JSON cannot hold as
    their repr)."""
    try:
        plain = _orjson is not None and _plain_tree(record)
    except RecursionError:  # nested past the interpreter's limit: the standard library says what it can
        plain = False
    if plain:
        try:
            return _orjson.dumps(record, default=_plain, option=_orjson.OPT_APPEND_NEWLINE)
        except TypeError:  # a key that is no string, an int past 64 bits: the standard library says it
            pass
    try:
        text = _ENCODER.encode(record)
    except ValueError:
        text = _ENCODER.encode(_finite(record))
    return (text + "\n").encode("utf-8")


def _now_text() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


class JsonlLog:
    """A decision log file: `log(record)` appends one complete line, or keeps it until the
    file can take it. Safe across threads and processes; never raises once constructed.

    `fsync=True` also survives a power loss, at a disk write per record. `backlog` bounds the
    records held while writes fail (the oldest are dropped past it, and a `"lost"` note says how
    many). A write first checks whether the file was moved away (rotated), unless a check was
    made less than `watch_every` seconds before (0: before every write); `watch=False` stops
    the checks (then only `reopen()` moves to a new file). Counters: `errors` (writes that failed), `dropped` (records lost past the
    backlog), `pending` (records held now). Construction raises OSError when the file cannot be
    opened at all: that is a configuration error, found before any request.
    """

    def __init__(self, path: str | os.PathLike[str], *, fsync: bool = False, backlog: int = BACKLOG,
                 watch: bool = True, watch_every: float = WATCH_EVERY) -> None:
        if backlog < 0:
            raise ValueError("backlog is a number of records and must be >= 0")
        if not (math.isfinite(watch_every) and watch_every >= 0):
            raise ValueError("watch_every is in seconds and must be finite and >= 0")
        self.path = os.fspath(path)
        self.fsync = fsync
        self.backlog = backlog
        self.watch = watch
        self.watch_every = watch_every
        self._checked = -math.inf  # time.monotonic() of the last check for rotation
        self.errors = 0
        self.dropped = 0
        self._lost = 0  # dropped records the file has no note of yet
        self._failing: str | None = None  # the error of the current failing episode
        self._pending: deque[bytes] = deque()
        self._lock = threading.Lock()
        self._closed = False
        self._reopen = False
        self._torn = False  # a write of ours was cut short: the file ends inside our line
        self._unencodable = False  # a record could not be encoded (warned once)
        self._fd: int | None = None
        self._identity: tuple[int, int] | None = None
        self._fd, self._identity = self._open()

    # ---- the file ---------------------------------------------------------------------------

    def _open(self) -> tuple[int, tuple[int, int]]:
        """A descriptor on the path (created if missing) and its (device, inode); a torn tail a
        dead writer left is ended first, so that our records start on lines of their own."""
        fd = os.open(self.path, _OPEN_FLAGS, 0o644)
        try:
            stat = os.fstat(fd)
            with _exclusive(fd):  # no live writer is mid-record now: a torn tail is a dead one's
                if _torn(self.path):
                    try:
                        os.write(fd, b"\n")
                    except OSError:  # a full disk: the next record starts with the newline
                        self._torn = True
        except BaseException:
            os.close(fd)
            raise
        return fd, (stat.st_dev, stat.st_ino)

    def _moved(self) -> bool:
        """Whether the path no longer names the open file (renamed or deleted: rotated), when
        the last check is `watch_every` seconds old or writes are failing; else False (checked
        just now)."""
        now = time.monotonic()
        if now - self._checked < self.watch_every and self._failing is None:  # failing: check each time
            return False
        self._checked = now
        try:
            stat = os.stat(self.path)
        except OSError:
            return True
        return (stat.st_dev, stat.st_ino) != self._identity

    def _switch(self) -> bool:
        """Open the path anew and write there from now on; whether it could. If it cannot be
        opened, the old descriptor stays in use (records go to the moved file, not nowhere)."""
        self._reopen = False
        try:
            fd, identity = self._open()
        except OSError as exc:
            self._failed(exc, "reopening")
            return False
        old, self._fd, self._identity = self._fd, fd, identity
        self._checked = time.monotonic()
        if old is not None and old != fd:  # the same number: the old one was closed behind our back
            try:
                os.close(old)
            except OSError:
                pass
        return True

    # ---- writing ----------------------------------------------------------------------------

    def __call__(self, record: dict[str, Any]) -> None:
        """Append `record` as one line, after any records held back; never raises. A record
        that cannot be written now is held (see the class)."""
        try:
            line = encode(record)
        except Exception as exc:  # a value whose repr raises: count it, the app goes on
            with self._lock:
                self.errors += 1
                self.dropped += 1
                self._lost += 1
                first, self._unencodable = not self._unencodable, True
            if first:
                _warn.warning("the decision log %s dropped a record it could not encode (%s: %s); it counts any "
                              "other in `dropped`", self.path, type(exc).__name__, exc)
            return
        with self._lock:
            self._pending.append(line)
            self._write()
            while len(self._pending) > self.backlog:  # what the file could not take, past the bound
                self._pending.popleft()
                self.dropped += 1
                self._lost += 1

    def flush(self) -> int:
        """Try to write the records held back now; the number still held. Never raises."""
        with self._lock:
            self._write()
            return len(self._pending)

    @property
    def pending(self) -> int:
        """Records held in memory because the file could not take them yet."""
        return len(self._pending)

    def reopen(self) -> None:
        """Write to a freshly opened file at the path from the next record on (after log
        rotation). Only sets a flag, so it is safe in a signal handler:
        `signal.signal(signal.SIGHUP, lambda *_: log.reopen())`."""
        self._reopen = True

    def _write(self) -> None:
        """Write the held records in order (the lock is held). Stops at the first failure."""
        if not self._pending and not self._lost:
            return
        if self._closed:
            self._write_closed()
            return
        if self._reopen or self._fd is None or (self.watch and self._moved()):
            self._switch()
        fd = self._fd
        if fd is None:
            return
        for again in (True, False):
            try:
                if fcntl is None:
                    self._drain(fd)
                else:  # _exclusive, inline: the generator of a context manager costs a microsecond a record
                    fcntl.flock(fd, fcntl.LOCK_EX)
                    try:
                        self._drain(fd)
                    finally:
                        fcntl.flock(fd, fcntl.LOCK_UN)
                break
            except OSError as exc:
                if again and exc.errno == errno.EBADF and self._switch():  # closed behind our back
                    assert self._fd is not None
                    fd = self._fd
                    continue
                self._failed(exc, "writing")
                return
        if self.fsync:
            try:
                os.fsync(fd)
            except OSError as exc:
                self._failed(exc, "syncing")
                return
        self._recovered()

    def _write_closed(self) -> None:
        """After `close()`: each record opens the file, is written, and closes it."""
        try:
            fd = os.open(self.path, _OPEN_FLAGS, 0o644)
        except OSError as exc:
            self._failed(exc, "reopening the closed log")
            return
        try:
            with _exclusive(fd):
                self._drain(fd)
            if self.fsync:
                os.fsync(fd)
        except OSError as exc:
            self._failed(exc, "writing")
            return
        finally:
            os.close(fd)
        self._recovered()

    def _drain(self, fd: int) -> None:
        """Write the lost note, if any, and every held record, each whole; raises OSError at the
        first that fails, with it still held (a part written is ended by the next write)."""
        if self._lost:
            self._put(fd, encode({"event": "lost", "time": _now_text(), "records": self._lost,
                                  "reason": self._failing or "the backlog was full"}))
            self._lost = 0
        pending = self._pending
        while pending:
            self._put(fd, pending[0])
            pending.popleft()

    def _put(self, fd: int, line: bytes) -> None:
        data = b"\n" + line if self._torn else line
        written = 0
        try:
            while written < len(data):  # only a full disk or a signal cuts a write short
                written += os.write(fd, data[written:])
        except OSError:
            if written:
                self._torn = not data[:written].endswith(b"\n")
            raise
        self._torn = False

    def _failed(self, exc: BaseException, doing: str) -> None:
        self.errors += 1
        if self._failing is None:
            self._failing = f"{doing} {self.path}: {exc}"
            _warn.warning("the decision log cannot write (%s); records are held in memory (at most %d, "
                          "the oldest dropped past that) and written when it can", self._failing, self.backlog)

    def _recovered(self) -> None:
        if self._failing is not None:
            _warn.warning("the decision log %s writes again (after %d failed writes; %d records dropped in all)",
                          self.path, self.errors, self.dropped)
            self._failing = None

    def close(self) -> None:
        """Write what is held if it can, and close the file. A record given after this is still
        written (the file is opened for it); records that could not be written are counted in
        `dropped`, with a warning."""
        with self._lock:
            self._write()
            if self._pending:
                _warn.warning("the decision log %s closes with %d records it could not write",
                              self.path, len(self._pending))
                self.dropped += len(self._pending)
                self._pending.clear()
            self._closed = True
            if self._fd is not None:
                try:
                    os.close(self._fd)
                except OSError:
                    pass
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


def unfinished(start: dict[str, Any]) -> dict[str, Any]:
    """The record that stands for a run that started and has no end record (its process was
    killed, or is still running it): the start's fields, `"event": "unfinished"`,
    `"end": "unfinished"`, nothing spent that the log knows of."""
    return {**start, "event": "unfinished", "end": "unfinished", "attempts": [], "path": [], "complete": False,
            "error": {"type": "unfinished", "message": "the run started and the log has no end for it"}}


def read_log(path: str | os.PathLike[str] | Sequence[str | os.PathLike[str]], *, skip_torn: bool = False,
             every: bool = False, unfinished_runs: bool = False) -> Iterator[dict[str, Any]]:
    """The end records of a decision log, in order, blank lines skipped; start records and the
    log's own notes (`"event": "lost"`) are left out unless `every=True`, which gives every
    record as written. `path` may be a list of files read one after the other (a rotated log,
    oldest first), so that a run which started in one file and ended in the next is one run.
    With `unfinished_runs=True`, after the last record, one `unfinished` record per start
    record whose `run_id` no end record has. A line that does not parse is a ValueError naming
    it, or, with `skip_torn=True`, skipped (the torn record of a writer killed mid-write, or
    cut short by a full disk)."""
    paths = [path] if isinstance(path, (str, os.PathLike)) else list(path)
    started: dict[str, dict[str, Any]] = {}
    for one in paths:
        with open(one, encoding="utf-8", errors="replace") as lines:
            for number, line in enumerate(lines, 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    if not skip_torn:
                        raise ValueError(f"{os.fspath(one)}:{number}: not a JSON record: {exc.msg}") from None
                    continue
                if unfinished_runs and isinstance(record, dict) and isinstance(record.get("run_id"), str):
                    if is_start(record):
                        started[record["run_id"]] = record
                    elif is_end(record):
                        started.pop(record["run_id"], None)
                if every or is_end(record):
                    yield record
    for start in started.values():
        yield unfinished(start)
