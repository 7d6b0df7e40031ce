"""Where a request's values come from in SQL, and what sort of value each can be.

A request key is read from a typed column (a table, a Parquet file), from a JSON value (a line
of a JSON lines file) or from CSV text. Each `Source` answers, in SQL, whether the key holds a
value (SQL NULL, JSON null and an empty CSV cell are an absent key: a column cannot tell them
apart) and which sort of value it is, the sorts a Python engine would see: bool, int, float,
decimal, string, or other (lists, objects, bytes, dates). Validation (`validate.py`) then
follows section 5 sort by sort.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from ...ir.policy import CheckedPolicy, Signal
from .text import FALSE, NULL, TRUE, any_of, string

Sort = Literal["bool", "int", "float", "decimal", "string", "other"]
SORTS: tuple[Sort, ...] = ("bool", "int", "float", "decimal", "string", "other")

INT_TEXT = r"-?(0|[1-9][0-9]*)"
NUMBER_TEXT = r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?"
"""JSON's number grammar: what Python's `json` reads as an int, and as any number."""


class Source:
    """A request key's value in SQL."""

    decimal_scale: int | None = None
    """The scale of a decimal value, when the source holds decimals."""

    def present(self) -> str:
        raise NotImplementedError

    def sorts(self) -> tuple[Sort, ...]:
        """The sorts a present value can have."""
        raise NotImplementedError

    def is_sort(self, sort: Sort) -> str:
        """SQL: a present value is of this sort."""
        raise NotImplementedError

    def value(self, sort: Sort) -> str:
        """SQL: the value of that sort (BOOLEAN, an integer type, DOUBLE, DECIMAL, VARCHAR)."""
        raise NotImplementedError


class Absent(Source):
    """A column the table does not have: the key is absent from every row."""

    def present(self) -> str:
        return FALSE

    def sorts(self) -> tuple[Sort, ...]:
        return ()

    def is_sort(self, sort: Sort) -> str:
        return FALSE

    def value(self, sort: Sort) -> str:
        return NULL


@dataclass
class Typed(Source):
    """A typed column: its sort is known when the query is written."""

    expr: str
    sort: Sort
    decimal_scale: int | None = None

    def present(self) -> str:
        return f"{self.expr} IS NOT NULL"

    def sorts(self) -> tuple[Sort, ...]:
        return (self.sort,)

    def is_sort(self, sort: Sort) -> str:
        return TRUE if sort == self.sort else FALSE

    def value(self, sort: Sort) -> str:
        return self.expr if sort == self.sort else NULL


@dataclass
class Json(Source):
    """A JSON value (DuckDB's JSON type): its sort is read per row, as Python's `json` reads
    it; an int has JSON's int syntax, whatever its size."""

    expr: str

    def present(self) -> str:
        return f"({self.expr} IS NOT NULL AND json_type({self.expr}) <> 'NULL')"

    def sorts(self) -> tuple[Sort, ...]:
        return ("bool", "int", "float", "string", "other")

    def _text(self) -> str:
        return f"CAST({self.expr} AS VARCHAR)"

    def is_sort(self, sort: Sort) -> str:
        kind = f"json_type({self.expr})"
        integral = f"regexp_full_match({self._text()}, {string(INT_TEXT)})"
        return {
            "bool": f"{kind} = 'BOOLEAN'",
            "int": f"({kind} IN ('BIGINT', 'UBIGINT') OR ({kind} = 'DOUBLE' AND {integral}))",
            "float": f"({kind} = 'DOUBLE' AND NOT {integral})",
            "decimal": FALSE,
            "string": f"{kind} = 'VARCHAR'",
            "other": f"{kind} IN ('ARRAY', 'OBJECT')",
        }[sort]

    def value(self, sort: Sort) -> str:
        return {
            "bool": f"TRY_CAST({self.expr} AS BOOLEAN)",
            "int": f"TRY_CAST({self._text()} AS DECIMAL(38, 0))",
            "float": f"TRY_CAST({self._text()} AS DOUBLE)",
            "decimal": NULL,
            "string": f"json_extract_string({self.expr}, '$')",
            "other": NULL,
        }[sort]


@dataclass
class Text(Source):
    """A CSV cell, read as Python reads one (`simulation.traffic.csv_value`): `true` and
    `false` are bools, JSON number syntax an int or a float, anything else a string."""

    expr: str

    def present(self) -> str:
        return f"({self.expr} IS NOT NULL AND {self.expr} <> '')"

    def sorts(self) -> tuple[Sort, ...]:
        return ("bool", "int", "float", "string")

    def is_sort(self, sort: Sort) -> str:
        boolean = f"{self.expr} IN ('true', 'false')"
        integral = f"regexp_full_match({self.expr}, {string(INT_TEXT)})"
        number = f"regexp_full_match({self.expr}, {string(NUMBER_TEXT)})"
        return {
            "bool": boolean,
            "int": integral,
            "float": f"({number} AND NOT {integral})",
            "decimal": FALSE,
            "string": f"(NOT {boolean} AND NOT {number})",
            "other": FALSE,
        }[sort]

    def value(self, sort: Sort) -> str:
        return {
            "bool": f"({self.expr} = 'true')",
            "int": f"TRY_CAST({self.expr} AS DECIMAL(38, 0))",
            "float": f"TRY_CAST({self.expr} AS DOUBLE)",
            "decimal": NULL,
            "string": self.expr,
            "other": NULL,
        }[sort]


# ---- column types ---------------------------------------------------------------------------------

_INTS = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
         "UBIGINT", "UHUGEINT", "INT", "LONG", "SHORT", "BYTE", "INT8", "INT4", "INT2"}
_DECIMAL = re.compile(r"(?:DECIMAL|NUMERIC)\s*\(\s*(\d+)\s*,\s*(\d+)\s*\)")


def sort_of_type(sql_type: str) -> tuple[Sort | Literal["json", "missing"], int | None]:
    """The sort a column of this SQL type holds (DuckDB's type names), and a decimal's scale;
    `json` for a JSON column, `missing` for a column of NULLs only."""
    text = sql_type.strip().upper()
    if text in ("BOOLEAN", "BOOL"):
        return "bool", None
    if text in _INTS:
        return "int", None
    if text in ("DOUBLE", "FLOAT", "REAL", "FLOAT4", "FLOAT8"):
        return "float", None
    if match := _DECIMAL.fullmatch(text):
        return "decimal", int(match.group(2))
    if text in ("DECIMAL", "NUMERIC"):
        return "decimal", 3  # DuckDB's default DECIMAL is DECIMAL(18, 3)
    if text in ("VARCHAR", "STRING", "TEXT"):
        return "string", None
    if text == "JSON":
        return "json", None
    if text in ('"NULL"', "NULL"):
        return "missing", None
    return "other", None


def source_of(expr: str, sql_type: str | None, *, csv: bool = False) -> Source:
    """The source for a column expression of a given type (None: the column is missing)."""
    if sql_type is None:
        return Absent()
    if csv:
        return Text(expr)
    sort, scale = sort_of_type(sql_type)
    if sort == "missing":
        return Absent()
    if sort == "json":
        return Json(expr)
    return Typed(expr, sort, scale)


def canonical_type(signal: Signal) -> str:
    """The SQL type a column for this signal has when the schema is not given."""
    t = signal.type
    return {"bool": "BOOLEAN", "int": "BIGINT", "float": "DOUBLE", "money": f"DECIMAL(38, {18})",
            "duration": "DOUBLE", "enum": "VARCHAR"}[t.kind]


def outcome_struct(policy: CheckedPolicy) -> str:
    """The canonical type of `"@outcomes"`: a list of structs, one field per outcome."""
    from .text import ident

    fields = ", ".join(f"{ident(s.name)} {canonical_type(s)}" for s in policy.outcomes)
    return f"STRUCT({fields})[]" if fields else "STRUCT(\"@none\" BOOLEAN)[]"


def canonical_columns(policy: CheckedPolicy) -> dict[str, str]:
    """Every column a table of requests for this policy may have, at its canonical type."""
    columns = {s.name: canonical_type(s) for s in policy.inputs}
    columns["@outcomes"] = outcome_struct(policy)
    columns["@output_tokens"] = "BIGINT"
    return columns


@dataclass(frozen=True)
class Layout:
    """How requests are laid out: `typed` columns (a table, Parquet), `json` (one JSON object
    per row, in column `line`), or `csv` (text cells)."""

    mode: Literal["typed", "json", "csv"]
    columns: Mapping[str, str] = field(default_factory=dict)
    """Typed and csv: the table's columns and their SQL types, in order."""


def list_struct_fields(sql_type: str) -> dict[str, str] | None:
    """The fields of a `STRUCT(...)[]` type (DuckDB's spelling), or None for another type."""
    text = sql_type.strip()
    if not (text.upper().startswith("STRUCT(") and text.endswith(")[]")):
        return None
    return _fields(text[len("STRUCT("):-len(")[]")])


def _fields(body: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    depth, start = 0, 0
    parts = []
    quoted = False
    for i, ch in enumerate(body):
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch == "(":
            depth += 1
        elif not quoted and ch == ")":
            depth -= 1
        elif not quoted and ch == "," and depth == 0:
            parts.append(body[start:i])
            start = i + 1
    parts.append(body[start:])
    for part in parts:
        part = part.strip()
        if not part:
            continue
        if part.startswith('"'):
            end = 1
            while True:
                end = part.index('"', end)
                if end + 1 < len(part) and part[end + 1] == '"':
                    end += 2
                    continue
                break
            name, rest = part[1:end].replace('""', '"'), part[end + 1:]
        else:
            name, _, rest = part.partition(" ")
        fields[name] = rest.strip()
    return fields


__all__ = ["Absent", "Json", "Layout", "Sort", "Source", "Text", "Typed", "any_of", "canonical_columns",
           "list_struct_fields", "sort_of_type", "source_of"]
