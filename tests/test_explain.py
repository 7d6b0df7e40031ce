"""`policyc explain` and `Policy.explain` (section 9.2): why a request got its decision.

The property: over random policies (ints, floats, money, durations, cascades, fallbacks) and
random requests (valid and faulty), the rule explain says fired is `decide`'s in both
engines, every earlier rule is reported as not held, each reported reason evaluates as
reported, and the climb is `path`'s. Then the examples, the costs, the CLI.
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

import policygen
import policygen_measured
import policylang
import policylang.authoring.explain  # read below; `import policylang` alone imports no submodule
import strategies as gen
from conftest import EXAMPLES, examples
from policylang import RequestError
from policylang.analysis.costs import StepCosts
from policylang.cli import main
from policylang.ir import expr as e
from policylang.ir.node import walk

ENGINES = ("compiled", "interpreted")

RANDOM_POLICIES = st.one_of(policygen.finite_policies(extras=True), policygen.float_policies(extras=True),
                            policygen_measured.measured_policies())


def _decided(policy, request, engine):
    try:
        return policy.decide(request, engine=engine)
    except RequestError as exc:
        return exc


def assert_explains(policy, request, engine, all_rules=False):
    """Every promise of `explain` for one request, checked against the engines."""
    answer = policy.explain(request, engine=engine, all_rules=all_rules)
    signals = {k: v for k, v in request.items() if not (isinstance(k, str) and k.startswith("@"))} \
        if isinstance(request, dict) else request
    if not isinstance(request, dict) and hasattr(request, "items") and not isinstance(request, list):
        signals = dict(request.items())
    decided = {name: _decided(policy, signals, name) for name in ENGINES}
    if isinstance(decided[engine], RequestError):
        assert answer.error is not None and answer.decision is None
        assert (answer.error.code, answer.error.signal) == (decided[engine].code, decided[engine].signal)
        json.dumps(answer.as_dict(), default=str)
        return answer
    assert answer.error is None
    for name in ENGINES:  # the fired rule is decide's in both engines
        assert answer.fired == decided[name].rule, name
    assert answer.decision == decided[engine]
    route = [r.name for r in policy.ir.route]
    traces = answer.rules
    if all_rules:
        assert [t.rule for t in traces] == route
    fired_at = next((k for k, t in enumerate(traces) if t.fired), None)
    if answer.fired is None:
        assert fired_at is None and [t.rule for t in traces] == route
    else:
        assert traces[fired_at].rule == answer.fired and traces[fired_at].held
        if not all_rules:
            assert fired_at == len(traces) - 1
    for trace in traces[: fired_at if fired_at is not None else len(traces)]:
        assert not trace.held, trace.rule  # every earlier rule did not hold
    env = policy.interpreter.validate(signals, "signal")
    for trace in traces:
        rule = next(r for r in policy.ir.route if r.name == trace.rule)
        if rule.condition is None:
            assert trace.held and trace.because == ()
            continue
        assert trace.because, trace.rule
        assert trace.held == policy.interpreter.holds(rule.condition, env)
        for reason in trace.because:
            assert_reason(policy, reason, env)
        if not trace.held and isinstance(rule.condition, e.BoolOp) and rule.condition.op == "and":
            assert len(trace.because) == 1 or not all(r.held for r in trace.because)
    json.loads(policylang.jsontext.dumps(answer.as_dict()))
    return answer


def assert_reason(policy, reason, env):
    """A reason evaluates as reported, reads the values it says, and points at its text."""
    assert policy.interpreter.holds(reason.expr, env) == reason.held, reason.text
    for node in walk(reason.expr):
        if isinstance(node, e.SignalRef):
            assert reason.values[node.name] == env[node.name]
    source = policy.sources[reason.span.file]
    assert " ".join(source.text[reason.span.start:reason.span.end].split()) == reason.text
    assert source.position(reason.span.start) == (reason.span.line, reason.span.column)


@examples(0.5)
@given(generated=RANDOM_POLICIES, data=st.data(), engine=st.sampled_from(ENGINES), all_rules=st.booleans())
def test_explain_agrees_with_decide_on_random_policies(generated, data, engine, all_rules):
    policy = policylang.loads(generated.text, "gen.route", analyze=False)
    drawn = gen.for_policy(policy.ir)
    requests = data.draw(st.lists(drawn.valid_requests, min_size=1, max_size=6), label="valid")
    requests += data.draw(st.lists(drawn.faulty_requests, max_size=2), label="faulty")
    for request in requests:  # the tool keys (@outcomes, ...) are explain's own: tested apart
        request = {k: v for k, v in request.items() if not (isinstance(k, str) and k.startswith("@"))}
        assert_explains(policy, request, engine, all_rules)
    for request in data.draw(st.lists(drawn.non_dict_requests, max_size=2), label="not dicts"):
        assert_explains(policy, request, engine, all_rules)
    if policy.ir.cascades:  # climbs under observed outcomes, good and bad
        for request in data.draw(st.lists(drawn.valid_requests, min_size=1, max_size=3), label="climbing"):
            outcomes = data.draw(drawn.outcome_lists, label="outcomes")
            outcomes = [o for o in outcomes if isinstance(o, dict)]
            answer = assert_explains(policy, {**request, "@outcomes": outcomes}, engine)
            assert_climb(policy, answer, request, outcomes, engine)


def assert_climb(policy, answer, request, outcomes, engine):
    decision = policy.decide(request, engine=engine)
    try:
        path = policy.path(decision, outcomes, engine=engine)
    except RequestError as exc:
        assert answer.climb and answer.climb[-1].error is not None
        assert answer.climb[-1].error.code == exc.code
        return
    assert list(answer.path) == path
    assert [c.model for c in answer.cost.calls] == path
    env = policy.interpreter.validate(request, "signal")
    for step in answer.climb:
        if step.held is None:
            continue
        scope = {**env, **policy.interpreter.validate(step.outcomes, "outcome", True)}
        for reason in step.because:
            assert_reason(policy, reason, scope)


@pytest.fixture(scope="module")
def desk():
    return policylang.load(str(EXAMPLES / "support_desk.route"))


def test_thresholds_are_named_with_their_values(desk):
    answer = desk.explain({"task": "summarize", "input_tokens": 900})
    long_context = next(t for t in answer.rules if t.rule == "long_context")
    (reason,) = long_context.because
    assert reason.text == "input_tokens > huge_input"
    assert reason.values == {"input_tokens": 900, "huge_input": 100000}
    assert not reason.held
    assert answer.fired == "short_sum"
    text = policylang.authoring.explain.render_text(answer)
    assert "input_tokens > huge_input  is false" in text and "huge_input = 100000" in text


def test_a_false_and_names_its_first_false_operand_and_a_false_or_every_operand(write_route):
    policy = policylang.load(str(write_route("""policy p
signal a: int in 0..9
signal b: bool
model m { id = "m", tier = 1, input_per_mtok = $1, output_per_mtok = $2, context = 100, max_output = 10, latency = 1s }
route {
  rule both   when a > 2 and b and a < 8  -> m
  rule either when a == 1 or (b and a > 5) -> m
  default -> reject "no"
}
""")))
    answer = policy.explain({"a": 3, "b": False})
    both, either, default = answer.rules
    assert [r.text for r in both.because] == ["b"] and not both.because[0].held
    assert [r.text for r in either.because] == ["a == 1", "b"]
    assert [r.held for r in either.because] == [False, False]
    assert default.fired and answer.decision.reject == "no"
    held = policy.explain({"a": 3, "b": True})
    assert held.fired == "both" and [r.text for r in held.rules[0].because] == ["a > 2", "b", "a < 8"]


def test_the_climb_each_edge_and_its_condition(desk):
    request = {"task": "classify", "input_tokens": 300, "@outcomes": [{"confidence": 0.4}, {"confidence": 0.9}]}
    answer = desk.explain(request)
    assert answer.fired == "cheap"
    assert list(answer.path) == ["fast", "mid"]
    first, second = answer.climb
    assert first.held and first.text == "confidence < low_confidence or not valid"
    assert first.because[0].values == {"confidence": 0.4, "low_confidence": Decimal("0.7")} or \
        first.because[0].values == {"confidence": 0.4, "low_confidence": 0.7}
    assert second.held is False and [r.text for r in second.because] == ["confidence < 0.5", "tool_failures >= 3"]
    assert answer.as_dict()["decision"]["path"] == ["fast", "mid"]


def test_each_steps_fallbacks(desk):
    answer = desk.explain({"task": "classify", "input_tokens": 300})
    fallbacks = {f.model: f.links for f in answer.fallbacks}
    assert fallbacks["fast"] == (("fast", ("unavailable", "rate_limited"), "backup"),)
    assert fallbacks["mid"] == (("mid", ("unavailable",), "frontier"),)
    assert fallbacks["frontier"] == ()


def test_cost_of_each_call_and_the_worst_case(desk):
    answer = desk.explain({"task": "classify", "input_tokens": 8000, "@outcomes": [{"confidence": 0.1}],
                           "@output_tokens": 1000})
    fast, mid = answer.cost.calls
    # deepseek_v4_pro and claude_sonnet_4_6 prices from std/catalog, 1,000 output tokens each
    assert fast.cost == desk.ir.model("fast").input_per_mtok * 8000 / 10**6 + \
        desk.ir.model("fast").output_per_mtok * 1000 / 10**6
    assert not fast.at_cap and mid.output_tokens == 1000
    assert answer.cost.total == fast.cost + mid.cost
    # the worst case climbs all three steps, each to its costliest fallback: section 7's $0.344
    assert answer.cost.worst.cost == Decimal("0.344")
    assert [chain for chain, _ in answer.cost.worst.parts] == ["fast→backup", "mid→frontier", "frontier"]
    rule = next(r for r in desk.ir.rules if r.name == "cheap")
    assert answer.cost.worst.cost == StepCosts(desk.ir, rule, desk.ir.steps(rule)).total(8000)
    at_cap = desk.explain({"task": "summarize", "input_tokens": 100})
    (call,) = at_cap.cost.calls
    assert call.at_cap and call.output_tokens == 1000  # short_sum caps max_output at 1,000


def test_worst_case_counts_only_steps_the_request_can_reach(write_route):
    policy = policylang.load(str(write_route("""policy p
signal n: int in 0..10
outcome q: float in 0.0..1.0 = 1.0
model a { id = "a", tier = 1, input_per_mtok = $1, output_per_mtok = $1, context = 100, max_output = 10, latency = 1s }
model b { id = "b", tier = 2, input_per_mtok = $2, output_per_mtok = $2, context = 100, max_output = 10, latency = 1s }
cascade up { a -> b when q < 0.5 and n > 5 }
route { default -> up }
""")), analyze=False)
    assert policy.explain({"n": 3}).cost.worst.parts == (("a", Decimal("0.00011")),)  # no input_tokens: the context window stands for it
    assert [c for c, _ in policy.explain({"n": 7}).cost.worst.parts] == ["a", "b"]


def test_request_errors_are_explained(desk):
    answer = desk.explain({"task": "classify", "input_tokens": "300"})
    assert answer.error.code == "R002" and answer.error.signal == "input_tokens"
    assert answer.failed and answer.as_dict()["error"]["declared"]["file"] == "std/signals.route"
    assert desk.explain({"task": "poem", "input_tokens": 1}).error.code == "R003"
    assert desk.explain({"input_tokens": 1}).error.code == "R001"
    assert desk.explain({"task": "classify", "input_tokens": 1, "tsak": 1}, strict=True).error.code == "R004"
    assert desk.explain(["not", "a", "request"]).error.code == "R002"
    assert desk.explain(gen.ItemsOnly({"task": "classify", "input_tokens": 1})).fired == "cheap"  # as decide takes it
    bad_outcome = desk.explain({"task": "classify", "input_tokens": 1, "@outcomes": [{"confidence": 2.0}]})
    assert not bad_outcome.error and bad_outcome.climb[0].error.code == "R003" and bad_outcome.failed
    assert desk.explain({"task": "classify", "input_tokens": 1, "@outcomes": 3}).error.code == "R002"
    assert desk.explain({"task": "classify", "input_tokens": 1, "@output_tokens": -1}).error.code == "R002"


def test_every_example_explains_its_tests(desk):
    """Each example's test requests, explained in both engines."""
    for path in sorted(EXAMPLES.glob("*.route")):
        policy = policylang.load(str(path), analyze=False)
        for test in policy.ir.tests:
            request = {k: (float(v) if isinstance(v, Decimal) and policy.ir.signals and any(
                s.name == k and s.type.kind == "duration" for s in policy.ir.signals) else v)
                for k, v in test.given}
            for engine in ENGINES:
                assert_explains(policy, request, engine, all_rules=True)


# ---- the command ------------------------------------------------------------------------------


def _run(*args):
    result = CliRunner().invoke(main, list(args))
    assert "Traceback" not in result.output
    return result


def test_cli_text_and_json():
    desk = str(EXAMPLES / "support_desk.route")
    result = _run("explain", desk, "--request", '{"task": "legal_review", "input_tokens": 500}')
    assert result.exit_code == 0, result.output
    assert "rule high_stakes" in result.output and "fired" in result.output
    assert "decision  frontier, by rule high_stakes, max_output 4,000" in result.output
    result = _run("explain", desk, "--request", '{"task": "legal_review", "input_tokens": 500}', "--format", "json")
    shown = json.loads(result.output)
    assert set(shown) >= {"decision", "rules", "climb", "cost"}
    assert shown["decision"]["rule"] == "high_stakes"
    assert {"rule", "line", "held", "because"} <= set(shown["rules"][0])
    assert {"text", "line", "column", "values"} <= set(shown["rules"][0]["because"][0])
    assert shown["rules"][-1]["fired"] and all(not r["held"] for r in shown["rules"][:-1])
    every = json.loads(_run("explain", desk, "--all", "--format", "json", "--request",
                            '{"task": "legal_review", "input_tokens": 500}').output)
    assert len(every["rules"]) == 9


def test_cli_exit_statuses(tmp_path):
    desk = str(EXAMPLES / "support_desk.route")
    bad = _run("explain", desk, "--request", '{"task": 1, "input_tokens": 1}')
    assert bad.exit_code == 1 and "error[R002]" in bad.output and "where 'task' is declared" in bad.output
    not_json = _run("explain", desk, "--request", "{task")
    assert not_json.exit_code == 1 and "R002" in not_json.output
    assert _run("explain", str(tmp_path / "missing.route"), "--request", "{}").exit_code == 2
    assert _run("explain", desk).exit_code == 2  # --request is required
    broken = tmp_path / "broken.route"
    broken.write_text("policy b\nroute { default -> nowhere }\n")
    assert _run("explain", str(broken), "--request", "{}").exit_code == 1
