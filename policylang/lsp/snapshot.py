"""One editor buffer, checked: the diagnostics `policyc lint` would report for it, and the
parsed and resolved program that hover, definition, references, completion and symbols read.

Nothing here knows the protocol: offsets and spans are code points, as everywhere in policylang;
the server converts them to the client's units.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from importlib.resources import as_file, files
from typing import TYPE_CHECKING

from ..diagnostics import Diagnostic, has_errors
from ..ir.policy import CheckedPolicy
from ..passes import check
from ..passes.pipeline import analyze_policy, recursion_headroom
from ..passes.resolve import Resolution, resolve
from ..passes.typecheck import typecheck
from ..source import Source
from ..syntax.loader import Program, Unit, decode, load

if TYPE_CHECKING:  # imported when first used: the analyses load the solver
    from ..analysis.facts import Facts


def buffer_source(name: str, text: str, path: str | None) -> tuple[Source, Diagnostic | None]:
    """The buffer as `policyc lint` would read the same text from disk: a byte-order mark
    dropped, old Mac line ends made newlines (syntax/loader.py `decode`)."""
    return decode(name, text.encode("utf-8", errors="surrogatepass"), path)


@dataclass
class Findings:
    """What one check of a buffer found: every diagnostic, with the texts they point into."""

    diagnostics: list[Diagnostic]
    sources: dict[str, Source]
    analyzed: bool
    """Whether the analyses of sections 6 and 7 ran (else only syntax, names and types did)."""
    policy: CheckedPolicy | None = None

    @property
    def front_end_clean(self) -> bool:
        return not any(d.is_error for d in self.diagnostics)


def check_buffer(name: str, text: str, path: str | None, *, analyze: bool) -> Findings:
    """Exactly what `policylang.lint([path])` reports for this text, with `analyze`; without
    it, exactly what lint's syntax, name and type stages report (its analyses not run).
    Imported files are read from disk, as lint reads them."""
    source, problem = buffer_source(name, text, path)
    checked = check(source, problem, analyze=analyze)
    return Findings(checked.diagnostics, checked.sources, analyze, checked.policy)


def stdlib_path(unit_key: str) -> str | None:
    """The installed file behind a `std:NAME` unit, where the package lies on disk."""
    if not unit_key.startswith("std:"):
        return None
    resource = files("policylang.stdlib") / f"{unit_key[len('std:'):]}.route"
    with as_file(resource) as real:  # a real file for any installed (or editable) package
        return str(real)


def unit_path(unit: Unit) -> str | None:
    """The file a unit was read from: its own path, or the standard library file."""
    if unit.source.path is not None and not unit.key.startswith("std:"):
        return unit.source.path
    return stdlib_path(unit.key)


def source_path(name: str, sources: dict[str, Source]) -> str | None:
    """The file a diagnostic's `span.file` names: the source's path, the installed stdlib file
    for `std/NAME.route`, else the name itself when it is a path."""
    source = sources.get(name)
    if source is not None and source.path is not None:
        return source.path
    if name.startswith("std/") and name.endswith(".route"):
        return stdlib_path("std:" + name[len("std/"):-len(".route")])
    return os.path.abspath(name) if not name.startswith("<") else None


@dataclass
class Snapshot:
    """One version of a buffer and what navigation needs of it, built on first use: the
    program (this file and every import, parsed), its name resolution and, when the policy
    type-checks, the checked policy."""

    name: str
    text: str
    path: str | None
    version: int | None = None
    analysis_diagnostics: list[Diagnostic] = field(default_factory=list)
    """The findings of the last full check of exactly this text (for rule hovers)."""
    analysed: bool = False
    """Whether the analyses of this very text have reported (`analysis_diagnostics` is theirs)."""

    @cached_property
    def source(self) -> Source:
        return buffer_source(self.name, self.text, self.path)[0]

    @cached_property
    def program(self) -> Program:
        with recursion_headroom():
            return load(self.source)

    @cached_property
    def parsed(self) -> bool:
        """The top file parsed without a syntax error (so its tree is there to navigate)."""
        return self.program.top.file is not None

    @cached_property
    def resolution(self) -> Resolution | None:
        if not self.parsed:
            return None
        with recursion_headroom():
            return resolve(self.program)

    @cached_property
    def _front_end(self) -> tuple[CheckedPolicy | None, list[Diagnostic]]:
        """The checked policy (None when it has errors) and what lint's syntax, name and type
        stages report, in lint's order (passes/pipeline.py `check`, sharing this snapshot's
        parse with navigation, so a change is parsed once)."""
        with collector_held():
            return self._check_front_end()

    def _check_front_end(self) -> tuple[CheckedPolicy | None, list[Diagnostic]]:
        program = self.program
        with recursion_headroom():
            if has_errors(program.diagnostics) or self.resolution is None:
                policy, diagnostics = None, list(program.diagnostics)
            else:
                policy, type_errors = typecheck(self.resolution)
                diagnostics = program.diagnostics + self.resolution.diagnostics + type_errors
        ranked = _ranked(program, diagnostics)
        return (policy if not has_errors(ranked) else None), ranked

    @property
    def policy(self) -> CheckedPolicy | None:
        return self._front_end[0]

    def front_end(self) -> Findings:
        """Exactly what `policylang.lint` reports for this text when it has front-end errors,
        and every front-end finding it would report otherwise (the analyses not run)."""
        policy, diagnostics = self._front_end
        return Findings(diagnostics, self.program.sources, False, policy)

    def analyses(self) -> list[Diagnostic]:
        """What the analyses of sections 6 and 7 find in the checked policy, exactly as
        `policyc lint` runs them (passes/pipeline.py `analyze_policy`), on this snapshot's parse:
        a change is parsed once, not again for its analyses. Only for a policy whose front end
        found no error."""
        assert self.policy is not None
        with recursion_headroom():
            return analyze_policy(self.policy, self.program.sources)

    def full(self, analyses: list[Diagnostic]) -> Findings:
        """Exactly what `policylang.lint` reports for this text: its front-end findings and the
        `analyses` found for this very snapshot, each once, in lint's order."""
        ranked = _ranked(self.program, self._front_end[1] + analyses)
        return Findings(ranked, self.program.sources, True, self.policy)

    @cached_property
    def facts(self) -> Facts:
        """The analyses' shared facts about the checked policy (the solver loads here)."""
        from ..backends.python.interpreter import Interpreter
        from ..analysis.facts import Facts

        assert self.policy is not None
        return Facts(self.policy, self.program.sources, Interpreter, warnings=False)


def _ranked(program: Program, diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    """Each finding once, in lint's order: by file (the top file first, then its imports as
    loaded), offset and code (passes/pipeline.py `_done`)."""
    order = {unit.name: i for i, unit in enumerate(program.units)}
    unique = {d.identity: d for d in diagnostics}
    return sorted(unique.values(), key=lambda d: (order.get(d.span.file, len(order)), d.span.start, d.code))


@contextmanager
def collector_held() -> Iterator[None]:
    """The cyclic collector held off while a buffer is checked (and, in the server, until its
    findings are published): a check builds some hundred thousand objects and frees almost
    none, and a collection meanwhile would scan them and the server's other snapshots too (a
    fifth of the front end's time on a 1,000-rule policy). The collector runs when it is back."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()
