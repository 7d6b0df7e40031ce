"""The hand-written baselines of `benchmarks/shapes.py` do what they claim, or the ratios the
benchmark reports mean nothing: the validating ones refuse every bad request as section 5
says (the same code for the same signal as the engines: the first in declaration order), and
every baseline decides every valid request as the engines do (the trusting ones on requests
already in the engines' form)."""

from __future__ import annotations

import functools
import sys
from decimal import Decimal
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

import policylang
from policylang import RequestError

import strategies as gen
from conftest import ROOT, examples

sys.path.insert(0, str(ROOT))  # the benchmarks package sits beside policylang

from benchmarks import shapes, tenant_baselines  # noqa: E402
from benchmarks.policies import conjunctive_tenant_policy  # noqa: E402

RULES = 100
SHAPES = ("conjunctive", "eight")


@functools.cache
def baselines() -> dict[str, tuple[policylang.Policy, Any, Any]]:
    """Each shape's (policy, validating baseline, trusting baseline), built when a test first
    asks (not while the suite is collected)."""
    tenants = policylang.loads(conjunctive_tenant_policy(RULES), f"conjunctive_{RULES}.route", analyze=False)
    return {
        "eight": (policylang.loads(shapes.EIGHT, "eight_signals.route", analyze=False), shapes.eight_validating,
                  shapes.eight_lazy),
        "conjunctive": (tenants, tenant_baselines.load(shapes.conjunctive_indexed(RULES, True)),
                        tenant_baselines.load(shapes.conjunctive_indexed(RULES, False))),
    }


def answer(decide: Any, request: Any) -> tuple:
    """("decision", rule, model, steps, max_output, reject) or ("error", code, signal)."""
    try:
        d = decide(request)
    except (RequestError, shapes.RequestError) as exc:
        return ("error", exc.code, exc.signal)
    except ValueError as exc:  # the tenant baselines' own RequestError, one class per module
        return ("error", getattr(exc, "code", None), getattr(exc, "signal", None))
    if isinstance(d, tuple):
        return ("decision", d[0], d[1], tuple(d[2]), d[3], d[4])
    return ("decision", d.rule, d.model, tuple(d.steps), d.max_output, d.reject)


def _interpreted(policy: policylang.Policy) -> Any:
    return lambda request: policy.decide(request, engine="interpreted")


@examples(0.5)
@given(st.sampled_from(SHAPES), st.data())
def test_validating_baselines_refuse_and_decide_as_the_engines(shape: str, data) -> None:
    policy, validating, _ = baselines()[shape]
    requests = st.one_of(gen.valid_requests(policy.ir), gen.faulty_requests(policy.ir))
    for request in data.draw(st.lists(requests, min_size=5, max_size=20), label="requests"):
        assert answer(validating, request) == answer(_interpreted(policy), request), request


@examples(0.5)
@given(st.sampled_from(SHAPES), st.data())
def test_trusting_baselines_decide_as_the_engines(shape: str, data) -> None:
    policy, _, trusting = baselines()[shape]
    for request in data.draw(st.lists(gen.valid_requests(policy.ir), min_size=5, max_size=20), label="requests"):
        want = answer(_interpreted(policy), request)
        assert answer(trusting, gen.typed(policy.ir, request)) == want, request


def test_non_finite_amounts_are_out_of_domain_in_every_baseline() -> None:
    """NaN, a signaling NaN (which raises on comparison) and infinities, as floats or
    Decimals, for money: R003 in the baselines as in the engines."""
    for value in (float("nan"), float("inf"), Decimal("NaN"), Decimal("sNaN"), Decimal("-Infinity")):
        for policy, validating, _ in baselines().values():
            request = {**gen.plain_values(policy.ir.inputs), "remaining_budget": value}
            assert answer(validating, request) == answer(_interpreted(policy), request) \
                == ("error", "R003", "remaining_budget"), value


def test_the_benchmark_requests_are_valid_and_reach_many_rules() -> None:
    """The seeded mixes hold no bad request (the harness compares decisions, not errors) and
    spread over the route rather than all landing on one rule."""
    for policy, requests, least in ((baselines()["eight"][0], shapes.eight_requests(500), 9),
                                    (baselines()["conjunctive"][0], shapes.conjunctive_requests(500), 40)):
        rules = {policy.decide(r).rule for r in requests}
        assert len(rules) >= least, sorted(rules)
