"""The interpreter's fast paths decide as the compiled module does (section 5), on random
policies built to reach them.

The interpreter validates a request by one exact-class-and-range test per value given,
converts what needs converting (a float for money, an int for a float) through runtime
`_check`, and goes through every signal in declaration order only when something is wrong; it
decides a conjunction of two or three plain tests with one closure, compares Decimal constants
as the int or float of the same value, walks one path of steps per value of a key, and
without validation merges the request over the defaults. Each of those could answer
differently from the compiled module, or from section 5, so the policies here have rules that
read different signals of every kind (ints, floats, bools, enums, money, durations, bounded
or not), defaults, required signals, cascades whose edges read signals, sometimes a key that
enough rules test to be dispatched on; and signals no rule reads at all. The requests leave
optional signals out, give money and durations as ints, floats and Decimals, and, spoiled,
carry bad values in any signal, read by a rule on the path or not: the request is refused
all the same, and the first spoiled signal in declaration order names the error.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import policylang
from policylang import Policy, RequestError

import strategies as gen
from conftest import examples
from policygen_paths import policies

ENGINES = ("compiled", "interpreted")


def _load(text: str) -> Policy:
    return policylang.loads(text, "paths.route", analyze=False)


def outcome(policy: Policy, request: Any, engine: str, **options: Any) -> tuple:
    """("decision", fields) or ("error", code, signal, message)."""
    try:
        return ("decision", policy.decide(request, engine=engine, **options).as_dict())
    except RequestError as exc:
        return ("error", exc.code, exc.signal, exc.message)


def _assert_agree(policy: Policy, request: Any, **options: Any) -> tuple:
    compiled, interpreted = (outcome(policy, request, engine, **options) for engine in ENGINES)
    assert interpreted == compiled, f"{request!r} {options}: interpreted {interpreted}, compiled {compiled}"
    return interpreted


def _as_decimals(policy: Policy, request: dict[str, Any]) -> dict[str, Any]:
    """The same request with each float for money given as the Decimal its repr shows, which
    means the same amount (section 3.3)."""
    money = {s.name for s in policy.ir.inputs if s.type.kind == "money"}
    return {name: Decimal(repr(value)) if name in money and isinstance(value, float) else value
            for name, value in request.items()}


# ---- the properties -----------------------------------------------------------------------------


@examples(0.5)
@given(policies(), st.data())
def test_valid_requests_decide_alike(text: str, data) -> None:
    """Requests in the domain, optional signals often left out: both engines decide alike,
    validating or not (on the request in the engines' own form), and the decisions that carry
    signals for their cascade escalate alike from the trusted path too."""
    policy = _load(text)
    for request in data.draw(st.lists(gen.valid_requests(policy.ir), min_size=4, max_size=12), label="requests"):
        checked = _assert_agree(policy, request)
        assert checked[0] == "decision"
        assert _assert_agree(policy, _as_decimals(policy, request)) == checked
        typed = gen.typed(policy.ir, request)
        assert _assert_agree(policy, typed, validate=False) == checked
        if len(checked[1]["steps"]) > 1:  # each engine's trusted decision climbs as the other's
            for q in (0.2, 0.9):
                climbs = [policy.escalate(policy.decide(typed, engine=engine, validate=False), 0, {"q": q},
                                          engine=engine) for engine in ENGINES]
                assert climbs[0] == climbs[1], (request, q, climbs)


@st.composite
def spoiled(draw, policy: Policy) -> tuple[dict[str, Any], str | None, str | None]:
    """A valid request with one to three signals spoiled (a faulty value, or a required one
    left out), maybe an unknown key too; with the first spoiled signal in declaration order
    and its code (R001 for missing, else None: R002 or R003), or (None, None) when nothing
    was spoiled that the declarations refuse."""
    inputs = list(policy.ir.inputs)
    request = draw(gen.valid_requests(policy.ir))
    at = {s.name: i for i, s in enumerate(inputs)}
    faults: dict[str, str | None] = {}
    for s in draw(st.lists(st.sampled_from(inputs), min_size=1, max_size=3, unique_by=lambda s: s.name)):
        if not s.has_default and draw(st.booleans()):
            request.pop(s.name, None)
            faults[s.name] = "R001"
        else:
            request[s.name] = draw(st.one_of(gen.wrong_sort(s.type), gen.out_of_domain(s.type)), label=s.name)
            faults[s.name] = None
    if draw(st.booleans()):
        request[draw(st.sampled_from(["zz", "I1", "q", "@x"]))] = 1
    first = min(faults, key=at.__getitem__)
    return request, first, faults[first]


@examples(0.5)
@given(policies(), st.data())
def test_bad_values_are_refused_wherever_they_are(text: str, data) -> None:
    """A bad value in any signal, whether or not a rule on the request's path reads it (some
    signals are read by no rule at all), is refused by both engines with the same error, and
    the first spoiled signal in declaration order is the one named; strict mode too."""
    policy = _load(text)
    for _ in range(data.draw(st.integers(3, 8), label="count")):
        request, first, code = data.draw(spoiled(policy), label="request")
        for strict in (False, True):
            found = _assert_agree(policy, request, strict=strict)
            assert found[0] == "error", (request, found)
            assert found[2] == first, (request, found)
            assert (found[1] == code) if code else (found[1] in ("R002", "R003")), (request, found)
        with pytest.raises(RequestError) as refused:
            policy.interpreter.validate(request, "signal")
        assert refused.value.signal == first


@examples(0.3)
@given(policies(), st.data())
def test_unknown_keys_alone(text: str, data) -> None:
    """A valid request with an unknown key decides as without it, and strict mode refuses it
    (R004) after every signal has passed."""
    policy = _load(text)
    request = data.draw(gen.valid_requests(policy.ir), label="request")
    plain = _assert_agree(policy, request)
    extra = {**request, "zz_unknown": 1}
    assert _assert_agree(policy, extra) == plain
    strict = _assert_agree(policy, extra, strict=True)
    assert strict[:3] == ("error", "R004", "zz_unknown")


# ---- fixed cases ----------------------------------------------------------------------------------

FIXED = """
policy fixed

signal a: int in 0..10
signal spend: money in $0..$10 = $5
signal wait: duration in 0s..60s = 1s
signal ratio: float in 0.0..1.0 = 0.5
signal flag: bool = false
signal tier: enum {free, pro} = free
signal must: int in 0..3

model m0 { id = "v/m0", tier = 1, input_per_mtok = $1, output_per_mtok = $1, context = 1_000, max_output = 100, latency = 1s }

route {
  rule first  when a > 2 -> m0
  rule cheap  when spend < $0.5 and wait >= 500ms -> m0
  rule exact  when spend == $0.1 -> m0
  default -> m0
}
"""


@pytest.mark.parametrize("bad, named", [
    ({"spend": "1"}, "spend"), ({"wait": -1}, "wait"), ({"ratio": float("nan")}, "ratio"),
    ({"flag": 1}, "flag"), ({"tier": "gold"}, "tier"), ({"must": True}, "must"),
    ({"ratio": 2.0, "tier": 3}, "ratio"), ({"tier": 3, "flag": None}, "flag"),
    ({"must": 9, "spend": float("inf")}, "spend"),
])
def test_a_rule_that_reads_one_signal_still_refuses_bad_others(bad: dict[str, Any], named: str) -> None:
    """`a > 2` takes the request on its own, but a bad value anywhere is refused, the first in
    declaration order named, by both engines alike."""
    policy = _load(FIXED)
    request = {"a": 5, "must": 1, **bad}
    found = _assert_agree(policy, request)
    assert found[0] == "error" and found[2] == named, found


def test_money_and_durations_compare_exactly_in_every_form() -> None:
    """$0.1 is no float: a Decimal constant the interpreter cannot compare as a float stays a
    Decimal, and 0.1 given as a float reads as its repr, so it equals $0.1 in both engines."""
    policy = _load(FIXED)
    for value, rule in [(0.1, "cheap"), (Decimal("0.1"), "cheap"), (0.5, "default"), (0, "cheap"),
                        (Decimal("0.4999999999999999999"), "cheap"), (0.49999999999999994, "cheap")]:
        found = _assert_agree(policy, {"a": 0, "must": 0, "spend": value})
        assert found[1]["rule"] == rule, value
    exact = {"a": 0, "must": 0, "spend": 0.1, "wait": 0.2}  # wait < 500ms: not cheap; $0.1 exactly
    assert _assert_agree(policy, exact)[1]["rule"] == "exact"


def test_missing_required_signal_without_validation_is_a_key_error() -> None:
    """Without validation a request must hold every required signal the route reads: both
    engines fail loudly (KeyError) rather than guess."""
    policy = _load(FIXED)
    for engine in ENGINES:
        with pytest.raises(KeyError):
            policy.decide({"must": 1}, engine=engine, validate=False)
