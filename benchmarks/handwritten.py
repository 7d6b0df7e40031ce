"""The support desk of docs/language.md section 1 written by hand, as a careful engineer would.

The baselines of the benchmark: `decide_unchecked` trusts its caller; `decide` validates the
same sixteen signals the same way the language does (the type, the domain, defaults; R001 for
a missing required signal, R002 for a wrong type, R003 for a value outside its domain),
with the cheap exact-type test first. Both return prebuilt decisions.
"""

from __future__ import annotations

from decimal import Decimal
from typing import NamedTuple


class Decision(NamedTuple):
    rule: str
    model: str | None
    steps: tuple
    max_output: int | None
    reject: str | None


class RequestError(ValueError):
    def __init__(self, code: str, signal: str | None) -> None:
        super().__init__(code)
        self.code, self.signal = code, signal


PII_ONPREM = Decision("pii_onprem", "onprem", ("onprem",), 4000, None)
PII_TOO_BIG = Decision("pii_too_big", None, (), None, "PII input too large for the on-prem model")
TOO_LARGE = Decision("too_large", None, (), None, "input too large")
LONG_CONTEXT = Decision("long_context", "fast", ("fast",), 4000, None)
HIGH_STAKES = Decision("high_stakes", "frontier", ("frontier",), 4000, None)
TOOL_HEAVY = Decision("tool_heavy", "mid", ("mid",), 4000, None)
CHEAP = Decision("cheap", "fast", ("fast", "mid", "frontier"), 4000, None)
SHORT_SUM = Decision("short_sum", "fast", ("fast",), 1000, None)
DEFAULT = Decision("default", "mid", ("mid",), 4000, None)

TASKS = frozenset({"classify", "extract", "format", "translate", "summarize", "draft", "plan", "code",
                   "legal_review", "refund_dispute"})
HIGH_STAKES_TASKS = frozenset({"legal_review", "refund_dispute"})
CHEAP_TASKS = frozenset({"classify", "extract", "format", "translate"})
STEPS = frozenset({"plan", "execute", "final"})
TIERS = frozenset({"free", "pro", "enterprise"})
MISSING = object()
BUDGET_CAP = Decimal(1_000_000)


def decide_unchecked(signals):
    """For callers whose signals are already typed and in their domains."""
    input_tokens = signals["input_tokens"]
    task = signals["task"]
    tool_count = signals.get("tool_count", 0)
    pii = signals.get("pii", False)
    if pii and input_tokens <= 120_000:
        return PII_ONPREM
    if pii:
        return PII_TOO_BIG
    if input_tokens > 200_000:
        return TOO_LARGE
    if input_tokens > 100_000:
        return LONG_CONTEXT
    if task in HIGH_STAKES_TASKS:
        return HIGH_STAKES
    if tool_count > 3:
        return TOOL_HEAVY
    if task in CHEAP_TASKS and input_tokens <= 8_000:
        return CHEAP
    if task == "summarize" and input_tokens <= 4_000:
        return SHORT_SUM
    return DEFAULT


def _int(signals, name, low, high, default=MISSING):
    value = signals.get(name, MISSING)
    if value.__class__ is int and low <= value <= high:
        return value
    if value is MISSING:
        if default is MISSING:
            raise RequestError("R001", name)
        return default
    if value.__class__ is bool or not isinstance(value, int):
        raise RequestError("R002", name)
    raise RequestError("R003", name)


def _flag(signals, name, default):
    value = signals.get(name, MISSING)
    if value.__class__ is bool:
        return value
    if value is MISSING:
        return default
    raise RequestError("R002", name)


def _member(signals, name, members, default=MISSING):
    value = signals.get(name, MISSING)
    if value.__class__ is str and value in members:
        return value
    if value is MISSING:
        if default is MISSING:
            raise RequestError("R001", name)
        return default
    raise RequestError("R002" if not isinstance(value, str) else "R003", name)


def decide(signals):
    """Validates every declared signal in declaration order, then routes."""
    if signals.__class__ is not dict:
        raise RequestError("R002", None)
    # inlined, as one would for the hot path: each test is the exact type, then the domain
    input_tokens = signals.get("input_tokens", MISSING)
    if not (input_tokens.__class__ is int and 0 <= input_tokens <= 10_000_000):
        input_tokens = _int(signals, "input_tokens", 0, 10_000_000)
    v = signals.get("document_count", 0)
    if not (v.__class__ is int and 0 <= v <= 100_000):
        _int(signals, "document_count", 0, 100_000, 0)
    v = signals.get("conversation_depth", 0)
    if not (v.__class__ is int and 0 <= v <= 1_000_000):
        _int(signals, "conversation_depth", 0, 1_000_000, 0)
    tool_count = signals.get("tool_count", 0)
    if not (tool_count.__class__ is int and 0 <= tool_count <= 1_000):
        tool_count = _int(signals, "tool_count", 0, 1_000, 0)
    v = signals.get("step_count", 1)
    if not (v.__class__ is int and 0 <= v <= 1_000):
        _int(signals, "step_count", 0, 1_000, 1)
    v = signals.get("step", "execute")
    if not (v.__class__ is str and v in STEPS):
        _member(signals, "step", STEPS, "execute")
    if signals.get("agentic", False).__class__ is not bool:
        _flag(signals, "agentic", False)
    if signals.get("external_comms", False).__class__ is not bool:
        _flag(signals, "external_comms", False)
    if signals.get("irreversible", False).__class__ is not bool:
        _flag(signals, "irreversible", False)
    if signals.get("compliance_sensitive", False).__class__ is not bool:
        _flag(signals, "compliance_sensitive", False)
    pii = signals.get("pii", False)
    if pii.__class__ is not bool:
        pii = _flag(signals, "pii", False)
    if signals.get("financial", False).__class__ is not bool:
        _flag(signals, "financial", False)
    if signals.get("sync", True).__class__ is not bool:
        _flag(signals, "sync", True)
    v = signals.get("user_tier", "free")
    if not (v.__class__ is str and v in TIERS):
        _member(signals, "user_tier", TIERS, "free")
    v = signals.get("remaining_budget", MISSING)
    if v is not MISSING and not (v.__class__ is int and 0 <= v <= 1_000_000):
        if v.__class__ is bool or not isinstance(v, (int, float, Decimal)):
            raise RequestError("R002", "remaining_budget")
        v = Decimal(repr(v)) if isinstance(v, float) else v
        if not (v == v and 0 <= v <= BUDGET_CAP):
            raise RequestError("R003", "remaining_budget")
    task = signals.get("task", MISSING)
    if not (task.__class__ is str and task in TASKS):
        task = _member(signals, "task", TASKS)
    if pii and input_tokens <= 120_000:
        return PII_ONPREM
    if pii:
        return PII_TOO_BIG
    if input_tokens > 200_000:
        return TOO_LARGE
    if input_tokens > 100_000:
        return LONG_CONTEXT
    if task in HIGH_STAKES_TASKS:
        return HIGH_STAKES
    if tool_count > 3:
        return TOOL_HEAVY
    if task in CHEAP_TASKS and input_tokens <= 8_000:
        return CHEAP
    if task == "summarize" and input_tokens <= 4_000:
        return SHORT_SUM
    return DEFAULT
