"""Hot reload (section 13): a policy file that is reloaded when it, or a file it imports,
changes, and that only ever serves a version that passed every check.

`watchfiles` (extra `watch`) tells of changes as they happen; without it the files are polled.
Either way a change is confirmed by the files' contents (sha256), so a save that changes
nothing, or a touch, reloads nothing.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Callable
from typing import Any

from ..policy import Policy, PolicyError, load

logger = logging.getLogger("policylang.runtime")


def _report(error: PolicyError) -> None:
    logger.error("policy not reloaded, still serving the last good version:\n%s", error)


class Watched:
    """A policy file kept current: `policy` is the last version that passed every check
    (`policylang.load`); `version` counts the versions served (1 for the first); `error` is the
    last broken save's `PolicyError`, or None once a good version follows it. Build one with
    `watch()`; a `Router` built on it switches versions between runs."""

    def __init__(self, path: str | os.PathLike[str], *, on_error: Callable[[PolicyError], Any] | None = None,
                 on_reload: Callable[[Policy], Any] | None = None, interval: float = 0.5,
                 use_watchfiles: bool | None = None, loader: Callable[[str], Policy] = load) -> None:
        self.path = os.fspath(path)
        self.interval = interval
        self._on_error = on_error if on_error is not None else _report
        self._on_reload = on_reload
        self._load = loader
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._policy = self._loaded(loader(self.path))  # nothing to serve yet: a broken file raises
        self.version = 1
        self.error: PolicyError | None = None
        self._files = self._files_of(self._policy.sources)
        self._seen = self._fingerprint()
        self._thread: threading.Thread | None = None
        self.mode = "polling"
        if use_watchfiles is not False:
            try:
                import watchfiles  # noqa: F401
                self.mode = "watchfiles"
            except ImportError:
                if use_watchfiles:
                    from .errors import MissingExtra
                    raise MissingExtra("watch(use_watchfiles=True)", "watchfiles", "watch") from None
        if interval > 0:
            self._thread = threading.Thread(target=self._watch if self.mode == "watchfiles" else self._poll,
                                            name=f"policylang-watch {self.path}", daemon=True)
            self._thread.start()

    @property
    def policy(self) -> Policy:
        """The last version of the file that passed every check."""
        return self._policy

    def refresh(self) -> bool:
        """Look at the files now: reload when their contents changed. True when a new version
        is served; False when nothing changed or the new version is broken (then `on_error`
        was told, and `error` holds it)."""
        with self._lock:
            seen = self._fingerprint()
            if seen == self._seen:
                return False
            self._seen = seen
            try:
                fresh = self._loaded(self._load(self.path))
            except PolicyError as error:
                self.error = error
                self._settle(self._files | self._files_of(error.sources), error.sources, seen)
                self._on_error(error)
                return False
            self._policy = fresh
            self.version += 1
            self.error = None
            self._settle(self._files_of(fresh.sources), fresh.sources, seen)
        if self._on_reload is not None:
            self._on_reload(fresh)
        return True

    def close(self) -> None:
        """Stop watching; `policy` stays the last good version."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

    def __enter__(self) -> Watched:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- internals ----------------------------------------------------------------------------

    @staticmethod
    def _loaded(policy: Policy) -> Policy:
        policy.compiled  # build the engine here, not in the first run that serves this version
        return policy

    def _files_of(self, sources: dict[str, Any]) -> frozenset[str]:
        found = {os.path.realpath(self.path)}
        found.update(source.path for source in sources.values() if getattr(source, "path", None))
        return frozenset(found)

    def _fingerprint(self) -> tuple[tuple[str, str | None], ...]:
        return tuple((path, _digest(path)) for path in sorted(self._files))

    def _settle(self, files: frozenset[str], sources: dict[str, Any], seen: tuple[tuple[str, str | None], ...]) -> None:
        """Remember the files as the load read them (a save that lands while a load reads the
        file, or between its truncation and its writing, is then seen at the next look)."""
        read = {source.path: source.sha256 for source in sources.values() if getattr(source, "path", None)}
        before = dict(seen)
        self._files = files
        self._seen = tuple((path, read[path] if path in read else before[path] if path in before else _digest(path))
                           for path in sorted(files))

    def _refresh_quietly(self) -> None:
        try:
            self.refresh()
        except Exception:  # a watcher thread must outlive one bad reload
            logger.exception("policy reload failed")

    def _poll(self) -> None:
        while not self._stop.wait(self.interval):
            self._refresh_quietly()

    def _watch(self) -> None:
        import watchfiles

        while not self._stop.is_set():
            folders = sorted({os.path.dirname(path) for path in self._files})
            files = self._files
            for changes in watchfiles.watch(*folders, stop_event=self._stop, debounce=50, step=20,
                                            rust_timeout=int(self.interval * 1000) or 1000, yield_on_timeout=True,
                                            recursive=False, raise_interrupt=False):
                # a change event, or a quiet interval: the contents decide (no event is missed)
                if not changes or any(os.path.realpath(path) in files for _, path in changes):
                    self._refresh_quietly()
                if self._files != files:
                    break  # the imports changed: watch their folders instead


def _digest(path: str) -> str | None:
    try:
        with open(path, "rb") as file:
            return hashlib.sha256(file.read()).hexdigest()
    except OSError:
        return None


def watch(path: str | os.PathLike[str], on_error: Callable[[PolicyError], Any] | None = None, *,
          on_reload: Callable[[Policy], Any] | None = None, interval: float = 0.5,
          use_watchfiles: bool | None = None) -> Watched:
    """Load a policy file and keep it current; raises PolicyError when it is broken now.

    A broken save is passed to `on_error` (default: logged on the `policylang.runtime` logger)
    and never served; `on_reload(policy)` hears of each new version. Changes are seen with
    `watchfiles` when it is installed (`use_watchfiles=None`), else by polling every `interval`
    seconds; `interval=0` starts no thread (call `refresh()` yourself)."""
    return Watched(path, on_error=on_error, on_reload=on_reload, interval=interval, use_watchfiles=use_watchfiles)
