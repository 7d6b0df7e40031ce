"""`policyc fmt` and `policyc graph`: the authoring tools of section 9."""

from __future__ import annotations

import difflib
import sys
from pathlib import Path

import click

from ..diagnostics import render_text
from ..policy import PolicyError
from ..syntax.loader import decode
from .common import FAILED, FINE, USAGE, load_or_exit, main, plural

STDIN = "-"


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--check", "check_only", is_flag=True,
              help="change no file: list those that would change, exit 1 if any")
@click.option("--diff", "show_diff", is_flag=True, help="print a unified diff instead of writing")
def fmt(files: tuple[str, ...], check_only: bool, show_diff: bool) -> None:
    """Lay out FILES in the canonical layout, comments and literals kept (- reads standard
    input and writes standard output).

    A file with a syntax error is left untouched and its diagnostics are printed. Exit status:
    0 fine; 1 a syntax error, or with --check a file that would change; 2 a file that cannot
    be read or written.
    """
    from ..authoring.format import format_source

    changed = unchanged = broken = 0
    unusable = False
    for path in files:
        text = _read(path)
        if text is None:
            unusable = True
            continue
        name = "<stdin>" if path == STDIN else path
        try:
            formatted = format_source(text, name)
        except PolicyError as exc:
            errors = sum(d.is_error for d in exc.diagnostics)
            click.echo(render_text(exc.diagnostics, exc.sources), err=True)
            click.echo(f"error: {name} has {plural(errors, 'syntax error')}; it was left as it is", err=True)
            broken += 1
            continue
        if formatted == text:
            unchanged += 1
            if path == STDIN and not (check_only or show_diff):
                click.echo(formatted, nl=False)
            continue
        changed += 1
        if show_diff:
            shown = "<stdin>" if path == STDIN else path
            click.echo("".join(difflib.unified_diff(text.splitlines(keepends=True), formatted.splitlines(keepends=True),
                                                    fromfile=shown, tofile=shown)), nl=False)
        if check_only:
            click.echo(f"would reformat {name}", err=True)
        elif show_diff:
            continue
        elif path == STDIN:
            click.echo(formatted, nl=False)
        else:
            try:
                Path(path).write_text(formatted, encoding="utf-8")
            except OSError as exc:
                click.echo(f"error: cannot write {path}: {exc.strerror or exc}", err=True)
                unusable = True
                continue
            click.echo(f"reformatted {path}", err=True)
    if files != (STDIN,):
        click.echo(_summary(changed, unchanged, broken, check_only or show_diff), err=True)
    if unusable:
        sys.exit(USAGE)
    sys.exit(FAILED if broken or (check_only and changed) else FINE)


def _read(path: str) -> str | None:
    """The text of a file (or of standard input), or None after saying why it cannot be read."""
    try:
        data = sys.stdin.buffer.read() if path == STDIN else Path(path).read_bytes()
    except OSError as exc:
        click.echo(f"error: cannot read {path}: {exc.strerror or exc}", err=True)
        return None
    source, problem = decode(path, data)
    if problem is not None:
        click.echo(f"error: cannot read {path}: {problem.message}", err=True)
        return None
    return source.text


def _summary(changed: int, unchanged: int, broken: int, dry_run: bool) -> str:
    parts = [f"{plural(changed, 'file')} {'would be reformatted' if dry_run else 'reformatted'}"] if changed else []
    if unchanged or not (parts or broken):
        parts.append(f"{plural(unchanged, 'file')} already formatted")
    if broken:
        parts.append(f"{plural(broken, 'file')} could not be formatted")
    return ", ".join(parts)


@main.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["mermaid", "dot"]), default="mermaid", show_default=True,
              help="mermaid (a flowchart, for Markdown) or dot (Graphviz)")
def graph(file: str, fmt: str) -> None:
    """Draw FILE's routing: rules in order with their targets, cascades with the conditions of
    their edges, fallbacks (dashed) with their errors, rejections.

    The same policy always gives the same text. Render dot with `dot -Tsvg`.
    """
    from ..authoring.graph import to_dot, to_mermaid

    policy = load_or_exit(file, analyze=False)
    click.echo(to_dot(policy) if fmt == "dot" else to_mermaid(policy), nl=False)
