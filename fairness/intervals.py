"""Confidence intervals for counted rates and their ratios.

The counts are people, so intervals come from the counts, not from resampling rows:
fairlearn's bootstrap resamples the rows it is given, and here a row is a cell of many
people.
"""

from __future__ import annotations

import math
from statistics import NormalDist


def z_value(confidence: float) -> float:
    """The two-sided standard normal quantile, e.g. 1.96 for 0.95."""
    return NormalDist().inv_cdf(0.5 + confidence / 2)


def wilson_interval(successes: int, trials: int, *, confidence: float) -> tuple[float, float]:
    """The Wilson score interval of a proportion; ``(0, 1)`` with no trials."""
    if trials == 0:
        return 0.0, 1.0
    z = z_value(confidence)
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    # at 0 or at all successes the bound is exactly 0 or 1; rounding would say 1e-17
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == trials else min(1.0, centre + half)
    return low, high


def ratio_interval(
    successes: int, trials: int, reference_successes: int, reference_trials: int, *,
    confidence: float,
) -> tuple[float, float] | None:  # fmt: skip
    """Katz's log interval for the ratio of two independent proportions.

    With a zero count, half a person is added to each cell of both groups
    (Haldane-Anscombe), so the interval stays finite. ``None`` without trials.
    """
    if trials == 0 or reference_trials == 0:
        return None
    a, n = float(successes), float(trials)
    b, m = float(reference_successes), float(reference_trials)
    if a == 0 or b == 0 or a == n or b == m:
        a, n, b, m = a + 0.5, n + 1, b + 0.5, m + 1
    z = z_value(confidence)
    log_ratio = math.log((a / n) / (b / m))
    se = math.sqrt(1 / a - 1 / n + 1 / b - 1 / m)
    return math.exp(log_ratio - z * se), math.exp(log_ratio + z * se)
