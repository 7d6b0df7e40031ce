"""`simulate`: what a policy would have done with logged traffic (section 9.3).

    import policylang
    report = policylang.simulate(policy, "traffic.parquet", baseline="frontier", by="task")
    report["cost"]["total"], report["escalations"]["rate"]

Both engines give the same report, field for field: `duckdb` runs the policy as SQL where the
file lies; `python` streams it through the compiled module. `auto` (the default) picks the one
measured faster for the file's format: python for JSON lines, duckdb for CSV and Parquet
(benchmarks/RESULTS.md).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from ..ir.policy import ERRORS
from ..policy import Policy
from .decisionlog import as_traffic, money_signals
from .engines import ENGINES
from .render import render_html, render_text
from .report import Report, make_report
from .traffic import TrafficError, format_of


class SimulationError(ValueError):
    """A simulation that cannot run as asked: an unknown model, signal or error, an unreadable
    traffic file. The message says which and where."""


def parse_down(items: Iterable[str]) -> dict[str, str]:
    """`MODEL[:ERROR]` items as {model: error}; the error is `unavailable` when none is named."""
    down: dict[str, str] = {}
    for item in items:
        model, _, error = item.partition(":")
        down[model.strip()] = (error or "unavailable").strip()
    return down


def simulate(policy: Policy, traffic: str | Path, *, baseline: str | None = None,
             down: Mapping[str, str] | Iterable[str] = (), by: str | None = None, engine: str = "auto",
             progress: Callable[[int], None] | None = None) -> Report:
    """Replay a traffic file (JSON lines, CSV or Parquet) through the policy and report hits per
    rule, calls and exact cost per model, escalations, fallbacks, rejections, unserved requests,
    latency and tokens, against `baseline` (one call to that model per valid request) and per
    value of the enum or bool signal `by`. `down` names the models whose provider fails (with
    an error, `unavailable` by default), so their fallbacks serve. Raises SimulationError for
    an unknown model, signal, error or engine, or a file that cannot be read. `engine` is
    `duckdb`, `python` or `auto` (python for JSON lines, duckdb for CSV and Parquet: the faster
    of the two on each, as measured; the report's `engine` names the one that ran)."""
    ir = policy.ir
    down_map = dict(down) if isinstance(down, Mapping) else parse_down(down)
    models = {m.name for m in ir.models}
    for model, error in down_map.items():
        if model not in models:
            raise SimulationError(f"--down {model}: no model {model!r} in policy {ir.name!r}")
        if error not in ERRORS:
            raise SimulationError(f"--down {model}:{error}: {error!r} is no provider error; the errors are {', '.join(ERRORS)}")
    if baseline is not None and baseline not in models:
        raise SimulationError(f"--baseline {baseline}: no model {baseline!r} in policy {ir.name!r}")
    if by is not None:
        signal = next((s for s in ir.inputs if s.name == by), None)
        if signal is None or signal.type.kind not in ("enum", "bool"):
            raise SimulationError(f"--by {by}: not an enum or bool signal of policy {ir.name!r}")
    if engine not in ENGINES and engine != "auto":
        raise SimulationError(f"engine must be one of auto, {', '.join(ENGINES)}, not {engine!r}")
    try:
        if not Path(traffic).is_file():
            format_of(traffic)
            raise TrafficError(f"{traffic}: no such file")
        with as_traffic(traffic, money_signals(policy)) as log:  # a decision log, whatever its suffix
            if log is None:
                format_of(traffic)
            source = str(traffic) if log is None else log.path
            if engine == "auto":
                engine = auto_engine(source)
            run = ENGINES[engine](policy, source, baseline=baseline, down=down_map, by=by, progress=progress)
    except TrafficError as exc:
        raise SimulationError(str(exc)) from None
    notes = run.notes + (log.counts.notes() if log is not None else [])
    return make_report(ir, run.groups, run.errors, run.records, baseline=baseline, by=by, down=down_map,
                       engine=engine, traffic=Path(traffic).name, notes=notes)


def auto_engine(traffic: str | Path) -> str:
    """The engine `auto` picks for a traffic file: `python` for JSON lines (it streams them
    faster than DuckDB parses them), `duckdb` for CSV and Parquet when DuckDB is installed
    (python when it is not). TrafficError for a file whose suffix names no format."""
    if format_of(traffic) == "jsonl" or importlib.util.find_spec("duckdb") is None:
        return "python"
    return "duckdb"


__all__ = ["Report", "SimulationError", "auto_engine", "parse_down", "render_html", "render_text", "simulate"]
