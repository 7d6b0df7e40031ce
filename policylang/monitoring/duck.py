"""The duckdb engine: the logs read where they lie by an embedded DuckDB, into the same Tally
as the python engine.

Each JSON line is read as text (simulation's `lines`, which marks the lines DuckDB's parser
could read otherwise than Python's `json`) and parsed once in SQL. A line is *plain* when SQL can
read it exactly as `reading.facts` does: every field of the sort the log writes, costs of at
most 12 + 18 digits (exact in DECIMAL(38, 18)), whole numbers within 2**53 (exact as doubles),
finite numbers, no key twice in any object. The plain rows are counted by SQL; every other row
(a doubtful line, no JSON, no decision record, an odd field) is handed to the python engine's
`Counting` at its line, and the two Tallies are merged. The quantiles are computed in SQL over
the plain rows' values and the python rows' values together, by the same nearest rank.
"""

from __future__ import annotations

import json

from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

from ..backends.sql.text import ident, string
from .reading import ENDS, PARQUET, PLAIN_MONEY, PLAIN_TIME, read_line, records
from .tally import QUANTILES, Counting, Options, Tally, note, scope_filter

STRUCTURE = ('{"event": "JSON", "time": "JSON", "policy": "JSON", "policy_sha256": "JSON", "rule": "JSON", '
             '"end": "JSON", "path": ["JSON"], "cost": "JSON", "seconds": "JSON", "signals": "JSON", "arm": "JSON", '
             '"run_id": "JSON", "shadow": ["JSON"], "attempts": [{"model": "JSON", "step": "JSON", "error": "JSON", '
             '"skipped": "JSON", "cost": "JSON", "ttft": "JSON", "outcomes": "JSON"}]}')
"""A record as DuckDB parses it once: every field a small JSON value, read further in SQL."""
CONTROL = [*range(0, 9), *range(10, 32), 127, 0xFEFF]


INT_TEXT = r"-?[0-9]{1,15}"
"""A whole number SQL reads as Python does: at most 15 digits, exact as a double."""
NUMBER_TEXT = r"-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?"


def _none(x: str) -> str:
    """A field absent or null (json_transform makes a JSON null a SQL NULL)."""
    return f"({x} IS NULL)"


def _str(x: str) -> str:
    """A JSON string: json_transform gives each "JSON" field as minified JSON text, so its first
    character says its sort without parsing it again."""
    return f"coalesce(starts_with({x}, '\"'), false)"


def _is(x: str, opening: str) -> str:
    return f"coalesce(starts_with({x}, '{opening}'), false)"


def _text(x: str) -> str:
    return f"json_extract_string({x}, '$')"


def _int(x: str) -> str:
    return f"coalesce(regexp_full_match({x}, {string(INT_TEXT)}), false)"


def _number(x: str, non_negative: bool) -> str:
    """A finite JSON number that is exactly the double Python's float() makes of it."""
    floor = f" AND TRY_CAST({x} AS DOUBLE) >= 0" if non_negative else ""
    return (f"(coalesce({_int(x)} OR (regexp_full_match({x}, {string(NUMBER_TEXT)}) AND isfinite(TRY_CAST({x} AS DOUBLE))), "
            f"false){floor})")


def _once(keys: str) -> str:
    """No key twice in a list of keys (NULL lists pass)."""
    return f"coalesce(len({keys}) = len(list_distinct({keys})), true)"


def _group_sql(by: str | None) -> tuple[str, str]:
    """(the group's SQL value, the condition that SQL reads it as `group_key` does)."""
    if by is None:
        return "NULL::VARCHAR", "true"
    if by in ("arm", "policy"):
        return _text(f"j.{by}"), "true"
    g = f"json_transform(j.signals, {string(chr(123) + json.dumps(by) + ': ' + chr(34) + 'JSON' + chr(34) + chr(125))}).{ident(by)}::VARCHAR"
    value = (f"CASE WHEN {_none(g)} THEN NULL WHEN {_str(g)} THEN {_text(g)} ELSE {g} END")
    plain = f"({_none(g)} OR {_str(g)} OR {g} IN ('true', 'false') OR {_int(g)})"
    return value, plain


def doubt_sql() -> str:
    """A line Python's `json` and DuckDB's parser may read otherwise (simulation's `lines`): a
    control character other than tab, a byte-order mark, NaN or Infinity, a surrogate escape,
    a comma before a closing bracket. Tested with `contains` first: a regular expression over
    every line costs more than the rest of the query."""
    control = " OR ".join(f"contains(line, chr({c}))" for c in CONTROL)
    return (f"({control} OR contains(line, 'NaN') OR contains(line, 'Infinity') "
            "OR (contains(line, '\\u') AND regexp_matches(line, '\\\\u[dD][89a-fA-F]')) "
            "OR regexp_matches(line, ',[ \t\r\n]*[\\]}]'))")


def facts_sql(readers: list[tuple[int, str]], options: Options) -> list[str]:
    """SQL statements over the files' readers ((index, a table of their lines as `line`, in
    order)) that make table `facts`: one row per non-blank line, `r` its line number,
    with `kind` ('run', 'start' or 'other': for Python) and, for runs, their facts as columns.
    `kind` is written once in the SELECT, so that DuckDB evaluates its checks once; the parse
    (`j`) is a column of the subquery, computed once per line."""
    ends = ", ".join(string(e) for e in ENDS)
    attempt_ok = (f"a.model IS NOT NULL AND {_str('a.model')} AND {_int('a.step')} "
                  f"AND ({_none('a.error')} OR {_str('a.error')}) AND ({_none('a.skipped')} OR {_str('a.skipped')}) "
                  f"AND (a.cost IS NULL OR ({_str('a.cost')} AND regexp_full_match({_text('a.cost')}, {string(PLAIN_MONEY)}))) "
                  f"AND ({_none('a.ttft')} OR {_number('a.ttft', True)}) "
                  f"AND ({_none('a.outcomes')} OR ({_is('a.outcomes', '{')} AND {_once('json_keys(a.outcomes)')}))")
    shadow_ok = (f"coalesce(list_bool_and(list_transform(j.shadow, lambda s: {_is('s', chr(123))} "
                 f"AND {_once('json_keys(s)')} AND {_str(chr(40) + 's->' + string('$.policy') + chr(41))} "
                 f"AND ({_none('(s->' + string('$.rule') + ')')} OR {_str('(s->' + string('$.rule') + ')')}))), true)")
    group, group_ok = _group_sql(options.by)
    time_text = _text("j.time")
    run_ok = f"""({_none('j.event')} OR ({_str('j.event')} AND {_text('j.event')} = 'end'))
        AND {_str('j.time')} AND regexp_full_match({time_text}, {string(PLAIN_TIME)})
        AND TRY_CAST({time_text} AS TIMESTAMPTZ) IS NOT NULL
        AND {_str('j.policy')} AND ({_none('j.policy_sha256')} OR {_str('j.policy_sha256')})
        AND ({_none('j.rule')} OR {_str('j.rule')}) AND {_str('j.end')} AND {_text('j.end')} IN ({ends})
        AND j.path IS NOT NULL AND coalesce(list_bool_and(list_transform(j.path, lambda m: {_str('m')})), true)
        AND {_str('j.cost')} AND regexp_full_match({_text('j.cost')}, {string(PLAIN_MONEY)})
        AND ({_none('j.seconds')} OR {_number('j.seconds', True)})
        AND ({_none('j.signals')} OR ({_is('j.signals', chr(123))} AND {_once('json_keys(j.signals)')}))
        AND ({_none('j.arm')} OR {_str('j.arm')}) AND ({_none('j.run_id')} OR {_str('j.run_id')})
        AND j.attempts IS NOT NULL
        AND coalesce(list_bool_and(list_transform(att, lambda a: {attempt_ok})), true)
        AND len(akeys) = len(j.attempts) AND coalesce(list_bool_and(list_transform(akeys, lambda k: {_once('k')})), true)
        AND (j.shadow IS NOT NULL OR NOT coalesce(list_contains(topkeys, 'shadow'), false))
        AND {shadow_ok} AND {group_ok} AND {_once('topkeys')}"""
    start_ok = f"{_str('j.event')} AND {_text('j.event')} = 'start' AND {_str('j.run_id')} AND {_once('topkeys')}"
    made = ("list_transform(att, lambda a: {'model': " + _text("a.model") + ", 'step': TRY_CAST(a.step AS BIGINT), "
            "'error': " + _text("a.error") + ", 'skipped': " + _text("a.skipped") + ", "
            "'cost': TRY_CAST(coalesce(" + _text("a.cost") + ", '0') AS DECIMAL(38, 18)), "
            "'ttft': TRY_CAST(a.ttft AS DOUBLE)})")
    final = f"list_filter(att, lambda a: {_none('a.error')} AND {_none('a.skipped')})[-1].outcomes"
    entries = f"try(map_entries(json_transform({final}, '\"MAP(VARCHAR, JSON)\"')))"
    outcome_ok = (f"coalesce(list_bool_and(list_transform({entries}, lambda o: o.value IS NULL OR "
                  f"NOT regexp_full_match(o.value, '-?[0-9].*') OR {_number('o.value', False)})), true)")
    outcomes = (f"coalesce(list_filter(list_transform({entries}, lambda o: "
                "{'name': o.key, 'b': CASE WHEN o.value IN ('true', 'false') THEN o.value = 'true' END, "
                "'x': CASE WHEN regexp_full_match(o.value, '-?[0-9].*') THEN TRY_CAST(o.value AS DOUBLE) END}), "
                "lambda o: o.b IS NOT NULL OR o.x IS NOT NULL), [])")
    parsed = " UNION ALL ".join(
        f"SELECT {index} AS f, r, doubt, topkeys, akeys, j FROM (SELECT row_number() OVER () AS r, * FROM ("
        f"SELECT (line IS NULL OR trim(line, ' \t\r') = '') AS blank, {doubt_sql()} AS doubt, "
        f"try(json_keys(line)) AS topkeys, try(json_keys(line, '$.attempts[*]')) AS akeys, "
        f"try(json_transform(line, {string(STRUCTURE)})) AS j FROM {reader})) WHERE NOT blank"
        for index, reader in readers)
    kind = (f"CASE WHEN doubt OR j IS NULL THEN 'other' WHEN {start_ok} THEN 'start' WHEN {run_ok} AND {outcome_ok} "
            f"THEN 'run' ELSE 'other' END")
    # every column but `kind` is read whatever the kind (TRY_CAST: junk, never an error, in the
    # rows that are no plain run); `kind` is used once, so that DuckDB evaluates it once
    facts = f"""SELECT f, r, {kind} AS kind, {_text('j.run_id')} AS run_id,
        epoch_us(TRY_CAST({time_text} AS TIMESTAMPTZ)) AS t,
        {_text('j.policy')} AS policy, {_text('j.policy_sha256')} AS sha256, {_text('j.rule')} AS rule,
        {_text('j.end')} AS "end", list_transform(j.path, lambda m: {_text('m')}) AS path,
        TRY_CAST({_text('j.cost')} AS DECIMAL(38, 18)) AS cost, TRY_CAST(j.seconds AS DOUBLE) AS seconds,
        {group} AS grp, {made} AS attempts, {outcomes} AS outcomes,
        coalesce(list_transform(j.shadow, lambda s: {{'policy': {_text("s->'$.policy'")},
            'rule': {_text("s->'$.rule'")}}}), []) AS shadow,
        coalesce(json_keys(j.signals), []) AS signal_names
        FROM (SELECT *, j.attempts AS att FROM ({parsed}))"""
    return [f"INSERT INTO facts {facts}"]


FACTS = ("f INTEGER, r BIGINT, kind VARCHAR, run_id VARCHAR, t BIGINT, policy VARCHAR, sha256 VARCHAR, rule VARCHAR, "
         "\"end\" VARCHAR, path VARCHAR[], cost DECIMAL(38, 18), seconds DOUBLE, grp VARCHAR, "
         "attempts STRUCT(model VARCHAR, step BIGINT, error VARCHAR, skipped VARCHAR, cost DECIMAL(38, 18), ttft DOUBLE)[], "
         "outcomes STRUCT(name VARCHAR, b BOOLEAN, x DOUBLE)[], shadow STRUCT(policy VARCHAR, rule VARCHAR)[], "
         "signal_names VARCHAR[]")
"""The table both readers fill: one row per record (duck.facts_sql, parquet.parquet_sql)."""


def sources(files: list[Path], by: str | None) -> tuple[list[tuple[int, str]], list[str], list[int]]:
    """(index, SQL reader of its lines) for the JSON lines files DuckDB reads, SELECTs of the
    facts of the Parquet files it reads, and the indexes of the files the python engine reads
    whole (those DuckDB's reader would split otherwise, Parquet of other types)."""
    from ..simulation import lines
    from .parquet import parquet_sql, typed

    parts, parquets, whole = [], [], []
    for index, path in enumerate(files):
        if path.suffix.lower() in PARQUET:
            schema = typed(path, by)
            if schema is None:
                whole.append(index)
            else:
                parquets.append(parquet_sql(index, path, schema, by))
            continue
        delim, _why = lines.delimiter(path)
        if delim is None:
            whole.append(index)
            continue
        reader = (f"read_csv({string(str(path))}, columns = {{'line': 'VARCHAR'}}, "
                  f"delim = {string(delim.decode('ascii'))}, quote = '', escape = '', header = false, "
                  "auto_detect = false, max_line_size = 1073741824, strict_mode = false)")
        parts.append((index, reader))
    return parts, parquets, whole


def count_duckdb(files: list[Path], options: Options) -> Tally:
    """The duckdb engine: the Tally `count_python` gives for the same files and options."""
    try:
        import duckdb
    except ImportError:
        from .reading import LogError

        raise LogError("the duckdb engine needs DuckDB: pip install 'policylang[duckdb]', or use --engine python") from None
    tally = Tally(files=[str(f) for f in files])
    counting = Counting(options, Tally(files=tally.files))
    try:
        parts, parquets, whole = sources(files, options.by)
    except OSError as exc:
        from .reading import LogError

        raise LogError(f"{exc.filename}: cannot read it: {exc.strerror or exc}") from None
    connection = duckdb.connect(config={"preserve_insertion_order": True})
    try:
        connection.execute("SET enable_progress_bar = false")
        connection.execute("SET TimeZone = 'UTC'")
        for index in whole:
            for number, item in records(files[index]):
                counting.feed((index, number), item)
        connection.execute(f"CREATE TEMP TABLE facts ({FACTS})")
        if parts:
            for statement in facts_sql(parts, options):
                connection.execute(statement)
        for select in parquets:
            connection.execute(f"INSERT INTO facts {select}")
        _python_rows(connection, files, counting)
        _aggregate(connection, tally, options)
        other = counting.finish(lambda scope: False)
        merge(tally, other)
        _unfinished(connection, tally, counting)
        _quantiles(connection, tally, options, counting)
    except duckdb.Error as exc:
        from .reading import LogError

        raise LogError(f"DuckDB could not read the logs: {str(exc).splitlines()[0]}") from None
    finally:
        connection.close()
    return tally


def _python_rows(connection: Any, files: list[Path], counting: Counting) -> None:
    """Feed the rows SQL left to Python to the python engine, reading only those lines."""
    wanted: dict[int, set[int]] = {}
    for f, r in connection.execute("SELECT f, r FROM facts WHERE kind = 'other'").fetchall():
        wanted.setdefault(int(f), set()).add(int(r))
    for index, rows in sorted(wanted.items()):
        last = max(rows)
        if files[index].suffix.lower() in PARQUET:
            for number, row in records(files[index]):
                if number in rows:
                    counting.feed((index, number), row)
                if number >= last:
                    break
            continue
        with open(files[index], "rb") as stream:
            for number, raw in enumerate(stream, start=1):
                if number in rows:
                    item = read_line(raw)
                    if item is not None:
                        counting.feed((index, number), item)
                if number >= last:
                    break


def _where(options: Options) -> str:
    """The runs the report counts: in the window, of the chosen policy."""
    conditions = ["kind = 'run'"]
    if options.since is not None:
        conditions.append(f"t >= {options.since}")
    if options.until is not None:
        conditions.append(f"t < {options.until}")
    if options.policy is not None:
        conditions.append(f"policy = {string(options.policy)}")
    return " AND ".join(conditions)


def _bucket(options: Options) -> str:
    return f"(t // {options.every * 1_000_000}) * {options.every}" if options.every else "NULL::BIGINT"


def _aggregate(connection: Any, tally: Tally, options: Options) -> None:
    """Fill the Tally's counts and sums from the plain rows."""
    q = connection.execute
    tally.records += q("SELECT count(*) FROM facts WHERE kind <> 'other'").fetchone()[0]
    tally.starts += q("SELECT count(*) FROM facts WHERE kind = 'start'").fetchone()[0]
    window = ["kind = 'run'"] + [c for c in _where(Options(since=options.since, until=options.until)).split(" AND ")[1:]]
    tally.outside += q(f"SELECT count(*) FROM facts WHERE kind = 'run' AND NOT ({' AND '.join(window)})").fetchone()[0]
    if options.policy is not None:
        tally.skipped_policy += q(f"SELECT count(*) FROM facts WHERE {' AND '.join(window)} AND policy <> "
                                  f"{string(options.policy)}").fetchone()[0]
    where = _where(options)
    for policy, n, f, r in q(f"SELECT policy, count(*), arg_min(f, (f, r)), arg_min(r, (f, r)) FROM facts WHERE {where} "
                             "GROUP BY policy").fetchall():
        note(tally.policies, policy, (int(f), int(r)), int(n))
    if options.sha256 is not None:
        for sha, n, f, r in q(f"SELECT sha256, count(*), arg_min(f, (f, r)), arg_min(r, (f, r)) FROM facts WHERE {where} "
                              f"AND sha256 IS NOT NULL AND sha256 <> {string(options.sha256)} GROUP BY sha256").fetchall():
            note(tally.versions, sha, (int(f), int(r)), int(n))
    if options.signals is not None:
        known = "[" + ", ".join(string(s) for s in sorted(options.signals)) + "]"
        for name, n, f, r in q(f"SELECT name, count(*), arg_min(f, (f, r)), arg_min(r, (f, r)) FROM (SELECT f, r, "
                               f"unnest(signal_names) AS name FROM facts WHERE {where}) WHERE NOT list_contains({known}, name) "
                               "GROUP BY name").fetchall():
            note(tally.unknown_signals, name, (int(f), int(r)), int(n))
    bucket = _bucket(options)
    falls = ("coalesce(list_filter(list_transform(range(1, len(attempts)), lambda i: CASE WHEN attempts[i].error IS NOT NULL "
             "AND attempts[i + 1].step = attempts[i].step AND attempts[i + 1].model <> attempts[i].model "
             "THEN {'model': attempts[i].model, 'error': attempts[i].error} END), lambda x: x IS NOT NULL), [])")
    success = (f"list_filter(outcomes, lambda o: o.name = {string(options.success)})[1].b" if options.success is not None
               else "NULL::BOOLEAN")
    q(f"CREATE TEMP VIEW counted AS SELECT *, {bucket} AS bucket, {falls} AS falls, {success} AS success "
      f"FROM facts WHERE {where}")
    for g, b, rule, end, path, fell, good, n, cost in q(
            "SELECT grp, bucket, rule, \"end\", path, len(falls) > 0, success, count(*), sum(cost) FROM counted "
            "GROUP BY ALL").fetchall():
        key = (g, b, rule, end, tuple(path), bool(fell), good)
        _add(tally.runs, key, int(n), Decimal(cost))
    for g, b, model, error, skipped, n, cost in q(
            "SELECT grp, bucket, a.model, a.error, a.skipped, count(*), sum(a.cost) FROM (SELECT grp, bucket, "
            "unnest(attempts) AS a FROM counted) GROUP BY ALL").fetchall():
        _add(tally.attempts, (g, b, model, error, skipped), int(n), Decimal(cost))
    for g, b, model, error, n in q("SELECT grp, bucket, x.model, x.error, count(*) FROM (SELECT grp, bucket, "
                                   "unnest(falls) AS x FROM counted) GROUP BY ALL").fetchall():
        tally.fallbacks[(g, b, model, error)] += int(n)
    for path, name, flag, number, n in q("SELECT path, o.name, o.b, o.x, count(*) FROM (SELECT path, unnest(outcomes) AS o "
                                         "FROM counted) GROUP BY ALL").fetchall():
        entry = tally.outcomes.setdefault((tuple(path), name), [0, 0, 0, Fraction(0)])
        if flag is not None:
            entry[0] += int(n)
            entry[1] += int(n) if flag else 0
        else:
            entry[2] += int(n)
            entry[3] += Fraction(number) * int(n)
    for candidate, live, rule, n in q("SELECT s.policy, rule, s.rule, count(*) FROM (SELECT rule, unnest(shadow) AS s "
                                      "FROM counted) GROUP BY ALL").fetchall():
        tally.shadow[(candidate, live, rule)] += int(n)


def _add(table: dict[tuple[Any, ...], list[Any]], key: tuple[Any, ...], n: int, cost: Decimal) -> None:
    entry = table.get(key)
    if entry is None:
        table[key] = [n, cost]
    else:
        entry[0] += n
        entry[1] += cost


def merge(into: Tally, other: Tally) -> None:
    """Add `other`'s counts and sums to `into` (not the quantiles nor unfinished runs)."""
    into.records += other.records
    into.starts += other.starts
    into.outside += other.outside
    into.skipped_policy += other.skipped_policy
    for mine, theirs in ((into.problems, other.problems), (into.policies, other.policies),
                         (into.versions, other.versions), (into.unknown_signals, other.unknown_signals)):
        for key, (n, first) in theirs.items():
            note(mine, key, first, n)
    for run, (n, cost) in other.runs.items():
        _add(into.runs, run, n, cost)
    for attempt, (n, cost) in other.attempts.items():
        _add(into.attempts, attempt, n, cost)
    into.fallbacks.update(other.fallbacks)
    into.shadow.update(other.shadow)
    for outcome, values in other.outcomes.items():
        entry = into.outcomes.setdefault(outcome, [0, 0, 0, Fraction(0)])
        for i in range(4):
            entry[i] += values[i]


def _unfinished(connection: Any, tally: Tally, counting: Counting) -> None:
    """Distinct start run_ids with no end record, over the SQL rows and the python rows."""
    connection.execute("CREATE TEMP TABLE py_ids (run_id VARCHAR, start BOOLEAN)")
    rows = [(i, True) for i in counting.started] + [(i, False) for i in counting.ended]
    if rows:
        connection.executemany("INSERT INTO py_ids VALUES (?, ?)", rows)
    tally.unfinished = connection.execute(
        "SELECT count(*) FROM (SELECT run_id FROM facts WHERE kind = 'start' UNION SELECT run_id FROM py_ids WHERE start "
        "EXCEPT (SELECT run_id FROM facts WHERE kind = 'run' AND run_id IS NOT NULL UNION SELECT run_id FROM py_ids "
        "WHERE NOT start))").fetchone()[0]


def _quantiles(connection: Any, tally: Tally, options: Options, counting: Counting) -> None:
    """Latency and ttft quantiles per scope, by nearest rank, over both engines' values."""
    connection.execute("CREATE TEMP TABLE py_values (what VARCHAR, scope VARCHAR, key VARCHAR, value DOUBLE, n BIGINT)")
    rows = []
    for what, table in (("latency", counting.latency), ("ttft", counting.ttft)):
        for (scope, key), histogram in table.items():
            rows += [(what, scope, None if key is None else str(key), value, n) for value, n in histogram.items()]
    if rows:
        connection.executemany("INSERT INTO py_values VALUES (?, ?, ?, ?, ?)", rows)
    has_facts = True
    bucket = _bucket(options)
    plain = []
    if has_facts:
        plain = [f"SELECT 'latency' AS what, seconds AS value, grp, {bucket} AS bucket FROM facts WHERE {_where(options)} "
                 "AND seconds IS NOT NULL AND \"end\" IN ('answered', 'incomplete')",
                 f"SELECT 'ttft' AS what, a.ttft AS value, grp, bucket FROM (SELECT grp, {bucket} AS bucket, unnest(attempts) AS a FROM facts "
                 f"WHERE {_where(options)}) WHERE a.ttft IS NOT NULL"]
    scopes = [("all", "NULL::VARCHAR")]
    if options.by is not None:
        scopes.append(("group", "grp"))
    if options.every is not None:
        scopes.append(("bucket", "CAST(bucket AS VARCHAR)"))
    keep = scope_filter(options)
    for scope, column in scopes:
        parts = [f"SELECT what, {column} AS key, value, 1 AS n FROM ({p})" for p in plain]
        parts.append(f"SELECT what, key, value, n FROM py_values WHERE scope = {string(scope)}")
        union = " UNION ALL ".join(parts)
        ranked = (f"SELECT what, key, value, sum(n) OVER (PARTITION BY what, key ORDER BY value ROWS UNBOUNDED PRECEDING) "
                  f"AS upto, sum(n) OVER (PARTITION BY what, key) AS total FROM (SELECT what, key, value, sum(n) AS n "
                  f"FROM ({union}) GROUP BY ALL)")
        wants = " , ".join(f"min(value) FILTER (WHERE upto >= greatest(1, ({p} * total + 99) // 100)) AS p{p}"
                           for p, _ in QUANTILES)
        for what, key, total, *values in connection.execute(
                f"SELECT what, key, any_value(total), {wants} FROM ({ranked}) GROUP BY what, key").fetchall():
            target = tally.latency if what == "latency" else tally.ttft
            real_key: Any = key
            if scope == "bucket" and key is not None:
                real_key = int(key)
            if keep((scope, real_key)):
                target[(scope, real_key)] = (int(total), float(values[0]), float(values[1]), float(values[2]))

