"""Traffic files read record by record (section 9.3), for the python engine.

JSON lines (`.jsonl`, `.ndjson`, `.json`), CSV (`.csv`, flat signals only) and Parquet
(`.parquet`, in batches through pyarrow). Nothing holds the whole file: each reader yields one
record at a time with its location (a line number for JSON lines, a record number otherwise).

Both engines read a record the same way, so that they report the same numbers:

- a null (a JSON null, an empty CSV cell, a Parquet null) is an absent key, at the top level and
  inside each object of `"@outcomes"`: a column cannot tell a missing value from a null;
- a CSV cell is read as a JSON scalar would be: `true`/`false` a bool, JSON's number syntax an
  int or a float, anything else a string (`csv_value`);
- a line that is not a JSON object is a record that counts under R002, at its line.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".csv": "csv", ".parquet": "parquet",
           ".pq": "parquet"}

INT_TEXT = re.compile(r"-?(0|[1-9][0-9]*)")
NUMBER_TEXT = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")


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


def records(path: str | Path) -> Iterator[tuple[int, dict[str, Any] | Broken]]:
    """(location, record) for every record of the file, in order, nulls dropped."""
    kind = format_of(path)
    if not Path(path).is_file():
        raise TrafficError(f"{path}: no such file")
    if kind == "jsonl":
        return _jsonl(path)
    if kind == "csv":
        return _csv(path)
    return _parquet(path)


def parse_line(number: int, raw: bytes) -> dict[str, Any] | Broken | None:
    """Line `number` of a JSON lines file: the object it holds (nulls still in it), a Broken
    (not JSON, not UTF-8, not an object), or None for a blank line."""
    if not raw.strip(b" \t\r\n"):
        return None
    try:
        value = json.loads(raw)
    except UnicodeDecodeError:
        return Broken(f"line {number} is not UTF-8 text")
    except ValueError as exc:
        return Broken(f"line {number} is not JSON: {str(exc)[:80]}")
    if not isinstance(value, dict):
        return Broken(f"line {number} is not a JSON object but {type(value).__name__}")
    return value


def _jsonl(path: str | Path) -> Iterator[tuple[int, dict[str, Any] | Broken]]:
    with open(path, "rb") as stream:
        for number, raw in enumerate(stream, start=1):
            value = parse_line(number, raw)
            if value is not None:
                yield number, value if isinstance(value, Broken) else normalized(value)


def _csv(path: str | Path) -> Iterator[tuple[int, dict[str, Any] | Broken]]:
    with open(path, encoding="utf-8", newline="") as stream:
        reader = csv.reader(stream)
        header = next(reader, None)
        if header is None:
            return
        for number, row in enumerate(reader, start=1):
            record = {}
            for name, cell in zip(header, row):
                value = csv_value(cell)
                if value is not None:
                    record[name] = value
            yield number, record


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
