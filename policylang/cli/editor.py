"""`policyc lsp`: the language server for editors (the `lsp` extra)."""

from __future__ import annotations

import click

from .common import fail_usage, main


@main.command()
@click.option("--stdio", is_flag=True, help="talk over standard input and output (the default and only transport)")
def lsp(stdio: bool) -> None:
    """Run the language server over stdio: lint's diagnostics as you type, formatting, hover,
    go to definition, references, completion and the outline.

    Editors start it themselves (editors/vscode/ does); it needs `pip install 'policylang[lsp]'`.
    """
    try:
        from ..lsp.server import serve
    except ImportError as exc:
        fail_usage(f"policyc lsp needs pygls ({exc.name} is not installed): pip install 'policylang[lsp]'")
    serve()
