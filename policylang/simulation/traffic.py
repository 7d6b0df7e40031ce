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
- a line that is not a JSON object is a record that counts under R002, at its line;
- a line nested deeper than Python's recursive `json` parser goes (a `RecursionError`) is read
  by `deep_loads`, which gives what `json.loads` would with no recursion limit: DuckDB's parser
  has none, so both engines decide such a line (or count it under R002 if it is no JSON object).
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable, Collection, Iterator
from json.decoder import JSONDecodeError
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".csv": "csv", ".parquet": "parquet",
           ".pq": "parquet"}

INT_TEXT = re.compile(r"-?(0|[1-9][0-9]*)")
NUMBER_TEXT = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")

DEEP = 4
"""How deep a value of a record can matter to a decision: the record (1), a signal's value or
`"@outcomes"` (2), an outcome object (3), an outcome's value (4). Every signal and outcome is a
scalar, so a container at depth 4 counts only as a value of the wrong sort, whatever it holds."""


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
        try:
            return json.loads(text)
        except RecursionError:
            return deep_loads(text)
    except ValueError:
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
    (not JSON, not UTF-8, not an object), or None for a blank line."""
    if not raw.strip(b" \t\r\n"):
        return None
    try:
        try:
            value = json.loads(raw)
        except RecursionError:  # nested deeper than Python's parser goes
            value = deep_loads(raw)
    except UnicodeDecodeError:
        return Broken(f"line {number} is not UTF-8 text")
    except ValueError as exc:
        return Broken(f"line {number} is not JSON: {str(exc)[:80]}")
    if not isinstance(value, dict):
        return Broken(f"line {number} is not a JSON object but {type(value).__name__}")
    return value


_scanstring: Callable[[str, int, bool], tuple[str, int]] = getattr(json.decoder, "scanstring")
"""`json`'s own string scanner (its C one where there is one), so that strings read the same."""
_SPACE = re.compile(r"[ \t\n\r]*")
_NUMBER = re.compile(r"(-?(?:0|[1-9][0-9]*))(\.[0-9]+)?([eE][-+]?[0-9]+)?")
_WORDS = {"n": ("null", None), "t": ("true", True), "f": ("false", False), "N": ("NaN", float("nan")),
          "I": ("Infinity", float("inf"))}


def deep_loads(raw: bytes | str, depth: int = DEEP) -> Any:
    """What `json.loads(raw)` gives (the value, or the ValueError it raises), read with a stack
    of its own rather than by recursion, so that no nesting is too deep for it. A container
    deeper than `depth` is kept as an empty one of its kind: what it holds cannot matter to a
    decision (`DEEP`), and a value nested that deep would make any later repr of it recurse."""
    text = raw if isinstance(raw, str) else raw.decode(json.detect_encoding(raw), "surrogatepass")
    if text.startswith("\ufeff"):
        raise JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
    def skip(at: int) -> int:
        """The index of the first character at or after `at` that is no JSON whitespace."""
        match = _SPACE.match(text, at)
        assert match is not None  # the pattern matches the empty string anywhere
        return match.end()

    stack: list[list[Any]] = []  # per open container: [the container, the key awaiting its value]
    at = skip(0)

    def key(frame: list[Any], at: int) -> int:
        """Read `"key" :` at `at` into the frame; the index of the value after it."""
        if text[at:at + 1] != '"':
            raise JSONDecodeError("Expecting property name enclosed in double quotes", text, at)
        frame[1], at = _scanstring(text, at + 1, True)
        at = skip(at)
        if text[at:at + 1] != ":":
            raise JSONDecodeError("Expecting ':' delimiter", text, at)
        return skip(at + 1)

    while True:
        char = text[at:at + 1]
        value: Any
        if char == '"':
            value, at = _scanstring(text, at + 1, True)
        elif char in ("{", "["):
            at = skip(at + 1)
            if text[at:at + 1] == ("}" if char == "{" else "]"):
                value, at = ({} if char == "{" else []), at + 1
            else:
                frame: list[Any] = [{} if char == "{" else [], None]
                stack.append(frame)
                if char == "{":
                    at = key(frame, at)
                continue
        elif char in _WORDS and text.startswith(_WORDS[char][0], at):
            word, value = _WORDS[char]
            at += len(word)
        elif char == "-" and text.startswith("-Infinity", at):
            value, at = float("-inf"), at + len("-Infinity")
        else:
            match = _NUMBER.match(text, at)
            if match is None:
                raise JSONDecodeError("Expecting value", text, at)
            integer, fraction, exponent = match.groups()
            value = float(integer + (fraction or "") + (exponent or "")) if fraction or exponent else int(integer)
            at = match.end()
        while True:  # a value is read: put it in its container, and close the containers it ends
            if not stack:
                at = skip(at)
                if at != len(text):
                    raise JSONDecodeError("Extra data", text, at)
                return value
            frame = stack[-1]
            container = frame[0]
            if len(stack) >= depth and value.__class__ in (dict, list):
                value = value.__class__()
            if container.__class__ is dict:
                container[frame[1]] = value
            else:
                container.append(value)
            at = skip(at)
            char = text[at:at + 1]
            if char == ("}" if container.__class__ is dict else "]"):
                stack.pop()
                value, at = container, at + 1
                continue
            if char != ",":
                raise JSONDecodeError("Expecting ',' delimiter", text, at)
            at = skip(at + 1)
            if container.__class__ is dict:
                at = key(frame, at)
            break


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


def _csv(path: str | Path) -> Iterator[tuple[int, dict[str, Any] | Broken]]:
    with open(path, encoding="utf-8", newline="") as stream:
        reader = csv.reader(stream)
        header = next(reader, None)
        if header is None:
            return
        for number, row in enumerate(reader, start=1):
            record = {}
            for name, cell in zip(header, row):
                value = csv_outcomes(cell) if name == "@outcomes" else csv_value(cell)
                if value is not None:
                    record[name] = value
            yield number, normalized(record) if "@outcomes" in record else record


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
