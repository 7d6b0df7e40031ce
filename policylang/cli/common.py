"""What every `policyc` command shares: the group, exit statuses, loading a policy or exiting."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, NoReturn

import click

from .._version import __version__
from ..codes import E009
from .lazy import Lazy, LazyGroup

if TYPE_CHECKING:  # the front end is imported by the commands that load a policy, when they run
    from ..policy import Policy, PolicyError

FINE, FAILED, USAGE = 0, 1, 2
"""Exit statuses: fine; the policy or a request failed; a usage or I/O error."""

COMMANDS = {
    "compile": Lazy("policylang.cli.check", "Compile FILE to a standalone Python module (standard library only), "
                    "or with `--target sql` to one SELECT that decides every row of a table of requests."),
    "diff": Lazy("policylang.cli.review", "Which requests a change decides or climbs differently.", short=True),
    "eval": Lazy("policylang.cli.check", "Decide requests: one JSON line out per request in, with the path when "
                 "@outcomes is given."),
    "explain": Lazy("policylang.cli.review", "Why a request gets its decision, rule by rule.", short=True),
    "fmt": Lazy("policylang.cli.authoring", "Lay out FILES in the canonical layout, comments and literals kept "
                "(- reads standard input and writes standard output)."),
    "graph": Lazy("policylang.cli.authoring", "Draw FILE's routing: rules in order with their targets, cascades "
                  "with the conditions of their edges, fallbacks (dashed) with their errors, rejections."),
    "import": Lazy("policylang.cli.importing", "Turn a LiteLLM or Portkey routing config into a .route policy."),
    "lint": Lazy("policylang.cli.check", "Run every check on FILES and report what they find."),
    "lsp": Lazy("policylang.cli.editor", "Run the language server over stdio: lint's diagnostics as you type, "
                "formatting, hover, go to definition, references, completion and the outline."),
    "report": Lazy("policylang.cli.report", "Report what decision logs (JSON lines or Parquet, files or globs) "
                   "say: requests, cost and outcomes per rule, model and route path, escalation, fallback and "
                   "error rates, latency, drift against other logs, and alerts."),
    "serve": Lazy("policylang.cli.serve", "Serve the policies a TOML CONFIG names (or one .route file) as an "
                  "OpenAI-compatible API: POST /v1/chat/completions with \"model\" naming a policy."),
    "simulate": Lazy("policylang.cli.simulate", "Replay logged requests in TRAFFIC (JSON lines, CSV or Parquet) "
                     "through the policy in FILE: hits per rule, calls and exact cost per model, escalation, "
                     "fallback and reject rates, and the cost against a baseline."),
    "test": Lazy("policylang.cli.check", "Run the test blocks of FILES with both engines."),
}
"""Each command: the module that registers it, and its help line for `policyc --help` (a new
command is one entry here; tests/test_cli_lazy.py checks the table against the commands)."""


@click.group(cls=LazyGroup, lazy_commands=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="policyc")
def main() -> None:
    """Check, test and compile .route routing policies."""
    from ..passes.pipeline import recursion_headroom  # the front end, which every command but --help loads

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
    from ..diagnostics import render_text, summary_line
    from ..policy import PolicyError, load
    from .progress import progress_shown

    try:
        with progress_shown(path):
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
