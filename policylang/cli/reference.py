"""The command-line reference, generated from the click commands themselves:
`python -m policylang.cli.reference > docs/cli-reference.md` (tests/test_docs.py checks that the
committed page is what this prints, so the page and the commands never drift apart)."""

from __future__ import annotations

import inspect
import sys
from collections.abc import Iterator

import click

from . import main

HEADER = """# Command reference

Generated from `policyc`'s own command definitions by `python -m policylang.cli.reference`;
[cli.md](cli.md) explains each command with examples and output. Exit status everywhere: 0
fine, 1 the policy or a request failed, 2 a usage or I/O error.
"""


def _commands(group: click.Group, ctx: click.Context, prefix: str) -> Iterator[tuple[str, click.Command]]:
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        if command is None or command.hidden:
            continue
        path = f"{prefix} {name}"
        yield path, command
        if isinstance(command, click.Group):
            yield from _commands(command, click.Context(command, info_name=name, parent=ctx), path)


def _option_row(param: click.Parameter, ctx: click.Context) -> str | None:
    record = param.get_help_record(ctx)
    if record is None:
        return None
    names, help_text = record
    escaped = help_text.replace("|", "\\|")
    return f"| `{names.replace('|', chr(92) + '|')}` | {escaped} |"


def render() -> str:
    """The reference as Markdown: every command and subcommand in `policyc --help` order, its
    usage, its help text and its options."""
    root = click.Context(main, info_name="policyc", **main.context_settings)  # as `policyc` makes it
    out = [HEADER]
    for path, command in _commands(main, root, "policyc"):
        ctx = click.Context(command, info_name=path.split(" ", 1)[1], parent=root)
        pieces = " ".join(command.collect_usage_pieces(ctx))
        out += [f"## `{path}`", "", "```text", f"{path} {pieces}".rstrip(), "```", ""]
        help_text = inspect.cleandoc(command.help or "")
        if help_text:
            out += [help_text.replace("\b\n", ""), ""]
        rows = [row for param in command.get_params(ctx) if isinstance(param, click.Option)
                for row in [_option_row(param, ctx)] if row is not None]
        if rows:
            out += ["| option | meaning |", "|---|---|", *rows, ""]
        if isinstance(command, click.Group):
            subcommands = ", ".join(f"`{path} {name}`" for name in command.list_commands(ctx))
            out += [f"Subcommands: {subcommands}.", ""]
    return "\n".join(out).rstrip() + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
