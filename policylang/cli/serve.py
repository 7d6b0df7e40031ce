"""`policyc serve`: the OpenAI-compatible gateway of section 14 (extra `serve`)."""

from __future__ import annotations

import sys

import click

from .common import FAILED, USAGE, main


@main.command()
@click.argument("config", type=click.Path(dir_okay=False))
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535), help="Port to listen on.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 512),
              help="Worker processes sharing the port.")
@click.option("--log-level", default="warning", show_default=True,
              type=click.Choice(["critical", "error", "warning", "info", "debug"]), help="Server log level.")
@click.option("--shadow", "shadow", multiple=True, type=click.Path(dir_okay=False), metavar="FILE",
              help="A candidate policy that decides every request beside the served one, for the decision log "
                   "only (its \"shadow\" field); repeatable. Needs [log] in the config.")
def serve(config: str, host: str, port: int, workers: int, log_level: str, shadow: tuple[str, ...]) -> None:
    """Serve the policies a TOML CONFIG names (or one .route file) as an OpenAI-compatible
    API: POST /v1/chat/completions with "model" naming a policy. Exit 1 when the config or a
    policy has errors, 2 when the serve extra is missing. Each `--shadow` policy decides every
    request too, and the decision log records its decision beside the live one."""
    try:
        import aiohttp  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        click.echo(f"error: policyc serve needs the '{exc.name}' package: pip install 'policylang[serve]'", err=True)
        sys.exit(USAGE)
    from ..gateway.config import ConfigError
    from ..gateway.server import check, run
    from ..gateway.signals import TOKEN_COUNTER
    try:
        served = check(config, shadow)
    except ConfigError as exc:
        for message in exc.messages:
            click.echo(f"error: {message}" if not message.startswith("error") else message, err=True)
        click.echo(f"serve: {len(exc.messages)} problem(s); nothing served", err=True)
        sys.exit(FAILED)
    if shadow and served.config.log_path is None:
        click.echo("error: --shadow writes each candidate's decision into the decision log; the config has no "
                   "[log] path (add [log] path = \"decisions.jsonl\")", err=True)
        sys.exit(USAGE)
    click.echo(f"serving {', '.join(served.policies)} on http://{host}:{port}/v1 with {workers} worker(s); "
               f"input_tokens counted by {TOKEN_COUNTER}", err=True)
    run(config, host, port, workers, served=served, log_level=log_level, shadow=shadow)
