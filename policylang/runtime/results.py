"""What a run gives back: each attempt, the result, and the answer type the clients return."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, NamedTuple

from ..money import money_text

ZERO = Decimal(0)


@dataclass(frozen=True)
class Answer:
    """A model's answer as `runtime.clients` return it: the text, why the model stopped
    (`"stop"`, `"length"` when the cap cut it, ...), the tokens the provider reported, the
    model the provider says answered, and its raw response."""

    text: str
    finish_reason: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    model: str | None = None
    raw: Any = None


class Usage(NamedTuple):
    """What a stream reports last, when the provider says it: the tokens it read and wrote."""

    input_tokens: int
    output_tokens: int


class Attempt(NamedTuple):
    """One call (or one call not made: `skipped` says why, `"breaker_open"` or
    `"over_budget"`): the step it served, the policy's name for the model and its provider id,
    the cap it was given, the error it failed with or the outcomes its answer was judged to
    have, the tokens and exact cost of an answer (a failure costs nothing), its seconds, and
    which try of this model for this step it was (0 the first, 1 the first retry, ...).
    A streamed call also has `ttft` (seconds to its first chunk); `usage_missing` says the
    provider reported no usage (the call is costed at its worst case); `cut` is
    `"interrupted"` (the stream failed after its first chunk was handed out) or
    `"abandoned"` (the app stopped reading); `fail_open` says the call was made although
    the model's breaker was open, because every model the step could reach was.
    A named tuple, as cheap to make as the runtime's hot path needs."""

    step: int
    model: str
    id: str
    max_output: int
    error: str | None = None
    outcomes: Mapping[str, Any] | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost: Decimal = ZERO
    seconds: float = 0.0
    retry: int = 0
    skipped: str | None = None
    message: str | None = None
    ttft: float | None = None
    fail_open: bool = False
    usage_missing: bool = False
    cut: str | None = None

    @property
    def answered(self) -> bool:
        """Whether this call was made and answered (a stream cut short did not answer)."""
        return self.error is None and self.skipped is None and self.cut is None

    def as_dict(self) -> dict[str, Any]:
        """The attempt as the decision log writes it, with the OpenTelemetry GenAI names for
        the model and the tokens."""
        return {
            "step": self.step,
            "model": self.model,
            "gen_ai.request.model": self.id,
            "gen_ai.request.max_tokens": self.max_output,
            "retry": self.retry,
            "error": self.error,
            "skipped": self.skipped,
            "message": self.message,
            "outcomes": dict(self.outcomes) if self.outcomes is not None else None,
            "gen_ai.usage.input_tokens": self.input_tokens,
            "gen_ai.usage.output_tokens": self.output_tokens,
            "cost": money_text(self.cost),
            "seconds": round(self.seconds, 6),
            "ttft": round(self.ttft, 6) if self.ttft is not None else None,
            "fail_open": self.fail_open,
            "usage_missing": self.usage_missing,
            "cut": self.cut,
        }


class Result(NamedTuple):
    """A served request: the last answer and the model that gave it, the models that answered
    each step reached (`path`), the exact cost of every answered call, whether every step the
    climb asked for was served (`complete`; False when a later step found no model, `unserved`
    its index), the decision, every attempt, and the run's seconds."""

    answer: Any
    model: str
    path: tuple[str, ...]
    cost: Decimal
    complete: bool
    decision: Any
    attempts: tuple[Attempt, ...]
    seconds: float
    unserved: int | None = None

    @property
    def rule(self) -> str:
        """The rule that decided the request."""
        rule: str = self.decision.rule
        return rule
