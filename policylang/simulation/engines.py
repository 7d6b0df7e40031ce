"""The two engines of `simulate` (section 9.3), filling the same tallies.

`python` streams the traffic file record by record through the compiled module and
`serving.walk`. `duckdb` runs the policy compiled to SQL (section 12) inside an embedded DuckDB,
reading the file where it lies, and groups the rows by what decides their tally (group, rule,
how far the climb went, request error); each group is then served on paper by the same `walk`,
since which model answers each step is fixed by `--down` when the query is written.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any

from ..ir.policy import CascadeTarget, Policy as PolicyIR, Rule
from ..policy import Policy
from ..serving import Walk, walk
from .report import Errors, Tally
from .traffic import Broken, TrafficError, format_of, records


@dataclass(frozen=True)
class Served:
    """A walk summarized for tallies: each call (model, answered, cap), the steps reached, the
    climb's edges, the fallbacks taken, whether a step went unserved, and the latency."""

    calls: tuple[tuple[str, bool, int], ...]
    edges: tuple[tuple[str, str, str], ...]
    fallbacks: tuple[tuple[str, str, str | None], ...]
    unserved: bool
    latency: Decimal


def summarize(ir: PolicyIR, rule: Rule, served: Walk) -> Served:
    """What a walk adds to a tally."""
    calls = tuple((c.model, c.error is None, c.cap) for c in served.calls)
    fallbacks = []
    for this, following in zip(served.calls, (*served.calls[1:], None)):
        if this.error is not None:
            nxt = following.model if following is not None and following.step == this.step else None
            fallbacks.append((this.model, this.error, nxt))
    steps = ir.steps(rule)
    reached = max((c.step for c in served.calls), default=-1) + 1
    cascade = rule.target.cascade if isinstance(rule.target, CascadeTarget) else ""
    edges = tuple((cascade, steps[s - 1], steps[s]) for s in range(1, reached))
    latency = sum((ir.model(c.model).latency for c in served.calls), Decimal(0))
    return Served(calls, edges, tuple(fallbacks), served.unserved is not None, latency)


def account(tally: Tally, rule: Rule, served: Served, count: int, tokens_in: int,
            outputs: Callable[[int], int], given_outputs: int, baseline: tuple[int, int] | None) -> None:
    """Add `count` requests decided by `rule` and served as `served` to a tally; `outputs(cap)`
    is the output tokens they produced at that cap (summed), `given_outputs` how many of them
    said (`@output_tokens`), `baseline` the baseline's (input, output) tokens."""
    tally.valid += count
    tally.hits[rule.name] += count
    if baseline is not None:
        tally.baseline_in += baseline[0]
        tally.baseline_out += baseline[1]
    if not served.calls:
        tally.rejected += count
        return
    for model, answered, cap in served.calls:
        tally.calls[model] += count
        if answered:
            tally.answered[model] += count
            tally.tokens_in[model] += tokens_in
            tally.tokens_out[model] += outputs(cap)
            tally.at_cap += count - given_outputs
    for edge in served.edges:
        tally.edges[edge] += count
    if served.edges:
        tally.climbed += count
    for fallback in served.fallbacks:
        tally.fallbacks[fallback] += count
    if served.unserved:
        tally.unserved += count
    tally.latency[served.latency] += count


def cap_of(ir: PolicyIR, rule: Rule, model: str) -> int:
    limit = ir.model(model).max_output
    return limit if rule.cap is None else min(rule.cap, limit)


def _valid_tokens(value: Any) -> bool:
    return value.__class__ is int and value >= 0


@dataclass
class Run:
    """What an engine hands back: the tallies per group, the errors, the records read."""

    groups: dict[str | None, Tally]
    errors: Errors
    records: int
    notes: list[str]


def _group_key(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


class _Feeder:
    """The python engine's tallies, fed one record at a time through the compiled module."""

    def __init__(self, policy: Policy, *, baseline: str | None, down: dict[str, str], by: str | None,
                 groups: dict[str | None, Tally], errors: Errors) -> None:
        ir = self.ir = policy.ir
        module = policy.compiled
        self.decide, self.escalate, self.fallback = module.decide, module.escalate, module.fallback
        self.RequestError = module.RequestError
        self.rules = {r.name: r for r in ir.route}
        self.has_tokens = any(s.name == "input_tokens" and s.role == "signal" for s in ir.signals)
        self.by = by
        self.by_default = next((s.default for s in ir.inputs if s.name == by), None)
        self.base = ir.model(baseline) if baseline is not None else None
        self.groups, self.errors, self.fails = groups, errors, down.get
        self._plain = lru_cache(maxsize=4096)(self._plain_walk)

    def _plain_walk(self, rule_name: str, decision_steps: tuple[str, ...]) -> Served:
        rule = self.rules[rule_name]
        served = walk(_Plain(decision_steps), fails=self.fails, observe=lambda step: None, fallback=self.fallback,
                      escalate=lambda d, s, o: None, cap=lambda m: cap_of(self.ir, rule, m))
        return summarize(self.ir, rule, served)

    def feed(self, location: int, record: dict[str, Any] | Broken) -> None:
        """Decide and serve one record, adding it to its group's tally or to the errors."""
        ir, errors = self.ir, self.errors
        if isinstance(record, Broken):
            errors.add("R002", location, None, record.message)
            return
        outcomes = record.get("@outcomes")
        if outcomes is not None and not (isinstance(outcomes, list) and all(isinstance(o, dict) for o in outcomes)):
            errors.add("R002", location, None, "@outcomes is a list of objects of outcomes, one per step")
            return
        signals = {k: v for k, v in record.items() if not k.startswith("@")}
        try:
            decision = self.decide(signals)
        except self.RequestError as exc:
            errors.add(exc.code, location, exc.signal, exc.message)
            return
        output = record.get("@output_tokens")
        if output is not None and not _valid_tokens(output):
            errors.add("R002", location, "@output_tokens", "@output_tokens must be a whole number >= 0")
            return
        if self.has_tokens:
            tokens_in = signals["input_tokens"]
        else:
            tokens_in = record.get("@input_tokens", 0)
            if not _valid_tokens(tokens_in):
                errors.add("R002", location, "@input_tokens", "@input_tokens must be a whole number >= 0")
                return
        rule = self.rules[decision.rule]
        if outcomes:
            try:
                served = summarize(ir, rule, walk(
                    decision, fails=self.fails, observe=lambda step: outcomes[step] if step < len(outcomes) else None,
                    fallback=self.fallback, escalate=self.escalate, cap=lambda m: cap_of(ir, rule, m)))
            except self.RequestError as exc:
                errors.add(exc.code, location, exc.signal, exc.message)
                return
        else:
            served = self._plain(decision.rule, tuple(decision.steps))
        key = _group_key(signals.get(self.by, self.by_default)) if self.by is not None else None
        tally = self.groups.get(key)
        if tally is None:
            tally = self.groups[key] = Tally()
        given = 1 if output is not None else 0
        baseline_tokens = None
        if self.base is not None:
            base = self.base
            baseline_tokens = (tokens_in, min(output, base.max_output) if output is not None else base.max_output)
        account(tally, rule, served, 1, tokens_in,
                (lambda cap: min(output, cap)) if output is not None else (lambda cap: cap), given, baseline_tokens)


def run_python(policy: Policy, traffic: str, *, baseline: str | None, down: dict[str, str], by: str | None,
               progress: Callable[[int], None] | None = None) -> Run:
    """Stream the file through the compiled module, one record at a time."""
    groups: dict[str | None, Tally] = {}
    errors = Errors()
    feeder = _Feeder(policy, baseline=baseline, down=down, by=by, groups=groups, errors=errors)
    count = 0
    for location, record in records(traffic):
        count += 1
        if progress is not None and count % 65536 == 0:
            progress(count)
        feeder.feed(location, record)
    return Run(groups, errors, count, [])


class _Plain:
    """A decision as `walk` reads it: its first model and its steps."""

    def __init__(self, steps: tuple[str, ...]) -> None:
        self.steps = steps
        self.model = steps[0] if steps else None


# ---- duckdb -------------------------------------------------------------------------------------


def run_duckdb(policy: Policy, traffic: str, *, baseline: str | None, down: dict[str, str], by: str | None,
               progress: Callable[[int], None] | None = None) -> Run:
    """The policy as SQL over the file, inside an embedded DuckDB; each group of rows is
    served on paper along the fallbacks that `down` forces."""
    try:
        import duckdb
    except ImportError:
        raise TrafficError("the duckdb engine needs DuckDB: pip install 'policylang[duckdb]', "
                           "or use --engine python") from None
    from ..backends.sql import table_name  # noqa: F401  (the SQL back end, with no sqlglot needed)
    from ..backends.sql.columns import Layout
    from ..backends.sql.query import UNDECIDED, build
    from ..backends.sql.text import string

    ir = policy.ir
    kind = format_of(traffic)
    connection = duckdb.connect(config={"preserve_insertion_order": True})
    path = string(str(traffic))
    notes: list[str] = []
    try:
        if kind == "parquet":
            table = f"(SELECT *, file_row_number + 1 AS \"@p:row\" FROM read_parquet({path}, file_row_number = true))"
            described = connection.execute(f"DESCRIBE SELECT * FROM read_parquet({path})").fetchall()
            layout = Layout("typed", {name: sql_type for name, sql_type, *_ in described})
        elif kind == "csv":
            reader = (f"read_csv({path}, all_varchar = true, header = true, delim = ',', quote = '\"', "
                      f"escape = '\"', null_padding = true)")
            described = connection.execute(f"DESCRIBE SELECT * FROM {reader}").fetchall()
            columns = {name: "VARCHAR" for name, *_ in described}
            table = f"(SELECT *, row_number() OVER () AS \"@p:row\" FROM {reader})"
            layout = Layout("csv", columns)
        else:
            reader = (f"read_csv({path}, columns = {{'line': 'VARCHAR'}}, delim = '\x1e', quote = '', escape = '', "
                      f"header = false, auto_detect = false, max_line_size = 1073741824, strict_mode = false)")
            table = (f"(SELECT line, \"@p:row\" FROM (SELECT line, row_number() OVER () AS \"@p:row\" FROM {reader}) "
                     f"WHERE line IS NOT NULL AND trim(line, ' \t\r') <> '')")
            layout = Layout("json", {})
        query = build(ir, layout, table, replay=by or "").text
        caps = sorted({cap_of(ir, r, m) for r in ir.route for s in ir.steps(r)
                       for m in (s, *ir.fallback_closure(s))})
        base = ir.model(baseline) if baseline is not None else None
        sums = [f"sum(coalesce(least(\"@p:otok\", {c}), {c})) AS \"out{c}\"" for c in caps]
        if base is not None:
            sums.append(f"sum(coalesce(least(\"@p:otok\", {base.max_output}), {base.max_output})) AS \"outbase\"")
        grouped = ("SELECT \"@p:broken\" AS broken, \"@p:group\", \"@p:rule\", \"@p:climb\", \"@p:ocode\", "
                   "\"@p:error\", \"@p:token_error\", count(*) AS n, min(\"@p:row\") AS first, "
                   "arg_min(coalesce(\"@p:error_signal\", \"@p:osignal\", \"@p:unheld\"), \"@p:row\") AS first_signal, "
                   "sum(\"@p:itok\") AS itok, count(\"@p:otok\") AS given"
                   + "".join(f", {s}" for s in sums) + f" FROM (\n{query}) GROUP BY ALL")
        query_rows = connection.execute(grouped)
        names = [d[0] for d in query_rows.description]
        rows = [dict(zip(names, row)) for row in query_rows.fetchall()]
        undecided: set[int] = set()
        if any(r["@p:rule"] == UNDECIDED or (r["@p:climb"] is not None and int(r["@p:climb"]) <= -200) for r in rows):
            undecided = {int(row) for (row,) in connection.execute(
                f"SELECT \"@p:row\" FROM (\n{query}) WHERE \"@p:rule\" = {UNDECIDED} OR \"@p:climb\" <= -200").fetchall()}
    except duckdb.Error as exc:
        raise TrafficError(f"{traffic}: DuckDB could not read it: {str(exc).splitlines()[0]}") from None
    finally:
        connection.close()
    run = _tally_groups(ir, rows, caps, baseline, down, notes)
    if undecided:  # values SQL cannot hold exactly: these records are decided by the python engine
        feeder = _Feeder(policy, baseline=baseline, down=down, by=by, groups=run.groups, errors=run.errors)
        for location, record in records(traffic):
            if location in undecided:
                feeder.feed(location, record)
    return run


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _col(name: str) -> str:
    return _ident(f"@p:{name}")


def _tally_groups(ir: PolicyIR, rows: list[dict[str, Any]], caps: list[int], baseline: str | None,
                  down: dict[str, str], notes: list[str]) -> Run:
    from ..backends.sql.query import NO_RULE, UNDECIDED

    groups: dict[str | None, Tally] = {}
    errors = Errors()
    total = 0
    route = ir.route
    fallback_table: dict[str, dict[str, str]] = {}
    for fb in ir.fallbacks:
        for error in fb.errors:
            fallback_table.setdefault(fb.source, {}).setdefault(error, fb.target)

    @lru_cache(maxsize=None)
    def served(index: int, reached: int) -> tuple[Served, int | None]:
        rule = route[index]
        steps = ir.steps(rule)
        result = walk(_Plain(steps), fails=down.get, observe=lambda step: {} if step + 1 < reached else None,
                      fallback=lambda m, e: fallback_table.get(m, {}).get(e),
                      escalate=lambda d, s, o: steps[s + 1] if s + 1 < reached else None,
                      cap=lambda m: cap_of(ir, rule, m))
        return summarize(ir, rule, result), result.unserved

    for row in sorted(rows, key=lambda r: (r["first"],)):
        n, first = int(row["n"]), int(row["first"])
        total += n
        if row["broken"]:
            errors.add("R002", first, None, None, n)
            continue
        if row["@p:error"] is not None:
            errors.add(row["@p:error"], first, row["first_signal"], None, n)
            continue
        index = row["@p:rule"]
        if index == UNDECIDED:
            continue  # a value SQL cannot hold exactly: the python engine decides these rows
        if row["@p:token_error"] is not None:
            errors.add("R002", first, row["@p:token_error"], None, n)
            continue
        if index == NO_RULE:
            notes.append(f"{n} requests matched no rule")
            continue
        marker = int(row["@p:climb"])
        rule = route[index]
        full = len(ir.steps(rule))
        plain, unserved_at = served(index, full or 1)
        stop = None  # the step whose outcome could not be read, if the walk gets there
        if marker <= -200:
            continue  # an outcome SQL cannot hold exactly: the python engine decides these rows
        if marker <= -100:
            stop, code = -(marker + 100), row["@p:ocode"]
        reached = marker if marker > 0 else (stop or 0) + 1
        if unserved_at is not None and unserved_at < reached:
            reached, stop = unserved_at + 1, None
        if stop is not None:
            errors.add(code, first, row["first_signal"], None, n)
            continue
        summary, _ = served(index, reached)
        key = row["@p:group"]
        tally = groups.setdefault(key, Tally())
        outs = {c: int(row[f"out{c}"]) for c in caps}
        base_tokens = (int(row["itok"]), int(row["outbase"])) if baseline is not None else None
        account(tally, rule, summary, n, int(row["itok"]), lambda cap: outs[cap], int(row["given"]), base_tokens)
    return Run(groups, errors, total, notes)


ENGINES: dict[str, Callable[..., Run]] = {"python": run_python, "duckdb": run_duckdb}

