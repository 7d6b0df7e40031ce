"""The checking pipeline: load, resolve, type-check, then the analyses.

The front end turns text into a `CheckedPolicy` (syntax/loader.py, resolve.py, typecheck.py);
the analyses of sections 6 and 7 (`ANALYSES` in passes/analyses.py, one line per check) run on
a policy whose front end found no error, and are imported only then, so that loading a policy
without analysing it never loads the solver.
"""

from __future__ import annotations

import gc
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from ..diagnostics import Diagnostic, has_errors
from ..ir.policy import CheckedPolicy
from ..progress import report
from ..source import Source
from ..syntax.loader import Program, load
from .resolve import resolve
from .typecheck import typecheck

ANALYSES_WAIT = ("the analyses of sections 6 and 7 (unreachable rules, gaps, budgets, context windows, "
                 "invariants) run once the errors above are fixed")
"""The note a policy with front-end errors gets: those checks did not run, and why."""


@dataclass
class Checked:
    """What checking a policy found: the policy (None when it has front-end errors), every
    finding, in file order, and notes on checks that could not run."""

    policy: CheckedPolicy | None
    diagnostics: list[Diagnostic]
    sources: dict[str, Source]
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No finding is an error."""
        return not has_errors(self.diagnostics)


@contextmanager
def recursion_headroom(limit: int = 20_000) -> Iterator[None]:
    """Expressions may nest 1,000 levels (syntax/parser.py); the passes recurse over them."""
    before = sys.getrecursionlimit()
    sys.setrecursionlimit(max(before, limit))
    try:
        yield
    finally:
        sys.setrecursionlimit(before)


_COLLECTION_LOCK = threading.Lock()
_collecting: list[tuple[int, int, int]] = []
"""The collector's thresholds before the first check still running began (the language server
checks in threads: the last check to end puts them back)."""


@contextmanager
def _rare_collection() -> Iterator[None]:
    """The cyclic garbage collector run once per 100,000 new objects rather than per 700: a
    check builds hundreds of thousands of objects it keeps until the end (trees, boxes), and
    with the default threshold the collector's passes over them were 40% of checking a
    1,000-rule policy. Almost nothing a check makes is cyclic garbage."""
    with _COLLECTION_LOCK:
        _collecting.append(gc.get_threshold())
        if len(_collecting) == 1:
            gc.set_threshold(100_000, *_collecting[0][1:])
    try:
        yield
    finally:
        with _COLLECTION_LOCK:
            first = _collecting[0]
            _collecting.pop()
            if not _collecting:
                gc.set_threshold(*first)


def check(source: Source, decode_error: Diagnostic | None = None, *, analyze: bool = True,
          warnings: bool = True) -> Checked:
    """Every check on one top-level file and what it imports.

    Guarantees: every syntax error of every file (and nothing else when there are some: names
    and types would only echo them); else every name and type error; else, with `analyze`,
    every finding of the analyses, or with `warnings=False` only their errors (what can make
    `compile` refuse). Each diagnostic is reported once.
    """
    with recursion_headroom(), _rare_collection():
        report("parsing")
        program = load(source, decode_error)
        if has_errors(program.diagnostics):
            return _done(None, program.diagnostics, program, [ANALYSES_WAIT] if analyze else [])
        report("names and types")
        resolution = resolve(program)
        policy, type_errors = typecheck(resolution)
        diagnostics = program.diagnostics + resolution.diagnostics + type_errors
        if policy is None or has_errors(diagnostics):
            return _done(None, diagnostics, program, [ANALYSES_WAIT] if analyze else [])
        if analyze:
            diagnostics += analyze_policy(policy, program.sources, warnings=warnings)
        return _done(policy, diagnostics, program, [])


def analyze_policy(policy: CheckedPolicy, sources: dict[str, Source], *, warnings: bool = True) -> list[Diagnostic]:
    """Every analysis of sections 6 and 7 on a policy that has no front-end error."""
    from .analyses import run_analyses  # the solver loads here, and only here

    return run_analyses(policy, sources, warnings=warnings)


def _done(policy: CheckedPolicy | None, diagnostics: list[Diagnostic], program: Program, notes: list[str]) -> Checked:
    order = {unit.name: i for i, unit in enumerate(program.units)}
    unique = {d.identity: d for d in diagnostics}
    ranked = sorted(unique.values(), key=lambda d: (order.get(d.span.file, len(order)), d.span.start, d.code))
    return Checked(policy, ranked, program.sources, notes)
