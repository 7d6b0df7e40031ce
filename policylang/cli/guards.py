"""How large a file `policyc lint` and `compile` take: past `LARGE` they say it may take a while
and go on; past `TOO_LARGE` they refuse, exit 2, before reading it (docs/choices.md says why
these sizes).

Only the file named on the command line is measured: what it imports is read by the loader,
and the standard library's files are small.
"""

from __future__ import annotations

import os
import sys

import click

from .common import USAGE

LARGE = 1 << 20
"""1 MiB, about 10,000 rules: checking takes seconds and a few hundred MiB (benchmarks/RESULTS.md)."""

TOO_LARGE = 8 << 20
"""8 MiB, over 100,000 rules: the checker's memory grows with the rules (about 0.4 GiB per MiB
of policy: 1.25 GiB for 50,000 rules in 3.2 MiB; more where firing regions split), so past this
it would need minutes and several GiB, more than many CI runners have: refusing says why, where
the kernel's out-of-memory killer would not (docs/choices.md, 'Large files and progress')."""


def size_text(size: int) -> str:
    """`12.3 MiB` (one decimal) for a size in bytes of at least 1 MiB, else `812 KiB`."""
    if size >= 1 << 20:
        return f"{size / (1 << 20):.1f} MiB"
    return f"{max(1, round(size / 1024)):,} KiB"


def guard_sizes(command: str, paths: tuple[str, ...] | list[str]) -> None:
    """For each path past `LARGE`, a warning on standard error; if any is past `TOO_LARGE`, an
    error naming it and exit 2 (before any file is checked). A path that cannot be measured is
    left to the loader, which says why it cannot be read."""
    for path in paths:
        try:
            size = os.stat(path).st_size
        except (OSError, ValueError):
            continue
        if size > TOO_LARGE:
            click.echo(f"error: {path} is {size_text(size)}, over the {size_text(TOO_LARGE)} policyc {command} "
                       f"checks: a policy this large would need several GiB of memory to check "
                       f"(docs/cli.md, 'Limits and progress')", err=True)
            sys.exit(USAGE)
        if size > LARGE:
            click.echo(f"warning: {path} is {size_text(size)}, over {size_text(LARGE)}: checking it may take a "
                       f"minute or more and GiBs of memory", err=True)
