"""What validating each signal means (section 5), as data both engines are built from.

A `SignalCheck` holds a signal's type test, its domain, its default and the words of its
R002/R003 messages, so that the interpreter and the compiled module say the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeAlias, assert_never

from ...ir.policy import CheckedPolicy, Signal
from ...ir.types import (BoolType, DurationType, EnumType, FloatType, IntType, MoneyType, SetType, StringType,
                         format_value)

Bound: TypeAlias = int | float | Decimal | None
"""A domain's end as the type declares it (None: unbounded)."""
Spec: TypeAlias = tuple[str, Bound, Bound, frozenset[str], str, str]
"""What runtime `_check` reads: (kind, low, high, members, expected, domain)."""

_EXPECTED = {
    "bool": "true or false",
    "int": "a whole number",
    "float": "a number",
    "money": "an amount of money (a number of dollars)",
    "duration": "a duration (a number of seconds)",
    "enum": "a string",
}


@dataclass(frozen=True)
class SignalCheck:
    name: str
    role: str  # "signal" or "outcome"
    kind: str  # "bool", "int", "float", "money", "duration" or "enum"
    required: bool
    default: Any  # the runtime value an absent signal takes (when not required)
    low: Bound
    high: Bound
    members: tuple[str, ...]
    expected: str  # R002: "signal 'x' must be <expected>, got ..."
    domain: str  # R003: "signal 'x' must be <domain>, got ..."

    @property
    def spec(self) -> Spec:
        """What runtime `_check` needs: (kind, low, high, members, expected, domain)."""
        return (self.kind, self.low, self.high, frozenset(self.members), self.expected, self.domain)


def signal_check(signal: Signal) -> SignalCheck:
    """How both engines validate `signal`: its type test, domain, default and message words."""
    t = signal.type
    low: Bound = None
    high: Bound = None
    members: tuple[str, ...] = ()
    match t:
        case IntType() | FloatType() | MoneyType() | DurationType():
            low, high = t.low, t.high
        case EnumType():
            members = tuple(t.members)
        case BoolType() | SetType() | StringType():
            pass  # no domain to read
        case _:
            assert_never(t)
    if t.kind == "enum":
        domain = "one of " + ", ".join(members)
    elif low is not None or high is not None:
        shown = [format_value(b, t) if b is not None else "" for b in (low, high)]
        domain = f"in {shown[0]}..{shown[1]}"
    else:
        domain = "finite"
    default = signal.default
    if t.kind in ("money", "duration") and isinstance(default, Decimal) and default == default.to_integral_value():
        default = int(default)  # the same value, and the exact type the fast path takes
    elif t.kind == "duration" and isinstance(default, Decimal) and Decimal(repr(float(default))) == default:
        default = float(default)  # the same value read by its repr: a duration is never a Decimal at runtime
    return SignalCheck(
        name=signal.name,
        role=signal.role,
        kind=t.kind,
        required=not signal.has_default,
        default=default,
        low=low,
        high=high,
        members=members,
        expected=_EXPECTED[t.kind],
        domain=domain,
    )


def checks(policy: CheckedPolicy, role: str) -> tuple[SignalCheck, ...]:
    """The checks of every signal (or outcome), in declaration order: the first fault decides."""
    return tuple(signal_check(s) for s in policy.signals if s.role == role)
