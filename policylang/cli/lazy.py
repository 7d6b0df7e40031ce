"""A click group whose commands are imported when they run, not when `policyc` starts.

`policyc lint` is run by pre-commit on every commit and by CI on every file: a new process each
time, so what it imports is most of what it costs. Each command module (check.py, simulate.py,
...) registers its commands on the group when imported; the group knows, without importing
them, which module holds each command and the command's first line of help, so that
`policyc --help` lists every command and `policyc lint` imports check.py alone.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import click


@dataclass(frozen=True)
class Lazy:
    """Where a command lives and what `policyc --help` says of it before it is imported.

    `summary` is the first paragraph of the command's help (click shortens it to the width of
    the terminal, as it would the command's own), or its `short_help` when `short` is set.
    tests/test_cli_lazy.py checks both against the commands themselves."""

    module: str
    summary: str
    short: bool = False

    def stand_in(self, name: str) -> click.Command:
        """A command that only carries the help `policyc --help` lists."""
        if self.short:
            return click.Command(name, short_help=self.summary)
        return click.Command(name, help=self.summary)


class LazyGroup(click.Group):
    """A group that imports a command's module the first time the command is asked for."""

    def __init__(self, *args: Any, lazy_commands: Mapping[str, Lazy] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_commands: dict[str, Lazy] = dict(lazy_commands or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Every command, loaded or not, sorted as click sorts them."""
        return sorted({*self.commands, *self.lazy_commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """The command, its module imported first if it has not been (the import registers it)."""
        if cmd_name not in self.commands and cmd_name in self.lazy_commands:
            importlib.import_module(self.lazy_commands[cmd_name].module)
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The list of `policyc --help`, written from the table for the commands not loaded,
        so that asking for help imports no command module."""
        rows: list[tuple[str, click.Command]] = []
        for name in self.list_commands(ctx):
            command = self.commands.get(name) or self.lazy_commands[name].stand_in(name)
            if not command.hidden:
                rows.append((name, command))
        if not rows:
            return
        limit = formatter.width - 6 - max(len(name) for name, _ in rows)  # as click.Group does
        with formatter.section("Commands"):
            formatter.write_dl([(name, command.get_short_help_str(limit)) for name, command in rows])

    def load_all(self) -> None:
        """Import every command module (for the generated reference and the tests)."""
        for lazy in self.lazy_commands.values():
            importlib.import_module(lazy.module)
