"""Running a policy's `test` blocks (section 3.10) with both engines.

A test passes when the rule (if stated), the models that answered each step (after the
fallbacks that its `down` models force) with the caps it states, and the climb under its
`outcome` block are what it expects, and both engines agree. Without an `outcome` block nothing
is observed, so the request stays on its first step and `then` must be empty.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .backends.python.support import RequestError
from .codes import E009
from .diagnostics import Diagnostic
from .ir.policy import Model, Rule, Test
from .passes import check
from .backends.python import EngineName
from .policy import Policy
from .serving import walk
from .source import Source, Span
from .syntax.loader import read_top


@dataclass(frozen=True)
class TestResult:
    name: str
    passed: bool
    message: str
    span: Span


def run_tests(policy: Policy) -> list[TestResult]:
    """Every test block of the policy, in order, each run with both engines."""
    return [run_test(policy, test) for test in policy.ir.tests]


@dataclass(frozen=True)
class FileTests:
    """`policyc test` on one file: its error-level findings, and its test results (None when
    the policy could not be built); `unreadable` is the message when the file cannot be read;
    `policy` the policy the tests ran on."""

    diagnostics: list[Diagnostic]
    sources: dict[str, Source]
    results: list[TestResult] | None
    unreadable: str | None = None
    policy: Policy | None = None


def test_file(path: str) -> FileTests:
    """Check a file for errors (as `lint` does, warnings aside), then run its tests if the
    policy could be built, whether or not it has analysis errors."""
    source, problem = read_top(path)
    if problem is not None and problem.code == E009.code:
        return FileTests([problem], {}, None, problem.message)
    checked = check(source, problem, warnings=False)
    if checked.policy is None:
        return FileTests(checked.diagnostics, checked.sources, None)
    policy = Policy(checked)
    return FileTests(checked.diagnostics, checked.sources, run_tests(policy), policy=policy)


def _as_request(policy: Policy, pairs: tuple[tuple[str, Any], ...]) -> dict[str, Any]:
    """Test values as a request carries them: a duration's exact seconds as an int or float."""
    durations = {s.name for s in policy.ir.signals if s.type.kind == "duration"}
    request = {}
    for name, value in pairs:
        if name in durations:
            value = int(value) if value == value.to_integral_value() else float(value)
        request[name] = value
    return request


_Happened = tuple[str | None, bool, tuple[tuple[str, int], ...], int | None]
"""What a test's request did: (rule, rejected, the models that answered each step with their
calls' caps, the step no model could serve or None)."""


def _outcome(policy: Policy, test: Test, engine: EngineName) -> tuple[str | None, _Happened | tuple[str, str]]:
    """(None, what happened), or (a RequestError's words, ("error", its code)): the second of
    the pair is what the two engines' runs are compared by."""
    try:
        decision = policy.decide(_as_request(policy, test.given), engine=engine)
        observed = _as_request(policy, test.outcomes) if test.outcomes is not None else None
        down = dict(test.down)
        rule = next(r for r in policy.ir.route if r.name == decision.rule) if decision.rule is not None else None
        served = walk(
            decision,
            fails=down.get,
            observe=lambda step: observed,
            fallback=lambda model, error: policy.fallback(model, error, engine=engine),
            escalate=lambda d, step, outcomes: policy.escalate(d, step, outcomes, engine=engine),
            cap=lambda model: cap_of(rule, policy.ir.model(model)),
        )
    except RequestError as exc:
        return f"the request is invalid: {exc.code} {exc.message}", ("error", exc.code)
    answered = tuple((c.model, c.cap) for c in served.calls if c.error is None)
    return None, (decision.rule, decision.reject is not None, answered, served.unserved)


def cap_of(rule: Rule | None, model: Model) -> int:
    """The max_output a call to `model` gets for `rule` (`Rule.cap_for`); its own with no rule."""
    return model.max_output if rule is None else rule.cap_for(model)


def _words(rule: str | None, rejected: bool, path: tuple[tuple[str, int | None], ...], unserved: int | None = None) -> str:
    steps = [model if cap is None else f"{model} with max_output = {cap}" for model, cap in path]
    if unserved is not None:
        steps.append(f"no model that can serve step {unserved}")
    head = "reject" if rejected else " then ".join(steps) if steps else "no model"
    if rule is None:
        return f"{head} (no rule fires)"
    return f"{head} by {rule}"


def run_test(policy: Policy, test: Test) -> TestResult:
    """Both engines decide the test's request and serve it (its `down` models failing, its
    outcomes observed after every step); the test passes when they agree and the rule, the
    rejection, the models that answered and the caps it states are what happened."""
    problem, got = _outcome(policy, test, "interpreted")
    other_problem, other = _outcome(policy, test, "compiled")
    if got != other:
        return TestResult(test.name, False, f"the engines disagree: interpreted {got}, compiled {other}", test.span)
    if problem is not None or len(got) != 4:
        return TestResult(test.name, False, problem or "", test.span)
    rule, rejected, answered, unserved = got
    # a test that does not expect a rejection names its model (the front end sees to that)
    models: tuple[str, ...] = () if test.expect_reject or test.expect_model is None else (
        test.expect_model, *test.expect_then)
    caps = test.expect_caps or (None,) * len(models)
    wanted = tuple(zip(models, caps))
    ok = rejected == test.expect_reject and (test.expect_rule is None or test.expect_rule == rule)
    if not test.expect_reject:
        ok = ok and unserved is None and len(answered) == len(wanted) and all(
            model == got_model and (cap is None or cap == got_cap)
            for (model, cap), (got_model, got_cap) in zip(wanted, answered))
    if ok:
        return TestResult(test.name, True, "", test.span)
    shown = tuple((model, got_cap if cap is not None else None)
                  for (model, got_cap), (_, cap) in zip(answered, (*wanted, *[(None, None)] * len(answered))))
    expected = _words(test.expect_rule, test.expect_reject, wanted).replace(" (no rule fires)", "")
    return TestResult(test.name, False, f"expected {expected}, got {_words(rule, rejected, shown, unserved)}", test.span)
