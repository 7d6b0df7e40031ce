"""The statistics of a report (docs/report.md says when each is trustworthy).

- a proportion's 95% interval: Wilson's score interval;
- the difference of two independent proportions: Newcombe's hybrid score interval (his method
  10, built from the two Wilson intervals), significant when it excludes 0;
- the shift of a categorical mix (the rule mix) between two windows: Pearson's chi-square test of
  homogeneity on the 2 x k table, its p-value from the chi-square distribution with k - 1 degrees
  of freedom (k the categories seen in either window), and whether every expected count is at
  least 5 (Cochran's condition; below it the p-value is only indicative).

Pure Python: `math` only (the regularized incomplete gamma function is computed here).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

Z95 = 1.959963984540054
"""The standard normal's 97.5% quantile: two-sided 95% intervals."""

MIN_REQUESTS = 30
"""Fewer requests than this in a window, bucket or group: no interval, no significance, a note."""

ALPHA = 0.05
"""The significance level of the drift tests."""


def wilson(successes: int, trials: int, z: float = Z95) -> tuple[float, float]:
    """Wilson's score interval for a proportion (trials > 0)."""
    p = successes / trials
    z2 = z * z
    centre = (p + z2 / (2 * trials)) / (1 + z2 / trials)
    half = z / (1 + z2 / trials) * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials))
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == trials else min(1.0, centre + half)
    return low, high


@dataclass(frozen=True)
class Difference:
    """p_after - p_before with Newcombe's 95% interval, and whether the interval excludes 0."""

    before: float
    after: float
    difference: float
    low: float
    high: float

    @property
    def significant(self) -> bool:
        """The interval excludes 0."""
        return self.low > 0 or self.high < 0


def newcombe(before: tuple[int, int], after: tuple[int, int], z: float = Z95) -> Difference:
    """Newcombe's hybrid score interval for after - before, each (successes, trials > 0)."""
    p1, p2 = before[0] / before[1], after[0] / after[1]
    l1, u1 = wilson(*before, z=z)
    l2, u2 = wilson(*after, z=z)
    d = p2 - p1
    low = d - math.sqrt((p2 - l2) ** 2 + (u1 - p1) ** 2)
    high = d + math.sqrt((u2 - p2) ** 2 + (p1 - l1) ** 2)
    return Difference(p1, p2, d, low, high)


@dataclass(frozen=True)
class ChiSquare:
    """Pearson's chi-square test of homogeneity of two count vectors."""

    statistic: float
    dof: int
    p_value: float
    cochran: bool  # every expected count >= 5


def chi_square(before: dict[str, int], after: dict[str, int]) -> ChiSquare | None:
    """The test of whether two windows draw their categories from the same mix; None when
    either window is empty or only one category occurs."""
    categories = sorted(c for c in set(before) | set(after) if before.get(c, 0) + after.get(c, 0) > 0)
    n1, n2 = sum(before.get(c, 0) for c in categories), sum(after.get(c, 0) for c in categories)
    if n1 == 0 or n2 == 0 or len(categories) < 2:
        return None
    total = n1 + n2
    statistic = 0.0
    cochran = True
    for category in categories:
        column = before.get(category, 0) + after.get(category, 0)
        for observed, row in ((before.get(category, 0), n1), (after.get(category, 0), n2)):
            expected = row * column / total
            cochran = cochran and expected >= 5
            statistic += (observed - expected) ** 2 / expected
    dof = len(categories) - 1
    return ChiSquare(statistic, dof, chi2_sf(statistic, dof), cochran)


def chi2_sf(x: float, dof: int) -> float:
    """P(X >= x) for X chi-square with `dof` degrees of freedom."""
    if x <= 0:
        return 1.0
    return gamma_q(dof / 2, x / 2)


def gamma_q(a: float, x: float) -> float:
    """The regularized upper incomplete gamma function Q(a, x): a series below a + 1, a
    continued fraction (modified Lentz) above, to double precision."""
    if x < a + 1:
        term = total = 1.0 / a
        n = a
        for _ in range(10_000):
            n += 1
            term *= x / n
            total += term
            if abs(term) < abs(total) * 1e-16:
                break
        return max(0.0, 1.0 - total * math.exp(-x + a * math.log(x) - math.lgamma(a)))
    tiny = 1e-300
    b = x + 1 - a
    c = 1 / tiny
    d = 1 / b
    h = d
    for i in range(1, 10_000):
        an = -i * (i - a)
        b += 2
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1 / d
        step = d * c
        h *= step
        if abs(step - 1) < 1e-16:
            break
    return min(1.0, math.exp(-x + a * math.log(x) - math.lgamma(a)) * h)
