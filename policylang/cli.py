"""`policyc`, the command line: a thin click group over the library.

Exit status (section 9): 0 fine; 1 the policy or a request failed (errors, warnings under
--deny-warnings, failing tests, a stale module, a bad request); 2 usage or I/O error.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from . import __version__
from .diagnostics import Diagnostic, render_json, render_sarif, render_text, summary_line
from .passes import check
from .syntax.loader import SourceError, read_top
from .policy import Policy, PolicyError, load
from .requests import evaluate_line

FINE, FAILED, USAGE = 0, 1, 2


def _fail_usage(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(USAGE)


def _load(path: str, *, analyze: bool = True) -> Policy:
    """The policy, or exit 1 with its diagnostics (2 when the file cannot be read)."""
    try:
        return load(path, analyze=analyze)
    except SourceError as exc:
        _fail_usage(str(exc))
    except PolicyError as exc:
        click.echo(render_text(exc.diagnostics, exc.sources), err=True)
        click.echo(summary_line(exc.diagnostics), err=True)
        sys.exit(FAILED)
    raise AssertionError("unreachable")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="policyc")
def main() -> None:
    """Check, test and compile .route routing policies."""


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["text", "json", "sarif"]), default="text", show_default=True,
              help="text for people, json for tools, sarif for code scanning")
@click.option("--deny-warnings", is_flag=True, help="exit 1 on warnings too")
def lint(files: tuple[str, ...], fmt: str, deny_warnings: bool) -> None:
    """Run every check on FILES and report what they find."""
    found: dict[tuple, Diagnostic] = {}
    sources = {}
    unreadable = False
    for path in files:
        try:
            source, decode_error = read_top(path)
        except SourceError as exc:
            click.echo(f"error: {exc}", err=True)
            unreadable = True
            continue
        checked = check(source, decode_error)
        sources.update(checked.sources)
        for d in checked.diagnostics:  # an imported file shared by two policies reports once
            found.setdefault((d.code, d.span.file, d.span.start, d.message), d)
    diagnostics = list(found.values())
    if fmt == "json":
        click.echo(render_json(diagnostics))
    elif fmt == "sarif":
        click.echo(render_sarif(diagnostics))
    else:
        if diagnostics:
            click.echo(render_text(diagnostics, sources))
            click.echo()
        click.echo(summary_line(diagnostics) + f" in {len(files)} file{'s' * (len(files) != 1)}")
    if unreadable:
        sys.exit(USAGE)
    failed = any(d.is_error for d in diagnostics) or (deny_warnings and diagnostics)
    sys.exit(FAILED if failed else FINE)


@main.command("compile")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="the module to write (default: standard output)")
@click.option("--check", "check_only", is_flag=True, help="exit 1 if OUTPUT is not what FILE compiles to now")
def compile_(file: str, output: str | None, check_only: bool) -> None:
    """Compile FILE to a standalone Python module (standard library only)."""
    if check_only and not output:
        _fail_usage("--check needs -o OUTPUT, the module to compare")
    source = _load(file).to_python()
    if check_only:
        try:
            current = Path(output).read_text(encoding="utf-8")
        except FileNotFoundError:
            current = None
        except OSError as exc:
            _fail_usage(f"cannot read {output}: {exc.strerror or exc}")
        if current != source:
            why = "does not exist" if current is None else "is stale"
            click.echo(f"{output} {why}: run policyc compile {file} -o {output}", err=True)
            sys.exit(FAILED)
        click.echo(f"{output} is up to date")
        return
    if output is None:
        click.echo(source, nl=False)
        return
    try:
        Path(output).write_text(source, encoding="utf-8")
    except OSError as exc:
        _fail_usage(f"cannot write {output}: {exc.strerror or exc}")
    click.echo(f"wrote {output}", err=True)


@main.command("eval")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--request", "request", help="one request, a JSON object of signals")
@click.option("--requests", "requests_file", type=click.Path(dir_okay=False, allow_dash=True),
              help="a file of requests, one JSON object per line (- for standard input)")
@click.option("--engine", type=click.Choice(["compiled", "interpreted"]), default="compiled", show_default=True)
@click.option("--strict", is_flag=True, help="a key that names no signal is an error (R004)")
def eval_(file: str, request: str | None, requests_file: str | None, engine: str, strict: bool) -> None:
    """Decide requests: one JSON line out per request in, with the path when @outcomes is given."""
    if (request is None) == (requests_file is None):
        _fail_usage("give exactly one of --request JSON or --requests FILE.jsonl")
    if request is not None:
        lines = [request]
    else:
        try:
            stream = sys.stdin if requests_file == "-" else open(requests_file, encoding="utf-8")
            with stream:
                lines = [line for line in stream.read().splitlines() if line.strip()]
        except (OSError, UnicodeDecodeError) as exc:
            _fail_usage(f"cannot read {requests_file}: {getattr(exc, 'strerror', None) or exc}")
    policy = _load(file)
    failed = False
    for number, line in enumerate(lines, start=1):
        result = evaluate_line(policy, line, engine=engine, strict=strict, line_number=number)
        failed = failed or "error" in result
        click.echo(json.dumps(result))
    sys.exit(FAILED if failed else FINE)


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
def test(files: tuple[str, ...]) -> None:
    """Run the test blocks of FILES with both engines."""
    from .testing import run_tests

    passed = failed = 0
    broken = unreadable = False
    for path in files:
        try:
            policy = load(path, analyze=False)
        except SourceError as exc:
            click.echo(f"error: {exc}", err=True)
            unreadable = True
            continue
        except PolicyError as exc:
            click.echo(render_text(exc.diagnostics, exc.sources), err=True)
            click.echo(f"error: {path} has errors; its tests did not run", err=True)
            broken = True
            continue
        results = run_tests(policy)
        click.echo(f"{path}: {len(results)} test{'s' * (len(results) != 1)}")
        for result in results:
            if result.passed:
                passed += 1
                click.echo(f"  ok    {result.name}")
            else:
                failed += 1
                click.echo(f"  FAIL  {result.name} ({result.span.file}:{result.span.line}): {result.message}")
    click.echo(f"{passed} passed, {failed} failed")
    sys.exit(USAGE if unreadable else FAILED if failed or broken else FINE)
