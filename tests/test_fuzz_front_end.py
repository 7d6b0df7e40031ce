"""No input makes the checker crash: real policies, mutated token by token, always get
diagnostics (or none), never an exception.

The mutations are the slips people make: a literal of another kind where one stood (`0..5` for
`$0..$5`, `5s` for `5`), a token deleted or doubled, a keyword or operator where a name stood.
Every mutant goes through the whole pipeline, analyses included when the front end accepts it.
"""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from conftest import conformance_files, example_files, examples
from policylang.passes import check
from policylang.syntax.loader import decode

_TOKEN = re.compile(r'"(?:[^"\\\n]|\\.)*"|\$?[0-9][0-9_]*(?:\.[0-9][0-9_]*)?(?:ms|s|m)?|[A-Za-z_][A-Za-z0-9_]*|->|\.\.|[<>=!]=|\S')
_POOL = ("$5", "5", "5s", "0.5", "-1", "$0.1", "250ms", "true", "false", "x", "pii", "input_tokens", "{", "}", "(",
         ")", "->", "..", '"s"', "==", "<=", "in", "not", "and", "model", "rule", "default", "with", "max_output",
         "=", ",", ":", "*", "+", "enum", "int", "money", "cost", "reject", "when", "down", "expect", "1_000")

SOURCES = [p.read_text(encoding="utf-8") for p in [*example_files(), *conformance_files()]]


_LITERALS = ("$5", "5", "5s", "0.5", "-1", "$0.1", "250ms", "true", "false", '"s"', "1_000", "0", "-$2", "1m")
_LITERAL = re.compile(r'"|\$|-?[0-9]|true$|false$')


@st.composite
def mutants(draw) -> str:
    """A real policy with one to three slips: a token deleted, doubled or replaced by any
    token, or (keeping the syntax) a literal by one of another kind, a name by another name."""
    text = draw(st.sampled_from(SOURCES))
    for _ in range(draw(st.integers(1, 3))):
        tokens = list(_TOKEN.finditer(text)) or [re.match("", "")]
        token = draw(st.sampled_from(tokens))
        word = token.group()
        shape = draw(st.integers(0, 4))
        if shape == 0:
            replacement = ""
        elif shape == 1:
            replacement = word * 2 if word.isidentifier() else f"{word} {word}"
        elif shape == 2:
            replacement = draw(st.sampled_from(_POOL))
        elif _LITERAL.match(word):
            replacement = draw(st.sampled_from(_LITERALS))
        else:
            names = sorted({t.group() for t in tokens if t.group().isidentifier()}) or ["x"]
            replacement = draw(st.sampled_from(names))
        text = text[:token.start()] + replacement + text[token.end():]
    return text


@examples(1.0)
@given(mutants())
def test_a_mutated_policy_gets_diagnostics_never_an_exception(text: str) -> None:
    checked = check(*decode("mutant.route", text.encode("utf-8")))
    for d in checked.diagnostics:
        assert d.message and d.span.line >= 1, d
        assert d.code != "E900", f"the checker failed on its own:\n{d.message}\n{text}"


def test_money_bounds_written_as_numbers_are_a_diagnostic() -> None:
    """Found by a reader: `money in 0..5` crashed the type checker."""
    text = 'policy p\nsignal x: money in 0..5\nmodel m { id = "v/m", tier = 0, input_per_mtok = $0, ' \
           'output_per_mtok = $0, context = 3, max_output = 4, latency = 1s }\nroute {\n  default -> m\n}\n'
    codes = [d.code for d in check(*decode("p.route", text.encode())).diagnostics]
    assert codes == ["E103", "E103"]
