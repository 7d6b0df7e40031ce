"""The checking pipeline: load, resolve, type-check, then the analyses, each a plain function.

`FRONT_END` turns text into a checked `Policy`; `ANALYSES` are `Policy -> list[Diagnostic]`
passes that run only on a policy with no syntax, name or type error (section 6). A new check
is one module and one line in `ANALYSES`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from ..diagnostics import Diagnostic, has_errors
from ..ir.policy import Policy
from ..source import Source
from .imports import Program, load
from .resolve import resolve
from .typecheck import typecheck

Analysis = Callable[[Policy], list[Diagnostic]]

ANALYSES: tuple[Analysis, ...] = ()


@dataclass
class Checked:
    """What checking a policy found: the policy (None when it has front-end errors) and the findings."""

    policy: Policy | None
    diagnostics: list[Diagnostic]
    sources: dict[str, Source]

    @property
    def ok(self) -> bool:
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


def check(source: Source, decode_error: Diagnostic | None = None, *, analyze: bool = True) -> Checked:
    """Every check on one top-level file and what it imports."""
    with recursion_headroom():
        program = load(source, decode_error)
        if has_errors(program.diagnostics):  # syntax errors: names and types would only echo them
            return _done(None, program.diagnostics, program)
        resolution = resolve(program)
        policy, type_errors = typecheck(resolution)
        diagnostics = program.diagnostics + resolution.diagnostics + type_errors
        if policy is None or not analyze:
            return _done(policy, diagnostics, program)
        for analysis in ANALYSES:
            diagnostics += analysis(policy)
        return _done(policy, diagnostics, program)


def _done(policy: Policy | None, diagnostics: list[Diagnostic], program: Program) -> Checked:
    order = {unit.name: i for i, unit in enumerate(program.units)}
    unique = {(d.code, d.span.file, d.span.start, d.message): d for d in diagnostics}
    ranked = sorted(unique.values(), key=lambda d: (order.get(d.span.file, len(order)), d.span.start, d.code))
    return Checked(policy, ranked, program.sources)
