"""`policyc report` (section 15): what decision logs say a policy did in production.

    from policylang import monitoring
    data = monitoring.report(["decisions-*.jsonl"], by="task", every="1h", alerts=["escalation_rate > 0.3"])
    data["cost"]["total"], data["escalation"]["rate"], [a for a in data["alerts"] if a["fired"]]

Two engines give the same report, field for field: `duckdb` reads the files where they lie
(extra `duckdb`), `python` streams them record by record; `auto` (the default) is duckdb for
Parquet logs when it is installed, python for JSON lines. docs/report.md explains each statistic.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..policy import Policy
from .alerts import AlertError, evaluate, parse
from .build import make_report
from .drift import compare_groups, drift
from .reading import EPOCH, PARQUET, LogError, expand
from .tally import Options, Tally, count_python

ENGINES = ("auto", "duckdb", "python")
_EVERY = re.compile(r"([1-9][0-9]*)([mhd])")


class ReportError(ValueError):
    """A report that cannot be made as asked: unreadable logs, a bad option, mixed policies.
    The message says which and where."""


def parse_time(text: str, option: str = "--since") -> int:
    """An ISO date or date-time (UTC unless it names a zone) as microseconds since 1970."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ReportError(f"{option} {text}: not an ISO date or time (2026-12-08, 2026-12-08T13:00)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    delta = moment - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def parse_every(text: str) -> int:
    """`15m`, `1h`, `1d`: the bucket width in seconds."""
    match = _EVERY.fullmatch(text.strip())
    if match is None:
        raise ReportError(f"--every {text}: expected a whole number of minutes, hours or days (15m, 1h, 1d)")
    return int(match.group(1)) * {"m": 60, "h": 3600, "d": 86_400}[match.group(2)]


def choose_engine(engine: str, files: Sequence[Path] = ()) -> str:
    """`duckdb` or `python`. `auto` is the faster for the files (benchmarks/RESULTS.md): duckdb
    when a log is Parquet and DuckDB is installed (several times the python engine there), else
    python (on JSON lines the two cost about the same CPU, and python needs less memory)."""
    if engine not in ENGINES:
        raise ReportError(f"engine must be one of {', '.join(ENGINES)}, not {engine!r}")
    if engine != "auto":
        return engine
    if not any(f.suffix.lower() in PARQUET for f in files):
        return "python"
    try:
        import duckdb  # noqa: F401
    except ImportError:
        return "python"
    return "duckdb"


def count(files: list[Path], options: Options, engine: str) -> Tally:
    """The Tally of the files by the engine."""
    if engine == "duckdb":
        from .duck import count_duckdb

        return count_duckdb(files, options)
    return count_python(files, options)


def _options(policy: Policy | None, by: str | None, every: str | None, since: str | None, until: str | None,
             success: str | None) -> Options:
    signals = sha256 = name = None
    bools: frozenset[str] = frozenset()
    if policy is not None:
        ir = policy.ir
        name = policy.name
        signals = frozenset(s.name for s in ir.inputs)
        bools = frozenset(o.name for o in ir.outcomes if o.type.kind == "bool")
        sha256 = policy.compiled.SOURCE_SHA256
        if success is not None:
            outcome = next((o for o in ir.outcomes if o.name == success), None)
            if outcome is None or outcome.type.kind != "bool":
                raise ReportError(f"--success {success}: not a bool outcome of policy {name!r}")
        if by is not None and by not in ("arm", "policy") and by not in signals:
            raise ReportError(f"--by {by}: policy {name!r} has no signal {by!r}")
    return Options(by=by, every=parse_every(every) if every else None,
                   since=parse_time(since) if since else None, until=parse_time(until, "--until") if until else None,
                   policy=name, sha256=sha256, signals=signals, success=success, bools=bools)


def report(logs: Sequence[str], *, policy: Policy | None = None, by: str | None = None, every: str | None = None,
           since: str | None = None, until: str | None = None, compare_to: Sequence[str] = (),
           baseline_window: str | None = None, alerts: Iterable[str] = (), success: str | None = None,
           shadow: bool = False, candidates: Sequence[Policy] = (), engine: str = "auto") -> dict[str, Any]:
    """The report of section 15 over the logs (files or globs) as a JSON-ready dict, with
    `alerts` (each evaluated; `fired`) when any is given. Raises ReportError for logs that
    cannot be read, a bad option, or records of several policies when neither `policy` nor
    `by="arm"`/`"policy"` says how to read them."""
    parsed = []
    for text in alerts:
        try:
            parsed.append(parse(text))
        except AlertError as exc:
            raise ReportError(str(exc)) from None
    if compare_to and baseline_window:
        raise ReportError("give --compare-to or --baseline-window, not both")
    if engine not in ENGINES:
        raise ReportError(f"engine must be one of {', '.join(ENGINES)}, not {engine!r}")
    options = _options(policy, by, every, since, until, success)
    try:
        files = expand(list(logs))
        chosen = choose_engine(engine, files + (expand(list(compare_to)) if compare_to else []))
        data = _one(files, options, chosen)
        before = None
        if compare_to:
            before = _one(expand(list(compare_to)), options, chosen)
        elif baseline_window:
            start, sep, end = baseline_window.partition("..")
            if not sep:
                raise ReportError(f"--baseline-window {baseline_window}: expected SINCE..UNTIL")
            window = Options(**{**options.__dict__, "since": parse_time(start, "--baseline-window") if start else None,
                                "until": parse_time(end, "--baseline-window") if end else None})
            before = _one(files, window, chosen)
    except LogError as exc:
        raise ReportError(str(exc)) from None
    if before is not None:
        data["drift"] = drift(before, data)
    if len(data.get("groups", [])) >= 2:
        data["comparison"] = compare_groups(data["groups"])
    if shadow:
        from .shadow import candidate_cost

        data.setdefault("shadow", [])
        for candidate in candidates:
            estimate = candidate_cost(files, candidate, options)
            entry = next((s for s in data["shadow"] if s["candidate"] == candidate.name), None)
            if entry is None:
                entry = {"candidate": candidate.name, "requests": 0, "agreement": None, "matrix": []}
                data["shadow"].append(entry)
            entry["cost"] = estimate
    if parsed:
        data["alerts"] = [evaluate(alert, data) for alert in parsed]
    return data


def _one(files: list[Path], options: Options, engine: str) -> dict[str, Any]:
    tally = count(files, options, engine)
    if options.policy is None and options.by not in ("arm", "policy") and len(tally.policies) > 1:
        listed = "; ".join(f"{name}: {n} record(s), first at {tally.where(first)}" for name, (n, first) in sorted(tally.policies.items()))
        raise ReportError(f"the logs hold records of {len(tally.policies)} policies ({listed}); pick one with "
                          "--policy FILE, or compare them with --by policy (or --by arm for a canary)")
    return make_report(tally, options, [str(f) for f in files], engine)


__all__ = ["ENGINES", "ReportError", "choose_engine", "parse_every", "parse_time", "report"]
