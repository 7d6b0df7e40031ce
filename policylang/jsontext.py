"""JSON text: written with exact decimals (a `Decimal` is written as the number it is, never via
float), and read one record at a time, refused for the same reasons by every command."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeAlias

JsonValue: TypeAlias = Any
"""A JSON value as a record, a request or a report holds it: None, bool, int, float, str, a list
or a dict of them, or a `Decimal` where an amount is kept exact. `Any` by name, where a value
truly is any JSON; mypy cannot narrow a recursive union at every `.get` the readers make."""

JsonObject: TypeAlias = dict[str, JsonValue]
"""A JSON object: a record of a log or a traffic file, a request, a report."""


def decimal_text(value: Decimal) -> str:
    """A finite decimal as a JSON number without exponent: Decimal('1E+2') -> '100'."""
    text = format(value, "f")
    return "0" if text in ("-0", "0") else text


def dumps(value: Any, indent: int | None = None) -> str:
    """Like `json.dumps`, but decimals keep every digit and floats that are whole stay floats."""
    parts: list[str] = []
    _write(value, indent, 0, parts)
    return "".join(parts)


def _write(value: Any, indent: int | None, level: int, out: list[str]) -> None:
    if isinstance(value, Decimal):
        out.append(decimal_text(value))
    elif isinstance(value, bool) or value is None or isinstance(value, str):
        out.append(json.dumps(value))
    elif isinstance(value, int):
        out.append(str(value))
    elif isinstance(value, float):
        out.append(repr(value) if math.isfinite(value) else json.dumps(None))
    elif isinstance(value, dict):
        _write_items(
            [(json.dumps(str(k)) + ": ", v) for k, v in value.items()], "{", "}", indent, level, out
        )
    elif isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value) if isinstance(value, (set, frozenset)) else value
        _write_items([("", v) for v in items], "[", "]", indent, level, out)
    else:
        raise TypeError(f"cannot write {type(value).__name__} as JSON")


def _write_items(items: list[tuple[str, Any]], open_: str, close: str, indent: int | None, level: int,
                 out: list[str]) -> None:
    if not items:
        out.append(open_ + close)
        return
    out.append(open_)
    for i, (key, item) in enumerate(items):
        if indent is not None:
            out.append("\n" + " " * (indent * (level + 1)))
        out.append(key)
        _write(item, indent, level + 1, out)
        if i < len(items) - 1:
            out.append("," if indent is not None else ", ")
    if indent is not None:
        out.append("\n" + " " * (indent * level))
    out.append(close)


# ---- reading one record -------------------------------------------------------------------------
#
# Every command that reads requests (`eval`, `explain`, `diff --traffic`, both engines of
# `simulate`) reads each record's text here, so that a record is refused for the same reasons
# with the same words everywhere, and the rest of its file is still read.

DEEP = 4
"""How deep a value of a record can matter to a decision: the record (1), a signal's value or
`"@outcomes"` (2), an outcome object (3), an outcome's value (4). Every signal and outcome is a
scalar, so a container at depth 4 counts only as a value of the wrong sort, whatever it holds."""

OUTCOMES_KEY = "@outcomes"

LARGEST = 1.7976931348623157e308
"""The largest finite JSON number that reads as a float; one past it would read as infinity."""


def json_kind(value: Any) -> str:
    """What sort of JSON value this is, in JSON's words: `an object`, `a list`, `a string`,
    `a number`, `true`, `false`, `null`."""
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, (list, tuple)):
        return "a list"
    return "a string" if isinstance(value, str) else "a number"


class RecordError(ValueError):
    """Why a record's text gives no request. `str()` is the reason in the language's words,
    without its location, written to follow one: `line 3 is not JSON: ...`, `--request holds
    the key "n" twice ...`."""


class _Twice(dict[str, Any]):
    """An object that names a key twice (kept as JSON would, the last value winning), with the
    first such key; a record or outcome object of this class is refused (`_refuse_twice`)."""

    twice: str


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """`object_pairs_hook`: an object, with a number too large refused and a key twice marked."""
    found = dict(pairs)
    for key, value in pairs:
        if value.__class__ is float and not -LARGEST <= value <= LARGEST:
            raise RecordError(f"holds a number too large for JSON at key {json.dumps(key)} "
                              f"(at most about 1.8e308)")
    if len(found) == len(pairs):
        return found
    twice = _Twice(found)
    seen: set[str] = set()
    twice.twice = next(key for key, _ in pairs if key in seen or seen.add(key))  # type: ignore[func-returns-value]
    return twice


def _constant(word: str) -> Any:
    raise RecordError(f"holds {word}, which is no JSON number")


_DECODER = json.JSONDecoder(object_pairs_hook=_object, parse_constant=_constant)


def read_record(raw: bytes | str) -> Any:
    """The JSON value of one record's text (a JSON lines line, a `--request`, a CSV
    `"@outcomes"` cell), or RecordError when it is not UTF-8 text, not JSON, holds NaN,
    Infinity, a number beyond a float's range or longer than Python reads (4,300 digits), or
    names a key twice in the record or in an object of its `"@outcomes"`. No nesting is too
    deep: past what Python's recursive parser reads, `deep_loads` reads it. A leading
    byte-order mark is skipped."""
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            column = len(raw[:exc.start].decode("utf-8", "replace")) + 1
            raise RecordError(f"is not UTF-8 text (byte 0x{raw[exc.start]:02x} at column {column})") from None
    else:
        text = raw
        if not text.isascii():
            try:  # an argument that was not UTF-8 reaches Python as lone surrogates (surrogateescape)
                text.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise RecordError(f"is not UTF-8 text (at column {exc.start + 1})") from None
    if text.startswith("\ufeff"):
        text = text[1:]
    text = text.rstrip("\r\n")  # the line's end: an error's column is then on the line
    try:
        try:
            value = _DECODER.decode(text)
        except RecursionError:  # nested deeper than Python's parser goes
            value = deep_loads(text)
    except RecordError:
        raise
    except json.JSONDecodeError as exc:
        raise RecordError(f"is not JSON: {exc.msg[:1].lower()}{exc.msg[1:]} at column {exc.colno}") from None
    except ValueError:  # int() refuses more than sys.get_int_max_str_digits() digits
        raise RecordError("holds a number of more than 4,300 digits") from None
    _refuse_twice(value)
    return value


def _refuse_twice(value: Any) -> None:
    """RecordError when the record or an object of its `"@outcomes"` names a key twice: Python
    would keep the last value, DuckDB the first; neither is surely what was meant."""
    where = ""
    if value.__class__ is dict:
        outcomes = value.get(OUTCOMES_KEY)
        if outcomes.__class__ is not list:
            return
        twice = next((o for o in outcomes if o.__class__ is _Twice), None)
        where = f" in an object of {OUTCOMES_KEY}"
    else:
        twice = value if value.__class__ is _Twice else None
    if twice is not None:
        raise RecordError(f"holds the key {json.dumps(twice.twice)} twice{where}")


_scanstring: Callable[[str, int, bool], tuple[str, int]] = getattr(json.decoder, "scanstring")
"""`json`'s own string scanner (its C one where there is one), so that strings read the same."""
_SPACE = re.compile(r"[ \t\n\r]*")
_NUMBER = re.compile(r"(-?(?:0|[1-9][0-9]*))(\.[0-9]+)?([eE][-+]?[0-9]+)?")
_WORDS = {"n": ("null", None), "t": ("true", True), "f": ("false", False), "N": ("NaN", None),
          "I": ("Infinity", None)}


def deep_loads(raw: bytes | str, depth: int = DEEP) -> Any:
    """What `read_record(raw)` gives (the value, or the ValueError it raises), read with a
    stack of its own rather than by recursion, so that no nesting is too deep for it. A
    container deeper than `depth` is kept as an empty one of its kind: what it holds cannot
    matter to a decision (`DEEP`), and a value nested that deep would make any later repr of it
    recurse."""
    text = raw if isinstance(raw, str) else raw.decode("utf-8")
    if text.startswith("\ufeff"):
        text = text[1:]

    def skip(at: int) -> int:
        """The index of the first character at or after `at` that is no JSON whitespace."""
        match = _SPACE.match(text, at)
        assert match is not None  # the pattern matches the empty string anywhere
        return match.end()

    stack: list[list[Any]] = []  # per open container: [the container, the key awaiting its value, its pairs]
    at = skip(0)

    def key(frame: list[Any], at: int) -> int:
        """Read `"key" :` at `at` into the frame; the index of the value after it."""
        if text[at:at + 1] != '"':
            raise json.JSONDecodeError("Expecting property name enclosed in double quotes", text, at)
        frame[1], at = _scanstring(text, at + 1, True)
        at = skip(at)
        if text[at:at + 1] != ":":
            raise json.JSONDecodeError("Expecting ':' delimiter", text, at)
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
                frame: list[Any] = [[] if char == "[" else None, None, []]
                stack.append(frame)
                if char == "{":
                    at = key(frame, at)
                continue
        elif char in _WORDS and text.startswith(_WORDS[char][0], at):
            word, value = _WORDS[char]
            if char in "NI":
                _constant(word)
            at += len(word)
        elif char == "-" and text.startswith("-Infinity", at):
            _constant("-Infinity")
        else:
            match = _NUMBER.match(text, at)
            if match is None:
                raise json.JSONDecodeError("Expecting value", text, at)
            integer, fraction, exponent = match.groups()
            value = float(integer + (fraction or "") + (exponent or "")) if fraction or exponent else int(integer)
            at = match.end()
        while True:  # a value is read: put it in its container, and close the containers it ends
            if not stack:
                at = skip(at)
                if at != len(text):
                    raise json.JSONDecodeError("Extra data", text, at)
                _refuse_twice(value)
                return value
            frame = stack[-1]
            if len(stack) >= depth and value.__class__ in (dict, list, _Twice):
                value = {} if value.__class__ is _Twice else value.__class__()
            pairs = frame[2]
            if frame[0] is None:
                pairs.append((frame[1], value))
            else:
                frame[0].append(value)
            at = skip(at)
            char = text[at:at + 1]
            if char == ("}" if frame[0] is None else "]"):
                stack.pop()
                value, at = (_object(pairs) if frame[0] is None else frame[0]), at + 1
                continue
            if char != ",":
                raise json.JSONDecodeError("Expecting ',' delimiter", text, at)
            at = skip(at + 1)
            if frame[0] is None:
                at = key(frame, at)
            break
