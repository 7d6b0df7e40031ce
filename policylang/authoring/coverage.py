"""`policyc test --coverage`: what a policy's tests exercise (docs/cli.md, Coverage).

Three kinds of item, each covered when some test exercises it:

- a **rule** (and the default): some test's request is decided by it;
- a **cascade edge** of a cascade that some rule targets: some test climbs it, under its
  `outcome` block;
- a **fallback** whose source model may serve: some test's `down` clauses make a call to the
  source fail with one of its errors, and the fallback's model serves instead.

Each test is served as `policyc test` serves it (`serving.walk`, the interpreter's decisions),
whether or not it passes: coverage says what the tests reach, the test results whether they
expect the right thing. A test whose request is invalid exercises nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from ..backends.python.support import RequestError
from ..ir.policy import CascadeTarget, Test
from ..policy import Policy
from ..serving import Walk, walk
from ..source import Span

Kind = Literal["rule", "edge", "fallback"]


@dataclass(frozen=True)
class Item:
    """One thing a test can exercise, where it is declared, and the tests that exercise it
    (in the order of the test blocks)."""

    kind: Kind
    name: str
    """`cheap` or `default`; `standard: fast -> mid`; `fast -> backup on unavailable, rate_limited`."""
    span: Span
    tests: tuple[str, ...]
    details: tuple[tuple[str, Any], ...] = ()
    """What JSON adds: the cascade and models of an edge; the models and errors of a fallback,
    and the errors the tests made it serve for."""

    @property
    def covered(self) -> bool:
        return bool(self.tests)

    @property
    def words(self) -> str:
        """The item as a sentence names it: `rule cheap`, `the default`, `cascade edge ...`."""
        if self.kind == "rule":
            return "the default" if self.name == "default" else f"rule {self.name}"
        return f"cascade edge {self.name}" if self.kind == "edge" else f"fallback {self.name}"

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, **dict(self.details), "file": self.span.file,
                "line": self.span.line, "column": self.span.column, "covered": self.covered,
                "tests": list(self.tests)}


@dataclass(frozen=True)
class Coverage:
    """A policy's coverage: every rule, cascade edge and fallback, each with the tests that
    exercise it, in declaration order."""

    file: str
    tests: int
    rules: tuple[Item, ...]
    edges: tuple[Item, ...]
    fallbacks: tuple[Item, ...]

    @property
    def items(self) -> tuple[Item, ...]:
        return self.rules + self.edges + self.fallbacks

    @property
    def covered(self) -> int:
        return sum(item.covered for item in self.items)

    @property
    def total(self) -> int:
        return len(self.items)

    @property
    def share(self) -> float:
        """The share of items covered, 1.0 when there are none."""
        return self.covered / self.total if self.total else 1.0

    @property
    def missed(self) -> tuple[Item, ...]:
        return tuple(item for item in self.items if not item.covered)

    def summary(self) -> str:
        """`coverage 92% (12 of 13): rules 9 of 9, cascade edges 2 of 2, fallbacks 1 of 2`."""
        parts = [f"rules {sum(i.covered for i in self.rules)} of {len(self.rules)}"]
        if self.edges:
            parts.append(f"cascade edges {sum(i.covered for i in self.edges)} of {len(self.edges)}")
        if self.fallbacks:
            parts.append(f"fallbacks {sum(i.covered for i in self.fallbacks)} of {len(self.fallbacks)}")
        return f"coverage {percent(self.share)} ({self.covered} of {self.total}): {', '.join(parts)}"

    def missed_lines(self) -> list[str]:
        """One line per item no test exercises, with where it is declared."""
        verbs = {"rule": "fires", "edge": "climbs", "fallback": "exercises"}
        return [f"no test {verbs[i.kind]} {i.words} ({i.span.file}:{i.span.line})" for i in self.missed]

    def as_dict(self) -> dict[str, Any]:
        def part(items: tuple[Item, ...]) -> dict[str, Any]:
            return {"covered": sum(i.covered for i in items), "total": len(items),
                    "items": [i.as_dict() for i in items]}

        return {"file": self.file, "tests": self.tests, "covered": self.covered, "total": self.total,
                "share": round(self.share, 4), "rules": part(self.rules), "cascade_edges": part(self.edges),
                "fallbacks": part(self.fallbacks)}


def percent(share: float) -> str:
    """A share as a whole percentage, rounded down: 100% means everything."""
    return f"{int(share * 100 + 1e-9)}%"


def coverage(policy: Policy) -> Coverage:
    """Which rules, cascade edges and fallbacks of `policy` its test blocks exercise. Only the
    cascades that some rule targets, and the fallbacks of models that may serve (a rule's
    target, a step of such a cascade, or a fallback of those), are counted."""
    ir = policy.ir
    fired: dict[str, list[str]] = {rule.name: [] for rule in ir.route}
    climbed: dict[tuple[str, int], list[str]] = {}
    served: dict[int, list[tuple[str, str]]] = {}
    for test in ir.tests:
        result = _serve(policy, test)
        if result is None:
            continue
        rule_name, cascade, run = result
        if rule_name in fired:
            fired[rule_name].append(test.name)
        steps_reached = 1 + max((call.step for call in run.calls), default=-1)
        if cascade is not None:
            for edge in range(steps_reached - 1):
                climbed.setdefault((cascade, edge), []).append(test.name)
        for failed, following in zip(run.calls, run.calls[1:]):
            if failed.error is None or following.step != failed.step:
                continue
            index = next((i for i, f in enumerate(ir.fallbacks) if f.source == failed.model
                          and failed.error in f.errors and f.target == following.model), None)
            if index is not None:
                served.setdefault(index, []).append((test.name, failed.error))

    rules = tuple(Item("rule", r.name, r.span, tuple(fired[r.name])) for r in ir.route)
    cascades = [c for c in ir.cascades if any(isinstance(r.target, CascadeTarget) and r.target.cascade == c.name
                                                for r in ir.route)]
    edges = tuple(
        Item("edge", f"{c.name}: {e.source} -> {e.target}", e.span, _unique(climbed.get((c.name, k), [])),
             (("cascade", c.name), ("from", e.source), ("to", e.target)))
        for c in cascades for k, e in enumerate(c.edges))
    serving = {step for rule in ir.route for step in ir.steps(rule)}
    for model in sorted(serving):
        serving.update(ir.fallback_closure(model))
    fallbacks = []
    for index, f in enumerate(ir.fallbacks):
        if f.source not in serving:
            continue
        uses = served.get(index, [])
        exercised = [e for e in f.errors if any(error == e for _, error in uses)]
        fallbacks.append(Item(
            "fallback", f"{f.source} -> {f.target} on {', '.join(f.errors)}", f.span,
            _unique([name for name, _ in uses]),
            (("from", f.source), ("to", f.target), ("errors", list(f.errors)), ("errors_exercised", exercised))))
    return Coverage(ir.file, len(ir.tests), rules, edges, tuple(fallbacks))


def _unique(names: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(names))


def _serve(policy: Policy, test: Test) -> tuple[str, str | None, Walk] | None:
    """The rule that decides the test's request, the cascade it starts (if any), and the calls
    serving it makes; None when the request is invalid. As `policyc test` serves a test: its
    `down` models fail, its outcomes are observed after every step."""
    try:
        decision = policy.decide(_request(policy, test.given), engine="interpreted")
        observed = _request(policy, test.outcomes) if test.outcomes is not None else None
        rule = next((r for r in policy.ir.route if r.name == decision.rule), None)
        if rule is None:  # no rule takes the request (a policy with E204)
            return None
        down = dict(test.down)
        run = walk(
            decision,
            fails=down.get,
            observe=lambda step: observed,
            fallback=lambda model, error: policy.fallback(model, error, engine="interpreted"),
            escalate=lambda d, step, outcomes: policy.escalate(d, step, outcomes, engine="interpreted"),
            cap=lambda model: rule.cap_for(policy.ir.model(model)),
        )
    except RequestError:
        return None
    cascade = rule.target.cascade if isinstance(rule.target, CascadeTarget) else None
    return rule.name, cascade, run


def _request(policy: Policy, pairs: tuple[tuple[str, Any], ...]) -> Mapping[str, Any]:
    """Test values as a request carries them (as `policyc test` sends them): a duration's exact
    seconds as an int or a float."""
    durations = {s.name for s in policy.ir.signals if s.type.kind == "duration"}
    request = {}
    for name, value in pairs:
        if name in durations:
            value = int(value) if value == value.to_integral_value() else float(value)
        request[name] = value
    return request
