"""Shared pieces of the runtime tests: a policy with caps, chains and a cascade, a fake clock,
and a scripted in-process `call`."""

from __future__ import annotations

import threading
from collections import defaultdict, deque
from decimal import Decimal

from policylang import runtime

SHOP = """
policy shop

import "std/signals"

signal task: enum {chat, code, legal}

model small { id = "acme/small" tier = 1 input_per_mtok = $1 output_per_mtok = $2 context = 100_000 max_output = 2_000 latency = 1s }
model big   { id = "acme/big"   tier = 2 input_per_mtok = $3 output_per_mtok = $15 context = 200_000 max_output = 8_000 latency = 2s }
model spare { id = "acme/spare" tier = 1 input_per_mtok = $0.5 output_per_mtok = $1 context = 100_000 max_output = 1_000 latency = 1s }
model huge  { id = "acme/huge"  tier = 3 input_per_mtok = $5 output_per_mtok = $30 context = 400_000 max_output = 16_000 latency = 4s }

cascade ladder {
  small -> big  when confidence < 0.7 or not valid
  big   -> huge when confidence < 0.5
}

fallback small -> spare on unavailable, rate_limited
fallback spare -> big   on unavailable
fallback big   -> huge  on server_error

route {
  rule too_large when input_tokens > 90_000 -> reject "too large"
  rule legal     when task == legal         -> huge
  rule chat      when task == chat          -> ladder with max_output = 1_500
  default -> big
}
"""

PRICES = {"small": (Decimal(1), Decimal(2)), "big": (Decimal(3), Decimal(15)), "spare": (Decimal("0.5"), Decimal(1)),
          "huge": (Decimal(5), Decimal(30))}


def price(model: str, input_tokens: int, output_tokens: int) -> Decimal:
    """The exact cost of a call, computed here independently of the runtime."""
    per_in, per_out = PRICES[model]
    return (per_in * input_tokens + per_out * output_tokens) / Decimal(1_000_000)


class FakeClock:
    """A monotonic clock that only moves when slept on (or advanced); records each sleep."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.slept: list[float] = []
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.slept.append(seconds)
            self.now += seconds

    async def asleep(self, seconds: float) -> None:
        self.sleep(seconds)

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Scripted:
    """A `call` whose models fail as scripted: `script[model]` is a queue of error names (or
    ProviderErrors, or exceptions) used up one per call; then the model answers with
    `confidence[model]` (default 0.9), reporting `tokens` = (input, output)."""

    def __init__(self, script=None, confidence=None, tokens=(100, 50)) -> None:
        self.script = defaultdict(deque, {m: deque(v) for m, v in (script or {}).items()})
        self.confidence = confidence or {}
        self.tokens = tokens
        self.calls: list[tuple[str, int]] = []
        self.kwargs: list[dict] = []
        self._lock = threading.Lock()

    def __call__(self, model, request, *, max_output, **kwargs):
        with self._lock:
            self.calls.append((model.name, max_output))
            self.kwargs.append(kwargs)
            planned = self.script[model.name].popleft() if self.script[model.name] else None
        if isinstance(planned, BaseException):
            raise planned
        if planned is not None:
            raise runtime.ProviderError(planned)
        confidence = self.confidence.get(model.name, 0.9)
        return runtime.Answer(f'{{"confidence": {confidence}}}', "stop", *self.tokens)
