"""What `Policy.explain` answers (section 9.2): an `Explanation`, made of data only (each rule
tried and the parts of its condition that decided it, the climb, each step's fallbacks, the
cost), each part with `as_dict()` for JSON.

The data sits below `policylang.policy` so that `Policy.explain` can name its result's type
without importing what builds it (`policylang.explainer`, a layer above this one).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import Decimal

from .backends.python.support import Decision, RequestError
from .ir import expr as e
from .ir.types import Type, format_value
from .jsontext import JsonObject, JsonValue, decimal_text
from .source import Span


@dataclass(frozen=True)
class Reason:
    """One part of a condition that decided its value: a comparison (or a bool signal, a
    literal, `not` of one), whether it held, and the values it read, by name."""

    text: str
    span: Span
    held: bool
    values: JsonObject
    expr: e.Expr = field(repr=False, compare=False)
    types: dict[str, Type] = field(default_factory=dict, repr=False, compare=False)

    def as_dict(self) -> JsonObject:
        return {"text": self.text, "file": self.span.file, "line": self.span.line, "column": self.span.column,
                "held": self.held, "values": dict(self.values)}

    def values_text(self) -> str:
        return ", ".join(f"{name} = {format_value(value, self.types.get(name))}" for name, value in self.values.items())


@dataclass(frozen=True)
class RuleTrace:
    """One rule (or the default) as `decide` tried it: whether its condition held, and why."""

    rule: str
    span: Span
    held: bool
    because: tuple[Reason, ...]
    fired: bool

    def as_dict(self) -> JsonObject:
        return {"rule": self.rule, "file": self.span.file, "line": self.span.line, "column": self.span.column,
                "held": self.held, "fired": self.fired, "because": [r.as_dict() for r in self.because]}


@dataclass(frozen=True)
class ClimbStep:
    """The edge leaving one answered step: the outcomes observed after it (None: none listed,
    so the climb stops), whether its condition held, and why; or the outcome object's error."""

    step: int
    source: str
    target: str
    text: str
    span: Span
    outcomes: JsonObject | None
    held: bool | None
    because: tuple[Reason, ...] = ()
    error: RequestError | None = None

    def as_dict(self) -> JsonObject:
        out: JsonObject = {"step": self.step, "from": self.source, "to": self.target, "text": self.text,
                               "file": self.span.file, "line": self.span.line, "column": self.span.column,
                               "outcomes": json_shown(self.outcomes), "held": self.held,
                               "because": [r.as_dict() for r in self.because]}
        if self.error is not None:
            out["error"] = self.error.as_dict()
        return out


@dataclass(frozen=True)
class StepFallbacks:
    """Who serves a step when its model's provider fails: each fallback reachable from it."""

    step: int
    model: str
    links: tuple[tuple[str, tuple[str, ...], str], ...]
    """(model, errors, the model that serves instead), nearest first."""

    def as_dict(self) -> JsonObject:
        return {"step": self.step, "model": self.model,
                "fallbacks": [{"from": a, "errors": list(errors), "to": b} for a, errors, b in self.links]}


@dataclass(frozen=True)
class PricedCall:
    """One call the request makes when every provider answers: its price, exact."""

    step: int
    model: str
    cap: int
    input_tokens: int | None
    """None: the policy declares no input_tokens and the request gave no `@input_tokens`,
    so the model's context window stands for it."""
    output_tokens: int
    at_cap: bool
    """Whether output was counted at the cap (no `@output_tokens` given)."""
    cost: Decimal
    input_price: Decimal
    output_price: Decimal
    """The model's prices per million tokens."""

    def as_dict(self) -> JsonObject:
        return {"step": self.step, "model": self.model, "cap": self.cap, "input_tokens": self.input_tokens,
                "output_tokens": self.output_tokens, "output_at_cap": self.at_cap, "cost": _amount(self.cost)}


@dataclass(frozen=True)
class WorstCase:
    """The most this request can cost over every step its cascade can reach and every
    fallback of each step (section 7, at this request's input_tokens)."""

    cost: Decimal
    parts: tuple[tuple[str, Decimal], ...]
    """Each step's costliest chain (`fast→backup`) and its price."""
    input_tokens: int | None

    def as_dict(self) -> JsonObject:
        return {"cost": _amount(self.cost), "input_tokens": self.input_tokens,
                "parts": [{"chain": chain, "cost": _amount(value)} for chain, value in self.parts]}


@dataclass(frozen=True)
class Cost:
    calls: tuple[PricedCall, ...]
    total: Decimal
    worst: WorstCase | None

    def as_dict(self) -> JsonObject:
        return {"calls": [c.as_dict() for c in self.calls], "total": _amount(self.total),
                "worst_case": self.worst.as_dict() if self.worst is not None else None}


@dataclass(frozen=True)
class Explanation:
    """Why a request got its decision: `Policy.explain`'s answer, `as_dict()` for JSON (9.2)."""

    policy: str
    request: JsonObject
    decision: Decision | None
    file: str = ""
    """The policy's top-level file, where its rules are."""
    rules: tuple[RuleTrace, ...] = ()
    climb: tuple[ClimbStep, ...] = ()
    path: tuple[str, ...] = ()
    fallbacks: tuple[StepFallbacks, ...] = ()
    cost: Cost | None = None
    error: RequestError | None = None
    """The request's error (R001-R004): then there is no decision."""
    error_span: Span | None = None
    """Where the signal the error names is declared, when it names one."""
    outcomes_given: bool = False

    @property
    def fired(self) -> str | None:
        """The rule that decided (None: a request error, or no rule took the request)."""
        return self.decision.rule if self.decision is not None else None

    @property
    def failed(self) -> bool:
        """A request error, in the signals or in an outcome object of the climb."""
        return self.error is not None or any(step.error is not None for step in self.climb)

    def as_dict(self) -> JsonObject:
        if self.error is not None:
            error: JsonObject = self.error.as_dict()
            if self.error_span is not None:
                error["declared"] = {"file": self.error_span.file, "line": self.error_span.line,
                                     "column": self.error_span.column}
            return {"policy": self.policy, "request": json_shown(self.request), "error": error, "decision": None,
                    "rules": [], "climb": [], "fallbacks": [], "cost": None}
        assert self.decision is not None
        decision = self.decision.as_dict()
        if self.outcomes_given:
            decision["path"] = list(self.path)
        return {"policy": self.policy, "request": json_shown(self.request), "decision": decision,
                "rules": [r.as_dict() for r in self.rules], "climb": [c.as_dict() for c in self.climb],
                "fallbacks": [f.as_dict() for f in self.fallbacks],
                "cost": self.cost.as_dict() if self.cost is not None else None}


def _amount(value: Decimal) -> str:
    """Money in JSON: an exact decimal string (as `simulate` writes it), no trailing zeros."""
    return decimal_text(value.normalize())


def json_shown(value: JsonValue) -> JsonValue:
    """A request as JSON can hold it: what JSON cannot (bytes, NaN, a set, a non-string key)
    is shown as its Python repr, so that an explanation of any request prints."""
    if value is None or isinstance(value, (bool, str, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, Decimal):
        return value if value.is_finite() else repr(value)
    if isinstance(value, dict):
        return {k if isinstance(k, str) else repr(k): json_shown(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_shown(v) for v in value]
    return repr(value)
