"""Progress of a long check on a terminal: `checking big.route: 4,211/10,000 rules`, redrawn in
place on standard error and wiped when the check ends.

Nothing is drawn when standard error is not a terminal (piped, redirected, CI logs: `lint
--format json` output stays clean either way, it goes to standard output), nor before the check
has run for `DELAY` seconds, so that the quick checks most runs are never flicker. The passes
report through `policylang.progress` and know nothing of this module.
"""

from __future__ import annotations

import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

from ..progress import reporting

DELAY = 1.0
"""Seconds a check runs before its progress is shown."""

INTERVAL = 0.1
"""The shortest time between two redraws (a 10,000-rule check reports 20,000 times)."""

TICK = 0.25
"""How often a line not yet drawn is looked at, for a stage that reports once and runs long
(parsing a large file: its report comes at the start, before `DELAY` has passed)."""

WIPE = "\r\x1b[K"
"""Back to the start of the line and clear it (every terminal policyc runs in knows CSI K)."""


class TerminalProgress:
    """A reporter for `policylang.progress` that draws one line on a terminal stream.

    The check calls it from its own thread; `draw_latest` may be called from another (the
    ticker of `progress_shown`): a lock keeps their writes whole."""

    def __init__(self, stream: TextIO, label: str, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.stream, self.label, self.clock = stream, label, clock
        self.started = clock()
        self.drawn_at: float | None = None
        self.stage = ""
        self.latest: tuple[str, int, int] | None = None
        self.latest_drawn = False
        self._lock = threading.Lock()

    def __call__(self, stage: str, done: int, total: int) -> None:
        with self._lock:
            self.latest, self.latest_drawn = (stage, done, total), False
            now = self.clock()
            if now - self.started < DELAY:
                return
            if self.drawn_at is not None and now - self.drawn_at < INTERVAL and stage == self.stage and done != total:
                return  # a new stage and the last item are always drawn
            self._draw(now)

    def draw_latest(self) -> None:
        """Draw the latest report if it has not been drawn and the check has run `DELAY`."""
        with self._lock:
            now = self.clock()
            if self.latest is not None and not self.latest_drawn and now - self.started >= DELAY:
                self._draw(now)

    def _draw(self, now: float) -> None:
        assert self.latest is not None
        stage, done, total = self.latest
        counted = f"{done:,}/{total:,} {stage}" if total else stage
        width = max(20, shutil.get_terminal_size().columns - 1)  # one line: a wrapped line is not redrawn
        self.stream.write(WIPE + f"checking {self.label}: {counted}"[:width])
        self.stream.flush()
        self.stage, self.drawn_at, self.latest_drawn = stage, now, True

    def clear(self) -> None:
        """Wipe the line, if one was drawn, so that what follows starts on a clean line."""
        with self._lock:
            if self.drawn_at is not None:
                self.stream.write(WIPE)
                self.stream.flush()
                self.drawn_at = None


@contextmanager
def progress_shown(label: str, stream: TextIO | None = None) -> Iterator[None]:
    """Show the progress of the checks run inside the block on `stream` (standard error by
    default) when it is a terminal; the line is wiped when the block ends, however it ends."""
    out = sys.stderr if stream is None else stream
    if not _is_terminal(out):
        yield
        return
    progress = TerminalProgress(out, label)
    stop = threading.Event()
    ticker = threading.Thread(target=_keep_drawing, args=(progress, stop), name="policyc-progress", daemon=True)
    ticker.start()
    try:
        with reporting(progress):
            yield
    finally:
        stop.set()
        ticker.join()
        progress.clear()


def _keep_drawing(progress: TerminalProgress, stop: threading.Event) -> None:
    """Every `TICK` until stopped, draw what the check last reported if it has not been drawn."""
    while not stop.wait(TICK):
        progress.draw_latest()


def files_label(paths: tuple[str, ...] | list[str]) -> str:
    """What the line says is being checked: the file, or how many files."""
    return paths[0] if len(paths) == 1 else f"{len(paths):,} files"


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or stand-in stream
        return False
