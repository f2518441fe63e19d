"""Each rule of the nl-atw profile at its boundaries, in Europe/Amsterdam local time
(daylight-saving changes included), and a four-week roster with known violations."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from oversight.intensity.profile import Profile, resolve_profiles
from oversight.intensity.rules import Change, Violation, WorkerCheck
from oversight.intensity.timeline import Shift, Task

AMS = ZoneInfo("Europe/Amsterdam")
NL_ATW = resolve_profiles({})["nl-atw"]


def at(text: str) -> float:
    """``"2026-03-02 08:00"`` in Amsterdam, as POSIX seconds."""
    return datetime.fromisoformat(text).replace(tzinfo=AMS).timestamp()


def shift(
    start: str,
    end: str,
    *breaks: tuple[str, str],
    published: str | None = None,
    on_call: bool = False,
    key: str | None = None,
) -> Shift:
    return Shift(
        key=key or start,
        worker_ref="w1",
        start=at(start),
        end=at(end),
        breaks=tuple((at(a), at(b)) for a, b in breaks),
        on_call=on_call,
        published_at=None if published is None else at(published),
    )


def day_shift(day: str, start: str = "08:00", hours: float = 8) -> Shift:
    """A shift with the break it needs, so that only the rule under test can fire."""
    begin = datetime.fromisoformat(f"{day} {start}")
    end = begin + timedelta(hours=hours)
    pause = begin + timedelta(hours=min(4, hours / 2))
    breaks = [(str(pause), str(pause + timedelta(minutes=45)))] if hours > 5.5 else []
    return shift(str(begin), str(end), *breaks)


def rules_fired(
    earlier: Sequence[Shift],
    new: Sequence[Shift],
    profile: Profile = NL_ATW,
    changes: Sequence[Change] = (),
) -> list[Violation]:
    return WorkerCheck(profile, "w1", [*earlier, *new], new).violations(changes)


def fired(rule: str, earlier: Sequence[Shift], new: Sequence[Shift], **kw: object) -> bool:
    return any(v.rule == rule for v in rules_fired(earlier, new, **kw))  # type: ignore[arg-type]


def with_rules(**changes: dict[str, object]) -> Profile:
    return resolve_profiles({"test": {"extends": "nl-atw", "rules": changes}})["test"]


# -- rest between shifts ---------------------------------------------------------------

NO_SHORTENING = with_rules(rest_between_shifts={"shortened_min_hours": None})


@pytest.mark.parametrize(
    ("next_start", "violates"),
    [("2026-03-03 03:00", False), ("2026-03-03 02:59", True)],
    ids=["exactly 11h passes", "10h59m fails"],
)
def test_rest_between_shifts_boundary(next_start: str, violates: bool) -> None:
    before = day_shift("2026-03-02", "08:00", 8)  # ends 16:00
    after = shift(next_start, "2026-03-03 08:00")
    found = [
        v for v in rules_fired([before], [after], NO_SHORTENING) if v.rule == "rest_between_shifts"
    ]
    assert bool(found) is violates
    if violates:
        assert "rest 10h59m < 11h" in found[0].message


def test_rest_shortened_to_8h_once_in_7_days_not_twice() -> None:
    monday = day_shift("2026-03-02", "06:00", 8)  # ends 14:00
    tuesday = day_shift("2026-03-02", "23:00", 6)  # 9 h rest: the one shortening
    assert not fired("rest_between_shifts", [monday], [tuesday])
    wednesday = day_shift("2026-03-03", "08:00", 8)  # 05:00 → 08:00 is 3 h: too short
    assert fired("rest_between_shifts", [monday, tuesday], [wednesday])
    # A second shortened rest four days later is refused, eight days later allowed.
    friday = day_shift("2026-03-06", "06:00", 8)  # ends 14:00
    friday_night = day_shift("2026-03-06", "23:00", 6)
    violations = rules_fired([monday, tuesday, friday], [friday_night])
    assert [v.rule for v in violations] == ["rest_between_shifts"]
    assert "already shortened" in violations[0].message
    next_week = day_shift("2026-03-10", "06:00", 8)
    next_week_night = day_shift("2026-03-10", "23:00", 6)
    assert not fired("rest_between_shifts", [monday, tuesday, next_week], [next_week_night])


def test_rest_under_8h_always_fails_and_overlap_is_named() -> None:
    before = day_shift("2026-03-02", "08:00", 8)
    assert fired("rest_between_shifts", [before], [shift("2026-03-02 23:59", "2026-03-03 04:00")])
    overlapping = rules_fired([before], [shift("2026-03-02 15:00", "2026-03-02 18:00")])
    assert any("overlap by 1h" in v.message for v in overlapping)


# -- breaks ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("end", "breaks", "violates"),
    [
        ("2026-03-02 13:30", [], False),  # 5.5 h without a break passes
        ("2026-03-02 13:31", [], True),  # 5 h 31 m does not
        ("2026-03-02 18:00", [("12:00", "12:30")], False),  # 10 h with 30 min
        ("2026-03-02 18:01", [("12:00", "12:30")], True),  # over 10 h needs 45 min
        ("2026-03-02 18:01", [("12:00", "12:30"), ("15:00", "15:15")], False),
        ("2026-03-02 18:01", [("12:00", "12:30"), ("15:00", "15:14")], True),  # < 15 min
    ],
)
def test_breaks(end: str, breaks: list[tuple[str, str]], violates: bool) -> None:
    pauses = [(f"2026-03-02 {a}", f"2026-03-02 {b}") for a, b in breaks]
    assert fired("breaks", [], [shift("2026-03-02 08:00", end, *pauses)]) is violates


# -- shift length and hours per week ------------------------------------------------------


@pytest.mark.parametrize(("end", "violates"), [("20:00", False), ("20:01", True)])
def test_shift_length(end: str, violates: bool) -> None:
    long_shift = shift(
        "2026-03-02 08:00", f"2026-03-02 {end}", ("2026-03-02 12:00", "2026-03-02 12:45")
    )
    assert fired("shift_length", [], [long_shift]) is violates


def test_shift_length_counts_real_hours_across_the_autumn_change() -> None:
    # 20:00 to 08:00 on the night the clocks go back is 13 hours, not 12.
    night = shift("2026-10-24 20:00", "2026-10-25 08:00", ("2026-10-24 23:00", "2026-10-24 23:45"))
    found = [v for v in rules_fired([], [night]) if v.rule == "shift_length"]
    assert found and "shift 13h > 12h" in found[0].message
    # ... and in spring it is 11.
    spring = shift("2026-03-28 20:00", "2026-03-29 08:00", ("2026-03-28 23:00", "2026-03-28 23:45"))
    assert not fired("shift_length", [], [spring])


@pytest.mark.parametrize(("last_hours", "violates"), [(12, False), (12 + 1 / 60, True)])
def test_60_hours_in_7_days(last_hours: float, violates: bool) -> None:
    earlier = [day_shift(f"2026-03-0{d}", "08:00", 12) for d in (2, 3, 4, 5)]  # 48 h
    last = day_shift("2026-03-06", "08:00", last_hours)
    assert fired("week_hours", earlier, [last]) is violates


def test_week_window_is_168_real_hours_across_the_spring_change() -> None:
    # Sunday 29 March 2026 loses an hour: from Mon 23 March 08:00 local, 7 x 24 h ends
    # on Mon 30 March at 09:00 local, not 08:00.
    earlier = [day_shift(f"2026-03-{d}", "08:00", 12) for d in (23, 24, 25, 26)]  # 48 h
    # 13 h on Monday 30 March from 06:00 to 19:00: only 3 h (06:00–09:00) fall within
    # 168 h of the first shift's start, so that window holds 51 h.
    monday = shift("2026-03-30 06:00", "2026-03-30 19:00", ("2026-03-30 12:00", "2026-03-30 12:45"))
    found = [v for v in rules_fired(earlier, [monday]) if v.rule == "week_hours"]
    assert not found  # the 7-day windows hold at most 60 h
    # One more hour on Thursday the 26th makes the window from the 23rd hold 61 h.
    thursday_long = day_shift("2026-03-26", "08:00", 12)
    longer = shift("2026-03-30 06:00", "2026-03-30 19:00", ("2026-03-30 12:00", "2026-03-30 12:45"))
    friday = day_shift("2026-03-27", "08:00", 10)
    assert fired("week_hours", [*earlier[:3], thursday_long, friday], [longer])


def test_average_over_4_weeks() -> None:
    # Four weeks of five 11 h shifts (55 h a week) pass; one more hour fails.
    shifts = [
        day_shift(
            (datetime(2026, 3, 2) + timedelta(days=w * 7 + d)).date().isoformat(), "07:00", 11
        )
        for w in range(4)
        for d in range(5)
    ]
    assert not fired("average_week_hours", shifts[:-1], shifts[-1:])
    last = shifts[-1]
    longer = Shift(last.key, "w1", last.start, last.end + 3600, last.breaks)
    assert fired("average_week_hours", shifts[:-1], [longer])


# -- weekly rest ------------------------------------------------------------------------------


def test_weekly_rest_36_hours_in_7_days() -> None:
    # Six day shifts Mon–Sat, 07:00–15:00, then the next week from Monday 07:00:
    # Saturday 15:00 to Monday 07:00 is 40 h of rest.
    week = [day_shift(f"2026-03-0{d}", "07:00", 8) for d in range(2, 8)]
    assert not fired("weekly_rest", week, [day_shift("2026-03-09", "07:00", 8)])
    # Working Sunday 09:00–17:00 leaves at most 16 h + 14 h rests: no 36 h in 7 days,
    # and the 14-day alternative (72 h in blocks of 32 h) fails with the next week full too.
    sunday = day_shift("2026-03-08", "09:00", 8)
    next_week = [day_shift(f"2026-03-{d:02d}", "07:00", 8) for d in range(9, 15)]
    violations = rules_fired([*week, *next_week], [sunday])
    assert [v.rule for v in violations if v.rule == "weekly_rest"] == ["weekly_rest"]


def days_on(first: datetime, count: int) -> list[Shift]:
    return [
        day_shift((first + timedelta(days=d)).date().isoformat(), "07:00", 8) for d in range(count)
    ]


ONLY_7_DAYS = with_rules(weekly_rest={"alternative": None})


def test_weekly_rest_boundary_at_36_hours() -> None:
    # Mon–Sat 07:00–15:00, a weekend whose rest ends with a shift on Monday, then
    # Tue–Thu: from 03:00 that rest is exactly 36 h; from 02:59 it is 35 h 59 m. (Rests
    # of 36 h must recur within 132 h of each other for every 7 x 24 h to hold one.)
    before = days_on(datetime(2026, 3, 2), 6)
    after = days_on(datetime(2026, 3, 10), 3)
    ok = shift("2026-03-09 03:00", "2026-03-09 09:00", ("2026-03-09 06:00", "2026-03-09 06:30"))
    short = shift("2026-03-09 02:59", "2026-03-09 09:00", ("2026-03-09 06:00", "2026-03-09 06:30"))
    assert not fired("weekly_rest", [*before, *after], [ok], profile=ONLY_7_DAYS)
    found = [
        v for v in rules_fired([*before, *after], [short], ONLY_7_DAYS) if v.rule == "weekly_rest"
    ]
    assert found and "longest rest 35h59m < 36h" in found[0].message


def test_weekly_rest_alternative_72_hours_in_14_days() -> None:
    # Ten days on, four off, repeated: some 7 days hold no 36 h rest, but every 14 days
    # hold a block of 4 days. The alternative allows it; without it, it is a violation.
    start = datetime(2026, 3, 2)
    pattern = [s for block in range(3) for s in days_on(start + timedelta(days=14 * block), 10)]
    middle = pattern[15]
    others = [s for s in pattern if s is not middle]
    assert not fired("weekly_rest", others, [middle])
    assert fired("weekly_rest", others, [middle], profile=ONLY_7_DAYS)
    # Twelve on, two off: a 64 h block in each 14 days is less than 72 h.
    tight = [s for block in range(3) for s in days_on(start + timedelta(days=14 * block), 12)]
    middle = tight[18]
    found = [
        v
        for v in rules_fired([s for s in tight if s is not middle], [middle])
        if v.rule == "weekly_rest"
    ]
    assert found and "nor 72h in 14 days" in found[0].message


# -- night work -------------------------------------------------------------------------------


def night(day: str, start: str = "23:00", hours: float = 8) -> Shift:
    return day_shift(day, start, hours)


def test_night_shift_needs_more_than_an_hour_between_0_and_6() -> None:
    check = WorkerCheck(NL_ATW, "w1", [], [])
    assert not check._night_hours(shift("2026-03-02 16:00", "2026-03-03 01:00")) > 3600
    assert check._night_hours(shift("2026-03-02 16:00", "2026-03-03 01:01")) > 3600


@pytest.mark.parametrize(("hours", "violates"), [(10, False), (10 + 1 / 60, True)])
def test_night_shift_at_most_10_hours(hours: float, violates: bool) -> None:
    assert fired("night_shift_length", [], [night("2026-03-02", "21:00", hours)]) is violates


def test_night_shift_length_in_real_hours_on_the_autumn_night() -> None:
    # 22:00 to 07:00 on 24/25 October 2026 is 10 real hours: allowed; 22:00–07:01 is not.
    assert not fired(
        "night_shift_length",
        [],
        [shift("2026-10-24 22:00", "2026-10-25 07:00", ("2026-10-25 01:00", "2026-10-25 01:45"))],
    )
    assert fired(
        "night_shift_length",
        [],
        [shift("2026-10-24 22:00", "2026-10-25 07:01", ("2026-10-25 01:00", "2026-10-25 01:45"))],
    )


@pytest.mark.parametrize(
    ("next_start", "violates"), [("2026-03-03 20:00", False), ("2026-03-03 19:59", True)]
)
def test_14_hours_rest_after_a_night_shift_ending_after_2(next_start: str, violates: bool) -> None:
    ending_at_six = night("2026-03-02", "22:00", 8)  # ends 06:00
    after = shift(next_start, "2026-03-04 01:00", ("2026-03-03 23:00", "2026-03-03 23:45"))
    assert fired("night_rest", [ending_at_six], [after]) is violates


def test_no_14_hour_rest_after_a_night_shift_ending_before_2() -> None:
    ending_at_half_past_one = shift(
        "2026-03-02 17:00", "2026-03-03 01:30", ("2026-03-02 21:00", "2026-03-02 21:30")
    )
    after = day_shift("2026-03-03", "13:00", 6)  # 11.5 h later
    assert not fired("night_rest", [ending_at_half_past_one], [after])
    assert not fired("rest_between_shifts", [ending_at_half_past_one], [after])


def test_at_most_7_night_shifts_in_a_row() -> None:
    nights = [
        night((datetime(2026, 3, 2) + timedelta(days=d)).date().isoformat(), "22:00", 8)
        for d in range(8)
    ]
    assert not fired("consecutive_night_shifts", nights[:6], nights[6:7])
    assert fired("consecutive_night_shifts", nights[:7], nights[7:8])


def test_at_most_36_night_shifts_in_16_weeks() -> None:
    # Blocks of 3 nights every week: 16 weeks hold 48 of them; 36 in the first 12 weeks.
    nights = [
        night((datetime(2026, 1, 5) + timedelta(days=w * 7 + d)).date().isoformat(), "22:00", 8)
        for w in range(12)
        for d in range(3)
    ]
    assert len(nights) == 36
    assert not fired("night_shift_count", nights[:-1], nights[-1:])
    extra = night("2026-03-29", "22:00", 8)
    found = [v for v in rules_fired(nights, [extra]) if v.rule == "night_shift_count"]
    assert found and "37 night shifts in 16 weeks > 36" in found[0].message


# -- roster notice ------------------------------------------------------------------------------


def notice_of(new: Shift, previous: Shift | None, published: str) -> list[Violation]:
    change = Change(new, previous, at(published))
    return [
        v
        for v in rules_fired([], [] if new.cancelled else [new], changes=[change])
        if v.rule == "roster_notice"
    ]


@pytest.mark.parametrize(
    ("published", "violates"),
    [("2026-03-02 08:00", False), ("2026-03-02 09:00", True)],
    ids=["28 days ahead", "27 days 23 hours ahead"],
)
def test_roster_notice_28_days(published: str, violates: bool) -> None:
    assert bool(notice_of(day_shift("2026-03-30", "08:00", 8), None, published)) is violates


def test_roster_notice_4_days_for_on_call_work() -> None:
    on_call = shift("2026-03-30 08:00", "2026-03-30 12:00", on_call=True)
    assert not notice_of(on_call, None, "2026-03-26 08:00")
    assert notice_of(on_call, None, "2026-03-26 08:01")


def test_roster_notice_applies_to_changes_and_cancellations() -> None:
    original = shift("2026-04-20 08:00", "2026-04-20 12:00", key="s1")
    moved = shift("2026-04-21 08:00", "2026-04-21 12:00", key="s1")
    # Moving a shift that starts in 10 days is a change at 10 days' notice.
    assert notice_of(moved, original, "2026-04-10 08:00")
    # Republishing it unchanged is not a change.
    assert not notice_of(original, original, "2026-04-10 08:00")
    cancelled = Shift("s1", "w1", original.start, original.end, cancelled=True)
    found = notice_of(cancelled, original, "2026-04-18 08:00")
    assert found and "cancelled 2 days before" in found[0].message


# -- pace and reference hours -------------------------------------------------------------------

PACED = with_rules(
    pace={"baseline_tasks_per_hour": 10, "max_share": 1.2, "max_consecutive_hours": 2}
)


def tasks_per_hour(counts: Sequence[int], first_hour: str = "2026-03-02 09:00") -> list[Task]:
    start = at(first_hour)
    return [
        Task("w1", start + h * 3600 + i * (3600 / n))
        for h, n in enumerate(counts)
        for i in range(n)
    ]


@pytest.mark.parametrize(
    ("counts", "violates"),
    [([13, 13, 5], False), ([13, 13, 13], True), ([12, 12, 12, 12], False)],
    ids=["2 hours above 120% pass", "3 hours above fail", "exactly 120% passes"],
)
def test_pace(counts: list[int], violates: bool) -> None:
    tasks = tasks_per_hour(counts)
    workday = day_shift("2026-03-02", "08:00", 8)
    check = WorkerCheck(PACED, "w1", [workday], [], tasks=tasks, new_tasks=tasks[-1:])
    assert any(v.rule == "pace" for v in check.violations()) is violates


def test_tasks_outside_rostered_shifts_or_reference_hours() -> None:
    workday = day_shift("2026-03-02", "08:00", 8)
    inside, outside = Task("w1", at("2026-03-02 10:00")), Task("w1", at("2026-03-02 21:00"))
    check = WorkerCheck(
        NL_ATW, "w1", [workday], [], tasks=[inside, outside], new_tasks=[inside, outside]
    )
    found = [v for v in check.violations() if v.rule == "reference_hours"]
    assert len(found) == 1 and "outside the worker's rostered shifts" in found[0].message
    # Without shifts, the profile's reference hours decide (none in nl-atw: no finding).
    office = with_rules(
        reference_hours={"start": "08:00", "end": "18:00", "weekdays": [1, 2, 3, 4, 5]}
    )
    late = Task("w1", at("2026-03-02 19:00"))
    assert not WorkerCheck(NL_ATW, "w1", [], [], tasks=[late], new_tasks=[late]).violations()
    assert WorkerCheck(office, "w1", [], [], tasks=[late], new_tasks=[late]).violations()


# -- a realistic roster --------------------------------------------------------------------------


def test_four_week_roster_with_known_violations() -> None:
    """Four weeks of a warehouse roster with four planted violations: a 13 h Saturday,
    a quick return (9 h rest) in a week that already had one, a week with no 36 h rest
    and no 14-day alternative, and a run of eight nights."""
    shifts: list[Shift] = []
    week1 = [day_shift(f"2026-03-0{d}", "07:00", 8) for d in range(2, 7)]  # Mon–Fri
    shifts += week1
    saturday = shift(
        "2026-03-07 07:00", "2026-03-07 20:00", ("2026-03-07 12:00", "2026-03-07 12:45")
    )
    shifts.append(saturday)  # 13 h: shift_length
    # Week 2: late then early twice (two 9 h rests within 7 days).
    week2 = [
        day_shift("2026-03-09", "14:00", 8),  # ends 22:00
        day_shift("2026-03-10", "07:00", 8),  # 9 h rest: the allowed shortening
        day_shift("2026-03-11", "14:00", 8),
        day_shift("2026-03-12", "07:00", 8),  # 9 h again: violation
        day_shift("2026-03-13", "07:00", 8),
    ]
    shifts += week2
    # Week 3: seven days on.
    week3 = [day_shift(f"2026-03-{d}", "07:00", 8) for d in range(16, 23)]
    shifts += week3
    # Week 4: eight nights.
    week4 = [night(f"2026-03-{d}", "22:00", 8) for d in range(24, 32)]
    shifts += week4
    violations = WorkerCheck(NL_ATW, "w1", shifts, shifts).violations()
    found: dict[str, int] = {}
    for v in violations:
        found[v.rule] = found.get(v.rule, 0) + 1
    assert found == {
        "shift_length": 1,
        "rest_between_shifts": 1,
        "weekly_rest": 2,
        "consecutive_night_shifts": 1,
    }, [v.message for v in violations]
    # The same roster shift by shift, as decisions arrive: each violation is found when
    # the shift that completes it comes in.
    first_seen: dict[str, str] = {}
    for i, s in enumerate(shifts):
        for v in WorkerCheck(NL_ATW, "w1", shifts[: i + 1], [s]).violations():
            first_seen.setdefault(v.rule, datetime.fromtimestamp(s.start, AMS).strftime("%d %H:%M"))
    assert first_seen == {
        "shift_length": "07 07:00",
        "rest_between_shifts": "12 07:00",
        "weekly_rest": "21 07:00",
        "consecutive_night_shifts": "31 22:00",
    }
