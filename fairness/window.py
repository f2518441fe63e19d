"""A sliding window of decisions with running confusion counts.

Decisions enter in the order they were recorded and leave when more than ``decisions``
are newer or when they are older than ``max_age_seconds``. Ground truth may arrive
while a decision is in the window; it then moves from the unknown cell to its labelled
one, and leaves from there.
"""

from __future__ import annotations

from collections import deque

from fairness.counts import Counts, Group


class Window:
    def __init__(
        self,
        attributes: tuple[str, ...],
        *,
        max_decisions: int | None,
        max_age_seconds: float | None,
    ) -> None:
        if max_decisions is None and max_age_seconds is None:
            raise ValueError("a window needs max_decisions, max_age_seconds, or both")
        self.counts = Counts(attributes)
        self._max_decisions = max_decisions
        self._max_age = max_age_seconds
        #: (seq, at, group, y_pred) in recording order
        self._entries: deque[tuple[int, float, Group, int]] = deque()
        #: y_true of the labelled decisions in the window, by seq
        self._labels: dict[int, int] = {}

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def newest_seq(self) -> int | None:
        return self._entries[-1][0] if self._entries else None

    def contains(self, seq: int) -> bool:
        return bool(self._entries) and self._entries[0][0] <= seq <= self._entries[-1][0]

    def add(
        self, seq: int, at: float, group: Group, y_pred: int, y_true: int | None = None
    ) -> None:
        """Take a decision in; ``seq`` must be higher than any before it."""
        if self._entries and seq <= self._entries[-1][0]:
            raise ValueError(f"decision {seq} is not newer than {self._entries[-1][0]}")
        self._entries.append((seq, at, group, y_pred))
        if y_true is not None:
            self._labels[seq] = y_true
        self.counts.add(group, y_true, y_pred)
        if self._max_decisions is not None and len(self._entries) > self._max_decisions:
            self._drop_oldest()

    def label(self, seq: int, group: Group, y_pred: int, y_true: int) -> bool:
        """Record ground truth for a decision in the window; False if it is not in it.
        Labelling twice with the same value changes nothing."""
        if not self.contains(seq):
            return False
        previous = self._labels.get(seq)
        if previous == y_true:
            return True
        self.counts.add(group, previous, y_pred, -1)
        self.counts.add(group, y_true, y_pred)
        self._labels[seq] = y_true
        return True

    def expire(self, now: float) -> int:
        """Drop decisions older than the window's age; returns how many left."""
        if self._max_age is None:
            return 0
        oldest_allowed = now - self._max_age
        dropped = 0
        while self._entries and self._entries[0][1] < oldest_allowed:
            self._drop_oldest()
            dropped += 1
        return dropped

    def _drop_oldest(self) -> None:
        seq, _, group, y_pred = self._entries.popleft()
        self.counts.add(group, self._labels.pop(seq, None), y_pred, -1)
