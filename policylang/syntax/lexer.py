"""The tokens of a `.route` file, as Lark's basic lexer makes them, in one pass of one regex.

Lark's lexer calls a method, builds a token through two more calls and feeds a line counter
for each token; this loop does the same work inline, about three times as fast. It is built
from the Lark lexer's own pieces, so it cannot drift from the grammar: the same union of
terminal patterns in the same order (the first alternative that matches wins), the same
keyword table (a NAME that spells a keyword takes the keyword's type), the same ignored
terminals, and the same line and column arithmetic (a line is counted at each `\\n` inside a
token that can hold one). `tests/test_parse_fast.py` checks it token by token against Lark's
lexer on arbitrary text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from lark import Token

from .grammar import parser


@dataclass(frozen=True)
class _Tables:
    pattern: re.Pattern[str]
    keywords: dict[str, str]
    ignored: frozenset[str]
    multiline: frozenset[str]


@lru_cache(maxsize=1)
def _tables() -> _Tables:
    """The lexer's tables, taken from the Lark parser's basic lexer."""
    lexer = parser().parser.lexer  # lark's ParsingFrontend: the BasicLexer of `lexer="basic"`
    scanner = lexer.scanner  # BasicLexer builds it on first use
    if len(scanner._mres) != 1:
        raise AssertionError("the grammar's terminals no longer fit one regex")
    if not scanner._mres[0].pattern.endswith("|(?P<BAD_CHAR>(?s:.))"):
        raise AssertionError("BAD_CHAR (any character) is no longer the last resort: lexing could skip text")
    keywords: dict[str, str] = {}
    for terminal_type, callback in lexer.callback.items():
        if terminal_type != "NAME":
            raise AssertionError(f"an unexpected lexer callback for {terminal_type}")
        for keyword in callback.scanner.terminals:
            if keyword.pattern.type != "str" or keyword.pattern.flags:
                raise AssertionError(f"keyword {keyword.name} is not a plain string")
            keywords.setdefault(keyword.pattern.value, keyword.name)
    return _Tables(scanner._mres[0], keywords, frozenset(lexer.ignore_types), frozenset(lexer.newline_types))


def tokens(text: str) -> list[Token]:
    """Every token of `text`, white space and comments left out: the list that
    `list(parser().lex(text))` gives, token for token (type, value, start and end offsets,
    lines and columns). Lexing never fails: a character no terminal takes is a BAD_CHAR."""
    tables = _tables()
    keywords = tables.keywords
    ignored = tables.ignored
    multiline = tables.multiline
    new_token = str.__new__
    found: list[Token] = []
    append = found.append
    line = 1
    line_start = 0  # the offset where the current line begins
    # BAD_CHAR matches any character, so the matches tile the text with no gap
    for match in tables.pattern.finditer(text):
        kind = match.lastgroup
        if kind in ignored:  # white space and comments: only the lines they end count
            if kind in multiline:
                value = match.group()
                newlines = value.count("\n")
                if newlines:
                    line += newlines
                    line_start = match.start() + value.rindex("\n") + 1
            continue
        value = match.group()
        start, end = match.span()
        token = new_token(Token, value)
        token.start_pos = start
        token.value = value
        token.line = line
        token.column = start - line_start + 1
        if kind in multiline:
            newlines = value.count("\n")
            if newlines:
                line += newlines
                line_start = start + value.rindex("\n") + 1
        elif kind == "NAME":
            kind = keywords.get(value, kind)
        token.type = kind  # type: ignore[assignment]  # a terminal name: never None here
        token.end_line = line
        token.end_column = end - line_start + 1
        token.end_pos = end
        append(token)
    return found
