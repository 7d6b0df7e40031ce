"""Traffic files read record by record (section 9.3), for the python engine.

JSON lines (`.jsonl`, `.ndjson`, `.json`), CSV (`.csv`, flat values, `"@outcomes"` as JSON
text) and Parquet (`.parquet`, in batches through pyarrow). Nothing holds the whole file: each
reader yields one record at a time with its location (a line number for JSON lines, a record
number otherwise).

Both engines read a record the same way, so that they report the same numbers:

- a null (a JSON null, an empty CSV cell, a Parquet null) is an absent key, at the top level and
  inside each object of `"@outcomes"`: a column cannot tell a missing value from a null;
- a CSV cell is read as a JSON scalar would be: `true`/`false` a bool, JSON's number syntax an
  int or a float, anything else a string (`csv_value`); the `"@outcomes"` cell is JSON text, the
  list it holds (`csv_outcomes`);
- a line is read by `jsontext.read_record`, as `eval --requests` and `diff --traffic` read
  theirs: a line it refuses (not UTF-8, not JSON, NaN or Infinity, a number too large, a key
  twice) or that is no JSON object is a record that counts under R002, at its line, and the
  rest of the file is read;
- a line nested deeper than Python's recursive `json` parser goes is read by `deep_loads`,
  which has no recursion limit: DuckDB's parser has none, so both engines decide such a line
  (or count it under R002 if it is no JSON object).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from ..jsontext import DEEP, RecordError, deep_loads, json_kind, read_record

FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".csv": "csv", ".parquet": "parquet",
           ".pq": "parquet"}

INT_TEXT = re.compile(r"-?(0|[1-9][0-9]*)")
NUMBER_TEXT = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")

__all__ = ["DEEP", "Broken", "TrafficError", "csv_header", "csv_outcomes", "csv_value", "deep_loads", "format_of", "normalized",
           "parse_line", "records", "schema_problems", "shallow"]


class TrafficError(Exception):
    """A traffic file that cannot be read at all (missing, unknown format, not Parquet)."""


@dataclass(frozen=True)
class Broken:
    """A record that is no request object: counted under R002 at its location."""

    message: str


def format_of(path: str | Path) -> str:
    """`jsonl`, `csv` or `parquet`, from the file's suffix; TrafficError for any other."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise TrafficError(f"{path}: unknown traffic format {suffix or '(no suffix)'!r}; "
                           "use .jsonl, .csv or .parquet")
    return FORMATS[suffix]


def normalized(record: dict[str, Any]) -> dict[str, Any]:
    """A record with nulls dropped as absent keys, at the top level and in `"@outcomes"`."""
    out = {k: v for k, v in record.items() if v is not None}
    outcomes = out.get("@outcomes")
    if isinstance(outcomes, list):
        out["@outcomes"] = [{k: v for k, v in o.items() if v is not None} if isinstance(o, dict) else o
                            for o in outcomes]
    return out


def shallow(value: Any, depth: int = DEEP) -> Any:
    """A value with each container deeper than `depth` kept as an empty one of its kind, as
    `deep_loads` reads it: a record whose values are nested nearly as deep as Python's `json`
    reads could not be shown in an error message without recursing as deep."""
    if value.__class__ is dict:
        return {k: shallow(v, depth - 1) for k, v in value.items()} if depth > 0 else {}
    if value.__class__ is list:
        return [shallow(v, depth - 1) for v in value] if depth > 0 else []
    return value


def csv_value(text: str | None) -> Any:
    """One CSV cell as the value it stands for; None (absent) for an empty cell."""
    if text is None or text == "":
        return None
    if text in ("true", "false"):
        return text == "true"
    if INT_TEXT.fullmatch(text):
        return int(text)
    if NUMBER_TEXT.fullmatch(text):
        return float(text)
    return text


def csv_outcomes(text: str | None) -> Any:
    """The `"@outcomes"` cell of a CSV row, JSON text (`[{"confidence": 0.4}]`): the value it
    holds (a JSON null, or an empty cell, is None: absent); the text itself when it is no JSON,
    so that the record counts under R002 as any `"@outcomes"` that is no list of objects."""
    if text is None or text == "":
        return None
    try:
        return read_record(text)
    except RecordError:
        return text


def records(path: str | Path, only: Collection[int] | None = None) -> Iterator[tuple[int, dict[str, Any] | Broken]]:
    """(location, record) for every record of the file, in order, nulls dropped; with `only`,
    just the records at those locations (a JSON lines file's other lines are not parsed, and
    reading stops after the last one wanted)."""
    kind = format_of(path)
    if not Path(path).is_file():
        raise TrafficError(f"{path}: no such file")
    if kind == "jsonl":
        return _jsonl(path, only)
    every = _csv(path) if kind == "csv" else _parquet(path)
    return every if only is None else ((at, record) for at, record in every if at in only)


def parse_line(number: int, raw: bytes) -> dict[str, Any] | Broken | None:
    """Line `number` of a JSON lines file: the object it holds (nulls still in it), a Broken
    (why `read_record` refuses it, or not an object), or None for a blank line."""
    if not raw.strip(b" \t\r\n"):
        return None
    try:
        value = read_record(raw)
    except RecordError as exc:
        return Broken(f"line {number} {exc}")
    if value.__class__ is not dict:
        return Broken(f"line {number} is not a JSON object but {json_kind(value)}")
    return value


def _jsonl(path: str | Path, only: Collection[int] | None) -> Iterator[tuple[int, dict[str, Any] | Broken]]:
    last = None if only is None else max(only, default=0)
    if last == 0:
        return
    with open(path, "rb") as stream:
        for number, raw in enumerate(stream, start=1):
            if only is not None and number not in only:
                continue
            value = parse_line(number, raw)
            if value is not None:
                yield number, value if isinstance(value, Broken) else normalized(value)
            if number == last:
                return


_CSV_WORDS = {"unexpected end of data": "a quote is never closed",
              "',' expected after '\"'": "text after a closing quote"}
"""Python's csv errors in the words of CSV."""

_SURROGATE = re.compile("[\udc80-\udcff]")


def _csv_stream(path: str | Path, errors: str) -> IO[str]:
    """The file opened as CSV text: UTF-8, a byte-order mark skipped (DuckDB skips it too)."""
    return open(path, encoding="utf-8-sig", errors=errors, newline="")


def csv_header(path: str | Path) -> list[str]:
    """The column names of a CSV file (none for an empty file), or TrafficError, with the
    line, when the header is no CSV, not UTF-8 or names a column twice: both engines read the
    header here first, so that they refuse the same files with the same words."""
    try:
        with _csv_stream(path, "surrogateescape") as stream:
            header = next(csv.reader(stream, strict=True), [])
    except csv.Error as exc:
        raise TrafficError(f"{path}: line 1: the header is not CSV ({exc})") from None
    if _SURROGATE.search("".join(header)):
        raise TrafficError(f"{path}: line 1: the header is not UTF-8 text")
    seen: set[str] = set()
    for name in header:
        if name in seen and name:
            raise TrafficError(f"{path}: line 1: the header names the column {name!r} twice")
        seen.add(name)
    return header


def _csv(path: str | Path) -> Iterator[tuple[int, dict[str, Any] | Broken]]:
    """Each CSV record, numbered from 1 after the header, blank lines skipped as DuckDB skips them
    (when the header names one column, a blank line is a record whose one cell is empty):
    a record with a byte that is not UTF-8 or more fields than the header names (a trailing
    comma aside) is Broken (R002 at its number); a quote left open, or text after a closing quote, refuses the file at its
    line (TrafficError): where the records end is then unknown."""
    header = csv_header(path)
    if not header:
        return
    width = len(header)
    with _csv_stream(path, "surrogateescape") as stream:  # a byte that is not UTF-8: a lone surrogate
        reader = csv.reader(stream, strict=True)
        next(reader, None)
        number = 0
        start = 2  # the line the record being read starts on
        try:
            for row in reader:
                if not row and width > 1:  # a blank line; with one column, a record whose cell is empty
                    start = reader.line_num + 1
                    continue
                number += 1
                start = reader.line_num + 1
                if _SURROGATE.search("".join(row)):
                    yield number, Broken(f"record {number} (line {reader.line_num}) is not UTF-8 text")
                    continue
                if len(row) == width + 1 and row[-1] == "":
                    del row[-1]  # a trailing comma, which DuckDB's reader (and many exporters) take for none
                if len(row) > width:
                    yield number, Broken(f"record {number} (line {reader.line_num}) has {len(row)} fields; "
                                         f"the header names {width}")
                    continue
                record = {}
                for name, cell in zip(header, row):
                    value = csv_outcomes(cell) if name == "@outcomes" else csv_value(cell)
                    if value is not None:
                        record[name] = value
                yield number, normalized(record) if "@outcomes" in record else record
        except csv.Error as exc:
            why = _CSV_WORDS.get(str(exc), str(exc))
            raise TrafficError(f"{path}: line {start}: record {number + 1} is not CSV ({why}), so where "
                               "the records after it start is unknown") from None


def _parquet(path: str | Path) -> Iterator[tuple[int, dict[str, Any] | Broken]]:
    try:
        import pyarrow.parquet as pq
    except ImportError as exc:  # the `duckdb` extra brings pyarrow
        raise TrafficError("reading Parquet needs pyarrow: pip install 'policylang[duckdb]'") from exc
    try:
        source = pq.ParquetFile(str(path))
    except Exception as exc:  # pyarrow raises its own ArrowInvalid for a file that is not Parquet
        raise TrafficError(f"{path}: not a Parquet file ({exc})") from None
    number = 0
    for batch in source.iter_batches(batch_size=8192):
        for row in batch.to_pylist():
            number += 1
            yield number, normalized(row)


def schema_problems(path: str | Path, columns: dict[str, str], signals: list[str], required: list[str]) -> list[str]:
    """Notes about a file's columns: required signals it lacks (every record is R001)."""
    missing = [name for name in required if name not in columns]
    return [f"{path}: no column {name!r}: every record lacks this required signal (R001)" for name in missing]
