"""`policyc explain` and `policyc diff`: the commands a reviewer runs (sections 9.2 and 9.5)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator

import click

from ..codes import R002
from ..diagnostics import render_text, summary_line
from ..jsontext import RecordError, dumps, read_record
from ..backends.python import EngineName
from ..policy import Policy, PolicyError, check_text, load
from .common import FAILED, FINE, fail_usage, load_or_exit, main, unreadable


@main.command(short_help="Why a request gets its decision, rule by rule.")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--request", "request", required=True, metavar="JSON",
              help='the request, a JSON object of signals; "@outcomes" adds the climb, "@output_tokens" the real output')
@click.option("--all", "all_rules", is_flag=True, help="every rule, not only those up to the one that fired")
@click.option("--engine", type=click.Choice(["compiled", "interpreted"]), default="compiled", show_default=True,
              help="the engine whose decision is explained")
@click.option("--strict", is_flag=True, help="a key that names no signal is an error (R004)")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def explain(file: str, request: str, all_rules: bool, engine: EngineName, strict: bool, fmt: str) -> None:
    """Why a request gets its decision: each rule in order, whether it held and the part that
    decided it, then the decision, the climb, the fallbacks and the cost.

    Exit status: 0 explained; 1 the request (or an outcome object) is invalid, or the policy
    has errors; 2 usage or I/O error.
    """
    from ..authoring.explain import Explanation, render_text as explanation_text
    from ..backends.python.support import RequestError

    policy = load_or_exit(file, analyze=False)  # explaining needs names and types, not a clean budget
    try:
        signals = read_record(request)  # read as every command reads a request
    except RecordError as exc:
        answer = Explanation(policy=policy.name, request={}, decision=None, file=policy.ir.file,
                             error=RequestError(R002.code, None, f"--request {exc}"))
    else:
        answer = policy.explain(signals, engine=engine, all_rules=all_rules, strict=strict)
    click.echo(dumps(answer.as_dict()) if fmt == "json" else explanation_text(answer))
    sys.exit(FAILED if answer.failed else FINE)


@main.command(short_help="Which requests a change decides or climbs differently.")
@click.argument("old", type=click.Path(dir_okay=False, allow_dash=True))
@click.argument("new", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--traffic", type=click.Path(dir_okay=False, allow_dash=True), metavar="FILE.jsonl",
              help="logged requests, one JSON object per line: how many move along each change, and their cost")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "markdown"]), default="text", show_default=True,
              help="text for people, json for tools, markdown for a pull-request comment")
def diff(old: str, new: str, traffic: str | None, fmt: str) -> None:
    """Which requests NEW decides differently from OLD, exactly, each with a witness; each
    rule and cascade edge that some request, with its @outcomes, climbs in one version only;
    the requests only one version accepts; renamed rules; each budget's worst case before and
    after; the errors and warnings NEW has that OLD has not. OLD or NEW may be - for standard
    input.

    Exit status: 0 no request's decision or climb changes and NEW has no error; 1 some does,
    or NEW has an error; 2 usage or I/O error, or a version that has syntax, name or type
    errors (so nothing can be compared).
    """
    from ..authoring.diff import DiffError, diff as compare
    from ..authoring.diff_render import render_markdown, render_text as diff_text

    if old == "-" and new == "-":
        fail_usage("only one of OLD and NEW can be standard input")
    if traffic == "-" and "-" in (old, new):
        fail_usage("standard input can be OLD, NEW or --traffic, not two of them")
    before, after = _version(old, "OLD"), _version(new, "NEW")
    lines = _traffic_lines(traffic) if traffic is not None else None
    if lines is not None:  # a decision log is read as the requests it logged (simulation.decisionlog)
        from ..simulation.decisionlog import money_signals, traffic_lines
        lines = traffic_lines(lines, money_signals(before, after))
    progress = _progress if sys.stderr.isatty() else None
    try:
        report = compare(before, after, traffic=lines, progress=progress)
    except DiffError as exc:
        fail_usage(f"diff could not confirm its own finding ({exc}); please report this with both versions")
    except OSError as exc:
        fail_usage(f"cannot read {traffic}: {exc.strerror or exc}")
    finally:
        if progress is not None:
            click.echo("\r\033[K", nl=False, err=True)
    if fmt == "json":
        click.echo(dumps(report.as_dict()))
    elif fmt == "markdown":
        click.echo(render_markdown(report), nl=False)
    else:
        click.echo(diff_text(report))
    sys.exit(FAILED if report.failed else FINE)


def _version(path: str, which: str) -> Policy:
    """One version, checked for names and types (the analyses are not needed to compare), or
    exit 2 with its diagnostics: a version with errors decides nothing to compare."""
    try:
        if path == "-":
            checked = check_text(sys.stdin.buffer.read(), "<stdin>", analyze=False)
            if not checked.ok:
                raise PolicyError(checked.diagnostics, checked.sources)
            return Policy(checked)
        return load(path, analyze=False)
    except PolicyError as exc:
        message = unreadable(exc)
        if message is not None:
            fail_usage(message)
        click.echo(render_text(exc.diagnostics, exc.sources), err=True)
        click.echo(summary_line(exc.diagnostics), err=True)
        fail_usage(f"{which} ({path}) has errors; fix them to compare the versions")


def _traffic_lines(path: str) -> Iterator[bytes]:
    """The file's lines as bytes: each is read on its own (`jsontext.read_record`), so that a
    line that is not UTF-8 is that record's problem, not the file's."""
    try:
        stream = sys.stdin.buffer if path == "-" else open(path, "rb")
    except OSError as exc:
        fail_usage(f"cannot read {path}: {exc.strerror or exc}")
    with stream:
        yield from stream


def _progress(message: str) -> None:
    """Progress on a terminal: one line, overwritten, cleared when the work is done."""
    click.echo(f"\r\033[K{message}", nl=False, err=True)

