"""The typed expressions' unions (ir/expr.py): route, invariant and lowered expressions are
separate unions for the type checker only. At runtime pydantic validates every expression field
against one union of the node classes, so a node placed in another is the same object (not a
copy made for a parametrized `Not[Expr]`), and the IR's JSON has the shape it always had."""

from __future__ import annotations

import json

import pytest

from policylang.ir import expr as e
from policylang.ir.node import walk
from policylang.ir.policy import ModelTarget, Rule
from policylang.ir.types import BOOL, INT
from policylang.policy import check_text
from policylang.source import Span

SPAN = Span(file="<test>", start=0, end=1, line=1, column=1, end_line=1, end_column=2)

POLICY = """\
policy unions

signal n: int in 0..100
signal pii: bool

model m {
  id = "vendor/m", tier = 1, input_per_mtok = $1, output_per_mtok = $1, context = 10_000, max_output = 100,
  latency = 1s, regions = {eu, us}
}

invariant known: when not pii require model.tier >= 1 and eu in model.regions

route {
  rule small when not (n > 3 and pii) -> m
  default -> m
}
"""


def _nodes() -> tuple[e.SignalRef, e.Not[e.Expr], e.BoolOp[e.Expr]]:
    ref = e.SignalRef(span=SPAN, name="pii", role="signal", type=BOOL)
    negated = e.Not(span=SPAN, operand=ref)
    both = e.BoolOp(span=SPAN, op="and", operands=(negated, ref))
    return ref, negated, both


def test_a_node_placed_in_another_is_the_same_object() -> None:
    ref, negated, both = _nodes()
    rule = Rule(span=SPAN, name="r", condition=both, target=ModelTarget(span=SPAN, model="m"))
    assert rule.condition is both
    assert both.operands[0] is negated and negated.operand is ref
    assert type(negated) is e.Not  # never a parametrized subclass at runtime


def test_children_are_still_validated_against_the_union_of_nodes() -> None:
    with pytest.raises(ValueError):
        e.Not(span=SPAN, operand="pii")  # a str is no node


def test_json_is_the_tagged_tree() -> None:
    _, _, both = _nodes()
    data = json.loads(both.model_dump_json())
    assert data["kind"] == "boolop" and data["operands"][0]["kind"] == "not"
    assert data["operands"][0]["operand"] == {"span": data["operands"][1]["span"], "kind": "signal", "name": "pii",
                                              "role": "signal", "type": {"kind": "bool"}}


def test_the_checker_gives_route_conditions_and_invariant_requirements() -> None:
    checked = check_text(POLICY, "<unions>", analyze=False)
    assert checked.policy is not None, [d.message for d in checked.diagnostics]
    (rule,) = checked.policy.rules
    assert rule.condition is not None and e.is_route_expr(rule.condition)
    (invariant,) = checked.policy.invariants
    assert invariant.condition is not None and e.is_route_expr(invariant.condition)
    assert not e.is_route_expr(invariant.requirement)  # it reads model.tier and model.regions
    reads = {x.field for x in _walk(invariant.requirement) if isinstance(x, e.ModelAttr)}
    assert reads == {"tier", "regions"}


def test_model_fields_outside_a_requirement_are_refused() -> None:
    text = POLICY.replace("when not pii require", "when model.tier >= 1 require")
    codes = [d.code for d in check_text(text, "<unions>", analyze=False).diagnostics]
    assert "E101" in codes


def test_is_route_expr_finds_a_model_field_deep_inside() -> None:
    tier = e.ModelAttr(span=SPAN, field="tier", type=INT)
    deep: e.InvariantExpr = e.Compare(span=SPAN, op=">=", left=tier, right=e.Const(span=SPAN, value=1, type=INT))
    for _ in range(50):
        deep = e.Not(span=SPAN, operand=deep)
    assert not e.is_route_expr(deep)
    assert e.is_route_expr(_nodes()[2])


def _walk(x: e.InvariantExpr) -> list[object]:
    return list(walk(x))
