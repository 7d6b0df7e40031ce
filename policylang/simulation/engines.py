"""The two engines of `simulate` (section 9.3), filling the same tallies.

`python` streams the traffic file record by record through the compiled module and
`serving.walk`. `duckdb` runs the policy compiled to SQL (section 12) inside an embedded DuckDB,
reading the file where it lies, and groups the rows by what decides their tally (group, rule,
how far the climb went, request error); each group is then served on paper by the same `walk`,
since which model answers each step is fixed by `--down` when the query is written.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from ..codes import R002
from ..jsontext import read_record
from ..ir.policy import CascadeTarget, CheckedPolicy, Model, Rule
from ..policy import Policy
from ..serving import Walk, walk
from . import lines
from .report import Errors, Tally
from .traffic import Broken, TrafficError, csv_header, format_of, normalized, parse_line, records, shallow

if TYPE_CHECKING:  # the SQL back end is imported when the duckdb engine runs
    from ..backends.sql.columns import Layout


@dataclass(frozen=True)
class Served:
    """A walk summarized for tallies: each call (model, answered, cap), the steps reached, the
    climb's edges, the fallbacks taken, whether a step went unserved, and the latency."""

    calls: tuple[tuple[str, bool, int], ...]
    edges: tuple[tuple[str, str, str], ...]
    fallbacks: tuple[tuple[str, str, str | None], ...]
    unserved: bool
    latency: Decimal


def summarize(ir: CheckedPolicy, rule: Rule, served: Walk) -> Served:
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
    """The python engine's tallies, fed one record at a time through the compiled module.

    A policy has few distinct ways to serve a request, so the feeder does not account each
    record on its own: it serves each distinct decision once (`_plain`, and `_climbs` for the
    records whose `@outcomes` climb a cascade), numbers each distinct (rule, walk), and counts per
    (group, walk) how many records, their input tokens and their `@output_tokens`, as ints.
    `finish` then accounts each (group, walk) once, so the Decimal work is per distinct key,
    not per record. The sums are exact, so the tallies equal those of one `account` per record.
    """

    def __init__(self, policy: Policy, *, baseline: str | None, down: dict[str, str], by: str | None,
                 groups: dict[str | None, Tally], errors: Errors) -> None:
        ir = self.ir = policy.ir
        module = policy.compiled
        self.decide, self.escalate, self.fallback = module.decide, module.escalate, module.fallback
        self.RequestError = module.RequestError
        self.rules = {r.name: r for r in ir.route}
        tokens = next((s for s in ir.signals if s.name == "input_tokens" and s.role == "signal"), None)
        self.has_tokens = tokens is not None
        # an absent `input_tokens` is decided with its default, and counted so (without a
        # default, `decide` has already made the record R001)
        self.tokens_default: Any = tokens.default if tokens is not None else None
        self.by = by
        self.by_default = next((s.default for s in ir.inputs if s.name == by), None)
        self.base = ir.model(baseline) if baseline is not None else None
        self.groups, self.errors, self.fails = groups, errors, down.get
        # Every cap a call may get (each rule's with each model) and the baseline's, ascending.
        # An output at or below the least is never cut: those are summed as they are. One above
        # is cut the same by every cap at or below the cap just under it, and by none above:
        # those are counted and summed per interval between caps (`_long`), so that the output
        # at any cap is still exact (`finish`).
        caps = {r.cap_for(m) for r in ir.route for m in ir.models}
        if self.base is not None:
            caps.add(self.base.max_output)
        self.caps = sorted(caps)
        self.short = self.caps[0] if self.caps else 0
        self._walks: list[tuple[Rule, Served]] = []  # each distinct (rule, walk), numbered
        self._numbers: dict[tuple[str, Served], int] = {}
        self._plain: dict[str, tuple[tuple[str, ...], int]] = {}  # rule -> (its steps, its walk without outcomes)
        self._climbs: dict[tuple[Any, ...], int | tuple[str, str | None, str]] = {}  # see `_climb`
        self._counts: dict[tuple[str | None, int], list[int]] = {}  # (group, walk) -> [n, tokens in, given, outputs]
        self._long: dict[tuple[str | None, int, int], list[int]] = {}  # (group, walk, interval) -> [n, outputs]

    def _number(self, rule: Rule, served: Served) -> int:
        key = (rule.name, served)
        number = self._numbers.get(key)
        if number is None:
            number = self._numbers[key] = len(self._walks)
            self._walks.append((rule, served))
        return number

    def _plain_walk(self, decision: Any) -> int:
        """The number of the walk of a decision served with no outcomes (no climb)."""
        entry = self._plain.get(decision.rule)
        steps = decision.steps
        if entry is not None and (entry[0] is steps or entry[0] == tuple(steps)):
            return entry[1]
        rule = self.rules[decision.rule]
        served = walk(_Plain(tuple(steps)), fails=self.fails, observe=lambda step: None, fallback=self.fallback,
                      escalate=lambda d, s, o: None, cap=lambda m: rule.cap_for(self.ir.model(m)))
        number = self._number(rule, summarize(self.ir, rule, served))
        self._plain[decision.rule] = (steps, number)
        return number

    def _climb(self, decision: Any, outcomes: list[dict[str, Any]]) -> int | tuple[str, str | None, str]:
        """The number of the walk of a decision served with these outcomes, or the request
        error (code, signal, message) an outcome raised. Cached by everything the walk reads:
        the rule, its model and steps, the signals the decision carries for its escalations, and each
        outcome's keys and values with their types (True and 1 are equal keys, not equal
        outcomes). Values that cannot be keyed (a list) are served uncached."""
        try:
            carried = getattr(decision, "_signals", None)
            key = (decision.rule, decision.model, tuple(decision.steps),
                   None if carried is None else tuple((k, v.__class__, v) for k, v in carried.items()),
                   tuple(tuple((k, v.__class__, v) for k, v in o.items()) for o in outcomes))
            known = self._climbs.get(key)
        except TypeError:  # an unhashable value
            key, known = None, None
        if known is not None:
            return known
        rule = self.rules[decision.rule]
        try:
            served = walk(decision, fails=self.fails,
                          observe=lambda step: outcomes[step] if step < len(outcomes) else None,
                          fallback=self.fallback, escalate=self.escalate, cap=lambda m: rule.cap_for(self.ir.model(m)))
            result: int | tuple[str, str | None, str] = self._number(rule, summarize(self.ir, rule, served))
        except self.RequestError as exc:
            result = (exc.code, exc.signal, exc.message)
        if key is not None:
            if len(self._climbs) >= 16384:  # distinct outcomes without end (a float confidence): memory stays flat
                self._climbs.clear()
            self._climbs[key] = result
        return result

    def _group(self, signals: dict[str, Any]) -> str | None:
        if self.by is None:
            return None
        value = signals.get(self.by, self.by_default)
        return value if value.__class__ is str else _group_key(value)

    def _count(self, group: str | None, number: int, tokens_in: int, output: int | None) -> None:
        counts = self._counts.get((group, number))
        if counts is None:
            counts = self._counts[(group, number)] = [0, 0, 0, 0]
        counts[0] += 1
        counts[1] += tokens_in
        if output is not None:
            counts[2] += 1
            if output <= self.short:
                counts[3] += output
            else:
                self._add_long(group, number, output)

    def _add_long(self, group: str | None, number: int, output: int) -> None:
        """Count an output above the least cap in its interval: above caps[i - 1], at or below
        caps[i] (i = len(caps): above every cap)."""
        key = (group, number, bisect_left(self.caps, output))
        counts = self._long.get(key)
        if counts is None:
            counts = self._long[key] = [0, 0]
        counts[0] += 1
        counts[1] += output

    def feed(self, location: int, record: dict[str, Any] | Broken) -> None:
        """Decide and serve one record (nulls already dropped), counting it in its group or
        in the errors."""
        errors = self.errors
        if isinstance(record, Broken):
            errors.add(R002.code, location, None, record.message)
            return
        outcomes = record.get("@outcomes")
        if outcomes is not None and not (isinstance(outcomes, list) and all(isinstance(o, dict) for o in outcomes)):
            errors.add(R002.code, location, None, "@outcomes is a list of objects of outcomes, one per step")
            return
        signals = {k: v for k, v in record.items() if not k.startswith("@")}
        try:
            decision = self.decide(signals)
        except self.RequestError as exc:
            errors.add(exc.code, location, exc.signal, exc.message)
            return
        except RecursionError:  # a value nested nearly as deep as `json` reads, shown in an error message
            self.feed(location, shallow(record))
            return
        output = record.get("@output_tokens")
        if output is not None and not _valid_tokens(output):
            errors.add(R002.code, location, "@output_tokens", "@output_tokens must be a whole number >= 0")
            return
        if self.has_tokens:
            tokens_in = signals.get("input_tokens", self.tokens_default)
        else:
            tokens_in = record.get("@input_tokens", 0)
            if not _valid_tokens(tokens_in):
                errors.add(R002.code, location, "@input_tokens", "@input_tokens must be a whole number >= 0")
                return
        if outcomes:
            try:
                climbed = self._climb(decision, outcomes)
            except RecursionError:  # as above, in an outcome
                self.feed(location, shallow(record))
                return
            if isinstance(climbed, tuple):
                code, signal, message = climbed
                errors.add(code, location, signal, message)
                return
            number = climbed
        else:
            number = self._plain_walk(decision)
        self._count(self._group(signals), number, tokens_in, output)

    def feed_jsonl(self, path: str, progress: Callable[[int], None] | None) -> int:
        """Every record of a JSON lines file, as `traffic.records` reads them and `feed` counts
        them, with the common record (an object whose signals decide, no `@outcomes`, valid
        tokens) counted here in line; any other goes through `feed`. Returns the records read."""
        decide, RequestError, plain, counts, by, short = (self.decide, self.RequestError, self._plain,
                                                          self._counts, self.by, self.short)
        has_tokens, tokens_default, add_long, feed = self.has_tokens, self.tokens_default, self._add_long, self.feed
        by_default, loads = self.by_default, read_record
        count = 0
        with open(path, "rb") as stream:
            for location, line in enumerate(stream, start=1):
                try:
                    raw = loads(line)
                except ValueError:  # refused (not JSON, not UTF-8, a key twice...) or a blank line
                    raw = parse_line(location, line)
                    if raw is None:
                        continue
                if raw.__class__ is not dict:
                    raw = parse_line(location, line)  # None is no blank here: read_record read a value
                count += 1
                if progress is not None and not count & 65535:
                    progress(count)
                if raw.__class__ is Broken:
                    feed(location, raw)
                    continue
                try:
                    signals = {k: v for k, v in raw.items() if k[0] != "@" and v is not None}
                except IndexError:  # an empty key
                    feed(location, normalized(raw))
                    continue
                if raw.get("@outcomes") is not None:
                    feed(location, normalized(raw))
                    continue
                try:
                    decision = decide(signals)
                except RequestError as exc:
                    self.errors.add(exc.code, location, exc.signal, exc.message)
                    continue
                except RecursionError:  # see `feed`
                    feed(location, normalized(raw))
                    continue
                output = raw.get("@output_tokens")
                if output is not None and not (output.__class__ is int and output >= 0):
                    feed(location, normalized(raw))
                    continue
                if has_tokens:
                    tokens_in = signals.get("input_tokens", tokens_default)
                else:
                    tokens_in = raw.get("@input_tokens")
                    if tokens_in is None:
                        tokens_in = 0
                    elif not (tokens_in.__class__ is int and tokens_in >= 0):
                        feed(location, normalized(raw))
                        continue
                entry = plain.get(decision.rule)
                number = entry[1] if entry is not None and entry[0] is decision.steps else self._plain_walk(decision)
                if by is None:
                    group = None
                else:
                    group = signals.get(by, by_default)
                    if group.__class__ is not str:
                        group = _group_key(group)
                tally = counts.get((group, number))
                if tally is None:
                    tally = counts[(group, number)] = [0, 0, 0, 0]
                tally[0] += 1
                tally[1] += tokens_in
                if output is not None:
                    tally[2] += 1
                    if output <= short:
                        tally[3] += output
                    else:
                        add_long(group, number, output)
        return count

    def finish(self) -> None:
        """Account each (group, walk) counted, once, in its group's tally."""
        caps = self.caps
        longs: dict[tuple[str | None, int], list[tuple[int, int, int]]] = {}
        for (group, number, interval), (k, total) in self._long.items():
            longs.setdefault((group, number), []).append((interval, k, total))
        base = self.base
        for (group, number), (n, tokens_in, given, short_sum) in self._counts.items():
            rule, served = self._walks[number]
            long = longs.get((group, number), [])
            ungiven = n - given

            def outputs(cap: int, long: list[tuple[int, int, int]] = long, short_sum: int = short_sum,
                        ungiven: int = ungiven) -> int:
                # outputs above caps[i - 1] and at most caps[i]: each is cut to `cap` if `cap`
                # is caps[i - 1] or less, and left whole if it is caps[i] or more
                at = caps.index(cap)
                return (short_sum + sum(total if at >= interval else k * cap for interval, k, total in long)
                        + ungiven * cap)

            tally = self.groups.get(group)
            if tally is None:
                tally = self.groups[group] = Tally()
            account(tally, rule, served, n, tokens_in, outputs, given,
                    (tokens_in, outputs(base.max_output)) if base is not None else None)
        self._counts.clear()
        self._long.clear()


def run_python(policy: Policy, traffic: str, *, baseline: str | None, down: dict[str, str], by: str | None,
               progress: Callable[[int], None] | None = None) -> Run:
    """Stream the file through the compiled module, one record at a time."""
    groups: dict[str | None, Tally] = {}
    errors = Errors()
    feeder = _Feeder(policy, baseline=baseline, down=down, by=by, groups=groups, errors=errors)
    if format_of(traffic) == "jsonl":
        count = feeder.feed_jsonl(traffic, progress)
    else:
        count = 0
        for location, record in records(traffic):
            count += 1
            if progress is not None and count % 65536 == 0:
                progress(count)
            feeder.feed(location, record)
    feeder.finish()
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
    from ..backends.sql.query import build

    ir = policy.ir
    kind = format_of(traffic)
    connection = duckdb.connect(config={"preserve_insertion_order": True})
    connection.execute("SET enable_progress_bar = false")  # DuckDB draws it on stdout, into the report
    # a condition nests up to 1,000 levels (E006 past that), and its SQL a few more than that
    connection.execute("SET max_expression_depth = 10000")
    notes: list[str] = []
    csv_broken = False
    try:
        source = _duckdb_source(connection, kind, traffic, duckdb.Error)
        if source is None:  # a file DuckDB cannot read as Python does: the python engine reads it
            return run_python(policy, traffic, baseline=baseline, down=down, by=by, progress=progress)
        table, layout = source
        caps = sorted({r.cap_for(ir.model(m)) for r in ir.route for s in ir.steps(r)
                       for m in (s, *ir.fallback_closure(s))})
        base = ir.model(baseline) if baseline is not None else None
        grouped = _grouped_sql(build(ir, layout, table, replay=by or "").text, kind, layout, caps, base)
        query_rows = connection.execute(grouped)
        names = [d[0] for d in query_rows.description]
        rows = [dict(zip(names, row)) for row in query_rows.fetchall()]
        undecided = {int(at) for row in rows for at in row["python"] or ()}
    except duckdb.Error as exc:
        if kind == "csv" and _unreadable_csv(str(exc)):  # found past DESCRIBE's sample: as above
            csv_broken = True
        else:
            raise TrafficError(f"{traffic}: DuckDB could not read it: {str(exc).splitlines()[0]}") from None
    finally:
        connection.close()
    if csv_broken:
        return run_python(policy, traffic, baseline=baseline, down=down, by=by, progress=progress)
    run = _tally_groups(ir, rows, caps, baseline, down, notes)
    if undecided:  # values SQL cannot hold exactly, or doubtful lines: the python engine decides these
        feeder = _Feeder(policy, baseline=baseline, down=down, by=by, groups=run.groups, errors=run.errors)
        for location, record in records(traffic, only=undecided):
            feeder.feed(location, record)
        feeder.finish()
    return run


def _duckdb_source(connection: Any, kind: str, traffic: str, error: type[Exception]) -> tuple[str, Layout] | None:
    """The table the query reads `traffic` from (each row numbered as `@p:row`) and its layout;
    None for a file the python engine must read instead, so that both engines report the same:
    a CSV file DuckDB cannot read (a quote left open, bytes that are not UTF-8, a row longer
    than its header), or JSON lines whose line ends DuckDB's reader would split otherwise."""
    from ..backends.sql.columns import Layout
    from ..backends.sql.text import string

    path = string(str(traffic))
    if kind == "parquet":
        table = f"(SELECT *, file_row_number + 1 AS \"@p:row\" FROM read_parquet({path}, file_row_number = true))"
        described = connection.execute(f"DESCRIBE SELECT * FROM read_parquet({path})").fetchall()
        return table, Layout("typed", {name: sql_type for name, sql_type, *_ in described})
    if kind == "csv":
        header = csv_header(traffic)  # a header Python refuses, DuckDB must not read (traffic.py)
        reader = (f"read_csv({path}, all_varchar = true, header = true, delim = ',', quote = '\"', "
                  f"escape = '\"', null_padding = true)")
        try:
            described = connection.execute(f"DESCRIBE SELECT * FROM {reader}").fetchall()
        except error:
            described = []
        if not header or len(described) != len(header):
            return None
        table = f"(SELECT *, row_number() OVER () AS \"@p:row\" FROM {reader})"
        return table, Layout("csv", {name: "VARCHAR" for name, *_ in described})
    delim, _ = lines.delimiter(traffic)
    if delim is None:  # DuckDB's reader would split its lines otherwise (lines.py)
        return None
    return lines.lines_sql(str(traffic), delim), Layout("json", {"@p:doubt": "BOOLEAN"})  # "@p:doubt": lines Python decides


def _grouped_sql(query: str, kind: str, layout: Layout, caps: list[int], base: Model | None) -> str:
    """The decided rows of `query` grouped by what the tallies count, with the output tokens
    summed at each cap (and the baseline's), and the rows the python engine decides listed."""
    from ..backends.sql.query import UNDECIDED

    sums = [f"sum(coalesce(least(\"@p:otok\", {c}), {c})) AS \"out{c}\"" for c in caps]
    if base is not None:
        sums.append(f"sum(coalesce(least(\"@p:otok\", {base.max_output}), {base.max_output})) AS \"outbase\"")
    if kind == "jsonl":
        doubt = "\"@p:doubt\""
    elif kind == "csv" and "@outcomes" in layout.columns:  # JSON text in a cell: doubted as a line is
        doubt = lines.cell_doubt_sql("\"@outcomes\"")
    else:
        doubt = "false"
    python = f"{doubt} OR \"@p:rule\" = {UNDECIDED} OR \"@p:climb\" <= -200"  # rows the python engine decides
    return (f"SELECT {doubt} AS doubt, \"@p:broken\" AS broken, \"@p:group\", \"@p:rule\", \"@p:climb\", "
            "\"@p:ocode\", \"@p:error\", \"@p:token_error\", count(*) AS n, min(\"@p:row\") AS first, "
            # the first row's signal even when it names none (arg_min would skip its null)
            "arg_min_null(coalesce(\"@p:error_signal\", \"@p:osignal\", \"@p:unheld\"), \"@p:row\") AS first_signal, "
            f"sum(\"@p:itok\") AS itok, count(\"@p:otok\") AS given, "
            f"list(\"@p:row\") FILTER (WHERE {python}) AS python"
            + "".join(f", {s}" for s in sums) + f" FROM (\n{query}) GROUP BY ALL")


def _unreadable_csv(message: str) -> bool:
    """Whether DuckDB's error says it could not read the CSV (its reader's own words)."""
    return "CSV Error" in message or "sniffing" in message or "unicode" in message.lower()


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _col(name: str) -> str:
    return _ident(f"@p:{name}")


def _tally_groups(ir: CheckedPolicy, rows: list[dict[str, Any]], caps: list[int], baseline: str | None,
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
                      cap=lambda m: rule.cap_for(ir.model(m)))
        return summarize(ir, rule, result), result.unserved

    for row in sorted(rows, key=lambda r: (r["first"],)):
        n, first = int(row["n"]), int(row["first"])
        total += n
        if row["doubt"]:
            continue  # a line Python's `json` may read otherwise: the python engine decides it
        if row["broken"]:
            errors.add(R002.code, first, None, None, n)
            continue
        if row["@p:error"] is not None:
            errors.add(row["@p:error"], first, row["first_signal"], None, n)
            continue
        index = row["@p:rule"]
        if index == UNDECIDED:
            continue  # a value SQL cannot hold exactly: the python engine decides these rows
        if row["@p:token_error"] is not None:
            errors.add(R002.code, first, row["@p:token_error"], None, n)
            continue
        if index == NO_RULE:
            notes.append(f"{n} request matched no rule" if n == 1 else f"{n} requests matched no rule")
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

