"""analysis/linear.py and analysis/quick.py: yes/no answers without z3 agree with z3 on random
linear conditions over a few int and bool variables (hypothesis), whenever they give one; and
they give one on the questions the `arith` benchmark shape asks.
"""

from __future__ import annotations

from typing import Any

import z3
from hypothesis import given, settings
from hypothesis import strategies as st

from policylang.analysis import linear
from policylang.analysis.quick import QuickAnswers, RecordingSolver

INTS = [z3.Int(name) for name in ("x", "y", "z")]
BOOLS = [z3.Bool(name) for name in ("p", "q")]
OPS = ("<", "<=", ">", ">=", "==", "!=")


def _compare(left: Any, op: str, right: Any) -> Any:
    return {"<": left < right, "<=": left <= right, ">": left > right, ">=": left >= right,
            "==": left == right, "!=": left != right}[op]


@st.composite
def sums(draw: st.DrawFn) -> Any:
    chosen = draw(st.lists(st.sampled_from(INTS), min_size=1, max_size=3, unique_by=str))
    parts = []
    for var in chosen:
        factor = draw(st.integers(-3, 3).filter(bool))
        parts.append(var if factor == 1 else -var if factor == -1 else factor * var)
    return parts[0] if len(parts) == 1 else z3.Sum(*parts)


@st.composite
def atoms(draw: st.DrawFn) -> Any:
    if draw(st.integers(0, 5)) == 0:
        return draw(st.sampled_from(BOOLS))
    right = draw(st.one_of(st.integers(-40, 40), sums()))
    return _compare(draw(sums()), draw(st.sampled_from(OPS)), right)


def conditions(depth: int = 3) -> st.SearchStrategy[Any]:
    return st.recursive(
        atoms(),
        lambda inner: st.one_of(
            st.builds(z3.Not, inner),
            st.lists(inner, min_size=2, max_size=3).map(lambda parts: z3.And(*parts)),
            st.lists(inner, min_size=2, max_size=3).map(lambda parts: z3.Or(*parts)),
            st.tuples(inner, inner).map(lambda pair: z3.Implies(*pair)),
        ),
        max_leaves=6,
    )


@st.composite
def domains(draw: st.DrawFn) -> list[Any]:
    found = []
    for var in INTS:
        low = draw(st.one_of(st.none(), st.integers(-20, 20), st.just(0)))
        width = draw(st.sampled_from((0, 1, 3, 10, 1_000_000)))
        if low is not None:
            found.append(var >= low)
            if draw(st.booleans()):
                found.append(var <= low + width)
    return found


def z3_says(terms: list[Any]) -> bool:
    solver = z3.Solver()
    solver.add(*terms)
    answer = solver.check()
    assert answer != z3.unknown
    return bool(answer == z3.sat)


@settings(max_examples=400, deadline=None)
@given(domains(), st.lists(conditions(), min_size=1, max_size=4))
def test_decide_agrees_with_z3_whenever_it_answers(domain: list[Any], terms: list[Any]) -> None:
    translator = linear.Translator({})
    formulas = [translator.formula(t) for t in [*domain, *terms]]
    found = linear.decide(formulas)
    if found is not None:
        assert found == z3_says([*domain, *terms]), (domain, terms)


@settings(max_examples=300, deadline=None)
@given(domains(), st.lists(conditions(), min_size=1, max_size=5), st.data())
def test_quick_answers_over_literals_agree_with_z3_under_assumptions(
        domain: list[Any], meanings: list[Any], data: st.DataObject) -> None:
    """The Solver's use: domains asserted, `@` literals asserted to mean conditions (or their
    negations), questions asked over some of the literals."""
    recording = RecordingSolver()
    recording.add(*domain)
    literals = []
    for k, meaning in enumerate(meanings):
        literal = z3.Bool(f"@c{k}")
        recording.add(literal == (meaning if k % 2 else z3.Not(meaning)))
        literals.append(literal)
    quick = QuickAnswers(recording)
    for _ in range(3):
        asked = data.draw(st.lists(st.sampled_from(literals), min_size=1, max_size=len(literals)))
        found = quick.decide(asked)
        if found is not None:
            answer = recording.check(*asked)
            assert answer != z3.unknown
            assert found == (answer == z3.sat), (domain, meanings, asked)


def test_the_arith_shape_questions_are_answered_without_z3() -> None:
    """A rule's first-match region as the rules pass asks it: its condition, and the negation
    of two earlier ones of the same tenant, with sums and multiples over bounded ints."""
    tenant, tokens, depth, attempt = (z3.Int(n) for n in ("tenant", "input_tokens", "conversation_depth", "attempt"))
    recording = RecordingSolver()
    recording.add(tenant >= 0, tenant < 100, tokens >= 0, tokens <= 900_000, depth >= 0, depth <= 1_000,
                  attempt >= 0, attempt <= 10)
    rules = [z3.And(tenant == 7, tokens + depth > 150), z3.And(tenant == 7, 2 * attempt > 9),
             z3.And(tenant == 7, depth + attempt > 200), z3.And(tenant == 3, depth > 5)]
    included = [z3.Bool(f"@rule_{i}") for i in range(len(rules))]
    excluded = [z3.Bool(f"@not_rule_{i}") for i in range(len(rules))]
    for i, rule in enumerate(rules):
        recording.add(included[i] == rule, excluded[i] == z3.Not(rule))
    quick = QuickAnswers(recording)
    questions = {  # attempt <= 10 and depth + attempt > 200 put depth > 190: rule 0 takes it all
        (included[1], excluded[0], excluded[3]): True,
        (included[3], excluded[0], excluded[1], excluded[2]): True,
        (included[2], excluded[0]): False,
        (included[2], excluded[1], excluded[0], excluded[3]): False,
    }
    for literals, expected in questions.items():
        assert quick.decide(list(literals)) is expected
        assert z3_says([recording.assertions(), *literals]) is expected


def test_reals_and_open_scopes_are_left_to_z3() -> None:
    f = z3.Real("f")
    recording = RecordingSolver()
    recording.add(f >= 0, f <= 1)
    quick = QuickAnswers(recording)
    assert quick.decide([f * 3 == 1]) is None  # decimals: the Solver's grid, not this
    x = z3.Int("x")
    assert quick.decide([x > 3]) is True  # the real's domain says nothing of x
    recording.push()
    assert quick.decide([x > 3]) is None  # what a scope holds is not noted
    recording.pop()
    recording.add(z3.BoolVal(False))
    assert quick.decide([x > 3]) is False or quick.decide([x > 3]) is None
