"""A worker's assigned time: shifts and tasks, and the interval arithmetic the rules need.

Times are POSIX seconds (floats) so that durations are exact across daylight-saving
changes: a night shift from 22:00 to 06:00 on the night the clocks go back is nine hours
long. Clock rules (night work, reference hours) convert to the profile's zone.
"""

from __future__ import annotations

import bisect
import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

HOUR = 3600.0
DAY = 86_400.0


@dataclass(frozen=True, slots=True)
class Shift:
    """One assigned shift (or, with ``cancelled``, the withdrawal of one)."""

    #: The shift's identity within its system: its ``shift_id``, or worker and start.
    key: str
    worker_ref: str
    start: float
    end: float
    breaks: tuple[tuple[float, float], ...] = ()
    on_call: bool = False
    published_at: float | None = None
    cancelled: bool = False

    def same_assignment(self, other: Shift) -> bool:
        """True when ``other`` assigns exactly this (a republication, not a change)."""
        return (
            self.worker_ref == other.worker_ref
            and self.start == other.start
            and self.end == other.end
            and self.breaks == other.breaks
            and self.on_call == other.on_call
            and self.cancelled == other.cancelled
        )


@dataclass(frozen=True, slots=True)
class Task:
    worker_ref: str
    at: float
    minutes: float = 0.0


class Intervals:
    """Disjoint, sorted intervals with prefix sums: the time covered between two
    instants in O(log n)."""

    def __init__(self, intervals: Iterable[tuple[float, float]]) -> None:
        merged: list[list[float]] = []
        for start, end in sorted(i for i in intervals if i[1] > i[0]):
            if merged and start <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        self.starts = [m[0] for m in merged]
        self.ends = [m[1] for m in merged]
        self._before = [0.0]  # covered time before interval i
        for start, end in merged:
            self._before.append(self._before[-1] + end - start)

    def __len__(self) -> int:
        return len(self.starts)

    def covered_until(self, t: float) -> float:
        i = bisect.bisect_right(self.starts, t)
        if i == 0:
            return 0.0
        return self._before[i - 1] + min(t, self.ends[i - 1]) - self.starts[i - 1]

    def covered(self, a: float, b: float) -> float:
        return self.covered_until(b) - self.covered_until(a)

    def gaps(self) -> list[tuple[float, float]]:
        """The uncovered stretches, the open ones before and after included."""
        bounds = [-float("inf"), *(x for pair in zip(self.starts, self.ends, strict=True)
                                   for x in pair), float("inf")]  # fmt: skip
        return [(bounds[i], bounds[i + 1]) for i in range(0, len(bounds), 2)]


def work_intervals(shift: Shift, *, breaks_count_as_work: bool) -> list[tuple[float, float]]:
    if breaks_count_as_work or not shift.breaks:
        return [(shift.start, shift.end)]
    pieces: list[tuple[float, float]] = []
    cursor = shift.start
    for start, end in sorted(shift.breaks):
        if start > cursor:
            pieces.append((cursor, start))
        cursor = max(cursor, end)
    if cursor < shift.end:
        pieces.append((cursor, shift.end))
    return pieces


def hours_of(shift: Shift, *, breaks_count_as_work: bool) -> float:
    """The shift's length in seconds as the profile counts it."""
    return sum(e - s for s, e in work_intervals(shift, breaks_count_as_work=breaks_count_as_work))


#: Zones change their offset only at multiples of 15 minutes, so an offset found for one
#: quarter-hour holds for all of it; caching them spares a zone look-up per shift.
_QUARTER = 900


@functools.lru_cache(maxsize=1 << 16)
def _offset(zone: ZoneInfo, quarter: int) -> float:
    offset = datetime.fromtimestamp(quarter * _QUARTER, UTC).astimezone(zone).utcoffset()
    return 0.0 if offset is None else offset.total_seconds()


def local_day(t: float, zone: ZoneInfo) -> date:
    """The date on the wall clock at ``t``."""
    return _EPOCH + timedelta(days=int((t + _offset(zone, int(t // _QUARTER))) // DAY))


_EPOCH = date(1970, 1, 1)


@functools.lru_cache(maxsize=1 << 16)
def local_instant(day: date, clock: time, zone: ZoneInfo) -> float:
    """The POSIX time of a wall-clock time in a zone (the earlier one when ambiguous)."""
    return datetime.combine(day, clock, tzinfo=zone).timestamp()


def clock_windows(
    start: float, end: float, window_start: time, window_end: time, zone: ZoneInfo
) -> list[tuple[date, float, float]]:
    """The daily clock windows (e.g. 00:00–06:00) that may meet ``[start, end]``, each
    with the date it begins on; a window whose end is before its start crosses midnight."""
    day, last = local_day(start, zone) - timedelta(days=1), local_day(end, zone)
    windows = []
    while day <= last:
        ends_on = day if window_end > window_start else day + timedelta(days=1)
        windows.append(
            (day, local_instant(day, window_start, zone), local_instant(ends_on, window_end, zone))
        )
        day += timedelta(days=1)
    return windows


def overlap(a: tuple[float, float], b: tuple[float, float]) -> float:
    return max(0.0, min(a[1], b[1]) - max(a[0], b[0]))


def duration(seconds: float) -> str:
    """``10h05m``, ``11h``, ``-1h30m``: hours and minutes, as the rules are quoted."""
    sign = "-" if seconds < 0 else ""
    minutes = round(abs(seconds) / 60)
    hours, minutes = divmod(minutes, 60)
    return f"{sign}{hours}h{minutes:02d}m" if minutes else f"{sign}{hours}h"


def days(seconds: float) -> str:
    """``3d04h``, ``27d23h``, ``28 days``."""
    sign = "-" if seconds < 0 else ""
    hours = round(abs(seconds) / HOUR)
    whole_days, hours = divmod(hours, 24)
    if hours == 0:
        return f"{sign}{whole_days} day{'s' if whole_days != 1 else ''}"
    return f"{sign}{whole_days}d{hours:02d}h"


def local_text(t: float, zone: ZoneInfo) -> str:
    """``Mon 2 Mar 2026 22:00``, in the profile's zone."""
    moment = datetime.fromtimestamp(t, zone)
    return f"{moment:%a} {moment.day} {moment:%b %Y %H:%M}"


def by_start(shifts: Sequence[Shift]) -> list[Shift]:
    return sorted(shifts, key=lambda s: (s.start, s.end))
