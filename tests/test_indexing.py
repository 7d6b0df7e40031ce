"""The enum dispatch (backends/index.py) keeps first-match semantics, in both engines.

When 8 or more rules test one enum signal, the compiled module and the interpreter jump from
the signal's value to the rules that can still fire for it, each condition specialized to the
value. Over random routes keyed on an enum `k` of 5-30 members (`==`, `!=`, `in`, `not in`,
`not`, alone and mixed with other tests, and now and then too deep to be specialized), with
global rules before, between and after the keyed ones, with and without a default, targets
that are models, cascades and rejections, caps:

(a) most of these policies really are dispatched (`plan_dispatch` is not None on >= 80%);
(b) for every member of `k` (and `k` left out when it has a default), for drawn valid and faulty
    requests (strict or not), and for unvalidated requests whose `k` is no member at all, the
    compiled engine, the interpreter and a reference that tries every rule in order with the
    interpreter's expression evaluator (no index) give the same decision (rule, model, steps,
    max_output, reject) or the same error (code, signal, message);
(c) the compiled module carries `# rule NAME (line N)` once for each place the rule is written
    (before the dispatch, in each chain that holds it, after it), so every rule of every chain
    can be found by its name and line, and compiling the same policy twice gives the same text.
"""

from __future__ import annotations

import random
import weakref
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import Phase, given, seed, settings
from hypothesis import strategies as st

import policygen as gen
import policygen_keyed as keyed
import policylang
import strategies as requests_gen
from conftest import examples
from policylang import Policy, RequestError
from policylang.backends.python import codegen
from policylang.backends.python.codegen import generate
from policylang.backends.python.index import plan_dispatch

SETTINGS = examples()

NO_RULE = ("decision", (None, None, (), None, (), None))

POLICIES = st.one_of(
    keyed.keyed_policies().map(lambda p: replace(p, name="keyed")),
    keyed.keyed_policies().map(lambda p: replace(p, name="keyed")),
    keyed.keyed_policies().map(lambda p: replace(p, name="keyed")),
    gen.enum_keyed_policies(max_rules=20),
)
"""Mostly routes built to be dispatched (named `keyed`), and some of policygen's, which may not be."""

NOT_MEMBERS = ["", "T0", "t0 ", "zz", "default", None, 0, 7, True, 1.5]
"""Values of `k` that no member is, for `validate=False` (hashable: the dispatch looks them up)."""


# ---- three ways to decide ----------------------------------------------------------------------


def _error(exc: RequestError) -> tuple:
    return ("error", exc.code, exc.signal, exc.message)


def engine(policy: Policy, request: Any, which: str, **options: Any) -> tuple:
    try:
        d = policy.decide(request, engine=which, **options)
    except RequestError as exc:
        return _error(exc)
    return ("decision", (d.rule, d.model, tuple(d.steps), d.max_output, tuple(d.caps), d.reject))


_tests: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _rule_tests(policy: Policy) -> list:
    """Each rule's condition compiled by the interpreter's expression evaluator, once per policy."""
    if policy not in _tests:
        _tests[policy] = [policy.interpreter.compile(rule.condition) for rule in policy.ir.rules]
    return _tests[policy]


def reference(policy: Policy, request: Any, *, validate: bool = True, strict: bool = False) -> tuple:
    """First match by hand: every rule in order, then the default; no index anywhere."""
    interp = policy.interpreter
    if validate:
        try:
            env = interp.validate(request, "signal", strict)
        except RequestError as exc:
            return _error(exc)
    else:  # trusted: each declared signal as given, or its default
        env = {c.name: request[c.name] if c.required else request.get(c.name, c.default)
               for c in interp.signal_checks}
    for rule, test in zip(policy.ir.rules, _rule_tests(policy)):
        if test(env, None):
            fields = policy.ir.decision_of(rule)
            return ("decision", (*fields[:2], tuple(fields[2]), *fields[3:]))
    default = policy.ir.default
    if default is None:
        return NO_RULE
    fields = policy.ir.decision_of(default)
    return ("decision", (*fields[:2], tuple(fields[2]), *fields[3:]))


def assert_agree(policy: Policy, request: Any, **options: Any) -> None:
    expected = reference(policy, request, **options)
    compiled = engine(policy, request, "compiled", **options)
    interpreted = engine(policy, request, "interpreted", **options)
    assert compiled == expected and interpreted == expected, (
        f"request {request!r} ({options}):\n  reference   {expected}\n  compiled    {compiled}\n"
        f"  interpreted {interpreted}")


# ---- requests --------------------------------------------------------------------------------


def member_sweep(generated: gen.GeneratedPolicy, rng: random.Random) -> list[dict[str, Any]]:
    """Two requests for each member of `k` (the other signals at random), and `k` left out when
    it has a default: every chain of the dispatch is walked."""
    others = [s for s in generated.signals if s.name != "k"]
    key = next(s for s in generated.signals if s.name == "k")
    found = []
    for member in (*key.members, *([None] if key.default is not None else [])):
        for _ in range(2):
            request = {s.name: rng.choice(s.values) for s in others}
            if member is not None:
                request["k"] = member
            found.append(request)
    return found


def unvalidated(generated: gen.GeneratedPolicy, rng: random.Random) -> list[dict[str, Any]]:
    """Requests with every signal, `k` no member (possible only with `validate=False`)."""
    others = [s for s in generated.signals if s.name != "k"]
    return [{**{s.name: rng.choice(s.values) for s in others}, "k": value} for value in NOT_MEMBERS]


# ---- the properties ----------------------------------------------------------------------------

@SETTINGS
@given(POLICIES, st.data())
def test_dispatch_keeps_first_match(generated: gen.GeneratedPolicy, data) -> None:
    policy = policylang.loads(generated.text, "gen.route", analyze=False)
    rng = data.draw(st.randoms(use_true_random=False), label="rng")
    for request in member_sweep(generated, rng):
        assert_agree(policy, request)
    for request in unvalidated(generated, rng):
        assert_agree(policy, request, validate=False)
    drawn = requests_gen.for_policy(policy.ir)
    for request in data.draw(st.lists(drawn.some_requests, min_size=5, max_size=15), label="requests"):
        assert_agree(policy, request, strict=data.draw(st.booleans(), label="strict"))


_dispatched: list[bool] = []


@seed(20261201)
@settings(max_examples=100, database=None, phases=[Phase.generate])
@given(keyed.keyed_policies())
def _keyed_routes(generated: gen.GeneratedPolicy) -> None:
    _dispatched.append(plan_dispatch(policylang.loads(generated.text, "gen.route", analyze=False).ir) is not None)


@pytest.mark.slow  # 100 fixed policies, whatever the profile: ~10 s
def test_keyed_routes_mostly_dispatch() -> None:
    """The property above only tests the dispatch if the keyed generator's routes take it: most
    of a fixed sample of 100 must (whatever the profile draws for the property)."""
    _dispatched.clear()
    _keyed_routes()
    share = sum(_dispatched) / len(_dispatched)
    assert len(_dispatched) == 100 and share >= 0.8, f"only {share:.0%} of {len(_dispatched)} keyed routes dispatched"


def _expected_blocks(policy: Policy) -> dict[str, int]:
    """How many times the module writes each named rule (its test and its decision) for the
    validated path; the trusted path's copies are marked `validate=False`. Where the trusted
    path has chains of its own, the validated path has none for a value that is no member."""
    ir = policy.ir
    plan = plan_dispatch(ir)
    if plan is None:
        return {rule.name: 1 for rule in ir.rules}
    counts = {rule.name: 0 for rule in ir.rules}
    for i in (*plan.before, *plan.after):
        counts[ir.rules[i].name] += 1
    outside = len(plan.before) + len(plan.after) + (ir.default is not None)
    trusted_chains = codegen.LAZY_CHAINS and outside <= codegen.LAZY_RULES
    for chain in (*plan.chains, *(() if trusted_chains else (plan.other,))):
        for i, _ in chain.rules:
            counts[ir.rules[i].name] += 1
    return counts


@examples(0.5)
@given(POLICIES)
def test_compiled_module_is_traceable_and_deterministic(generated: gen.GeneratedPolicy) -> None:
    policy = policylang.loads(generated.text, "gen.route", analyze=False)
    source = policy.to_python()
    again = policylang.loads(generated.text, "gen.route", analyze=False)
    assert again.to_python() == source, "two compilations of one policy differ"
    assert generate(policy.ir) == source, "compiling the same IR twice differs"
    plan = plan_dispatch(policy.ir)
    in_chains = set() if plan is None else {i for c in (*plan.chains, plan.other) for i, _ in c.rules}
    for i, rule in enumerate(policy.ir.rules):
        mark = f"# rule {rule.name} (line {rule.span.line})\n"
        expected = _expected_blocks(policy)[rule.name]
        assert source.count(mark) == expected, f"{mark.strip()!r}: {source.count(mark)} times, not {expected}"
        if i in in_chains:  # in a chain of the validated path, or of the trusted path's own
            assert mark in source or mark.replace(")\n", "), validate=False\n") in source, mark
