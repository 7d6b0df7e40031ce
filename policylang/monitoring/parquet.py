"""Parquet logs for the duckdb engine, read as typed columns where they lie.

A Parquet file's columns have one type for every row, so a file whose schema gives each field
the sort the log writes (`typed`) is read in SQL without parsing anything: only values are
checked (a time, a cost, an end, the nulls), as `reading.facts` checks them. The python engine
reads such a file row by row through pyarrow (`row` dicts with every column, nulls as None);
a row SQL cannot call plain goes to it at its row number, as a JSON line does. A file whose
schema has another type where a field is read (a timestamp for `time`, a decimal cost) is read
by the python engine whole, so both engines still agree.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .reading import ENDS

STRINGS = ("event", "time", "policy", "policy_sha256", "rule", "end", "cost", "arm", "run_id")


def _field(struct: Any, name: str) -> Any:
    """The type of `name` in a pyarrow struct type or schema, or None when absent."""
    index = struct.get_field_index(name)
    return None if index < 0 else struct.field(index).type


def _scalar(kind: Any, *allowed: str) -> bool:
    import pyarrow as pa

    checks = {"string": pa.types.is_string, "int": pa.types.is_int64, "float": pa.types.is_float64,
              "bool": pa.types.is_boolean}
    return kind is None or pa.types.is_null(kind) or any(checks[a](kind) for a in allowed)


def _list_of_struct(kind: Any) -> Any:
    """The element struct type of a list<struct>, None for an absent or null column, False otherwise."""
    import pyarrow as pa

    if kind is None or pa.types.is_null(kind):
        return None
    if pa.types.is_list(kind) and pa.types.is_struct(kind.value_type):
        return kind.value_type
    return False


def typed(path: Path, by: str | None) -> Any:
    """The file's pyarrow schema when SQL can read it as `reading.facts` reads its rows, else None."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(str(path))
    except Exception:  # not Parquet: the python engine says so at the file
        return None
    if len(set(schema.names)) != len(schema.names):
        return None
    if not all(_scalar(_field(schema, name), "string") for name in STRINGS):
        return None
    if not _scalar(_field(schema, "seconds"), "float", "int"):
        return None
    path_type = _field(schema, "path")
    if path_type is not None and not (pa.types.is_list(path_type) and _scalar(path_type.value_type, "string")):
        return None
    signals = _field(schema, "signals")
    if signals is not None and not (pa.types.is_null(signals) or pa.types.is_struct(signals)):
        return None
    if by not in (None, "arm", "policy") and signals is not None and pa.types.is_struct(signals):
        if not _scalar(_field(signals, by), "string", "bool", "int"):
            return None
    attempt = _list_of_struct(_field(schema, "attempts"))
    if attempt is False or (attempt is not None and not (
            _scalar(_field(attempt, "model"), "string") and _scalar(_field(attempt, "step"), "int")
            and _scalar(_field(attempt, "error"), "string") and _scalar(_field(attempt, "skipped"), "string")
            and _scalar(_field(attempt, "cost"), "string") and _scalar(_field(attempt, "ttft"), "float", "int"))):
        return None
    if attempt is not None:
        outcomes = _field(attempt, "outcomes")
        if outcomes is not None and not (pa.types.is_null(outcomes) or pa.types.is_struct(outcomes)):
            return None
    shadow = _list_of_struct(_field(schema, "shadow"))
    if shadow is False or (shadow is not None and not (
            _scalar(_field(shadow, "policy"), "string") and _scalar(_field(shadow, "rule"), "string"))):
        return None
    return schema


def parquet_sql(index: int, path: Path, schema: Any, by: str | None) -> str:
    """A SELECT of the `facts` columns (duck.FACTS) over the file, for a schema `typed` accepts."""
    import pyarrow as pa

    from ..backends.sql.text import ident, string
    from .reading import PLAIN_MONEY, PLAIN_TIME, SAFE_INTEGER

    def column(name: str) -> str:
        kind = _field(schema, name)
        return "NULL" if kind is None or pa.types.is_null(kind) else ident(name)

    def member(struct: Any, value: str, name: str) -> str:
        kind = _field(struct, name) if struct is not None else None
        return "NULL" if kind is None or pa.types.is_null(kind) else f"{value}.{ident(name)}"

    def number_ok(kind: Any, value: str, non_negative: bool) -> str:
        if kind is None or pa.types.is_null(kind):
            return "true"
        floor = f" AND {value} >= 0" if non_negative else ""
        if pa.types.is_int64(kind):
            return f"({value} IS NULL OR (abs({value}) <= {SAFE_INTEGER}{floor}))"
        return f"({value} IS NULL OR (isfinite({value}){floor}))"

    time, cost, end = column("time"), column("cost"), column("end")
    attempt = _list_of_struct(_field(schema, "attempts"))
    shadow = _list_of_struct(_field(schema, "shadow"))
    signals = _field(schema, "signals")
    signals = signals if signals is not None and pa.types.is_struct(signals) else None
    outcomes = _field(attempt, "outcomes") if attempt is not None else None
    outcome_fields: list[tuple[str, Any]] = (
        [(outcomes.field(i).name, outcomes.field(i).type) for i in range(outcomes.num_fields)]
        if outcomes is not None and pa.types.is_struct(outcomes) else [])
    a_cost, a_ttft = member(attempt, "a", "cost"), member(attempt, "a", "ttft")
    attempt_ok = (f"a IS NOT NULL AND {member(attempt, 'a', 'model')} IS NOT NULL AND {member(attempt, 'a', 'step')} IS NOT NULL "
                  f"AND ({a_cost} IS NULL OR regexp_full_match({a_cost}, {string(PLAIN_MONEY)})) "
                  f"AND {number_ok(_field(attempt, 'ttft') if attempt else None, a_ttft, True)}")
    answered = f"{member(attempt, 'a', 'error')} IS NULL AND {member(attempt, 'a', 'skipped')} IS NULL"
    final = f"list_filter({column('attempts')}, lambda a: {answered})[-1]"
    entries, entries_ok = [], []
    for name, kind in outcome_fields:
        value = f"{final}.{ident('outcomes')}.{ident(name)}"
        if pa.types.is_boolean(kind):
            entries.append(f"{{'name': {string(name)}, 'b': {value}, 'x': NULL::DOUBLE}}")
        elif pa.types.is_int64(kind) or pa.types.is_floating(kind) and pa.types.is_float64(kind):
            entries.append(f"{{'name': {string(name)}, 'b': NULL::BOOLEAN, 'x': {value}::DOUBLE}}")
            entries_ok.append(number_ok(kind, value, False))
    outcome_list = (f"list_filter([{', '.join(entries)}], lambda o: o.b IS NOT NULL OR o.x IS NOT NULL)"
                    if entries else "[]")
    if by is None:
        group = "NULL::VARCHAR"
    elif by in ("arm", "policy"):
        group = column(by)
    else:
        kind = _field(signals, by) if signals is not None else None
        value = f"{column('signals')}.{ident(by)}"
        if kind is None or pa.types.is_null(kind):
            group = "NULL::VARCHAR"
        elif pa.types.is_boolean(kind):
            group = f"CASE WHEN {value} THEN 'true' WHEN NOT {value} THEN 'false' END"
        else:
            group = f"CAST({value} AS VARCHAR)"
    names = "[" + ", ".join(string(n) for n in (signals.names if signals is not None else [])) + "]::VARCHAR[]"
    ends = ", ".join(string(e) for e in ENDS)
    seconds = column("seconds")
    run_ok = f"""({column('event')} IS NULL OR {column('event')} = 'end')
        AND regexp_full_match({time}, {string(PLAIN_TIME)}) AND TRY_CAST({time} AS TIMESTAMPTZ) IS NOT NULL
        AND {column('policy')} IS NOT NULL AND {end} IN ({ends})
        AND {column('path')} IS NOT NULL AND coalesce(list_bool_and(list_transform({column('path')}, lambda m: m IS NOT NULL)), true)
        AND regexp_full_match({cost}, {string(PLAIN_MONEY)})
        AND {number_ok(_field(schema, 'seconds'), seconds, True)}
        AND {column('attempts')} IS NOT NULL
        AND coalesce(list_bool_and(list_transform({column('attempts')}, lambda a: {attempt_ok})), true)
        AND coalesce(list_bool_and(list_transform({column('shadow')}, lambda s: s IS NOT NULL
            AND {member(shadow, 's', 'policy')} IS NOT NULL)), true)
        AND {' AND '.join(entries_ok) or 'true'}"""
    start_ok = f"{column('event')} = 'start' AND {column('run_id')} IS NOT NULL"
    kind = f"CASE WHEN {start_ok} THEN 'start' WHEN {run_ok} THEN 'run' ELSE 'other' END"
    made = (f"list_transform({column('attempts')}, lambda a: {{'model': {member(attempt, 'a', 'model')}, "
            f"'step': {member(attempt, 'a', 'step')}, 'error': {member(attempt, 'a', 'error')}, "
            f"'skipped': {member(attempt, 'a', 'skipped')}, "
            f"'cost': TRY_CAST(coalesce({a_cost}, '0') AS DECIMAL(38, 18)), 'ttft': {a_ttft}::DOUBLE}})")
    shadows = (f"coalesce(list_transform({column('shadow')}, lambda s: {{'policy': {member(shadow, 's', 'policy')}, "
               f"'rule': {member(shadow, 's', 'rule')}}}), [])")
    return f"""SELECT {index} AS f, file_row_number + 1 AS r, {kind} AS kind, {column('run_id')} AS run_id,
        epoch_us(TRY_CAST({time} AS TIMESTAMPTZ)) AS t, {column('policy')} AS policy,
        {column('policy_sha256')} AS sha256, {column('rule')} AS rule, {end} AS "end", {column('path')} AS path,
        TRY_CAST({cost} AS DECIMAL(38, 18)) AS cost, {seconds}::DOUBLE AS seconds, {group} AS grp,
        {made} AS attempts, {outcome_list} AS outcomes, {shadows} AS shadow,
        CASE WHEN {column('signals')} IS NULL THEN []::VARCHAR[] ELSE {names} END AS signal_names
        FROM read_parquet({string(str(path))}, file_row_number = true)"""
