"""Checking a roster export (CSV) against a profile, without the sidecar.

Columns, one shift per row, with a header:

- ``worker_ref`` (or ``worker``), ``start``, ``end``: required. Times are ISO 8601; a
  time without an offset is read in the profile's zone, as roster exports write them.
- ``breaks``: optional, ``start/end`` pairs separated by ``;``; each side a full time or
  ``HH:MM`` on the shift's day (the next day when earlier than the shift's start).
- ``break_minutes``: optional, instead of ``breaks``: one break in the middle.
- ``on_call`` (true/false, yes/no, 1/0), ``published_at``, ``shift_id``: optional.
  Without ``published_at`` the roster-notice rule cannot be judged and is skipped.

Each worker's roster is judged whole: each shift once, each rest once, and each window
rule once per stretch of violating windows (the worst window of each).
"""

from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from oversight.errors import InvalidRequest
from oversight.intensity.profile import Profile
from oversight.intensity.rules import Change, Violation, WorkerCheck
from oversight.intensity.timeline import Shift

_TRUE = {"1", "true", "yes", "y", "ja", "j"}
_FALSE = {"", "0", "false", "no", "n", "nee"}


class RosterError(InvalidRequest):
    """The roster file cannot be read; the message names the file, line and column."""


@dataclass(frozen=True)
class RosterResult:
    shifts: int
    workers: int
    violations: list[Violation]
    notice_checked: bool


def check_roster(path: Path, profile: Profile) -> RosterResult:
    shifts = read_roster(path, profile.zone)
    by_worker: dict[str, list[Shift]] = defaultdict(list)
    for shift in shifts:
        by_worker[shift.worker_ref].append(shift)
    notice = any(s.published_at is not None for s in shifts)
    violations: list[Violation] = []
    for worker in sorted(by_worker):
        ordered = sorted(by_worker[worker], key=lambda s: (s.start, s.end))
        changes = [Change(s, None, s.published_at) for s in ordered if s.published_at is not None]
        violations.extend(WorkerCheck(profile, worker, ordered, ordered).violations(changes))
    return RosterResult(len(shifts), len(by_worker), violations, notice)


def read_roster(path: Path, zone: ZoneInfo) -> list[Shift]:
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise RosterError(f"Cannot read the roster {path}: {exc.strerror}.") from exc
    with handle:
        reader = csv.DictReader(handle)
        columns = {c.strip().lower(): c for c in reader.fieldnames or []}
        worker_column = columns.get("worker_ref") or columns.get("worker")
        missing = [c for c in ("start", "end") if c not in columns]
        if worker_column is None:
            missing.insert(0, "worker_ref")
        if missing:
            raise RosterError(
                f"{path}: the header lacks {', '.join(missing)}; a roster needs worker_ref, "
                "start and end columns (and may have breaks, break_minutes, on_call, "
                "published_at, shift_id)."
            )
        shifts = []
        for line, row in enumerate(reader, start=2):

            def cell(name: str, row: dict[str, str] = row) -> str:
                column = columns.get(name)
                return (row.get(column) or "").strip() if column else ""

            where = f"{path} line {line}"
            worker = (row.get(worker_column) or "").strip()
            if not worker:
                raise RosterError(f"{where}: worker_ref is empty.")
            start = _instant(cell("start"), zone, f"{where}, column start")
            end = _instant(cell("end"), zone, f"{where}, column end")
            if end <= start:
                raise RosterError(f"{where}: the shift ends ({cell('end')}) before it starts.")
            breaks = _breaks(cell("breaks"), cell("break_minutes"), start, end, zone, where)
            published = cell("published_at")
            shifts.append(
                Shift(
                    key=cell("shift_id") or f"{worker}@{int(start.timestamp())}",
                    worker_ref=worker,
                    start=start.timestamp(),
                    end=end.timestamp(),
                    breaks=breaks,
                    on_call=_flag(cell("on_call"), f"{where}, column on_call"),
                    published_at=_instant(
                        published, zone, f"{where}, column published_at"
                    ).timestamp()
                    if published
                    else None,
                )
            )
    return shifts


def _instant(text: str, zone: ZoneInfo, where: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise RosterError(
            f"{where}: {text!r} is not a time; use ISO 8601, e.g. 2026-03-02T08:00+01:00 "
            "(without an offset it is read in the profile's zone)."
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)


def _flag(text: str, where: str) -> bool:
    if text.lower() in _TRUE:
        return True
    if text.lower() in _FALSE:
        return False
    raise RosterError(f"{where}: {text!r} is neither true nor false.")


def _breaks(
    text: str, minutes: str, start: datetime, end: datetime, zone: ZoneInfo, where: str
) -> tuple[tuple[float, float], ...]:
    if minutes and not text:
        try:
            length = timedelta(minutes=float(minutes))
        except ValueError:
            raise RosterError(
                f"{where}, column break_minutes: {minutes!r} is not a number."
            ) from None
        if not timedelta(0) <= length < end - start:
            raise RosterError(f"{where}, column break_minutes: {minutes} does not fit the shift.")
        middle = start + (end - start - length) / 2
        return ((middle.timestamp(), (middle + length).timestamp()),) if length else ()
    pauses = []
    for piece in filter(None, (p.strip() for p in text.split(";"))):
        first, sep, second = piece.partition("/")
        if not sep:
            first, sep, second = piece.partition("-") if piece.count(":") == 2 else ("", "", "")
        if not sep:
            raise RosterError(f"{where}, column breaks: {piece!r} is not start/end.")
        lo = _break_time(first, start, zone, where)
        hi = _break_time(second, lo, zone, where)
        if not start <= lo < hi <= end:
            raise RosterError(f"{where}, column breaks: {piece!r} lies outside the shift.")
        pauses.append((lo.timestamp(), hi.timestamp()))
    return tuple(sorted(pauses))


def _break_time(text: str, after: datetime, zone: ZoneInfo, where: str) -> datetime:
    text = text.strip()
    try:
        clock = time.fromisoformat(text)
    except ValueError:
        return _instant(text, zone, f"{where}, column breaks")
    local = after.astimezone(zone)
    moment = datetime.combine(local.date(), clock, tzinfo=zone)
    return moment if moment >= local else moment + timedelta(days=1)
