"""`policyc report` (section 15): what decision logs say a policy did."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from .common import FAILED, FINE, fail_usage, load_or_exit, main


@main.command("report")
@click.argument("logs", nargs=-1, required=True)
@click.option("--policy", "policy_file", type=click.Path(dir_okay=False), metavar="FILE",
              help="the live policy: keep its records only, check their version and signals, read its outcomes")
@click.option("--by", metavar="SIGNAL", help="repeat the figures per value of a signal (or `arm`, `policy`: the record's own)")
@click.option("--since", metavar="T", help="only records at or after T (ISO date or time, UTC by default)")
@click.option("--until", metavar="T", help="only records before T")
@click.option("--every", metavar="1h|1d", help="repeat the figures per time bucket (15m, 1h, 1d, ...)")
@click.option("--compare-to", "compare_to", multiple=True, metavar="LOG",
              help="drift against these logs (files or globs; repeatable)")
@click.option("--baseline-window", metavar="SINCE..UNTIL", help="drift against this window of the same logs")
@click.option("--alert", "alerts", multiple=True, metavar="EXPR",
              help="e.g. 'escalation_rate{task=classify} > 0.2'; exit 1 when one fires (repeatable)")
@click.option("--success", metavar="OUTCOME", help="a bool outcome marking a good final answer: cost per success")
@click.option("--shadow", is_flag=True, help="the agreement of each shadow candidate with the live rules")
@click.option("--candidate", "candidates", multiple=True, type=click.Path(dir_okay=False), metavar="FILE",
              help="with --shadow: a candidate policy, whose cost on the same requests is estimated (repeatable)")
@click.option("--engine", type=click.Choice(["auto", "duckdb", "python"]), default="auto", show_default=True,
              help="duckdb reads the logs where they lie; python streams them (auto: duckdb for Parquet, python for JSON lines)")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "html"]), default="text", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="write the report here (default: standard output)")
def report_(logs: tuple[str, ...], policy_file: str | None, by: str | None, since: str | None, until: str | None,
            every: str | None, compare_to: tuple[str, ...], baseline_window: str | None, alerts: tuple[str, ...],
            success: str | None, shadow: bool, candidates: tuple[str, ...], engine: str, fmt: str,
            output: str | None) -> None:
    """Report what decision logs (JSON lines or Parquet, files or globs) say: requests, cost and
    outcomes per rule, model and route path, escalation, fallback and error rates, latency,
    drift against other logs, and alerts. Exit 1 when an alert fires, 2 on a usage or I/O error."""
    from ..monitoring import ReportError, report
    from ..monitoring.render import render_html, render_text

    policy = load_or_exit(policy_file) if policy_file else None
    loaded = [load_or_exit(path) for path in candidates]
    if candidates and not shadow:
        fail_usage("--candidate needs --shadow")
    try:
        data = report(list(logs), policy=policy, by=by, every=every, since=since, until=until, compare_to=compare_to,
                      baseline_window=baseline_window, alerts=alerts, success=success, shadow=shadow,
                      candidates=loaded, engine=engine)
    except ReportError as exc:
        fail_usage(str(exc))
    if fmt == "json":
        text = json.dumps(data, indent=2) + "\n"
    elif fmt == "html":
        text = render_html(data)
    else:
        text = render_text(data)
    if output is None:
        click.echo(text, nl=False)
    else:
        try:
            Path(output).write_text(text, encoding="utf-8")
        except OSError as exc:
            fail_usage(f"cannot write {output}: {exc.strerror or exc}")
        click.echo(f"wrote {output}", err=True)
    fired = [a for a in data.get("alerts", []) if a["fired"]]
    for alert in fired:
        click.echo(f"alert: {alert['alert']} (value {alert['value']})", err=True)
    sys.exit(FAILED if fired else FINE)


__all__ = ["report_"]
