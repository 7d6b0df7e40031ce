"""Sessions: runs against a budget (section 13).

Each run sees what is left as its `remaining_budget` signal, so the policy routes on it
(`remaining_budget >= cost(frontier)`). Money is held before it is spent: each call first
reserves its worst case (the `input_tokens` signal, or the model's context, and the call's
cap, as the policy's `cost()` counts it) and the answer's exact cost replaces the reservation.
Runs in flight see what others hold as already spent, so two threads can never both spend the
last dollar: `remaining` is never negative. A call that the budget cannot cover is not made;
no fallback is taken for it (the policy's `remaining_budget` rules choose cheaper models).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from ..ir.values import EXACT, exact_money
from .engine import Engine
from .results import ZERO, Result


class Session:
    """Runs of one `Router` against one budget in dollars (an int, a Decimal, or a float read
    as the decimal its repr shows). Safe to share between threads and tasks."""

    def __init__(self, router: Any, budget: int | float | Decimal) -> None:
        if isinstance(budget, bool) or not isinstance(budget, (int, float, Decimal)):
            raise TypeError(f"a session's budget is money (int, float or Decimal dollars), not {type(budget).__name__}")
        amount = Decimal(exact_money(budget))
        if not amount.is_finite() or amount < 0:
            raise ValueError(f"a session's budget must be a finite amount >= $0, not {budget!r}")
        self.router = router
        self.budget = amount
        self._spent = ZERO
        self._held = ZERO
        self._runs = 0
        self._lock = threading.Lock()

    @property
    def spent(self) -> Decimal:
        """The exact cost of every answered call so far."""
        return self._spent

    @property
    def held(self) -> Decimal:
        """What calls in flight have reserved."""
        return self._held

    @property
    def remaining(self) -> Decimal:
        """What runs may still spend: the budget less what is spent and what is held, never
        below $0 (a provider that reports more tokens than a call reserved can overspend; then
        this reads $0)."""
        with self._lock:
            return self._available()

    @property
    def runs(self) -> int:
        """How many runs the session has begun."""
        return self._runs

    def run(self, signals: Mapping[str, Any], request: Any) -> Result:
        """`Router.run` with `remaining_budget` filled in and every call paid from the budget;
        `OverBudget` (an `Exhausted`) when the first step's call cannot be covered."""
        result: Result = self.router._run(signals, request, _Tab(self))
        return result

    async def arun(self, signals: Mapping[str, Any], request: Any) -> Result:
        """`Router.arun` against the budget."""
        result: Result = await self.router._arun(signals, request, _Tab(self))
        return result

    def _available(self) -> Decimal:
        left = EXACT.subtract(EXACT.subtract(self.budget, self._spent), self._held)
        return left if left > 0 else ZERO


class _Tab:
    """One run's account with its session: what the run holds for its calls."""

    __slots__ = ("session", "pool")

    def __init__(self, session: Session) -> None:
        self.session = session
        self.pool = ZERO  # held for this run's first call, reserved with its decision

    def open(self, engine: Engine, signals: Mapping[str, Any]) -> tuple[dict[str, Any], Any]:
        """Decide with what is left, and hold the first call's worst case in the same breath,
        so that no other run can spend it between the decision and the call."""
        session = self.session
        with session._lock:
            session._runs += 1
            filled = {**signals, "remaining_budget": session._available()}
            decision = engine.decide(filled)
            if decision.model is not None:
                first = _first_call_cost(engine, filled, decision)
                if first <= session._available():
                    session._held = EXACT.add(session._held, first)
                    self.pool = first
        return filled, decision

    def reserve(self, amount: Decimal) -> bool:
        session = self.session
        with session._lock:
            if self.pool >= amount:
                self.pool = EXACT.subtract(self.pool, amount)
                return True
            need = EXACT.subtract(amount, self.pool)
            if need > session._available():
                return False
            session._held = EXACT.add(session._held, need)
            self.pool = ZERO
            return True

    def settle(self, held: Decimal, cost: Decimal) -> None:
        session = self.session
        with session._lock:
            session._held = EXACT.subtract(session._held, held)
            session._spent = EXACT.add(session._spent, cost)

    def release(self, held: Decimal) -> None:
        session = self.session
        with session._lock:
            session._held = EXACT.subtract(session._held, held)

    def close(self) -> None:
        if self.pool:
            session = self.session
            with session._lock:
                session._held = EXACT.subtract(session._held, self.pool)
                self.pool = ZERO


def _first_call_cost(engine: Engine, signals: Mapping[str, Any], decision: Any) -> Decimal:
    """The worst case of the decision's first call, as the Router will hold it."""
    model = engine.models[decision.model]
    tokens = signals.get("input_tokens") if engine.input_tokens else None
    if not isinstance(tokens, int) or isinstance(tokens, bool):
        tokens = model.context
    return model.cost(tokens, decision.max_output)
