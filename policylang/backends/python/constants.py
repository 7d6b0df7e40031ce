"""The module constants of a generated module: values that are not plain literals (decimals,
label sets, tuples of them) are written once, as `_K0`, `_K1`, ... in the order first asked for,
so that a module is byte-identical for the same policy."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any


@dataclass
class Constants:
    """Module-level constants for values that are not plain literals (decimals, label sets)."""

    names: dict[str, str] = field(default_factory=dict)  # rendered value -> name

    def literal(self, value: Any, hoist: bool = True) -> str:
        """`value` as Python source: plain literals inline; decimals, label sets and tuples of
        them as a module constant (`_K0`), each written once, unless `hoist` is false."""
        if value is None or isinstance(value, (bool, int, str)):
            return repr(value)
        if isinstance(value, float):
            return repr(value)
        if isinstance(value, Decimal):
            text = f"_Decimal({str(value)!r})"
        elif isinstance(value, frozenset):
            text = "frozenset({" + ", ".join(repr(v) for v in sorted(value)) + "})" if value else "frozenset()"
        elif isinstance(value, tuple):
            items = [self.literal(v, hoist) for v in value]
            text = "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
            if not hoist or all(isinstance(v, (str, int, type(None))) for v in value):
                return text
        else:
            raise TypeError(f"cannot write {type(value).__name__} into a module")
        if not hoist:
            return text
        if text not in self.names:
            self.names[text] = f"_K{len(self.names)}"
        return self.names[text]
