"""How long the solver may take over one policy: `policyc lint --timeout SECONDS` and
`policyc compile --timeout SECONDS` (docs/choices.md, "--timeout").

The bound is on the time spent inside z3, summed over every question the analyses of one
policy ask (each file checked has its own), not on each question: a policy of 10,000 rules
asks thousands of questions, so a bound per question would bound nothing a user waits for.
When the time is spent, the question being asked stops (z3's own timeout, set to what is
left) and raises `Undecided`, which the analyses report as E901 at the condition the
question was about. No budget (the default): each question has z3's ceiling alone.

This module does not import z3: the CLI sets the budget before it knows whether any question
will be asked.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Budget:
    """`seconds` of solver time for each policy, with what each policy has spent so far
    (by the object its solvers share: their encoder)."""

    seconds: float
    _spent: weakref.WeakKeyDictionary[Any, float] = field(default_factory=weakref.WeakKeyDictionary)

    def left(self, owner: Any) -> float:
        """The seconds `owner`'s questions may still take (0 or less: none)."""
        return self.seconds - self._spent.get(owner, 0.0)

    def spend(self, owner: Any, seconds: float) -> None:
        """Count `seconds` against `owner`'s budget."""
        self._spent[owner] = self._spent.get(owner, 0.0) + seconds


_CURRENT: ContextVar[Budget | None] = ContextVar("policylang_solver_budget", default=None)


def current() -> Budget | None:
    """The budget set by the innermost `solver_time_limit`, or None when there is none."""
    return _CURRENT.get()


@contextmanager
def solver_time_limit(seconds: float | None) -> Iterator[None]:
    """Within the block, the analyses of each policy checked may spend at most `seconds` in
    the solver in all (None: no bound but the solver's ceiling per question). A question still
    open when the time runs out is reported as E901 at its condition, never a hang."""
    token = _CURRENT.set(None if seconds is None else Budget(seconds))
    try:
        yield
    finally:
        _CURRENT.reset(token)


def clock() -> float:
    """The clock the budget is counted in: wall time, as z3's own timeout is."""
    return time.monotonic()
