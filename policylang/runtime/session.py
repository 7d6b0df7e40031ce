"""Sessions: runs against a budget (section 13), in one process or shared (13.2).

Each run sees what is left as its `remaining_budget` signal, so the policy routes on it
(`remaining_budget >= cost(frontier)`). Money is held before it is spent: each call first
reserves its worst case (the `input_tokens` signal, or the model's context, and the call's
cap, as the policy's `cost()` counts it) in the session's `Ledger`, and the answer's exact cost
replaces the reservation. Runs in flight see what others hold as already spent, so two runs
can never both spend the last dollar. A call that the budget cannot cover is not made; no
fallback is taken for it (the policy's `remaining_budget` rules choose cheaper models).

Money held is not money spent. When a run's decision is a rejection, or its first call cannot
be covered, only because other runs' calls in flight hold money (deciding as if that money
came back would serve it), the run waits for them, polling, up to the session's `wait`
seconds, then decides again. If the wait runs out, it ends with `BudgetBusy` (an `Exhausted`,
not an `OverBudget`, nor a `Rejected`): the app can tell "try again" from "spent".

Spend passes the budget only when a provider reports more tokens than a call reserved for:
the reservation counts the `input_tokens` signal, so a provider that reads more input than the
signal said costs more than was held. The cost is recorded exactly (it is what the provider
bills); the overshoot is at most, for each call in flight at that moment, (the input tokens
the provider reported - the signal) x the model's input price, and since a provider reads at
most the model's context, at most (context - signal) x input price per call. Once passed,
`remaining` reads $0 and no further call is made. Without the signal, a call reserves the
model's whole context and the budget is never passed.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from ..ir.values import EXACT, exact_money
from .engine import PolicyEngine
from .errors import BudgetBusy
from .results import ZERO, Result
from .state import Ledger, LocalState
from .streaming import AStream, Stream

_POLL = 0.02
_sessions = itertools.count(1)


class Session:
    """Runs of one `Router` against one budget in dollars (an int, a Decimal, or a float read
    as the decimal its repr shows). Safe to share between threads and tasks. `key` names the
    budget in `state` (a `runtime.state.State`; None: this session's own in this process), so
    that Sessions in other processes with the same key and state share it. `wait`: the most
    seconds a run waits for money held by calls in flight (0: never wait)."""

    def __init__(self, router: Any, budget: int | float | Decimal, *, key: str | None = None, state: Any = None,
                 wait: float = 30.0) -> None:
        if isinstance(budget, bool) or not isinstance(budget, (int, float, Decimal)):
            raise TypeError(f"a session's budget is money (int, float or Decimal dollars), not {type(budget).__name__}")
        amount = Decimal(exact_money(budget))
        if not amount.is_finite() or amount < 0:
            raise ValueError(f"a session's budget must be a finite amount >= $0, not {budget!r}")
        if not wait >= 0:
            raise ValueError("a session's wait is in seconds, >= 0")
        self.router = router
        self.budget = amount
        self.key = key if key is not None else f"session-{next(_sessions)}-{id(self):x}"
        self.wait = float(wait)
        self._ledger: Ledger = (state if state is not None else LocalState()).ledger(self.key, amount)
        self._begun = itertools.count()  # next() is atomic: the runs begun, without a lock

    @property
    def spent(self) -> Decimal:
        """The exact cost of every answered call so far."""
        return self._ledger.totals()[0]

    @property
    def held(self) -> Decimal:
        """What calls in flight have reserved."""
        return self._ledger.totals()[1]

    @property
    def remaining(self) -> Decimal:
        """What runs may still spend: the budget less what is spent and what is held, never
        below $0 (see the module's docstring for when spend can pass the budget)."""
        spent, held = self._ledger.totals()
        return _left(self._ledger.budget, spent, held)

    @property
    def runs(self) -> int:
        """How many runs the session has begun."""
        return int(repr(self._begun)[6:-1])  # "count(N)": N runs begun

    def run(self, signals: Mapping[str, Any], request: Any) -> Result:
        """`Router.run` with `remaining_budget` filled in and every call paid from the budget;
        `OverBudget` (an `Exhausted`) when the first step's call cannot be covered, `BudgetBusy`
        when it could be once calls in flight settle, but they did not within `wait`."""
        result: Result = self.router._run(signals, request, _Tab(self))
        return result

    async def arun(self, signals: Mapping[str, Any], request: Any) -> Result:
        """`Router.arun` against the budget."""
        result: Result = await self.router._arun(signals, request, _Tab(self))
        return result

    def stream(self, signals: Mapping[str, Any], request: Any) -> Stream:
        """`Router.stream` against the budget."""
        stream: Stream = self.router._stream(signals, request, _Tab(self))
        return stream

    def astream(self, signals: Mapping[str, Any], request: Any) -> AStream:
        """`Router.astream` against the budget."""
        stream: AStream = self.router._astream(signals, request, _Tab(self))
        return stream

    def _count(self) -> None:
        next(self._begun)


def _left(budget: Decimal, spent: Decimal, held: Decimal) -> Decimal:
    left = EXACT.subtract(EXACT.subtract(budget, spent), held)
    return left if left > 0 else ZERO


class _Tab:
    """One run's account with its session: the hold of its first call, taken with its
    decision, and how long it may still wait for held money."""

    __slots__ = ("session", "pool", "deadline")

    def __init__(self, session: Session) -> None:
        self.session = session
        self.pool: tuple[str, Decimal, str, int] | None = None  # the first call's hold, taken with the decision
        self.deadline: float | None = None

    def _waiting(self, clock: Callable[[], float]) -> float | None:
        """Seconds to sleep before asking again, or None when the wait is over."""
        now = clock()
        if self.deadline is None:
            self.deadline = now + self.session.wait
        left = self.deadline - now
        return min(_POLL, left) if left > 0 else None

    def open(self, engine: PolicyEngine, signals: Mapping[str, Any], clock: Callable[[], float]) -> Any:
        """(signals with `remaining_budget`, decision), with the first call's worst case held
        in the same breath (no other run can spend it between the decision and the call); or
        a float: wait that many seconds and ask again (money held by other runs' calls would
        change the decision). `BudgetBusy` when the wait is over and the decision is still a
        rejection that the held money alone caused."""
        ledger = self.session._ledger
        spent, held = ledger.totals()
        filled = {**signals, "remaining_budget": _left(ledger.budget, spent, held)}
        decision = engine.decide(filled)
        first = _first_call_cost(engine, filled, decision) if decision.model is not None else None
        if first is not None:
            hold = ledger.reserve(first)
            if hold is not None:
                self.pool = (hold, first, decision.model, decision.max_output)
                self.session._count()
                return filled, decision
            spent, held = ledger.totals()
        if held > 0:  # would the money held by calls in flight, once back, serve this request?
            free = {**signals, "remaining_budget": _left(ledger.budget, spent, ZERO)}
            other = engine.decide(free)
            if other.model is not None and _first_call_cost(engine, free, other) <= free["remaining_budget"]:
                wait = self._waiting(clock)
                if wait is not None:
                    return wait
                if decision.model is None:
                    self.session._count()
                    raise BudgetBusy(decision, (), f"the session's budget is held by calls in flight: rule "
                                     f"{decision.rule} rejected the request with remaining_budget "
                                     f"${filled['remaining_budget']}, and the calls did not settle within "
                                     f"{self.session.wait:g} s")
        self.session._count()
        return filled, decision

    def reserve(self, amount: Decimal, first: bool, clock: Callable[[], float]) -> Any:
        """A hold for a call of worst case `amount`; None when the budget cannot cover it;
        False when it could once calls in flight settle but the wait is over; a float: wait
        that many seconds and ask again."""
        ledger = self.session._ledger
        if self.pool is not None:
            pooled, held_for, _, _ = self.pool
            self.pool = None
            if held_for >= amount:
                return pooled
            ledger.release(pooled)
        hold = ledger.reserve(amount)
        if hold is not None:
            return hold
        spent, held = ledger.totals()
        if held > 0 and first and amount <= _left(ledger.budget, spent, ZERO):
            wait = self._waiting(clock)
            return wait if wait is not None else False
        return None

    def pooled(self, model: str, cap: int) -> str | None:
        """The hold taken with the decision, when this call is the one it was taken for."""
        pool = self.pool
        if pool is not None and pool[2] == model and pool[3] == cap:
            self.pool = None
            return pool[0]
        return None

    def settle(self, hold: str, cost: Decimal) -> None:
        self.session._ledger.settle(hold, cost)

    def release(self, hold: str) -> None:
        self.session._ledger.release(hold)

    def close(self) -> None:
        if self.pool is not None:
            self.session._ledger.release(self.pool[0])
            self.pool = None


def _first_call_cost(engine: PolicyEngine, signals: Mapping[str, Any], decision: Any) -> Decimal:
    """The worst case of the decision's first call, as the Router will hold it."""
    model = engine.models[decision.model]
    tokens = signals.get("input_tokens") if engine.input_tokens else None
    if not isinstance(tokens, int) or isinstance(tokens, bool):
        tokens = model.context
    return model.cost(tokens, decision.max_output)
