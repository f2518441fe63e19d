"""Intervals against values worked out by hand and their defining properties."""

from __future__ import annotations

import math

import pytest

from fairness import ratio_interval, wilson_interval


def test_wilson_matches_the_textbook_example() -> None:
    # 81 of 263 (Wilson 1927 as worked in Newcombe 1998, table I): 0.2553 to 0.3662
    low, high = wilson_interval(81, 263, confidence=0.95)
    assert low == pytest.approx(0.2553, abs=1e-4) and high == pytest.approx(0.3662, abs=1e-4)


def test_wilson_stays_inside_zero_and_one() -> None:
    assert wilson_interval(0, 10, confidence=0.95)[0] == 0.0
    assert wilson_interval(10, 10, confidence=0.95)[1] == pytest.approx(1.0)
    assert wilson_interval(0, 0, confidence=0.95) == (0.0, 1.0)


def test_ratio_interval_is_katz_log() -> None:
    low, high = ratio_interval(30, 100, 60, 100, confidence=0.95)
    se = math.sqrt(1 / 30 - 1 / 100 + 1 / 60 - 1 / 100)
    assert low == pytest.approx(0.5 * math.exp(-1.959964 * se), rel=1e-6)
    assert high == pytest.approx(0.5 * math.exp(1.959964 * se), rel=1e-6)


def test_ratio_interval_with_a_zero_count_is_finite() -> None:
    interval = ratio_interval(0, 40, 20, 40, confidence=0.95)
    assert interval is not None and 0 < interval[0] < interval[1] < 1
    assert ratio_interval(1, 0, 1, 10, confidence=0.95) is None
