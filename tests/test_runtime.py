"""policylang.runtime, in process: runs follow the policy (steps, declared fallbacks, caps,
climbs), end as section 13 says, cost exactly what usage says, and retry and break as
configured under a fake clock. Every scenario runs on a Policy and on a compiled module."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import random
import sys
import time
from decimal import Decimal

import pytest
from hypothesis import given, strategies as st
from pydantic import BaseModel

import policylang
from conftest import examples
from policylang import runtime
from policylang.serving import walk
from runtime_support import SHOP, FakeClock, Scripted, price

CHAT = {"task": "chat", "input_tokens": 100}
CODE = {"task": "code", "input_tokens": 100}


@pytest.fixture(scope="module")
def shop_policy():
    return policylang.loads(SHOP, "shop.route")


@pytest.fixture(scope="module")
def shop_module(shop_policy, tmp_path_factory):
    path = tmp_path_factory.mktemp("compiled") / "shop_policy.py"
    path.write_text(shop_policy.to_python(), encoding="utf-8")
    spec = importlib.util.spec_from_file_location("shop_policy", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(params=["policy", "module"])
def shop(request, shop_policy, shop_module):
    """The same policy as a Policy and as its compiled module: every run must be the same."""
    return shop_policy if request.param == "policy" else shop_module


def router(policy, call, clock=None, **options):
    clock = clock or FakeClock()
    options.setdefault("retry", None)
    options.setdefault("breaker", None)
    options.setdefault("assess", runtime.assess.outcomes(json=True))
    return runtime.Router(policy, call, clock=clock, sleep=clock.sleep, asleep=clock.asleep,
                          rng=random.Random(7), now=lambda: 1_800_000_000.0, **options)


# ---- the walk -------------------------------------------------------------------------------


def test_a_run_climbs_the_cascade_with_the_rules_cap(shop):
    call = Scripted(confidence={"small": 0.4, "big": 0.9})
    result = router(shop, call).run(CHAT, "hello")
    assert result.path == ("small", "big") and result.model == "big" and result.complete
    assert call.calls == [("small", 1500), ("big", 1500)]
    assert result.cost == price("small", 100, 50) + price("big", 100, 50)
    assert [a.outcomes for a in result.attempts] == [{"valid": True, "confidence": 0.4}, {"valid": True, "confidence": 0.9}]
    assert result.decision.rule == "chat" and result.rule == "chat"


def test_a_fallback_is_taken_only_for_the_error_declared(shop):
    # small -> spare is declared for unavailable and rate_limited, not for server_error
    refused = Scripted({"small": ["server_error"]})
    with pytest.raises(runtime.Exhausted) as raised:
        router(shop, refused).run(CHAT, "hello")
    assert refused.calls == [("small", 1500)]
    assert [(a.model, a.error) for a in raised.value.attempts] == [("small", "server_error")]

    served = Scripted({"small": ["unavailable"]})
    result = router(shop, served).run(CHAT, "hello")
    # the fallback serving step 0 gets min(rule cap 1500, spare's max_output 1000)
    assert served.calls == [("small", 1500), ("spare", 1000)]
    assert result.path == ("spare",) and result.cost == price("spare", 100, 50)
    assert [(a.model, a.error, a.step) for a in result.attempts] == [("small", "unavailable", 0), ("spare", None, 0)]


def test_fallbacks_chain_and_a_fallback_that_is_the_next_step_counts_twice(shop):
    call = Scripted({"small": ["unavailable"], "spare": ["unavailable"]}, confidence={"big": 0.6})
    result = router(shop, call).run(CHAT, "hello")
    # big answers step 0 for small (0.6 < 0.7: climb), then step 1 as itself (0.6 >= 0.5: stop)
    assert call.calls == [("small", 1500), ("spare", 1000), ("big", 1500), ("big", 1500)]
    assert result.path == ("big", "big")
    assert result.cost == 2 * price("big", 100, 50)


def test_no_model_is_called_twice_for_one_step(shop):
    call = Scripted({"small": ["unavailable"], "spare": ["unavailable"], "big": ["server_error"]})
    result = router(shop, call).run(CHAT, "hello")
    assert [m for m, _ in call.calls] == ["small", "spare", "big", "huge"]
    assert result.path == ("huge",) and result.attempts[-1].max_output == 1500


def test_exhausted_when_no_model_can_serve_the_first_step(shop):
    call = Scripted({"small": ["rate_limited"], "spare": ["unavailable"], "big": ["timeout"]})
    with pytest.raises(runtime.Exhausted) as raised:
        router(shop, call).run(CHAT, "hello")
    assert [(a.model, a.error) for a in raised.value.attempts] == [
        ("small", "rate_limited"), ("spare", "unavailable"), ("big", "timeout")]
    assert raised.value.decision.rule == "chat"


def test_a_later_step_that_no_model_serves_returns_the_last_answer(shop):
    call = Scripted({"big": ["unavailable"]}, confidence={"small": 0.3})
    result = router(shop, call).run(CHAT, "hello")
    assert not result.complete and result.unserved == 1
    assert result.model == "small" and result.path == ("small",)
    assert result.answer.text == '{"confidence": 0.3}'
    assert result.cost == price("small", 100, 50)


def test_a_rejected_request_calls_nothing(shop):
    call = Scripted()
    with pytest.raises(runtime.Rejected) as raised:
        router(shop, call).run({"task": "chat", "input_tokens": 90_001}, "hello")
    assert raised.value.reason == "too large" and raised.value.decision.rule == "too_large"
    assert call.calls == []


def test_bad_signals_and_bad_outcomes_are_request_errors(shop):
    call = Scripted()
    with pytest.raises(policylang.RequestError) as raised:
        router(shop, call).run({"task": "chat"}, "hello")
    assert raised.value.code == "R001" and call.calls == []
    typo = router(shop, call, assess=lambda answer, signals: {"confidense": 0.1})
    with pytest.raises(policylang.RequestError) as raised:
        typo.run(CHAT, "hello")
    assert raised.value.code == "R004" and "confidence" in raised.value.message


def test_without_assess_a_run_never_climbs(shop):
    call = Scripted(confidence={"small": 0.0})
    result = router(shop, call, assess=None).run(CHAT, "hello")
    assert result.path == ("small",) and result.complete


def test_usage_defaults_to_the_input_tokens_signal_and_the_cap(shop):
    result = router(shop, lambda model, request, *, max_output: "plain text", assess=None).run(
        {"task": "code", "input_tokens": 1_000}, "hello")
    assert result.cost == price("big", 1_000, 8_000)
    counted = router(shop, lambda model, request, *, max_output: "plain text", assess=None,
                     usage=lambda answer: (7, 3)).run(CODE, "hello")
    assert counted.cost == price("big", 7, 3) and counted.attempts[0].input_tokens == 7


def test_compiled_module_carries_each_rules_cap(shop_module):
    assert shop_module.RULE_CAPS == {"too_large": None, "legal": None, "chat": 1500, "default": None}
    engine = runtime.Router(shop_module, Scripted()).engine
    assert engine.cap("chat", "spare") == 1000 and engine.cap("chat", "huge") == 1500
    assert engine.cap("default", "huge") == 16_000
    assert engine.models["spare"].input_per_mtok == Decimal("0.5")


def test_a_module_without_rule_caps_is_refused_with_a_fix(shop_policy, tmp_path):
    text = shop_policy.to_python()
    start = text.index("RULE_CAPS = {")
    text = text[:start] + text[text.index("}", start) + 1:]
    path = tmp_path / "old_policy.py"
    path.write_text(text, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("old_policy", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with pytest.raises(TypeError, match="recompile"):
        runtime.Router(module, Scripted())
    with pytest.raises(TypeError, match="a Router runs a Policy"):
        runtime.Router("shop.route", Scripted())


# ---- retries, breakers, timeouts ----------------------------------------------------------------


def test_retries_back_off_exponentially_then_answer(shop):
    clock = FakeClock()
    call = Scripted({"big": ["rate_limited", "server_error"]})
    result = router(shop, call, clock, retry=runtime.Retry(attempts=3, base=0.5, cap=8.0, jitter=0)).run(CODE, "x")
    assert clock.slept == [0.5, 1.0]
    assert [(a.error, a.retry) for a in result.attempts] == [("rate_limited", 0), ("server_error", 1), (None, 2)]
    assert result.path == ("big",) and result.cost == price("big", 100, 50)


def test_jitter_is_seeded_and_bounded(shop):
    def slept(seed):
        clock = FakeClock()
        call = Scripted({"big": ["rate_limited"] * 4})
        options = dict(retry=runtime.Retry(attempts=5, base=1.0, cap=3.0), rng=random.Random(seed))
        runtime.Router(shop, call, clock=clock, sleep=clock.sleep, breaker=None, **options).run(CODE, "x")
        return clock.slept

    first = slept(1)
    assert first == slept(1) and first != slept(2)
    for wait, full in zip(first, [1.0, 2.0, 3.0, 3.0]):
        assert 0.75 * full <= wait <= full


def test_retry_after_is_honoured_and_a_long_one_goes_to_the_fallback(shop):
    clock = FakeClock()
    call = Scripted({"small": [runtime.ProviderError("rate_limited", retry_after=2.5)]})
    result = router(shop, call, clock, retry=runtime.Retry(attempts=2, cap=8.0)).run(CHAT, "x")
    assert clock.slept == [2.5] and result.path == ("small",)

    clock = FakeClock()
    call = Scripted({"small": [runtime.ProviderError("rate_limited", retry_after=30)]})
    result = router(shop, call, clock, retry=runtime.Retry(attempts=3, cap=8.0)).run(CHAT, "x")
    assert clock.slept == [] and result.path == ("spare",)


def test_retries_are_spent_before_the_fallback_and_unavailable_is_never_retried(shop):
    clock = FakeClock()
    call = Scripted({"big": ["server_error"] * 3})
    result = router(shop, call, clock, retry=runtime.Retry(attempts=3, base=0.1, jitter=0)).run(CODE, "x")
    assert [m for m, _ in call.calls] == ["big", "big", "big", "huge"] and clock.slept == [0.1, 0.2]
    assert result.path == ("huge",)

    call = Scripted({"small": ["unavailable"]})
    router(shop, call, retry=runtime.Retry(attempts=3)).run(CHAT, "x")
    assert [m for m, _ in call.calls] == ["small", "spare"]


def test_the_breaker_opens_sends_traffic_to_the_fallback_and_closes(shop):
    clock = FakeClock()
    call = Scripted({"small": ["rate_limited", "rate_limited"]})
    routed = router(shop, call, clock, breaker=runtime.Breaker(failures=2, window=10, cooldown=30))
    for _ in range(2):
        assert routed.run(CHAT, "x").path == ("spare",)
    call.calls.clear()
    opened = routed.run(CHAT, "x")  # open: small is not called, it counts as unavailable
    assert call.calls == [("spare", 1000)] and opened.path == ("spare",)
    assert (opened.attempts[0].skipped, opened.attempts[0].error) == ("breaker_open", "unavailable")
    clock.advance(30)
    call.calls.clear()
    assert routed.run(CHAT, "x").path == ("small",)  # half open: one probe, it answers: closed
    call.script["small"].extend(["rate_limited"])
    assert routed.run(CHAT, "x").path == ("spare",)  # one failure in the window: still closed
    assert routed.run(CHAT, "x").path == ("small",)


def test_a_failed_probe_opens_the_breaker_again(shop):
    clock = FakeClock()
    call = Scripted({"small": ["rate_limited"] * 3})
    routed = router(shop, call, clock, breaker=runtime.Breaker(failures=2, window=10, cooldown=30))
    routed.run(CHAT, "x"), routed.run(CHAT, "x")
    clock.advance(30)
    call.calls.clear()
    assert routed.run(CHAT, "x").path == ("spare",) and call.calls[0] == ("small", 1500)  # the probe fails
    clock.advance(29)
    call.calls.clear()
    routed.run(CHAT, "x")
    assert call.calls == [("spare", 1000)]  # open again for a whole cooldown


def test_an_answer_between_failures_keeps_the_breaker_closed_below_volume(shop):
    # below min_calls the breaker counts failures in a row (however slow the traffic), and an
    # answer ends the row; tests/test_runtime_breaker.py tests the rate at volume
    clock = FakeClock()
    call = Scripted({"small": ["rate_limited", None, "rate_limited", None, "rate_limited"]})
    routed = router(shop, call, clock, breaker=runtime.Breaker(failures=2, window=10, cooldown=30))
    for _ in range(5):
        routed.run(CHAT, "x")
        clock.advance(11)
    call.calls.clear()
    assert routed.run(CHAT, "x").path == ("small",)


def test_a_sync_call_is_given_the_timeout(shop):
    call = Scripted()
    router(shop, call, timeout=2.5).run(CODE, "x")
    assert call.kwargs == [{"timeout": 2.5}]
    router(shop, call).run(CODE, "x")
    assert call.kwargs[-1] == {}


def test_the_async_timeout_cancels_a_slow_call(shop):
    async def slow(model, request, *, max_output):
        if model.name == "small":
            await asyncio.sleep(5)
        return runtime.Answer('{"confidence": 0.9}', "stop", 10, 10)

    routed = runtime.Router(shop, slow, retry=None, breaker=None, timeout=0.05,
                            classify=lambda exc: "unavailable" if isinstance(exc, TimeoutError) else None)
    started = time.monotonic()
    result = asyncio.run(routed.arun(CHAT, "x"))
    assert time.monotonic() - started < 2
    assert [(a.model, a.error) for a in result.attempts] == [("small", "unavailable"), ("spare", None)]


def test_classify_maps_exceptions_and_anything_else_propagates(shop, tmp_path):
    class Down(Exception):
        pass

    log = runtime.JsonlLog(tmp_path / "log.jsonl")
    call = Scripted({"small": [Down("gone")], "spare": [KeyError("bug")]})
    routed = router(shop, call, classify=lambda exc: "unavailable" if isinstance(exc, Down) else None, log=log)
    with pytest.raises(KeyError):
        routed.run(CHAT, "x")
    (record,) = runtime.read_log(tmp_path / "log.jsonl")
    assert record["end"] == "error" and record["error"]["type"] == "KeyError"
    assert [a["error"] for a in record["attempts"]] == ["unavailable"]
    with pytest.raises(ValueError, match="classify returned 'down'"):
        router(shop, Scripted({"small": [Down()]}), classify=lambda exc: "down").run(CHAT, "x")


def test_arun_serves_like_run(shop):
    script = {"small": ["unavailable"], "spare": ["unavailable"]}
    synced = router(shop, Scripted(script, confidence={"big": 0.6})).run(CHAT, "x")

    async def main():
        inner = Scripted(script, confidence={"big": 0.6})

        async def call(model, request, *, max_output):
            await asyncio.sleep(0)
            return inner(model, request, max_output=max_output)

        async def assess(answer, signals):
            return runtime.assess.outcomes()(answer, signals)

        return await router(shop, call, assess=assess).arun(CHAT, "x")

    awaited = asyncio.run(main())
    assert (awaited.path, awaited.cost, awaited.attempts) == (synced.path, synced.cost, synced.attempts)


def test_a_sync_run_refuses_an_async_call(shop):
    async def call(model, request, *, max_output):
        return "never"

    with pytest.raises(TypeError, match="arun"):
        router(shop, call).run(CODE, "x")


# ---- the decision log ---------------------------------------------------------------------------


def test_one_record_per_run_whatever_its_end(shop, tmp_path):
    path = tmp_path / "decisions.jsonl"
    with runtime.JsonlLog(path) as log:
        call = Scripted({"big": ["unavailable", "unavailable"]}, confidence={"small": 0.3})
        routed = router(shop, call, log=log)
        routed.run(CHAT, "x")  # small answers, big is down: incomplete
        with pytest.raises(runtime.Rejected):
            routed.run({"task": "code", "input_tokens": 95_000}, "x")
        with pytest.raises(runtime.Exhausted):
            routed.run(CODE, "x")
        with pytest.raises(policylang.RequestError):
            routed.run({"task": "poetry", "input_tokens": 1}, "x")
        routed.run(CODE, "x")
    lines = path.read_text(encoding="utf-8").splitlines()
    everything = [json.loads(line) for line in lines]
    starts = [r for r in everything if r["event"] == "start"]
    records = [r for r in everything if r["event"] == "end"]
    assert [r["end"] for r in records] == ["incomplete", "rejected", "exhausted", "request_error", "answered"]
    fields = {"event", "run_id", "time", "policy", "policy_sha256", "rule", "decision", "signals", "attempts", "path",
              "cost", "seconds", "complete", "error", "end", "model", "gen_ai.request.model",
              "gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens"}
    assert all(set(r) == fields for r in records)
    # a start record before the first upstream call of each run that made one, with the end's run_id
    assert [r["run_id"] for r in starts] == [records[i]["run_id"] for i in (0, 2, 4)]
    assert set(starts[0]) == {"event", "run_id", "time", "policy", "policy_sha256", "rule", "decision", "signals"}
    assert len({r["run_id"] for r in records}) == 5
    incomplete, rejected, exhausted, bad, answered = records
    assert incomplete["time"] == "2027-01-15T08:00:00.000000Z" and incomplete["policy"] == "shop"
    assert incomplete["path"] == ["small"] and incomplete["complete"] is False and incomplete["error"]["step"] == 1
    assert incomplete["attempts"][0]["gen_ai.request.model"] == "acme/small"
    assert incomplete["attempts"][0]["gen_ai.usage.input_tokens"] == 100
    assert Decimal(incomplete["cost"]) == price("small", 100, 50)
    assert rejected["error"] == {"type": "rejected", "message": "too large"} and rejected["attempts"] == []
    assert [a["error"] for a in exhausted["attempts"]] == ["unavailable"]
    assert bad["error"]["code"] == "R003" and bad["rule"] is None and bad["decision"] is None
    assert answered["complete"] is True and answered["model"] == "big" and answered["gen_ai.request.model"] == "acme/big"
    assert answered["decision"] == {"rule": "default", "model": "big", "steps": ["big"], "max_output": 8000,
                                    "caps": [8000], "reject": None}


def test_log_lines_stay_whole_with_odd_values(tmp_path):
    path = tmp_path / "odd.jsonl"
    log = runtime.JsonlLog(path)
    log({"signals": {"x": float("nan"), "money": Decimal("0.10"), "text": "line\nbreak", "labels": {"b", "a"}}})
    log.close()
    (record,) = runtime.read_log(path)
    assert record["signals"] == {"x": "nan", "money": "0.1", "text": "line\nbreak", "labels": ["a", "b"]}
    log({})  # after close: still written, never raised (tests/test_runtime_log.py)
    assert list(runtime.read_log(path))[-1] == {}


# ---- sessions ---------------------------------------------------------------------------------

BUDGETED = """
policy budgeted
import "std/signals"
model cheap { id = "acme/cheap" tier = 1 input_per_mtok = $1 output_per_mtok = $1 context = 100_000 max_output = 1_000 latency = 1s }
model dear  { id = "acme/dear"  tier = 2 input_per_mtok = $10 output_per_mtok = $10 context = 100_000 max_output = 1_000 latency = 1s }
route {
  rule too_large when input_tokens > 90_000 -> reject "too large"
  rule rich  when remaining_budget >= cost(dear)  -> dear
  rule thrift when remaining_budget >= cost(cheap) -> cheap
  default -> reject "session budget exhausted"
}
"""


def test_a_session_fills_remaining_budget_and_charges_each_run():
    policy = policylang.loads(BUDGETED, "budgeted.route")
    seen = []
    routed = runtime.Router(policy, lambda model, request, *, max_output: "ok", retry=None, breaker=None,
                            assess=lambda answer, signals: seen.append(signals["remaining_budget"]))
    # cost(dear) at 1,000 input tokens = (1,000 + 1,000) x $10 / 1M = $0.02; cost(cheap) = $0.002
    session = runtime.Session(routed, budget=0.05)
    first = session.run({"input_tokens": 1_000}, "x")
    assert first.model == "dear" and session.spent == Decimal("0.02") and session.remaining == Decimal("0.03")
    assert session.run({"input_tokens": 1_000}, "x").model == "dear"
    assert session.run({"input_tokens": 1_000}, "x").model == "cheap"  # $0.01 left
    assert session.spent == Decimal("0.042") and session.remaining == Decimal("0.008")
    for _ in range(4):
        session.run({"input_tokens": 1_000}, "x")
    with pytest.raises(runtime.Rejected):
        session.run({"input_tokens": 1_000}, "x")
    assert session.remaining == 0 and session.held == 0 and session.spent == Decimal("0.05")


def test_a_session_refuses_a_call_it_cannot_cover(shop_policy):
    session = runtime.Session(router(shop_policy, Scripted(confidence={"small": 0.1}), assess=runtime.assess.outcomes()),
                              budget=Decimal("0.01"))
    # the first call: 100 x $1/M + 1,500 x $2/M = $0.0031, within $0.01; the climb to big
    # would hold 100 x $3/M + 1,500 x $15/M = $0.0228: not made, the run is incomplete
    result = session.run(CHAT, "x")
    assert not result.complete and result.attempts[-1].skipped == "over_budget"
    assert session.spent == price("small", 100, 50) and session.held == 0
    with pytest.raises(runtime.OverBudget):
        runtime.Session(session.router, budget=Decimal("0.001")).run(CHAT, "x")
    with pytest.raises(ValueError):
        runtime.Session(session.router, budget=-1)


# ---- judging answers --------------------------------------------------------------------------


def test_assess_judges_json_truncation_schema_and_confidence():
    judge = runtime.assess.outcomes(json=True)
    assert judge(runtime.Answer('{"confidence": 0.4}', "stop"), {}) == {"valid": True, "confidence": 0.4}
    assert judge(runtime.Answer('{"confidence": 0.4', "length"), {}) == {"valid": False, "confidence": 0.0}
    assert judge(runtime.Answer("not json", "stop"), {}) == {"valid": False, "confidence": 0.0}
    assert judge(runtime.Answer("", "stop"), {}) == {"valid": False, "confidence": 0.0}
    assert judge("```json\n{\"confidence\": 1}\n```", {}) == {"valid": True, "confidence": 1.0}
    assert judge(runtime.Answer('{"confidence": 7}', "stop"), {}) == {"valid": True}

    class Ticket(BaseModel):
        category: str

    typed = runtime.assess.outcomes(schema=Ticket, confidence=None)
    assert typed(runtime.Answer('{"category": "refund"}'), {}) == {"valid": True}
    assert typed(runtime.Answer('{"kind": "refund"}'), {}) == {"valid": False}
    by_json_schema = runtime.assess.outcomes(schema={"type": "object", "required": ["category"]}, confidence=None)
    assert by_json_schema(runtime.Answer('{"category": "refund"}'), {}) == {"valid": True}
    assert by_json_schema(runtime.Answer('{"kind": "refund"}'), {}) == {"valid": False}
    plain = runtime.assess.outcomes()
    assert plain(runtime.Answer("Sure, here you go."), {}) == {"valid": True}
    openai_shaped = {"choices": [{"message": {"content": '{"confidence": 0.2}'}, "finish_reason": "stop"}]}
    assert plain(openai_shaped, {}) == {"valid": True, "confidence": 0.2}


def test_provider_errors_name_only_the_errors_of_section_3_6():
    with pytest.raises(ValueError, match="no provider error"):
        runtime.ProviderError("down")
    assert runtime.ProviderError("timeout").error == "timeout"



# ---- the runtime walks as test blocks do --------------------------------------------------------

FAILURES = st.sampled_from([None, None, "unavailable", "rate_limited", "timeout", "server_error", "content_filtered"])


@examples(1.0)
@given(task=st.sampled_from(["chat", "code", "legal"]), tokens=st.integers(0, 95_000),
       down=st.fixed_dictionaries({m: FAILURES for m in ("small", "big", "spare", "huge")}),
       confidence=st.sampled_from([0.1, 0.6, 0.9]), engine=st.sampled_from(["policy", "module"]))
def test_a_run_makes_the_calls_the_serving_walk_makes(shop_policy, shop_module, task, tokens, down, confidence,
                                                      engine):
    """With retries and breakers off, a run calls exactly what `policylang.serving.walk` (the
    walk of test blocks and simulation) says, with the same caps."""
    signals = {"task": task, "input_tokens": tokens}
    decision = shop_policy.decide(signals, engine="interpreted")
    rule = next(r for r in shop_policy.ir.route if r.name == decision.rule)
    expected = walk(decision, fails=down.get, observe=lambda step: {"confidence": confidence, "valid": True},
                    fallback=lambda m, e: shop_policy.fallback(m, e, engine="interpreted"),
                    escalate=lambda d, step, o: shop_policy.escalate(d, step, o, engine="interpreted"),
                    cap=lambda m: min(rule.cap or 10**9, shop_policy.ir.model(m).max_output))

    def call(model, request, *, max_output):
        if down[model.name] is not None:
            raise runtime.ProviderError(down[model.name])
        return runtime.Answer("{}", "stop", 10, 10)

    routed = router(shop_policy if engine == "policy" else shop_module, call,
                    assess=lambda answer, signals: {"confidence": confidence, "valid": True})
    try:
        result = routed.run(signals, "x")
        attempts, answered = result.attempts, result.path
        assert result.complete == (expected.unserved is None)
    except runtime.Rejected:
        attempts, answered = (), ()
    except runtime.Exhausted as exc:
        attempts, answered = exc.attempts, ()
        assert expected.unserved == 0
    assert [(a.step, a.model, a.max_output, a.error) for a in attempts] == [tuple(c) for c in expected.calls]
    assert tuple(answered) == expected.answered


def test_a_retry_the_budget_cannot_cover_gives_way_to_the_fallback(shop_policy):
    # small's call holds 100 x $1/M + 1,500 x $2/M = $0.0031; spare's 100 x $0.5/M + 1,000 x $1/M
    # = $0.00105. While small's first call fails, another run holds $0.002 of the $0.004: the
    # retry of small no longer fits, the fallback for rate_limited does.
    calls = []

    def call(model, request, *, max_output):
        calls.append(model.name)
        if model.name == "small":
            session._ledger._held += Decimal("0.002")  # another run's hold, taken while small was called
            raise runtime.ProviderError("rate_limited")
        return runtime.Answer("{}", "stop", 10, 10)

    routed = router(shop_policy, call, retry=runtime.Retry(attempts=3, base=0, jitter=0), assess=None)
    session = runtime.Session(routed, budget=Decimal("0.004"))
    result = session.run(CHAT, "x")
    assert calls == ["small", "spare"] and result.path == ("spare",)
    assert [a.skipped for a in result.attempts] == [None, None]
    assert session.held == Decimal("0.002") and session.spent == price("spare", 10, 10)
