"""The Lark parser for `.route` files, built once from the packaged grammar."""

from __future__ import annotations

from functools import lru_cache
from importlib.resources import files

from lark import Lark

from .build import Builder


def grammar_text() -> str:
    """The packaged grammar, `policylang/grammar/policy.lark`."""
    return (files("policylang.grammar") / "policy.lark").read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def parser() -> Lark:
    """LALR(1) with a basic lexer; the builder's callbacks run as rules are reduced."""
    return Lark(
        grammar_text(),
        parser="lalr",
        lexer="basic",
        keep_all_tokens=True,
        maybe_placeholders=False,
        transformer=Builder(),
        cache=True,  # the LALR tables, in the temp folder keyed by the grammar's hash
    )


def terminal_pattern(name: str) -> str | None:
    """The literal text of a string terminal (`ARROW` -> `->`), or None for a regex terminal."""
    try:
        pattern = parser().get_terminal(name).pattern
    except KeyError:
        return None
    return pattern.value if pattern.type == "str" else None
