"""How far a long check has got, for whoever wants to show it: the passes say what they are
doing (`report("rules", 4211, 10000)`), a caller that wants to know installs a reporter around
the check (`with reporting(show): lint(...)`), and nothing else knows about the other side.

The passes never learn where the news goes (a terminal, an editor's status bar, nowhere), and
when no reporter is installed a report costs one context-variable read. The reporter is held
in a context variable, so that checks in threads (the language server's) each have their own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

Reporter = Callable[[str, int, int], None]
"""Called with what is being done (`"rules"`, `"parsing"`), how many of its items are done and
how many there are (both 0 for a stage that does not count its items)."""

_REPORTER: ContextVar[Reporter | None] = ContextVar("policylang_progress", default=None)


def report(stage: str, done: int = 0, total: int = 0) -> None:
    """Tell the installed reporter, if any, that `done` of `total` items of `stage` are done.

    Guarantees: without a reporter nothing happens; a reporter's exception propagates (a
    reporter is expected not to raise)."""
    reporter = _REPORTER.get()
    if reporter is not None:
        reporter(stage, done, total)


@contextmanager
def reporting(reporter: Reporter | None) -> Iterator[None]:
    """Send every `report` made inside the block (in this thread or task) to `reporter`; None
    turns reports off inside the block. The reporter in place before is put back at the end."""
    token = _REPORTER.set(reporter)
    try:
        yield
    finally:
        _REPORTER.reset(token)
