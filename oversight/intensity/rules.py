"""The intensity rules: what a new assignment does to one worker's timeline.

Only what the new assignment touches is judged (windows that contain a new shift, rests
next to one), so a decision is not blamed for an older one. Window rules report the
worst window once per worker; shift rules report each offending shift. Times unknown to
the timeline (before its first shift, after its last) count as rest.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pydantic import JsonValue

from oversight.intensity.profile import Profile
from oversight.intensity.timeline import (
    DAY,
    HOUR,
    Intervals,
    Shift,
    Task,
    by_start,
    clock_windows,
    days,
    duration,
    hours_of,
    local_instant,
    local_text,
    overlap,
    work_intervals,
)
from oversight.schemas import Severity

WEEK = 7 * DAY


@dataclass(frozen=True)
class Violation:
    rule: str
    severity: Severity
    worker_ref: str
    message: str
    data: dict[str, JsonValue] = field(default_factory=dict)


@dataclass(frozen=True)
class Change:
    """A shift this decision assigns or cancels, with the version it replaces."""

    shift: Shift
    previous: Shift | None
    published_at: float


class WorkerCheck:
    """One worker's timeline after a decision, and the rules over it."""

    def __init__(
        self,
        profile: Profile,
        worker_ref: str,
        timeline: Sequence[Shift],
        new: Sequence[Shift],
        *,
        tasks: Sequence[Task] = (),
        new_tasks: Sequence[Task] = (),
    ) -> None:
        self.profile = profile
        self.rules = profile.rules
        self.zone = profile.zone
        self.worker = worker_ref
        self.shifts = by_start(timeline)
        self.new = by_start(new)
        self._new_ids = {id(s) for s in self.new}
        self.tasks = sorted(tasks, key=lambda t: t.at)
        self.new_tasks = new_tasks
        count = profile.breaks_count_as_work
        self._count_breaks = count
        self.work = Intervals(
            w for s in self.shifts for w in work_intervals(s, breaks_count_as_work=count)
        )
        self.busy = Intervals((s.start, s.end) for s in self.shifts)
        self._night: dict[int, bool] = {}

    # -- helpers ---------------------------------------------------------------------

    def _violation(
        self, rule: str, severity: Severity, message: str, **data: JsonValue
    ) -> Violation:
        short = self.worker[:8]
        return Violation(rule, severity, self.worker, f"worker {short}: {message}", data)

    def _hours(self, shift: Shift) -> float:
        return hours_of(shift, breaks_count_as_work=self._count_breaks)

    def _when(self, shift: Shift) -> str:
        return f"{local_text(shift.start, self.zone)} to {local_text(shift.end, self.zone)}"

    def _is_new(self, shift: Shift) -> bool:
        return id(shift) in self._new_ids

    def _windows_touching_new(self, length: float) -> list[tuple[float, float]]:
        """Ranges of window starts whose window of ``length`` meets a new shift."""
        ranges = sorted((s.start - length + 1.0, s.end - 1.0) for s in self.new)
        merged: list[list[float]] = []
        for lo, hi in ranges:
            if merged and lo <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], hi)
            else:
                merged.append([lo, hi])
        return [(lo, hi) for lo, hi in merged]

    def _pairs(self) -> Iterator[tuple[Shift, Shift]]:
        """Consecutive shifts of which at least one is new."""
        for before, after in zip(self.shifts, self.shifts[1:], strict=False):
            if self._is_new(before) or self._is_new(after):
                yield before, after

    def _night_hours(self, shift: Shift) -> float:
        night = self.rules.night_work.window
        pieces = work_intervals(shift, breaks_count_as_work=self._count_breaks)
        return sum(
            overlap(piece, (lo, hi))
            for _, lo, hi in clock_windows(
                shift.start, shift.end, night.start, night.end, self.zone
            )
            for piece in pieces
        )

    def is_night(self, shift: Shift) -> bool:
        """More than ``min_hours`` of work in the night window (worked out once)."""
        night = self._night.get(id(shift))
        if night is None:
            night = self._night_hours(shift) > self.rules.night_work.min_hours * HOUR
            self._night[id(shift)] = night
        return night

    # -- the rules -------------------------------------------------------------------

    def violations(self, changes: Sequence[Change] = ()) -> list[Violation]:
        found: list[Violation] = []
        r = self.rules
        if self.new:
            checks = [
                (r.shift_length.enabled, self._shift_length),
                (r.breaks.enabled, self._breaks),
                (r.week_hours.enabled, self._week_hours),
                (r.average_week_hours.enabled, self._average_week_hours),
                (r.rest_between_shifts.enabled, self._rest_between_shifts),
                (r.weekly_rest.enabled, self._weekly_rest),
                (r.night_work.enabled, self._night_rules),
            ]
            for enabled, rule in checks:
                if enabled:
                    found.extend(rule())
        if r.roster_notice.enabled:
            found.extend(self._roster_notice(changes))
        if self.new_tasks:
            if r.pace.enabled and r.pace.baseline_tasks_per_hour is not None:
                found.extend(self._pace())
            if r.reference_hours.enabled:
                found.extend(self._reference_hours())
        return found

    def _shift_length(self) -> Iterator[Violation]:
        rule = self.rules.shift_length
        return self._longer_than(self.new, rule.max_hours, "shift_length", rule.severity, "shift")

    def _longer_than(
        self, shifts: Sequence[Shift], max_hours: float, name: str, severity: Severity, what: str
    ) -> Iterator[Violation]:
        for shift in shifts:
            hours = self._hours(shift)
            if hours > max_hours * HOUR:
                yield self._violation(
                    name,
                    severity,
                    f"{what} {duration(hours)} > {duration(max_hours * HOUR)} "
                    f"({self._when(shift)})",
                    measured_hours=hours / HOUR,
                    limit_hours=max_hours,
                )

    def _breaks(self) -> Iterator[Violation]:
        rule = self.rules.breaks
        for shift in self.new:
            hours = self._hours(shift)
            needed = max(
                (t.min_minutes * 60 for t in rule.tiers if hours > t.over_hours * HOUR), default=0.0
            )
            taken = sum(
                end - start
                for start, end in shift.breaks
                if end - start >= rule.min_piece_minutes * 60
            )
            if taken < needed:
                yield self._violation(
                    "breaks",
                    rule.severity,
                    f"breaks {duration(taken)} < {duration(needed)} in a shift of "
                    f"{duration(hours)} ({self._when(shift)}; pieces under "
                    f"{rule.min_piece_minutes:g} min do not count)",
                    measured_minutes=taken / 60,
                    limit_minutes=needed / 60,
                )

    def _overworked(self, length: float, limit: float) -> list[tuple[float, float]]:
        """Windows of ``length`` that meet a new shift and hold more than ``limit`` of
        work, as (worked, start): the worst first, then the worst of those that do not
        overlap it, and so on, so that separate weeks are reported separately. A
        window's worst position starts with a piece of work or ends with one, so only
        those are tried."""
        over: list[tuple[float, float]] = []
        for lo, hi in self._windows_touching_new(length):
            starts, ends = self.work.starts, self.work.ends
            candidates = starts[bisect.bisect_left(starts, lo) : bisect.bisect_left(starts, hi)]
            candidates += [
                e - length
                for e in ends[
                    bisect.bisect_left(ends, lo + length) : bisect.bisect_left(ends, hi + length)
                ]
            ]
            for a in candidates:
                worked = self.work.covered(a, a + length)
                if worked > limit:
                    over.append((worked, a))
        return _apart(over, length)

    def _week_hours(self) -> Iterator[Violation]:
        rule = self.rules.week_hours
        length, limit = rule.days * DAY, rule.max_hours * HOUR
        for worked, start in self._overworked(length, limit):
            yield self._violation(
                "week_hours",
                rule.severity,
                f"{duration(worked)} in {rule.days} days > {duration(limit)} "
                f"(from {local_text(start, self.zone)})",
                measured_hours=worked / HOUR,
                limit_hours=rule.max_hours,
                window_start=datetime.fromtimestamp(start, self.zone).isoformat(),
            )

    def _average_week_hours(self) -> Iterator[Violation]:
        rule = self.rules.average_week_hours
        for period in rule.periods:
            limit = period.max_hours_per_week * HOUR
            for worked, start in self._overworked(period.weeks * WEEK, limit * period.weeks):
                average = worked / period.weeks
                yield self._violation(
                    "average_week_hours",
                    rule.severity,
                    f"average {duration(average)} per week over {period.weeks} weeks > "
                    f"{duration(limit)} (from {local_text(start, self.zone)})",
                    measured_hours_per_week=average / HOUR,
                    limit_hours_per_week=period.max_hours_per_week,
                    weeks=period.weeks,
                )

    def _rest_between_shifts(self) -> Iterator[Violation]:
        rule = self.rules.rest_between_shifts
        minimum = rule.min_hours * HOUR
        shortest = (rule.shortened_min_hours or rule.min_hours) * HOUR
        # The law allows one shortened rest in any period of ``once_in``: of two
        # shortened rests closer than that, the later one is the violation.
        once_in = rule.shortened_once_in_days * DAY
        shortened = sorted(
            b.end for b, a in zip(self.shifts, self.shifts[1:], strict=False)
            if shortest <= a.start - b.end < minimum
        )  # fmt: skip
        too_soon = {
            second
            for first, second in zip(shortened, shortened[1:], strict=False)
            if second - first < once_in
        }
        for before, after in zip(self.shifts, self.shifts[1:], strict=False):
            gap = after.start - before.end
            if gap >= minimum or (gap >= shortest and before.end not in too_soon):
                continue
            caused = self._is_new(before) or self._is_new(after)
            if not caused and not (
                before.end in too_soon and self._new_before(before.end, once_in)
            ):
                continue
            between = f"after the shift ending {local_text(before.end, self.zone)}"
            if gap < 0:
                message = f"shifts overlap by {duration(-gap)} ({between})"
            elif gap < shortest:
                message = f"rest {duration(gap)} < {duration(shortest)} {between}"
            else:
                message = (
                    f"rest {duration(gap)} < {duration(minimum)} {between}; a rest was already "
                    f"shortened within {rule.shortened_once_in_days} days"
                )
            yield self._violation(
                "rest_between_shifts",
                rule.severity,
                message,
                measured_hours=gap / HOUR,
                limit_hours=rule.min_hours,
            )

    def _new_before(self, t: float, within: float) -> bool:
        """Whether a new shift ends within ``within`` before ``t``: it may have made the
        shortened rest at ``t`` the second one."""
        return any(t - within < s.end < t for s in self.new)

    def _weekly_rest(self) -> Iterator[Violation]:
        """A window of ``days`` holds a rest of ``min_hours`` iff it starts within
        ``[gap start + min - length, gap end - min]`` of some long enough rest: the
        window starts no rest covers are the violations, one per stretch of them."""
        rule = self.rules.weekly_rest
        length, needed = rule.days * DAY, rule.min_hours * HOUR
        rests = self.busy.gaps()
        covers = sorted((p + needed - length, q - needed) for p, q in rests if q - p >= needed)
        stretches = _uncovered(self._windows_touching_new(length), covers)
        alternative = rule.alternative
        for lo, hi in stretches:
            alternative_text = ""
            if alternative is not None:
                # The alternative holds here if every longer window around holds enough.
                longer = alternative.days * DAY
                around = [(max(a, lo + length - longer), min(b, hi)) for a, b in
                          self._windows_touching_new(longer)]  # fmt: skip
                least = self._least_blocked_rest(
                    [(a, b) for a, b in around if a <= b],
                    longer,
                    alternative.min_block_hours * HOUR,
                )
                if least >= alternative.min_hours * HOUR:
                    continue
                alternative_text = (
                    f"; nor {duration(alternative.min_hours * HOUR)} in {alternative.days} days "
                    f"in blocks of {duration(alternative.min_block_hours * HOUR)} "
                    f"(at least {duration(least)})"
                )
            start = (lo + hi) / 2
            longest = max(overlap(g, (start, start + length)) for g in rests)
            yield self._violation(
                "weekly_rest",
                rule.severity,
                f"longest rest {duration(longest)} < {duration(needed)} in the {rule.days} "
                f"days from {local_text(start, self.zone)}{alternative_text}",
                measured_hours=longest / HOUR,
                limit_hours=rule.min_hours,
            )

    def _least_blocked_rest(
        self, ranges: Sequence[tuple[float, float]], length: float, block: float
    ) -> float:
        """The least rest, counting only blocks of ``block`` or more, in a window of
        ``length`` starting within ``ranges``. Between the tried starts the sum is
        linear, so its minimum is at one of them (or just past a block's threshold)."""
        rests = self.busy.gaps()
        least = float("inf")
        for lo, hi in ranges:
            points = {lo, hi}
            for p, q in rests:
                points.update((p, q, p - length, q - length))
                for a in (q - block, p + block - length):
                    points.update((a - 1, a + 1))
            for a in points:
                if lo <= a <= hi:
                    total = sum(
                        clipped for g in rests if (clipped := overlap(g, (a, a + length))) >= block
                    )
                    least = min(least, total)
        return least

    def _night_rules(self) -> Iterator[Violation]:
        rule = self.rules.night_work
        # A day shift adds no night shift to a count or a run, so those rules look at
        # the whole timeline only when a new shift is a night shift.
        new_nights = [s for s in self.new if self.is_night(s)]
        if rule.max_shift_hours is not None:
            yield from self._longer_than(
                new_nights, rule.max_shift_hours, "night_shift_length", rule.severity, "night shift"
            )
        if rule.rest_after_hours is not None:
            for before, after in self._pairs():
                gap = after.start - before.end
                if (
                    self.is_night(before)
                    and self._ends_late(before)
                    and 0 <= gap < rule.rest_after_hours * HOUR
                ):
                    yield self._violation(
                        "night_rest",
                        rule.severity,
                        f"rest {duration(gap)} < {duration(rule.rest_after_hours * HOUR)} after "
                        f"the night shift ending {local_text(before.end, self.zone)}",
                        measured_hours=gap / HOUR,
                        limit_hours=rule.rest_after_hours,
                    )
        if rule.max_shifts is not None and new_nights:
            length = rule.period_weeks * WEEK
            nights = [s for s in self.shifts if self.is_night(s)]
            starts = [s.start for s in nights]
            most, most_from = 0, 0.0
            for shift in new_nights:
                for a in starts[
                    bisect.bisect_right(starts, shift.start - length) : bisect.bisect_right(
                        starts, shift.start
                    )
                ]:
                    count = bisect.bisect_left(starts, a + length) - bisect.bisect_left(starts, a)
                    if count > most:
                        most, most_from = count, a
            if most > rule.max_shifts:
                yield self._violation(
                    "night_shift_count",
                    rule.severity,
                    f"{most} night shifts in {rule.period_weeks} weeks > {rule.max_shifts} "
                    f"(from {local_text(most_from, self.zone)})",
                    measured=most,
                    limit=rule.max_shifts,
                )
        if rule.max_consecutive is not None and new_nights:
            for night, group in itertools.groupby(self.shifts, key=self.is_night):
                run = list(group)
                if not night or len(run) <= rule.max_consecutive:
                    continue
                if any(self._is_new(s) for s in run):
                    yield self._violation(
                        "consecutive_night_shifts",
                        rule.severity,
                        f"{len(run)} night shifts in a row > {rule.max_consecutive} "
                        f"({local_text(run[0].start, self.zone)} to "
                        f"{local_text(run[-1].end, self.zone)})",
                        measured=len(run),
                        limit=rule.max_consecutive,
                    )

    def _ends_late(self, shift: Shift) -> bool:
        """Whether a night shift ends after the profile's hour (02:00) of its night."""
        rule = self.rules.night_work
        windows = clock_windows(
            shift.start, shift.end, rule.window.start, rule.window.end, self.zone
        )
        day, _, _ = max(windows, key=lambda w: overlap((shift.start, shift.end), (w[1], w[2])))
        if rule.rest_after_if_ending_after < rule.window.start:
            day = day.fromordinal(day.toordinal() + 1)
        return shift.end > local_instant(day, rule.rest_after_if_ending_after, self.zone)

    def _roster_notice(self, changes: Sequence[Change]) -> Iterator[Violation]:
        rule = self.rules.roster_notice
        for change in changes:
            shift, previous = change.shift, change.previous
            if previous is not None and shift.same_assignment(previous):
                continue
            if shift.cancelled and previous is None:
                continue  # nothing known was withdrawn
            starts = [x.start for x in (shift, previous) if x is not None and not x.cancelled]
            starts_at = min(starts)
            notice = starts_at - change.published_at
            on_call = shift.on_call or (previous is not None and previous.on_call)
            minimum = rule.on_call_min_days if on_call else rule.min_days
            # Days on the calendar: 28 days before 08:00 is 08:00, whatever the clocks did.
            published = datetime.fromtimestamp(change.published_at, self.zone)
            deadline = (published + timedelta(days=minimum)).timestamp()
            if starts_at < deadline:
                what = "cancelled" if shift.cancelled else "changed" if previous else "published"
                yield self._violation(
                    "roster_notice",
                    rule.severity,
                    f"{'on-call ' if on_call else ''}shift {what} {days(notice)} before it "
                    f"starts < {days(minimum * DAY)} ({local_text(starts_at, self.zone)})",
                    measured_days=notice / DAY,
                    limit_days=minimum,
                )

    def _pace(self) -> Iterator[Violation]:
        rule = self.rules.pace
        assert rule.baseline_tasks_per_hour is not None
        ceiling = rule.baseline_tasks_per_hour * rule.max_share
        per_hour: dict[int, int] = {}
        for task in self.tasks:
            hour = int(task.at // HOUR)
            per_hour[hour] = per_hour.get(hour, 0) + 1
        reported: set[int] = set()
        for task in self.new_tasks:
            hour = int(task.at // HOUR)
            if per_hour.get(hour, 0) <= ceiling:
                continue
            first = hour
            while per_hour.get(first - 1, 0) > ceiling:
                first -= 1
            last = hour
            while per_hour.get(last + 1, 0) > ceiling:
                last += 1
            run = last - first + 1
            if run <= rule.max_consecutive_hours or first in reported:
                continue
            reported.add(first)
            peak = max(per_hour[h] for h in range(first, last + 1))
            yield self._violation(
                "pace",
                rule.severity,
                f"more than {ceiling:g} tasks per hour ({rule.max_share:.0%} of the baseline "
                f"{rule.baseline_tasks_per_hour:g}) for {run} hours in a row > "
                f"{rule.max_consecutive_hours} (peak {peak}, from "
                f"{local_text(first * HOUR, self.zone)})",
                measured_hours=run,
                limit_hours=rule.max_consecutive_hours,
                peak_tasks_per_hour=peak,
            )

    def _reference_hours(self) -> Iterator[Violation]:
        rule = self.rules.reference_hours
        for task in self.new_tasks:
            if any(s.start <= task.at < s.end for s in self.shifts):
                continue
            near = any(abs(s.start - task.at) < WEEK for s in self.shifts)
            if near:
                reason = "outside the worker's rostered shifts"
            elif rule.start is not None and rule.end is not None:
                moment = datetime.fromtimestamp(task.at, self.zone)
                clock = moment.time()
                inside = (
                    rule.start <= clock < rule.end
                    if rule.start < rule.end
                    else clock >= rule.start or clock < rule.end
                )
                if inside and moment.isoweekday() in rule.weekdays:
                    continue
                reason = f"outside the reference hours {rule.start:%H:%M}–{rule.end:%H:%M}"
            else:
                continue
            yield self._violation(
                "reference_hours",
                rule.severity,
                f"task assigned {local_text(task.at, self.zone)}, {reason}",
                assigned_at=datetime.fromtimestamp(task.at, self.zone).isoformat(),
            )


def _uncovered(
    ranges: Sequence[tuple[float, float]], covers: Sequence[tuple[float, float]]
) -> list[tuple[float, float]]:
    """The stretches of ``ranges`` that no interval of ``covers`` (closed, sorted by
    start) contains, to the second."""
    stretches = []
    for lo, hi in ranges:
        point = lo
        for start, end in covers:
            if end < point:
                continue
            if start > point:
                stretches.append((point, min(start, hi)))
                if start >= hi:
                    break
            point = max(point, end + 1.0)
            if point > hi:
                break
        else:
            if point <= hi:
                stretches.append((point, hi))
    return [(lo, hi) for lo, hi in stretches if hi >= lo]


def _apart(found: list[tuple[float, float]], length: float) -> list[tuple[float, float]]:
    """The worst windows first, leaving out any that overlaps one already kept."""
    kept: list[tuple[float, float]] = []
    for value, start in sorted(found, key=lambda f: (-f[0], f[1])):
        if all(abs(start - other) >= length for _, other in kept):
            kept.append((value, start))
    return sorted(kept, key=lambda k: k[1])
