"""The checked policy: what the analyses prove things about and what the back ends run.

Every name here is the one the top-level file reaches it by (`lib.fast` through an alias);
every value is evaluated (thresholds inlined, model copies merged, literals in their units).
"""

from __future__ import annotations

from decimal import Decimal
from functools import cached_property
from typing import Annotated, Any, Literal, Union, assert_never

from pydantic import ConfigDict, Field
from pydantic.dataclasses import dataclass

from .expr import Expr, InvariantExpr
from ..source import Span
from .node import Node
from .types import Type
from .values import EXACT

ERRORS = ("unavailable", "rate_limited", "timeout", "server_error", "content_filtered")
"""The provider errors a fallback may name (section 3.6)."""


class Signal(Node):
    """A signal or an outcome (`role`); `default` is its runtime value, if it has one."""

    kind: Literal["signal"] = "signal"
    name: str
    role: Literal["signal", "outcome"]
    type: Type
    has_default: bool = False
    default: Any = None


@dataclass(frozen=True, config=ConfigDict(extra="forbid", arbitrary_types_allowed=True))
class Model:
    """A model as the policy declares it: `name` is the policy's name for it, `id` what the
    provider calls it; prices in dollars per million tokens, `latency` in seconds. The runtime
    hands this same object to an app's `call` (`runtime.Model`).

    A pydantic dataclass, not a `Node`: validated and frozen as the nodes are, but read as a
    plain dataclass is, since the runtime reads a model's fields on every call (a pydantic
    model's `__getattr__` hook makes each attribute read about three times slower). Nothing walks
    into a model: it holds no expression."""

    span: Span
    name: str
    id: str
    tier: int
    input_per_mtok: Decimal
    output_per_mtok: Decimal
    context: int
    max_output: int
    latency: Decimal
    regions: frozenset[str] | None = None
    """None: the model does not say, so it may process data anywhere."""
    tags: frozenset[str] = frozenset()
    kind: Literal["model"] = "model"

    def field_value(self, field: str) -> Any:
        """The value of one of `MODEL_FIELDS` (what `model.FIELD` reads in an invariant)."""
        return getattr(self, field)

    def cost(self, input_tokens: int, output_tokens: int) -> Decimal:
        """The exact price in dollars of a call that read `input_tokens` and wrote
        `output_tokens` (prices are per million tokens); what the runtime accounts a call at."""
        per_input, per_output = self._per_token
        return EXACT.add(EXACT.multiply(input_tokens, per_input), EXACT.multiply(output_tokens, per_output))

    @cached_property
    def _per_token(self) -> tuple[Decimal, Decimal]:
        return self.input_per_mtok.scaleb(-6, EXACT), self.output_per_mtok.scaleb(-6, EXACT)


MODEL_FIELDS = ("id", "tier", "input_per_mtok", "output_per_mtok", "context", "max_output",
                "latency", "regions", "tags")
REQUIRED_MODEL_FIELDS = MODEL_FIELDS[:7]


class CascadeEdge(Node):
    kind: Literal["edge"] = "edge"
    source: str
    target: str
    condition: Expr


class Cascade(Node):
    """A ladder: `edges[i]` climbs from `steps[i]` to `steps[i + 1]`."""

    kind: Literal["cascade"] = "cascade"
    name: str
    steps: tuple[str, ...]
    edges: tuple[CascadeEdge, ...]


class Fallback(Node):
    kind: Literal["fallback"] = "fallback"
    source: str
    target: str
    errors: tuple[str, ...]


class Budget(Node):
    kind: Literal["budget"] = "budget"
    metric: Literal["cost", "latency"]
    bound: Decimal
    condition: Expr | None = None


class Invariant(Node):
    kind: Literal["invariant"] = "invariant"
    name: str
    condition: Expr | None = None
    requirement: InvariantExpr


class ModelTarget(Node):
    kind: Literal["model"] = "model"
    model: str


class CascadeTarget(Node):
    kind: Literal["cascade"] = "cascade"
    cascade: str


class RejectTarget(Node):
    kind: Literal["reject"] = "reject"
    reason: str


Target = Annotated[Union[ModelTarget, CascadeTarget, RejectTarget], Field(discriminator="kind")]


class Rule(Node):
    """A rule, or the default (`name == "default"`, no condition). Its span is the keyword."""

    kind: Literal["rule"] = "rule"
    name: str
    condition: Expr | None
    target: Target
    cap: int | None = None

    @property
    def is_default(self) -> bool:
        """Whether this is the route's default: the rule without a condition."""
        return self.condition is None

    @property
    def when(self) -> Expr:
        """The condition of a rule that is not the default (every such rule has one); raises
        AssertionError on the default."""
        assert self.condition is not None, "the default has no condition"
        return self.condition

    def cap_for(self, model: Model) -> int:
        """The max_output a call to `model` gets when this rule decides (section 5): the
        rule's cap where it has one and the model allows it, min(rule cap, model max_output)."""
        return step_cap(self.cap, model)


def step_cap(rule_cap: int | None, model: Model) -> int:
    """The max_output of a call to `model` for a rule capped at `rule_cap` (None: no cap),
    section 5: min(rule cap, model max_output). The one place the rule is written: `Rule.cap_for`
    asks it, and so does the runtime, which reads the caps from a compiled module's RULE_CAPS."""
    return model.max_output if rule_cap is None or rule_cap > model.max_output else rule_cap


class Test(Node):
    kind: Literal["test"] = "test"
    name: str
    given: tuple[tuple[str, Any], ...]
    outcomes: tuple[tuple[str, Any], ...] | None
    expect_reject: bool
    expect_model: str | None = None
    expect_rule: str | None = None
    expect_then: tuple[str, ...] = ()
    expect_caps: tuple[int | None, ...] = ()
    """The cap each expected call gets, aligned with (expect_model, *expect_then); None: any."""
    down: tuple[tuple[str, str], ...] = ()
    """(model, error): calls to these models fail with that error, so their fallbacks serve."""


class CheckedPolicy(Node):
    kind: Literal["policy"] = "policy"
    name: str
    file: str
    source_sha256: str
    signals: tuple[Signal, ...]
    models: tuple[Model, ...]
    cascades: tuple[Cascade, ...] = ()
    fallbacks: tuple[Fallback, ...] = ()
    budgets: tuple[Budget, ...] = ()
    invariants: tuple[Invariant, ...] = ()
    rules: tuple[Rule, ...] = ()
    default: Rule | None = None
    route_span: Span | None = None
    """The `route` keyword, where a finding about the whole route block points."""
    tests: tuple[Test, ...] = ()

    def model(self, name: str) -> Model:
        """The model declared as `name`; StopIteration when there is none."""
        return next(m for m in self.models if m.name == name)

    def cascade(self, name: str) -> Cascade:
        """The cascade declared as `name`; StopIteration when there is none."""
        return next(c for c in self.cascades if c.name == name)

    @property
    def inputs(self) -> tuple[Signal, ...]:
        """The signals a request carries, in declaration order."""
        return tuple(s for s in self.signals if s.role == "signal")

    @property
    def outcomes(self) -> tuple[Signal, ...]:
        """The outcomes an answered step reports, in declaration order."""
        return tuple(s for s in self.signals if s.role == "outcome")

    @property
    def route(self) -> tuple[Rule, ...]:
        """The rules in order, then the default if there is one."""
        return self.rules + ((self.default,) if self.default is not None else ())

    def steps(self, rule: Rule) -> tuple[str, ...]:
        """The models `rule` may call in order: its model, its cascade's steps, or none (reject)."""
        target = rule.target
        match target:
            case ModelTarget():
                return (target.model,)
            case CascadeTarget():
                return self.cascade(target.cascade).steps
            case RejectTarget():
                return ()
            case _:
                assert_never(target)

    def decision_of(self, rule: Rule) -> tuple[str, str | None, tuple[str, ...], int | None, tuple[int, ...], str | None]:
        """(rule, model, steps, max_output, caps, reject) of every request `rule` decides
        (section 5): each step's cap is min(rule cap, that step's max_output)."""
        if isinstance(rule.target, RejectTarget):
            return (rule.name, None, (), None, (), rule.target.reason)
        steps = self.steps(rule)
        caps = tuple(rule.cap_for(self.model(s)) for s in steps)
        return (rule.name, steps[0], steps, caps[0], caps, None)

    def fallback_of(self, model: str, error: str) -> str | None:
        """The model declared to serve when `model` fails with `error`; the first such
        fallback where two are declared (E308)."""
        return next((f.target for f in self.fallbacks if f.source == model and error in f.errors), None)

    def fallback_closure(self, model: str) -> list[str]:
        """Every model that can serve when `model` fails, through chains of fallbacks, nearest
        first (breadth first, each model once, `model` itself never)."""
        seen: list[str] = []
        queue = list(self.fallback_targets(model))
        while queue:
            current = queue.pop(0)
            if current != model and current not in seen:
                seen.append(current)
                queue.extend(self.fallback_targets(current))
        return seen

    def fallback_targets(self, model: str) -> tuple[str, ...]:
        """The models that serve directly when `model` fails, in declaration order."""
        seen: list[str] = []
        for f in self.fallbacks:
            if f.source == model and f.target not in seen:
                seen.append(f.target)
        return tuple(seen)
