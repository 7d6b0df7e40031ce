"""Load a policy and everything it imports: one parsed unit per file, each loaded once.

`import "std/NAME"` reads `stdlib/NAME.route` from the installed package; any other path is
relative to the importing file. A missing file is E106 and a cycle E107, each at the import.
"""

from __future__ import annotations

import difflib
import hashlib
import re
import os
import pathlib
from dataclasses import dataclass, field
from importlib.resources import files
from importlib.resources.abc import Traversable

from ..codes import E008, E009, E106, E107
from ..diagnostics import Diagnostic, diagnostic
from ..ir import surface as s
from ..source import Source
from ..syntax.parser import parse

STD_PREFIX = "std/"


@dataclass(eq=False)
class Unit:
    key: str
    source: Source
    file: s.File | None
    imports: list[tuple[s.Import, Unit | None]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.source.name


@dataclass
class Program:
    top: Unit
    units: list[Unit]
    diagnostics: list[Diagnostic]

    @property
    def sources(self) -> dict[str, Source]:
        return {u.source.name: u.source for u in self.units}


def decode(name: str, data: bytes, path: str | None = None) -> tuple[Source, Diagnostic | None]:
    """Bytes to a Source; text that is not UTF-8 is E008 at the first bad byte."""
    try:
        text = data.decode("utf-8-sig")
        if "\r" in text:  # old Mac line ends; Windows ones stay (\r is white space there)
            text = re.sub(r"\r(?!\n)", "\n", text)
        return Source(name, text, path, hashlib.sha256(data).hexdigest()), None
    except UnicodeDecodeError as exc:
        good = data[: exc.start].decode("utf-8", errors="replace")
        source = Source(name, good, path)
        at = len(good)
        return source, diagnostic(
            E008,
            f"the file is not UTF-8 text: byte 0x{data[exc.start]:02x} at offset {exc.start}",
            source.span(at, at),
            help="a .route file is UTF-8 text; is this the right file?",
        )


def std_modules() -> list[str]:
    return sorted(p.name[: -len(".route")] for p in files("policylang.stdlib").iterdir() if p.name.endswith(".route"))


def read_top(path: str) -> tuple[Source, Diagnostic | None]:
    """The file's text, and the diagnostic that stops it from being checked: E009 when it
    cannot be read (missing, a folder, no permission), E008 when it is not UTF-8."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        source = Source(path, "", None)
        why = exc.strerror or str(exc)
        return source, diagnostic(E009, f"cannot read {path}: {why}", source.span(0, 0),
                                  help="check the path; policyc reads .route files as UTF-8 text")
    return decode(path, data, os.path.realpath(path))


def load(top: Source, top_error: Diagnostic | None = None) -> Program:
    """Parse `top` and, depth first, every file it imports."""
    loader = _Loader()
    unit = loader.unit_for(top.path or f"<{top.name}>", top, top_error)
    loader.follow(unit)
    return Program(top=unit, units=loader.order, diagnostics=loader.diagnostics)


class _Loader:
    def __init__(self) -> None:
        self.units: dict[str, Unit] = {}
        self.order: list[Unit] = []
        self.diagnostics: list[Diagnostic] = []
        self.in_progress: list[Unit] = []

    def unit_for(self, key: str, source: Source, decode_error: Diagnostic | None = None) -> Unit:
        if decode_error is not None:
            self.diagnostics.append(decode_error)
            unit = Unit(key, source, None)
        else:
            tree, found = parse(source)
            self.diagnostics += found
            unit = Unit(key, source, tree)
        self.units[key] = unit
        self.order.append(unit)
        return unit

    def follow(self, unit: Unit) -> None:
        if unit.file is None:
            return
        self.in_progress.append(unit)
        for decl in unit.file.decls:
            if isinstance(decl, s.Import):
                unit.imports.append((decl, self.import_(unit, decl)))
        self.in_progress.pop()

    def import_(self, importer: Unit, decl: s.Import) -> Unit | None:
        located = self.locate(importer, decl)
        if located is None:
            return None
        key, name, path = located
        if any(u.key == key for u in self.in_progress):
            chain = [u.name for u in self.in_progress[next(i for i, u in enumerate(self.in_progress) if u.key == key):]]
            self.diagnostics.append(
                diagnostic(
                    E107,
                    "import cycle: " + " -> ".join(chain + [name]),
                    decl.path.span,
                    help="move what both files need into a third file that both import",
                )
            )
            return None
        if key in self.units:
            return self.units[key]
        try:
            data = path.read_bytes()
        except OSError as exc:
            self.diagnostics.append(diagnostic(E106, f"cannot read imported file {name}: {exc.strerror or exc}", decl.path.span))
            return None
        source, error = decode(name, data, key if not key.startswith("std:") else None)
        unit = self.unit_for(key, source, error)
        self.follow(unit)
        return unit

    def locate(self, importer: Unit, decl: s.Import) -> tuple[str, str, Traversable] | None:
        """(identity key, display name, readable path) of an import, or None after E106."""
        text = decl.path.value
        if text.startswith(STD_PREFIX):
            module = text[len(STD_PREFIX):]
            resource = files("policylang.stdlib") / f"{module}.route"
            if module and "/" not in module and resource.is_file():
                return f"std:{module}", f"std/{module}.route", resource
            known = std_modules()
            close = difflib.get_close_matches(module, known, n=1)
            hint = f"did you mean \"std/{close[0]}\"?" if close else "the standard library has " + ", ".join(f'"std/{m}"' for m in known)
            self.diagnostics.append(diagnostic(E106, f'no standard library module "{text}"', decl.path.span, help=hint))
            return None
        base_dir = os.path.dirname(importer.source.path) if importer.source.path else os.getcwd()
        target = os.path.realpath(os.path.join(base_dir, text))
        shown = os.path.normpath(os.path.join(os.path.dirname(importer.name), text))
        if not os.path.isfile(target):
            self.diagnostics.append(
                diagnostic(
                    E106,
                    f'imported file "{text}" not found (looked for {shown})',
                    decl.path.span,
                    help="paths are relative to the importing file; the standard library is \"std/NAME\"",
                )
            )
            return None
        return target, shown, pathlib.Path(target)
