"""Running a policy's `test` blocks (section 3.10) with both engines.

A test passes when the first model, the rule (if stated) and the climb under its `outcome`
block are what it expects, and both engines agree. Without an `outcome` block nothing is
observed, so the request stays on its first model and `then` must be empty.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .backends.python.support import RequestError
from .codes import E009
from .diagnostics import Diagnostic
from .ir.policy import Test
from .passes import check
from .policy import Engine, Policy
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
    the policy could not be built); `unreadable` is the message when the file cannot be read."""

    diagnostics: list[Diagnostic]
    sources: dict[str, Source]
    results: list[TestResult] | None
    unreadable: str | None = None


def test_file(path: str) -> FileTests:
    """Check a file for errors (as `lint` does, warnings aside), then run its tests if the
    policy could be built, whether or not it has analysis errors."""
    source, problem = read_top(path)
    if problem is not None and problem.code == E009.code:
        return FileTests([problem], {}, None, problem.message)
    checked = check(source, problem, warnings=False)
    if checked.policy is None:
        return FileTests(checked.diagnostics, checked.sources, None)
    return FileTests(checked.diagnostics, checked.sources, run_tests(Policy(checked)))


def _as_request(policy: Policy, pairs: tuple[tuple[str, Any], ...]) -> dict[str, Any]:
    """Test values as a request carries them: a duration's exact seconds as an int or float."""
    durations = {s.name for s in policy.ir.signals if s.type.kind == "duration"}
    request = {}
    for name, value in pairs:
        if name in durations:
            value = int(value) if value == value.to_integral_value() else float(value)
        request[name] = value
    return request


def _outcome(policy: Policy, test: Test, engine: Engine) -> tuple[str | None, Any]:
    """(what happened as the test words it, a comparable value), or a RequestError's words."""
    try:
        decision = policy.decide(_as_request(policy, test.given), engine=engine)
        path = [decision.model] if decision.model is not None else []
        if test.outcomes is not None and decision.model is not None:
            observed = _as_request(policy, test.outcomes)
            path = policy.path(decision, [observed] * (len(decision.steps) - 1), engine=engine)
    except RequestError as exc:
        return f"the request is invalid: {exc.code} {exc.message}", ("error", exc.code)
    return None, (decision.rule, decision.reject is not None, tuple(path))


def _words(rule: str | None, rejected: bool, path: tuple[str, ...]) -> str:
    head = "reject" if rejected else " then ".join(path) if path else "no model"
    if rule is None:
        return f"{head} (no rule fires)"
    return f"{head} by {rule}"


def run_test(policy: Policy, test: Test) -> TestResult:
    problem, got = _outcome(policy, test, "interpreted")
    other_problem, other = _outcome(policy, test, "compiled")
    if got != other:
        return TestResult(test.name, False, f"the engines disagree: interpreted {got}, compiled {other}", test.span)
    if problem is not None:
        return TestResult(test.name, False, problem, test.span)
    rule, rejected, path = got
    wanted_path = () if test.expect_reject else (test.expect_model, *test.expect_then)
    expected = _words(test.expect_rule, test.expect_reject, wanted_path).replace(" (no rule fires)", "")
    ok = rejected == test.expect_reject and (test.expect_rule is None or test.expect_rule == rule)
    if not test.expect_reject:
        ok = ok and path == wanted_path
    if ok:
        return TestResult(test.name, True, "", test.span)
    return TestResult(test.name, False, f"expected {expected}, got {_words(rule, rejected, path)}", test.span)
