"""Where a Router's breakers and a Session's money live (section 13.2): `LocalState`, this
process's own (the default), or a shared one such as Redis, behind the same two seams.

A `Ledger` is one budget's account: `reserve` holds an amount for a call in flight (atomically:
two holders never both get the last dollar), `settle` replaces a hold by the call's exact cost
(which may exceed it: the provider counted more tokens than the reservation assumed), `release`
gives a hold back. Money is exact `Decimal` dollars throughout.
"""

from __future__ import annotations

import itertools
import threading
from decimal import Decimal
from random import Random
from typing import Protocol

from ..ir.values import EXACT
from .resilience import Breaker, Breakers

_ZERO = Decimal(0)


class Ledger(Protocol):
    """One budget's account, shared by every holder of the same key."""

    budget: Decimal

    def reserve(self, amount: Decimal) -> str | None:
        """A hold id, or None when budget - spent - held < amount (nothing is held then)."""

    def settle(self, hold: str, cost: Decimal) -> None:
        """The exact cost replaces the hold (the cost may exceed it)."""

    def release(self, hold: str) -> None:
        """Give the hold back, nothing spent."""

    def totals(self) -> tuple[Decimal, Decimal]:
        """(spent, held), exact."""


class State(Protocol):
    """Breaker states and budgets, in this process or shared."""

    def breakers(self, config: Breaker, rng: Random | None = None) -> Breakers:
        """The breaker states for `config` (every Router given this state shares them); `rng`
        draws the cooldowns' jitter (the Router passes its own)."""

    def ledger(self, key: str, budget: Decimal) -> Ledger:
        """The account of budget `key` (created with `budget` when new)."""


class LocalLedger:
    """A `Ledger` in this process, safe across threads and tasks."""

    def __init__(self, budget: Decimal) -> None:
        self.budget = budget
        self._spent = _ZERO
        self._holds: dict[str, Decimal] = {}
        self._held = _ZERO
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def reserve(self, amount: Decimal) -> str | None:
        """A hold id, or None when what is left cannot cover `amount`."""
        with self._lock:
            if EXACT.subtract(EXACT.subtract(self.budget, self._spent), self._held) < amount:
                return None
            hold = str(next(self._ids))
            self._holds[hold] = amount
            self._held = EXACT.add(self._held, amount)
            return hold

    def settle(self, hold: str, cost: Decimal) -> None:
        """The exact cost replaces the hold; an unknown (already settled) hold costs nothing twice."""
        with self._lock:
            amount = self._holds.pop(hold, None)
            if amount is None:
                return
            self._held = EXACT.subtract(self._held, amount)
            self._spent = EXACT.add(self._spent, cost)

    def release(self, hold: str) -> None:
        """Give the hold back."""
        with self._lock:
            amount = self._holds.pop(hold, None)
            if amount is not None:
                self._held = EXACT.subtract(self._held, amount)

    def totals(self) -> tuple[Decimal, Decimal]:
        """(spent, held)."""
        with self._lock:
            return self._spent, self._held


class LocalState:
    """This process's state: the default of a Router and a Session."""

    def __init__(self) -> None:
        self._breakers: dict[Breaker, Breakers] = {}
        self._ledgers: dict[str, LocalLedger] = {}
        self._lock = threading.Lock()

    def breakers(self, config: Breaker, rng: Random | None = None) -> Breakers:
        """One `Breakers` per configuration, shared by the Routers given this state (the first
        Router's `rng` draws its jitter)."""
        with self._lock:
            found = self._breakers.get(config)
            if found is None:
                found = self._breakers[config] = Breakers(config, rng)
            return found

    def ledger(self, key: str, budget: Decimal) -> LocalLedger:
        """The ledger of `key`, created with `budget` when new (a later budget for the same key
        is ignored)."""
        with self._lock:
            found = self._ledgers.get(key)
            if found is None:
                found = self._ledgers[key] = LocalLedger(budget)
            return found


def __getattr__(name: str) -> object:
    """`state.RedisState` (extra `redis`), imported when first asked for, so that importing the
    runtime never imports redis."""
    if name == "RedisState":
        from .redisstate import RedisState

        return RedisState
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
