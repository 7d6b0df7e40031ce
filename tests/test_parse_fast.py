"""The parser's fast path builds what the recovering loop, with validated nodes and spans
searched in the text, builds: the same tree, field by field, and the same diagnostics.

The reference is the parse as it was before the fast path: Lark's own lexer, every token fed
to Lark's interactive parser through the recovering loop, every node validated by pydantic and
every span searched in the text. The fast path is the hand-written lexer (`syntax/lexer.py`),
the tight LALR loop over Lark's tables (`syntax/lalr.py`) and unvalidated nodes with spans from
the tokens (`syntax/build.py`). They must agree on the examples and fixtures, the conformance
cases, the benchmark shapes, generated policies, and the same texts broken at random.
"""

from __future__ import annotations

import pathlib
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks import scale
from policylang.ir.node import Node
from policylang.source import Source, Span
from policylang.syntax import build, lexer, parser
from policylang.syntax.grammar import parser as lark_parser
from policylang.syntax.loader import decode
import policygen
import policygen_keyed
import policygen_measured
import policygen_paths
from conftest import ROOT, conformance_params, example_files

FILES = sorted([*(ROOT / "tests" / "fixtures").rglob("*.route"), *example_files()])


def _slow_parse(source: Source, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, list[Any]]:
    """The parse as it was: Lark's lexer, every token through the recovering loop (Lark's
    interactive parser), nodes validated by pydantic, spans from `Source.span`."""
    with monkeypatch.context() as patch:
        patch.setattr(parser, "lex_tokens", lambda text: list(lark_parser().lex(text)))
        patch.setattr(build, "_new", lambda cls, **values: cls(**values))
        patch.setattr(build, "make", lambda made, values: made.cls(**values))
        patch.setattr(build.BuildContext, "span",
                      lambda self, first, last=None: self.source.span(build._start(first),
                                                                       build._end(last if last is not None else first)))
        patch.setattr(parser, "_parse_plain", lambda tokens: None)
        return parser.parse(source)


def _same(a: Any, b: Any, where: str = "tree") -> None:
    assert type(a) is type(b), f"{where}: {type(a).__name__} != {type(b).__name__}"
    if isinstance(a, (Node, Span)):
        assert list(a.__dict__) == list(b.__dict__), where
        assert a.__pydantic_fields_set__ == b.__pydantic_fields_set__, where
        for name in a.__dict__:
            _same(getattr(a, name), getattr(b, name), f"{where}.{name}")
    elif isinstance(a, tuple):
        assert len(a) == len(b), where
        for k, (x, y) in enumerate(zip(a, b)):
            _same(x, y, f"{where}[{k}]")
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


def _check(source: Source, monkeypatch: pytest.MonkeyPatch) -> None:
    fast_tree, fast_diagnostics = parser.parse(source)
    slow_tree, slow_diagnostics = _slow_parse(source, monkeypatch)
    assert fast_diagnostics == slow_diagnostics
    _same(fast_tree, slow_tree)
    if fast_tree is not None:
        assert fast_tree == slow_tree and fast_tree.model_dump() == slow_tree.model_dump()


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_fixture_parses_the_same_on_both_paths(path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _check_file(path, monkeypatch)


@pytest.mark.parametrize("path", conformance_params(), ids=lambda p: p.name if p else "absent")
def test_every_conformance_case_parses_the_same_on_both_paths(path: pathlib.Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """The shared cases beside the repository (skipped, with the reason, where they are absent)."""
    _check_file(path, monkeypatch)


def _check_file(path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source, error = decode(str(path), path.read_bytes())
    if error is None:  # a file that is not UTF-8 never reaches the parser
        _check(source, monkeypatch)


@pytest.mark.parametrize("shape", sorted(scale.SHAPES))
def test_benchmark_shapes_parse_the_same_on_both_paths(shape: str, monkeypatch: pytest.MonkeyPatch) -> None:
    text = scale.SHAPES[shape](60, 5)
    source, _ = decode(f"{shape}.route", text.encode())
    _check(source, monkeypatch)


def test_a_fast_path_node_is_a_validated_node() -> None:
    """Unvalidated construction says what validation says, defaults and errors included."""
    from policylang.ir import surface as s

    span = Span(file="f", start=0, end=1, line=1, column=1, end_line=1, end_column=2)
    name = build._new(s.Name, span=span, text="x")
    assert name == s.Name(span=span, text="x") and name.kind == "name"
    with pytest.raises(ValueError):
        build._new(s.Name, span=span, text="x", bogus=1)  # an unknown field: pydantic's error
    with pytest.raises(ValueError):
        build._new(s.Name, span=span)  # a missing field: pydantic's error


_PIECES = ["rule", "r1", "when", "x", "==", "1", "->", "m", "default", "route", "{", "}", "(", ")", "and", "not",
           "\n", " ", "signal", ":", "int", "in", "0..9", "model", "\"s\"", "$1", "&&", "#", "5s", "1__0", "\r\n"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pieces=st.lists(st.sampled_from(_PIECES), max_size=40))
def test_token_soup_parses_the_same_on_both_paths(pieces: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    base = (ROOT / "examples" / "support_desk.route").read_text()
    cut = len(base) // 2
    text = base[:cut] + " ".join(pieces) + base[cut:]
    source, _ = decode("soup.route", text.encode())
    _check(source, monkeypatch)


# ---- the lexer ---------------------------------------------------------------------------------


def _token_fields(tokens: list[Any]) -> list[tuple[Any, ...]]:
    return [(type(token), token.type, str(token), token.value, token.start_pos, token.line, token.column,
             token.end_line, token.end_column, token.end_pos) for token in tokens]


def _same_tokens(text: str) -> None:
    assert _token_fields(lexer.tokens(text)) == _token_fields(list(lark_parser().lex(text)))


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_the_lexer_makes_larks_tokens_on_every_fixture(path: pathlib.Path) -> None:
    _same_tokens(path.read_text(encoding="utf-8", errors="replace"))


_LEXEMES = st.sampled_from(_PIECES + ["model.x", "1.5", "$0.50", "250ms", "1m", "2s", "5sec", "\"", "\"a\\\"b\"",
                                      "\"open", "\"x\\", "||", "|", "!", "!=", "<=", ">=", "..", "->", "-", "+", "*",
                                      ",", ".", "=", "{", "}", "# c\n", "\t", "\f", "\r", "é", "\u2028", "\x00",
                                      "_a", "A9", "1_", "$", "$x", "0.", ".5", "in", "not", "true", "policy"])


@settings(max_examples=300, deadline=None)
@given(text=st.one_of(st.text(), st.lists(_LEXEMES).map("".join), st.lists(_LEXEMES).map(" ".join)))
def test_the_lexer_makes_larks_tokens_on_any_text(text: str) -> None:
    """Any text at all (every character lexes: the last resort is BAD_CHAR), glued or spaced."""
    _same_tokens(text)


def test_the_lexer_makes_larks_tokens_on_the_benchmark_shapes() -> None:
    for shape in sorted(scale.SHAPES):
        _same_tokens(scale.SHAPES[shape](200, 3))


# ---- generated policies, whole and broken ------------------------------------------------------


_GENERATED = st.one_of(
    policygen.any_policies(extras=True).map(str),
    policygen.enum_keyed_policies().map(str),
    policygen_keyed.box_policies().map(str),
    policygen_keyed.keyed_policies().map(str),
    policygen_measured.measured_policies(extras=True).map(str),
    policygen_paths.policies(),
    st.builds(lambda shape, n, seed: scale.SHAPES[shape](n, seed),
              st.sampled_from(sorted(scale.SHAPES)), st.integers(1, 40), st.integers(0, 10_000)),
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(text=_GENERATED)
def test_generated_policies_parse_the_same_on_both_paths(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    source, _ = decode("generated.route", text.encode())
    tree, diagnostics = parser.parse(source)
    assert tree is not None and diagnostics == []  # the generators write policies that parse
    _check(source, monkeypatch)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(text=_GENERATED, data=st.data())
def test_broken_generated_policies_give_the_same_diagnostics(text: str, data: st.DataObject,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """A token deleted, doubled or replaced, or a piece inserted, anywhere: whether the fast
    path gives up or not, the result is the recovering loop's."""
    tokens = lexer.tokens(text)
    token = tokens[data.draw(st.integers(0, len(tokens) - 1), label="at")]
    start, end = token.start_pos, token.end_pos
    edit = data.draw(st.sampled_from(["delete", "double", "replace", "insert"]), label="edit")
    piece = data.draw(st.sampled_from(_PIECES + ["(", "((", ")", "\"", "&&", "5sec", "1__0", "é"]), label="piece")
    if edit == "delete":
        text = text[:start] + text[end:]
    elif edit == "double":
        text = text[:end] + " " + text[start:end] + text[end:]
    elif edit == "replace":
        text = text[:start] + piece + text[end:]
    else:
        text = text[:start] + piece + " " + text[start:]
    source, _ = decode("broken.route", text.encode())
    _check(source, monkeypatch)
