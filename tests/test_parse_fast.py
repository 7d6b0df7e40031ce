"""The parser's fast path builds what the recovering loop, with validated nodes and spans
searched in the text, builds: the same tree, field by field, and the same diagnostics."""

from __future__ import annotations

import pathlib
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks import scale
from policylang.ir.node import Node
from policylang.source import Source, Span
from policylang.syntax import build, parser
from policylang.syntax.loader import decode
from conftest import ROOT, conformance_params, example_files

FILES = sorted([*(ROOT / "tests" / "fixtures").rglob("*.route"), *example_files()])


def _slow_parse(source: Source, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, list[Any]]:
    """The parse as it was: every token through the recovering loop, nodes validated by
    pydantic, spans from `Source.span`."""
    with monkeypatch.context() as patch:
        patch.setattr(build, "_new", lambda cls, **values: cls(**values))
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
