"""JSON text with exact decimals: a `Decimal` is written as the number it is, never via float."""

from __future__ import annotations

import json
import math
from decimal import Decimal
from typing import Any


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
