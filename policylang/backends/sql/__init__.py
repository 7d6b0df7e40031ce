"""The SQL back end (section 12): a policy compiled to one SELECT over a table of requests,
generated once from the typed IR in DuckDB's dialect and translated to the others by sqlglot.

    from policylang.backends.sql import to_sql
    text = to_sql(policy.ir, dialect="spark", table="logs.requests")

Standard library only, except `translate` (sqlglot, the `sql` extra), which is imported when a
dialect other than DuckDB is asked for.
"""

from __future__ import annotations

from collections.abc import Mapping

from ...ir.policy import CheckedPolicy
from .columns import Layout, canonical_columns
from .query import OUTPUTS, Query, build
from .text import ident

DIALECTS = ("duckdb", "spark", "trino", "postgres", "bigquery", "snowflake")
"""The dialects `to_sql` writes: DuckDB's own, and sqlglot's translations of it."""


def table_name(name: str) -> str:
    """A table reference, each dotted part quoted: `logs.requests` is `"logs"."requests"`."""
    return ".".join(ident(part) for part in name.split("."))


def to_sql(policy: CheckedPolicy, *, dialect: str = "duckdb", table: str = "requests",
           columns: Mapping[str, str] | None = None) -> str:
    """One SELECT over `table` giving, per row, the input columns then `rule, model, steps,
    max_output, caps, reject, path, error_code, error_signal`, as the Python engines decide the
    same request (section 12). `columns` maps the table's columns to their SQL types (DuckDB's
    names), in order; a signal without a column is absent from every row. Default: one column
    per signal at its canonical type, `"@outcomes"` and `"@output_tokens"`. Deterministic."""
    layout = Layout("typed", dict(columns) if columns is not None else canonical_columns(policy))
    text = build(policy, layout, table_name(table)).text
    return translate(text, dialect)


def translate(text: str, dialect: str) -> str:
    """DuckDB SQL in another dialect, through sqlglot; DuckDB's own text as it is.

    A list index past the end is NULL in DuckDB, and the query relies on it: it reads each
    step's outcome whether a row's `"@outcomes"` is that long or not. Other dialects fail the
    query there (Spark in ANSI mode, its default from Spark 4; Trino; BigQuery), so every index
    is written as the dialect's NULL-past-the-end form: `try_element_at` in Spark, `element_at`
    in Trino, `SAFE_OFFSET` in BigQuery (PostgreSQL's and Snowflake's subscripts are NULL
    already)."""
    if dialect not in DIALECTS:
        raise ValueError(f"unknown SQL dialect {dialect!r}; choose one of {', '.join(DIALECTS)}")
    if dialect == "duckdb":
        return text
    import sqlglot  # the `sql` extra
    from sqlglot import exp

    translated: list[str] = []
    for statement in sqlglot.parse(text, read="duckdb"):
        if statement is None:
            continue
        for bracket in statement.find_all(exp.Bracket):
            if not any(key.is_string for key in bracket.expressions):  # a list index, not a key
                bracket.set("safe", True)
                bracket.set("offset", 0)  # the index as sqlglot holds it, from 0 (BigQuery's OFFSET)
        translated.append(statement.sql(dialect=dialect, pretty=True))
    return ";\n".join(t for t in translated if t) + "\n"


__all__ = ["DIALECTS", "Layout", "OUTPUTS", "Query", "build", "canonical_columns", "table_name", "to_sql", "translate"]
