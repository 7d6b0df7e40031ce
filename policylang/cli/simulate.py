"""`policyc simulate` (section 9.3) and `policyc compile --target sql`'s writer (section 12)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from .common import FAILED, FINE, USAGE, fail_usage, load_or_exit, main


def _progress(enabled: bool):  # type: ignore[no-untyped-def]
    """A callback that shows records read on a terminal (standard error), or None."""
    if not enabled:
        return None

    def show(count: int) -> None:
        click.echo(f"\r  {count:,} records read", nl=False, err=True)

    return show


def _streams(engine: str, traffic: str) -> bool:
    """Whether the python engine will run (the one that counts records as it reads them)."""
    from ..simulation import auto_engine
    from ..simulation.traffic import TrafficError

    if engine != "auto":
        return engine == "python"
    try:
        return auto_engine(traffic) == "python"
    except TrafficError:  # no known suffix: simulate says so
        return False


@main.command("simulate")
@click.argument("file", type=click.Path(dir_okay=False))
@click.argument("traffic", type=click.Path(dir_okay=False))
@click.option("--baseline", metavar="MODEL", help="price every valid request as one call to MODEL")
@click.option("--down", "down", multiple=True, metavar="MODEL[:ERROR]",
              help="calls to MODEL fail with ERROR (default unavailable), so its fallbacks serve; repeatable")
@click.option("--by", metavar="SIGNAL", help="repeat hits, escalations, fallbacks and cost per value of an enum or bool signal")
@click.option("--engine", type=click.Choice(["auto", "duckdb", "python"]), default="auto", show_default=True,
              help="duckdb runs the policy as SQL where the file lies; python streams it record by record "
                   "(auto: python for JSON lines, duckdb for CSV and Parquet)")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "html"]), default="text", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="write the report here (default: standard output)")
def simulate_(file: str, traffic: str, baseline: str | None, down: tuple[str, ...], by: str | None, engine: str,
              fmt: str, output: str | None) -> None:
    """Replay logged requests in TRAFFIC (JSON lines, CSV or Parquet) through the policy in FILE:
    hits per rule, calls and exact cost per model, escalation, fallback and reject rates, and
    the cost against a baseline. Exit 1 when a record is not a valid request."""
    from ..simulation import SimulationError, render_html, render_text, simulate

    policy = load_or_exit(file)
    show = _progress(sys.stderr.isatty() and _streams(engine, traffic))
    try:
        report = simulate(policy, traffic, baseline=baseline, down=down, by=by, engine=engine, progress=show)
    except SimulationError as exc:
        if show is not None:
            click.echo(err=True)
        fail_usage(str(exc))
    if show is not None:
        click.echo("\r" + " " * 40 + "\r", nl=False, err=True)
    if fmt == "json":
        text = json.dumps(report.as_dict(), indent=2) + "\n"
    elif fmt == "html":
        text = render_html(report)
    else:
        text = render_text(report)
    # a key read from the traffic (an unknown outcome's name) may hold a lone surrogate (a JSON
    # escape such as "\ud800"): written as that escape, so that the report encodes as UTF-8
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    if output is None:
        click.echo(text, nl=False)
    else:
        try:
            Path(output).write_text(text, encoding="utf-8")
        except OSError as exc:
            fail_usage(f"cannot write {output}: {exc.strerror or exc}")
        click.echo(f"wrote {output}", err=True)
    sys.exit(FAILED if report["errors"] else FINE)


def write_sql(file: str, output: str | None, dialect: str, table: str, columns: str | None) -> None:
    """`policyc compile FILE --target sql`: the policy as one SELECT."""
    from ..backends.sql import DIALECTS, to_sql

    if dialect not in DIALECTS:
        fail_usage(f"unknown --dialect {dialect}; choose one of {', '.join(DIALECTS)}")
    policy = load_or_exit(file)
    layout = None
    if columns is not None:
        from ..backends.sql.columns import canonical_columns

        canonical = canonical_columns(policy.ir)
        layout = {}
        for item in (c.strip() for c in columns.split(",") if c.strip()):
            name, _, sql_type = item.partition(":")
            layout[name] = sql_type or canonical.get(name, "VARCHAR")
    try:
        text = to_sql(policy.ir, dialect=dialect, table=table, columns=layout)
    except ImportError:
        fail_usage(f"--dialect {dialect} needs sqlglot: pip install 'policylang[sql]'")
    except Exception as exc:  # sqlglot's own errors, a constant too large for SQL
        click.echo(f"error: cannot write the policy as SQL: {exc}", err=True)
        sys.exit(FAILED)
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        Path(output).write_text(text, encoding="utf-8")
    except OSError as exc:
        fail_usage(f"cannot write {output}: {exc.strerror or exc}")
    click.echo(f"wrote {output}", err=True)


__all__ = ["USAGE", "simulate_", "write_sql"]
