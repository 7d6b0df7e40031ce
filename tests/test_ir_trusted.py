"""The checker builds its IR nodes without re-validating them (`ir.node.trusted`): every node it
builds must be the node pydantic's validation builds from the same fields, field by field (the
same classes, values, field order and fields set), so that the IR is equal and dumps to the
same JSON. Checked on the examples, the fixtures, the conformance cases, the benchmark shapes
and generated policies."""

from __future__ import annotations

import pathlib
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from pydantic import BaseModel, ValidationError

from benchmarks import scale
from policylang.ir import expr as e
from policylang.ir.node import Node, trusted
from policylang.ir.policy import CheckedPolicy
from policylang.ir.types import INT
from policylang.passes.pipeline import check
from policylang.syntax.loader import decode
import policygen
from conftest import ROOT, conformance_files, needs_conformance

FILES = sorted([*ROOT.glob("examples/**/*.route"), *ROOT.glob("tests/data/**/*.route"),
                *ROOT.glob("tests/fixtures/**/*.route")])


def _checked(name: str, text: str | bytes, path: str | None = None) -> CheckedPolicy | None:
    source, error = decode(name, text.encode() if isinstance(text, str) else text, path)
    return check(source, error, analyze=False).policy


def _models(value: Any) -> list[BaseModel]:
    """Every pydantic model in `value`, depth first (through tuples and the dataclass Model)."""
    found: list[BaseModel] = []
    stack = [value]
    while stack:
        x = stack.pop()
        if isinstance(x, BaseModel):
            found.append(x)
            stack.extend(x.__dict__.values())
        elif isinstance(x, tuple):
            stack.extend(x)
    return found


def _assert_validated(policy: CheckedPolicy) -> int:
    """Each node of `policy` equals the one validation builds from its given fields; the count."""
    nodes = [x for x in _models(policy) if isinstance(x, Node)]
    for node in nodes:
        given = {name: getattr(node, name) for name in node.__pydantic_fields_set__}
        validated = type(node)(**given)
        assert validated == node
        assert list(validated.__dict__) == list(node.__dict__)
        assert validated.__pydantic_fields_set__ == node.__pydantic_fields_set__
        assert {k: type(v) for k, v in validated.__dict__.items()} == {k: type(v) for k, v in node.__dict__.items()}
        assert (validated.__pydantic_extra__, validated.__pydantic_private__) == (node.__pydantic_extra__,
                                                                                 node.__pydantic_private__)
    given = {name: getattr(policy, name) for name in policy.__pydantic_fields_set__}
    assert policy.model_dump_json() == CheckedPolicy(**given).model_dump_json()
    return len(nodes)


def _check_files(paths: list[pathlib.Path]) -> int:
    """How many of `paths` check clean, each asserted equal to what validation builds."""
    checked = 0
    for path in paths:
        policy = _checked(str(path), path.read_bytes(), str(path))
        if policy is not None:
            checked += 1
            _assert_validated(policy)
    return checked


def test_every_policy_of_the_corpus() -> None:
    assert _check_files(FILES) >= 40  # the corpus is there: most files check clean


@needs_conformance
def test_every_conformance_case() -> None:
    assert _check_files(conformance_files()) >= 1


@pytest.mark.parametrize("shape", sorted(scale.SHAPES))
def test_benchmark_shapes(shape: str) -> None:
    policy = _checked(f"{shape}.route", scale.SHAPES[shape](150, 3))
    assert policy is not None
    assert _assert_validated(policy) > 150


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policygen.any_policies(extras=True).map(str))
def test_generated_policies(text: str) -> None:
    policy = _checked("generated.route", text)
    if policy is not None:
        _assert_validated(policy)


def test_what_is_not_a_field_is_validated() -> None:
    span = e.Const(span=_span(), value=1, type=INT).span
    with pytest.raises(ValidationError):
        trusted(e.Const, span=span, value=1, type=INT, colour="red")
    with pytest.raises(ValidationError):
        trusted(e.Const, span=span, value=1)  # `type` is required
    made = trusted(e.Compare, span=span, op="<", left=trusted(e.Const, span=span, value=1, type=INT),
                   right=e.Const(span=span, value=2, type=INT))
    assert made == e.Compare(span=span, op="<", left=e.Const(span=span, value=1, type=INT),
                             right=e.Const(span=span, value=2, type=INT))
    with pytest.raises(ValidationError):
        made.op = ">"  # type: ignore[misc]  # frozen, as a validated node is: the point of the test


def _span() -> Any:
    from policylang.source import Span

    return Span(file="t.route", start=0, end=1, line=1, column=1, end_line=1, end_column=2)
