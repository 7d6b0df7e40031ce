"""What every `policyc` command shares: the group, exit statuses, loading a policy or exiting."""

from __future__ import annotations

import sys
from typing import NoReturn

import click

from .. import __version__
from ..codes import E009
from ..diagnostics import render_text, summary_line
from ..passes.pipeline import recursion_headroom
from ..policy import Policy, PolicyError, load

FINE, FAILED, USAGE = 0, 1, 2
"""Exit statuses: fine; the policy or a request failed; a usage or I/O error."""


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="policyc")
def main() -> None:
    """Check, test and compile .route routing policies."""
    # What the checker admits (expressions nested 1,000 levels deep, E006 past that), every
    # command handles: the passes after checking (the back ends, explain, graph, diff) recurse
    # over expressions as the checker does, so the whole command gets the checker's headroom.
    click.get_current_context().with_resource(recursion_headroom())


def fail_usage(message: str) -> NoReturn:
    """`error: MESSAGE` on standard error, exit 2."""
    click.echo(f"error: {message}", err=True)
    sys.exit(USAGE)


def unreadable(exc: PolicyError) -> str | None:
    """The message of an E009 (the file cannot be read), or None for any other PolicyError."""
    first = exc.diagnostics[0] if exc.diagnostics else None
    return first.message if first is not None and first.code == E009.code else None


def load_or_exit(path: str, *, analyze: bool = True, warnings: bool = False) -> Policy:
    """The policy, or exit 1 with its diagnostics (2 when the file cannot be read)."""
    try:
        return load(path, analyze=analyze, warnings=warnings)
    except PolicyError as exc:
        message = unreadable(exc)
        if message is not None:
            fail_usage(message)
        click.echo(render_text(exc.diagnostics, exc.sources), err=True)
        click.echo(summary_line(exc.diagnostics), err=True)
        sys.exit(FAILED)


def plural(count: int, word: str) -> str:
    return f"{count} {word}{'s' * (count != 1)}"
