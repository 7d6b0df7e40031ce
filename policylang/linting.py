"""`lint`: every check on many files, each finding once, as `policyc lint` reports it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from .codes import E009
from .diagnostics import Diagnostic
from .passes import check
from .source import Source
from .syntax.loader import read_top


@dataclass
class LintResult:
    """What linting some files found: the diagnostics (in file order, a finding in a file that
    two of them import once), the texts they point into, and notes on checks that could not
    run. A file that could not be read has one E009 in `diagnostics` and is listed in
    `unreadable` (path to why); no other finding is reported for it."""

    files: list[str]
    diagnostics: list[Diagnostic] = field(default_factory=list)
    sources: dict[str, Source] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    unreadable: dict[str, str] = field(default_factory=dict)

    @property
    def errors(self) -> int:
        return sum(d.is_error for d in self.diagnostics)

    @property
    def warnings(self) -> int:
        return len(self.diagnostics) - self.errors

    def failed(self, deny_warnings: bool = False) -> bool:
        """An error, or under `deny_warnings` any finding at all."""
        return self.errors > 0 or (deny_warnings and bool(self.diagnostics))


def lint(paths: Iterable[str], *, warnings: bool = True) -> LintResult:
    """Every check of sections 4-8 on each file and what it imports. Never raises for a bad
    file: an unreadable one is an E009 and is listed in `unreadable`."""
    result = LintResult(files=[str(p) for p in paths])
    found: dict[tuple[str, str, int, str], Diagnostic] = {}
    for path in result.files:
        source, problem = read_top(path)
        if problem is not None and problem.code == E009.code:
            result.unreadable[path] = problem.message
            found.setdefault(problem.identity, problem)
            continue
        checked = check(source, problem, warnings=warnings)
        result.sources.update(checked.sources)
        for d in checked.diagnostics:
            found.setdefault(d.identity, d)
        result.notes += [f"{path}: {note}" for note in checked.notes]
    result.diagnostics = list(found.values())
    return result
