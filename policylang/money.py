"""Money as text, in one place: the exact decimal string that logs, reports and headers carry
(`money_text`), and the two ways people read an amount: rounded to cents (`dollars`, the tables
of simulate, report and diff) and exact with at least cents (`exact_dollars`, explain's prices).

Every amount is a `Decimal` (prices are decimals, so every cost is one exactly); none of these
goes through a float.
"""

from __future__ import annotations

from decimal import Decimal

from .ir.values import EXACT
from .jsontext import decimal_text


def money_text(value: Decimal) -> str:
    """Dollars as an exact decimal string without exponent or trailing zeros: '0.0001305',
    '12.5', '0' (never '-0', never '1E+2')."""
    return decimal_text(value.normalize(EXACT)) if value else "0"


def dollars(value: Decimal | str) -> str:
    """An amount (a Decimal, or exact decimal text as `money_text` writes it) as people read it:
    cents with thousands separators from $1 up ($5,413.04), the digits that matter below
    ($0.00055, at most six places)."""
    amount = Decimal(value)
    return f"${amount:,.2f}" if abs(amount) >= 1 or amount == 0 else f"${amount:.6f}".rstrip("0")


def exact_dollars(value: Decimal) -> str:
    """An amount exactly, with at least cents: $0.0039, $1.12, $1.125, $3.00."""
    shorter = value.normalize(EXACT)
    exponent = shorter.as_tuple().exponent  # an int: a price or a cost is never NaN or infinite
    if isinstance(exponent, int) and exponent > -2:
        shorter = shorter.quantize(Decimal("0.01"), context=EXACT)
    return f"${format(shorter, 'f')}"
