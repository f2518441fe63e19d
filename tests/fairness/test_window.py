"""The sliding window keeps exact counts as decisions enter, get labels and leave."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from fairness import Window


def test_counts_equal_a_recount_of_the_last_n() -> None:
    rng = random.Random(5)
    window = Window(("g",), max_decisions=50, max_age_seconds=None)
    history: list[tuple[int, str, int, int | None]] = []
    for seq in range(1, 400):
        group, y_pred = rng.choice("abc"), rng.randint(0, 1)
        window.add(seq, float(seq), (group,), y_pred)
        history.append((seq, group, y_pred, None))
        if rng.random() < 0.4:  # ground truth for a random recent decision
            target = rng.randrange(max(0, len(history) - 80), len(history))
            s, g, p, _ = history[target]
            truth = rng.randint(0, 1)
            in_window = window.label(s, (g,), p, truth)
            assert in_window == (s > seq - 50)
            if in_window and history[target][3] is None:
                history[target] = (s, g, p, truth)
            elif in_window:
                # a second, different label for the same decision replaces the first
                history[target] = (s, g, p, truth)
        recount = Counter(((g,), t, p) for _, g, p, t in history[-50:])
        assert window.counts.cells == +recount
    assert len(window) == 50


def test_decisions_leave_by_age() -> None:
    window = Window(("g",), max_decisions=None, max_age_seconds=60)
    for seq in range(10):
        window.add(seq + 1, 100.0 + seq * 10, ("a",), 1)
    assert window.expire(now=200.0) == 4  # 100, 110, 120 and 130 are older than 140
    assert len(window) == 6 and window.counts.total == 6


def test_order_is_enforced() -> None:
    window = Window(("g",), max_decisions=5, max_age_seconds=None)
    window.add(2, 0.0, ("a",), 1)
    with pytest.raises(ValueError, match="not newer"):
        window.add(2, 0.0, ("a",), 1)
