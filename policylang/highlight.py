"""A Pygments lexer for `.route` files, so that Markdown, Sphinx and MkDocs highlight route
blocks (```` ```route ````). Registered through the `pygments.lexers` entry point as `route`
(aliases `policylang`, `policy`); `import policylang` never imports this module or Pygments.

The tokens follow grammar/policy.lark: section 11's keywords (types, constants and the words
that begin a declaration told apart), the contextual words `cost`, `latency` and `down` where
the grammar reads them, numbers, money and durations, strings, `->` and `..`, and the name a
declaration introduces. What the grammar rejects is an `Error` token: a character no token
starts with, a number glued to letters (`5sec`), a string left open at the end of its line.
"""

from __future__ import annotations

from collections.abc import Callable

from pygments import lexer
from pygments.lexer import RegexLexer, words
from pygments.token import Comment, Error, Keyword, Name, Number, Operator, Punctuation, String, Whitespace

__all__ = ["RouteLexer"]

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_END = r"(?![A-Za-z0-9_])"

bygroups: Callable[..., object] = lexer.bygroups
"""Pygments' `bygroups`, given a type: its stubs (types-Pygments) leave it unannotated."""


class RouteLexer(RegexLexer):
    """Highlights policylang's `.route` routing policies."""

    name = "Route"
    aliases = ["route", "policylang", "policy"]
    filenames = ["*.route"]
    mimetypes = ["text/x-route"]
    url = "https://pypi.org/project/policylang/"
    version_added = ""

    tokens = {
        "root": [
            (r"[ \t\r\n\f]+", Whitespace),
            (r"#[^\r\n]*", Comment.Single),
            (r'"([^"\\\n]|\\.)*"', String.Double),
            (r'"([^"\\\n]|\\.)*\\?', Error),  # unterminated: the grammar's E003
            # declarations: the keyword, then the name it introduces
            (rf"(policy)(\s+)({_NAME})", bygroups(Keyword.Namespace, Whitespace, Name.Namespace)),
            (rf"(model|cascade)(\s+)({_NAME})", bygroups(Keyword.Declaration, Whitespace, Name.Class)),
            (rf"(signal|outcome)(\s+)({_NAME})", bygroups(Keyword.Declaration, Whitespace, Name.Variable)),
            (rf"(threshold)(\s+)({_NAME})", bygroups(Keyword.Declaration, Whitespace, Name.Constant)),
            (rf"(rule|test|invariant)(\s+)({_NAME})", bygroups(Keyword.Declaration, Whitespace, Name.Function)),
            (rf"(budget)(\s+)(cost|latency){_END}", bygroups(Keyword.Declaration, Whitespace, Keyword.Pseudo)),
            (rf"(cost)(\s*)(\()", bygroups(Name.Builtin, Whitespace, Punctuation)),
            (rf"(model)(\s*)(\.)(\s*)({_NAME})", bygroups(Keyword.Pseudo, Whitespace, Punctuation, Whitespace,
                                                       Name.Attribute)),
            (words(("import", "as"), suffix=_END), Keyword.Namespace),
            (words(("model", "cascade", "fallback", "budget", "invariant", "signal", "outcome", "threshold",
                    "route", "rule", "test"), suffix=_END), Keyword.Declaration),
            (words(("bool", "int", "float", "money", "duration", "enum"), suffix=_END), Keyword.Type),
            (words(("true", "false"), suffix=_END), Keyword.Constant),
            (words(("and", "or", "not", "in"), suffix=_END), Operator.Word),
            (words(("on", "when", "require", "default", "reject", "with", "given", "expect", "by", "then"),
                   suffix=_END), Keyword),
            (rf"(down)(\s+)(?={_NAME})", bygroups(Keyword.Pseudo, Whitespace)),
            # numbers, as the grammar lexes them; one glued to letters is the grammar's E004
            (r"[0-9][0-9_]*(\.[0-9][0-9_]*)?(ms|s|m)" + _END, Number),
            (r"\$[0-9][0-9_]*(\.[0-9][0-9_]*)?" + _END, Number),
            (r"\$?[0-9][0-9_]*(\.[0-9][0-9_]*)?[A-Za-z][A-Za-z0-9_]*", Error),
            (r"[0-9][0-9_]*\.[0-9][0-9_]*", Number.Float),
            (r"[0-9][0-9_]*", Number.Integer),
            (_NAME, Name),
            (r"->|\.\.|==|!=|<=|>=|<|>|\+|-|\*|=", Operator),
            (r"[{}(),:.]", Punctuation),
            (r"&&?|\|\|?|!", Error),  # C's operators: a policy spells them and, or, not
            (r".", Error),
        ],
    }

