"""Diagnostics as data, and their three renderings: terminal text, JSON and SARIF 2.1.0."""

from __future__ import annotations

import pathlib
import urllib.parse
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict

from ._version import __version__
from .codes import CODES, Code, DiagnosticCode, Severity
from .jsontext import decimal_text, dumps
from .source import Source, Span


class Related(BaseModel):
    """A second location that explains a diagnostic: the covering rule, the model, the budget."""

    model_config = ConfigDict(frozen=True, defer_build=True)  # built by the first finding: a clean lint has none

    message: str
    span: Span


class Diagnostic(BaseModel):
    """One finding: what is wrong, where, and (where the check found one) a witness request."""

    model_config = ConfigDict(frozen=True, defer_build=True)  # built by the first finding: a clean lint has none

    code: DiagnosticCode
    severity: Severity
    message: str
    span: Span
    related: tuple[Related, ...] = ()
    witness: dict[str, Any] | None = None
    help: str | None = None

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def sort_key(self) -> tuple[str, int, str, str]:
        return (self.span.file, self.span.start, self.code, self.message)

    @property
    def identity(self) -> tuple[str, str, int, str]:
        """What makes two diagnostics the same finding: a file imported by two policies, or a
        parser state restored after an error, reports it once."""
        return (self.code, self.span.file, self.span.start, self.message)


def diagnostic(
    code: Code,
    message: str,
    span: Span,
    *,
    related: Iterable[Related] = (),
    witness: Mapping[str, Any] | None = None,
    help: str | None = None,
) -> Diagnostic:
    """A diagnostic with its code's default severity from the registry."""
    return Diagnostic(
        code=code.code,
        severity=code.severity,
        message=message,
        span=span,
        related=tuple(related),
        witness=dict(witness) if witness is not None else None,
        help=help,
    )


def has_errors(diagnostics: Iterable[Diagnostic]) -> bool:
    return any(d.is_error for d in diagnostics)


# ---- text --------------------------------------------------------------------------------------


def render_text(diagnostics: Iterable[Diagnostic], sources: Mapping[str, Source]) -> str:
    """rustc-style blocks: `error[E101]: ...`, the location, the source line with carets."""
    blocks = []
    for d in diagnostics:
        lines = [f"{d.severity.value}[{d.code}]: {d.message}", f"  --> {d.span}"]
        source = sources.get(d.span.file)
        if source is not None:
            lines += ["  " + line for line in source.excerpt(d.span)]
        for r in d.related:
            lines.append(f"  note: {r.message}")
            lines.append(f"    --> {r.span}")
            related_source = sources.get(r.span.file)
            if related_source is not None:
                lines += ["    " + line for line in related_source.excerpt(r.span)]
        if d.witness is not None:
            lines.append(f"  = witness: {dumps(d.witness)}")
        if d.help:
            lines.append(f"  = help: {d.help}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def summary_line(diagnostics: list[Diagnostic]) -> str:
    errors = sum(d.is_error for d in diagnostics)
    warnings = len(diagnostics) - errors
    return f"{errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)}"


# ---- JSON --------------------------------------------------------------------------------------


def _location(span: Span) -> dict[str, Any]:
    return {
        "file": span.file,
        "line": span.line,
        "column": span.column,
        "end_line": span.end_line,
        "end_column": span.end_column,
    }


def as_json_object(d: Diagnostic) -> dict[str, Any]:
    return {
        "code": d.code,
        "severity": d.severity.value,
        "message": d.message,
        **_location(d.span),
        "related": [{"message": r.message, **_location(r.span)} for r in d.related],
        "witness": d.witness,
        "help": d.help,
    }


def render_json(diagnostics: Iterable[Diagnostic]) -> str:
    """`{"diagnostics": [...]}` with the fields of section 8, decimals exact."""
    return dumps({"diagnostics": [as_json_object(d) for d in diagnostics]}, indent=2)


def render_json_result(diagnostics: Iterable[Diagnostic], notes: Iterable[str]) -> str:
    """`policyc lint --format json`: the diagnostics, and notes on checks that could not run."""
    return dumps({"diagnostics": [as_json_object(d) for d in diagnostics], "notes": list(notes)}, indent=2)


# ---- SARIF 2.1.0 -------------------------------------------------------------------------------

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def _sarif_region(span: Span) -> dict[str, int]:
    return {
        "startLine": span.line,
        "startColumn": span.column,
        "endLine": span.end_line,
        "endColumn": max(span.end_column, span.column + 1) if span.end_line == span.line else span.end_column,
    }


def artifact_uri(file: str) -> str:
    """A URI code scanning can place: relative to the working directory where the file lies
    below it (as a repository checkout is), else a file:// URI; percent-encoded either way."""
    path = pathlib.Path(file)
    if path.is_absolute():
        try:
            path = path.relative_to(pathlib.Path.cwd())
        except ValueError:
            return path.as_uri()
    return urllib.parse.quote(path.as_posix(), safe="/")


def _sarif_location(span: Span) -> dict[str, Any]:
    return {
        "physicalLocation": {
            "artifactLocation": {"uri": artifact_uri(span.file)},
            "region": _sarif_region(span),
        }
    }


def _sarif_witness(witness: Mapping[str, Any]) -> dict[str, Any]:
    # SARIF property bags are plain JSON; decimals go as strings there to keep every digit.
    return {k: decimal_text(v) if isinstance(v, Decimal) else v for k, v in witness.items()}


def render_sarif(diagnostics: Iterable[Diagnostic]) -> str:
    """A SARIF 2.1.0 log with one run, as GitHub code scanning accepts it."""
    diagnostics = list(diagnostics)
    used = sorted({d.code for d in diagnostics})
    rule_index = {code: i for i, code in enumerate(used)}
    rules = [
        {
            "id": code,
            "name": CODES[code].name,
            "shortDescription": {"text": CODES[code].title},
            "defaultConfiguration": {"level": CODES[code].severity.value},
        }
        for code in used
    ]
    results = []
    for d in diagnostics:
        text = d.message + (f"\nhelp: {d.help}" if d.help else "")
        result: dict[str, Any] = {
            "ruleId": d.code,
            "ruleIndex": rule_index[d.code],
            "level": d.severity.value,
            "message": {"text": text},
            "locations": [_sarif_location(d.span)],
        }
        if d.related:
            result["relatedLocations"] = [
                {"id": i, **_sarif_location(r.span), "message": {"text": r.message}}
                for i, r in enumerate(d.related)
            ]
        if d.witness is not None:
            result["properties"] = {"witness": _sarif_witness(d.witness)}
        results.append(result)
    log = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "policyc",
                        "version": __version__,
                        "rules": rules,
                    }
                },
                "results": results,
                "columnKind": "unicodeCodePoints",
            }
        ],
    }
    return dumps(log, indent=2)
