"""JSON lines for the duckdb engine, read so that both engines see the same records.

DuckDB reads a JSON lines file as one text column (its CSV reader, one delimiter byte that no
line holds) and parses each line with its own JSON parser. Where that parser or that reader could
read a line otherwise than Python's `json` and `for line in file` do, the line is *doubtful*:
the query marks it (column `"@p:doubt"`), its row is left out of the tally, and the python
engine decides it at its own line number, so the two reports stay equal field for field.
Doubtful are lines with

- a control character other than tab, or U+FEFF (a byte-order mark: Python's `json` skips one
  that opens a line; DuckDB refuses it);
- a comma before `}` or `]` (DuckDB's parser accepts trailing commas; Python's refuses them);
- a `\\uD800`-`\\uDFFF` escape (Python keeps a lone surrogate in a string; DuckDB refuses it);
- `NaN` or `Infinity`, an exponent of three digits or a run of 300 digits (Python refuses
  NaN, Infinity and a number past a float's range or 4,300 digits; DuckDB reads them as it can);
- a key twice in the record or in one of its outcomes (Python keeps the last; DuckDB the first).

A doubt is cheap to raise: a string that merely contains such text is decided by Python too,
with the same result. Three things make the whole file doubtful, since DuckDB's reader would
split or refuse it otherwise: a carriage return that does not end a line (DuckDB starts a line
there), bytes that are not UTF-8 (DuckDB refuses the file; Python counts the line under R002),
or every candidate delimiter byte somewhere in it. Then the python engine reads it all.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from pathlib import Path

from ..backends.sql.text import string

CHUNK = 1 << 22
"""Bytes read at a time by the scan of the file (`delimiter`)."""

CANDIDATES = bytes([0x1E, 0x1F, 0x1D, 0x1C, *range(0x01, 0x09), 0x0B, 0x0C, *range(0x0E, 0x1C)])
"""Delimiter bytes for DuckDB's reader, in order of preference: control characters, which no
valid JSON text holds outside a string and none inside one."""

DOUBTFUL_TEXT = (r"[\x00-\x08\x0a-\x1f\x7f]|\x{FEFF}|,[ \t\r\n]*[\]}]|\\u[dD][89a-fA-F]|NaN|Infinity"
                 r"|[eE]\+?0*[1-9][0-9][0-9]|[0-9]{300}")
"""A line's text that Python's `json` and DuckDB's parser may read differently (module docstring)."""


def _chunks(path: str | Path) -> Iterator[bytes]:
    with open(path, "rb") as stream:
        while chunk := stream.read(CHUNK):
            yield chunk


def delimiter(path: str | Path) -> tuple[bytes | None, str | None]:
    """(a byte that no line of the file holds, None), or (None, why DuckDB's reader cannot read
    the file as Python's lines). One pass at memory speed: counts, `in` tests and a UTF-8 decode
    of each chunk, none of them per line in Python. The duckdb engine needs only whether a byte
    was found (it hands the file to the python engine otherwise, and says nothing: the reports
    of the two engines must stay equal); the reason is for tests and for whoever debugs."""
    utf8 = codecs.getincrementaldecoder("utf-8")("strict")
    held = False
    carry = b""
    first = bytes([CANDIDATES[0]])
    try:
        for chunk in _chunks(path):
            utf8.decode(chunk)
            chunk = carry + chunk
            carry = b"\r" if chunk.endswith(b"\r") else b""  # its "\n" may open the next chunk
            body = chunk[:-1] if carry else chunk
            if body.count(b"\r") != body.count(b"\r\n"):
                return None, "a carriage return inside a line"
            held = held or first in body
        utf8.decode(b"", True)
    except UnicodeDecodeError:
        return None, "bytes that are not UTF-8"
    if carry:
        return None, "a carriage return inside a line"
    if not held:
        return first, None
    for candidate in CANDIDATES[1:]:  # rare: the file holds the first choice
        if not any(bytes([candidate]) in chunk for chunk in _chunks(path)):
            return bytes([candidate]), None
    return None, "every control character somewhere in it"


def lines_sql(path: str, delim: bytes) -> str:
    """SQL: the file's non-blank lines as `line`, with `"@p:row"` their line number and
    `"@p:doubt"` whether the python engine decides the line."""
    reader = (f"read_csv({string(path)}, columns = {{'line': 'VARCHAR'}}, delim = {string(delim.decode('ascii'))}, "
              "quote = '', escape = '', header = false, auto_detect = false, max_line_size = 1073741824, "
              "strict_mode = false)")
    parsed = "TRY_CAST(line AS JSON)"
    outcome_keys = f"json_keys({parsed}, '$.\"@outcomes\"[*]')"
    # a key twice: its first position is not where it stands (cheaper in DuckDB than list_distinct)
    twice = "len(list_filter({0}, lambda name, place: list_position({0}, name) <> place)) > 0"
    outcomes_twice = (f"((contains(line, '@outcomes') OR contains(line, '\\u')) AND coalesce(list_bool_or("
                      f"list_transform({outcome_keys}, lambda names: {twice.format('names')})), false))")
    doubt = f"(regexp_matches(line, {string(DOUBTFUL_TEXT)}) OR coalesce({twice.format('keys')}, false) OR {outcomes_twice})"
    numbered = f"SELECT line, row_number() OVER () AS \"@p:row\" FROM {reader}"
    keyed = (f"SELECT line, \"@p:row\", json_keys({parsed}) AS keys FROM ({numbered}) "
             "WHERE line IS NOT NULL AND trim(line, ' \t\r') <> ''")
    return f"(SELECT line, \"@p:row\", {doubt} AS \"@p:doubt\" FROM ({keyed}))"


def cell_doubt_sql(column: str) -> str:
    """SQL: whether the python engine decides a CSV row because of the JSON text in `column`
    (its `"@outcomes"` cell), by the same doubts as a line's: text DuckDB's parser may read
    otherwise than Python's, or an outcome object that names a key twice."""
    twice = "len(list_filter(names, lambda name, place: list_position(names, name) <> place)) > 0"
    keys = f"json_keys(TRY_CAST({column} AS JSON), '$[*]')"
    return (f"coalesce(regexp_matches({column}, {string(DOUBTFUL_TEXT)}) OR "
            f"coalesce(list_bool_or(list_transform({keys}, lambda names: {twice})), false), false)")
