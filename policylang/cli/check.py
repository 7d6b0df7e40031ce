"""`policyc lint`, `compile`, `eval` and `test`."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from pathlib import Path

import click

from ..analysis.budget import solver_time_limit
from ..codes import E009
from ..diagnostics import render_json_result, render_sarif, render_text, summary_line
from ..linting import lint as lint_files
from ..requests import evaluate_line, request_lines
from .common import FAILED, FINE, USAGE, fail_usage, load_or_exit, main, plural
from .guards import guard_sizes
from .progress import files_label, progress_shown


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["text", "json", "sarif"]), default="text", show_default=True,
              help="text for people, json for tools, sarif for code scanning")
@click.option("--deny-warnings", is_flag=True, help="exit 1 on warnings too")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), metavar="SECONDS",
              help="the most solver time each file's analyses may take in all; a question still open "
                   "then is reported as E901 at its condition")
def lint(files: tuple[str, ...], fmt: str, deny_warnings: bool, timeout: float | None = None) -> None:
    """Run every check on FILES and report what they find."""
    guard_sizes("lint", files)
    with solver_time_limit(timeout):
        with progress_shown(files_label(files)):
            result = lint_files(files)
    for message in result.unreadable.values():
        click.echo(f"error: {message}", err=True)
    if fmt == "json":
        click.echo(render_json_result(result.diagnostics, result.notes))
    elif fmt == "sarif":
        click.echo(render_sarif(result.diagnostics))
    else:
        shown = [d for d in result.diagnostics if d.code != E009.code]  # said on standard error above
        if shown:
            click.echo(render_text(shown, result.sources))
            click.echo()
        for note in result.notes:
            click.echo(f"note: {note}")
        click.echo(summary_line(result.diagnostics) + f" in {plural(len(files), 'file')}")
    if result.unreadable:
        sys.exit(USAGE)
    sys.exit(FAILED if result.failed(deny_warnings) else FINE)


@main.command("compile")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="the module to write (default: standard output)")
@click.option("--check", "check_only", is_flag=True, help="exit 1 if OUTPUT is not what FILE compiles to now")
@click.option("--bytecode/--no-bytecode", default=True, show_default=True,
              help="with -o, also write the module's bytecode cache beside it (__pycache__), so that "
                   "its first import skips compiling it")
@click.option("--target", type=click.Choice(["python", "sql"]), default="python", show_default=True,
              help="a standalone Python module, or one SQL SELECT over a table of requests (section 12)")
@click.option("--dialect", default="duckdb", show_default=True,
              help="SQL only: duckdb, spark, trino, postgres, bigquery or snowflake")
@click.option("--table", default="requests", show_default=True, help="SQL only: the table of requests")
@click.option("--columns", metavar="NAME[:TYPE],...",
              help="SQL only: the table's columns (default: one per signal, @outcomes, @output_tokens)")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), metavar="SECONDS",
              help="the most solver time the analyses may take in all; a question still open then is "
                   "an error (E901) at its condition, and nothing is written")
def compile_(file: str, output: str | None, check_only: bool, bytecode: bool = True, target: str = "python",
             dialect: str = "duckdb", table: str = "requests", columns: str | None = None,
             timeout: float | None = None) -> None:
    """Compile FILE to a standalone Python module (standard library only), or with
    `--target sql` to one SELECT that decides every row of a table of requests.

    Only the checks that can make it refuse run here (errors); warnings are `policyc lint`'s.
    """
    guard_sizes("compile", [file])
    if target == "sql":
        if check_only:
            fail_usage("--check is for --target python")
        from .simulate import write_sql

        with solver_time_limit(timeout):
            write_sql(file, output, dialect, table, columns)
        return
    if check_only and not output:
        fail_usage("--check needs -o OUTPUT, the module to compare")
    with solver_time_limit(timeout):
        policy = load_or_exit(file)
    source = policy.to_python()
    if check_only:
        assert output is not None
        try:
            current: str | None = Path(output).read_text(encoding="utf-8")
        except FileNotFoundError:
            current = None
        except OSError as exc:
            fail_usage(f"cannot read {output}: {exc.strerror or exc}")
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
        fail_usage(f"cannot write {output}: {exc.strerror or exc}")
    if bytecode:
        _write_bytecode(output)
    click.echo(f"wrote {output}", err=True)


def _write_bytecode(module: str) -> None:
    """The module's bytecode cache where `import` looks for it (__pycache__/NAME.cpython-XY.pyc,
    for the Python running policyc), checked against the source's hash rather than its mtime,
    so that a copy or checkout keeps it valid and an edit makes Python ignore it. A directory
    that takes no cache is only a warning: the module imports without one."""
    import py_compile

    try:
        py_compile.compile(module, doraise=True, invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH)
    except (OSError, py_compile.PyCompileError) as exc:
        click.echo(f"warning: no bytecode cache for {module}: {exc}", err=True)


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
        fail_usage("give exactly one of --request JSON or --requests FILE.jsonl")
    policy = load_or_exit(file)
    if request is not None:
        lines: Iterable[tuple[int, str | bytes]] = [(1, request)]
        where: str | None = "--request"
    else:
        assert requests_file is not None
        try:  # read line by line as bytes: a line that is not UTF-8 is that line's error only
            stream = sys.stdin.buffer if requests_file == "-" else open(requests_file, "rb")
        except OSError as exc:
            fail_usage(f"cannot read {requests_file}: {exc.strerror or exc}")
        lines, where = request_lines(stream), None
    failed = False
    try:
        for number, line in lines:
            result = evaluate_line(policy, line, engine=engine, strict=strict,  # type: ignore[arg-type]
                                   line_number=number, where=where)
            failed = failed or "error" in result
            click.echo(json.dumps(result))
    except OSError as exc:
        fail_usage(f"cannot read {requests_file}: {exc.strerror or exc}")
    finally:
        if requests_file not in (None, "-"):
            stream.close()
    sys.exit(FAILED if failed else FINE)


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--coverage", "with_coverage", is_flag=True,
              help="also say which rules (and defaults), cascade edges and fallbacks no test exercises")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="text for people, json for tools")
def test(files: tuple[str, ...], with_coverage: bool, fmt: str) -> None:
    """Run the test blocks of FILES with both engines.

    A file whose checks find errors fails the run, as `lint` would; its tests still run when
    the policy could be built (an over-budget policy can still route).
    """
    from ..authoring.coverage import coverage
    from ..diagnostics import as_json_object
    from ..jsontext import dumps
    from ..testing import test_file

    text = fmt == "text"
    passed = failed = 0
    broken = unreadable = False
    report: list[dict[str, object]] = []
    for path in files:
        outcome = test_file(path)
        if outcome.unreadable is not None:
            click.echo(f"error: {outcome.unreadable}", err=True)
            report.append({"file": path, "unreadable": outcome.unreadable})
            unreadable = True
            continue
        errors = [d for d in outcome.diagnostics if d.is_error]
        record: dict[str, object] = {"file": path, "errors": [as_json_object(d) for d in errors],
                                     "ran": outcome.results is not None, "tests": []}
        report.append(record)
        if errors:
            broken = True
            if text:
                click.echo(render_text(errors, outcome.sources), err=True)
            if outcome.results is None:
                click.echo(f"error: {path} has {plural(len(errors), 'error')}; its tests did not run", err=True)
                continue
            click.echo(f"error: {path} has {plural(len(errors), 'error')}; its tests ran, but the run fails", err=True)
        results = outcome.results or []
        if text:
            click.echo(f"{path}: {plural(len(results), 'test')}")
        for result in results:
            passed += result.passed
            failed += not result.passed
            record["tests"].append({"name": result.name, "passed": result.passed,  # type: ignore[attr-defined]
                                    "message": result.message, "line": result.span.line})
            if not text:
                continue
            if result.passed:
                click.echo(f"  ok    {result.name}")
            else:
                click.echo(f"  FAIL  {result.name} ({result.span.file}:{result.span.line}): {result.message}")
        if with_coverage and outcome.policy is not None:
            covered = coverage(outcome.policy)
            record["coverage"] = covered.as_dict()
            if text:
                click.echo(f"  {covered.summary()}")
                for line in covered.missed_lines():
                    click.echo(f"    {line}")
    if text:
        click.echo(f"{passed} passed, {failed} failed")
    else:
        click.echo(dumps({"files": report, "passed": passed, "failed": failed}))
    sys.exit(USAGE if unreadable else FAILED if failed or broken else FINE)
