"""Workers' timelines in the database, read and changed inside the recording transaction.

The check must see every shift released before it, on every replica: so the recorder
reads the timelines of a batch's workers while it holds the chain lock, checks each
decision in order against them (a decision released earlier in the same batch counts),
and writes the new shifts in the same transaction. A held decision's shifts wait as
``pending`` and join the timeline when a reviewer approves it (``settle``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Select,
    and_,
    bindparam,
    case,
    insert,
    null,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from oversight.intensity.assignments import Assignments
from oversight.intensity.profile import IntensityPolicy, Profile
from oversight.intensity.rules import Change, Violation, WorkerCheck
from oversight.intensity.timeline import DAY, Shift, Task, hours_of
from oversight.routing import CheckedFinding, FindingAction, Route
from oversight.schemas import Finding
from oversight.tables import assignments, intensity_findings

_ACTION: dict[str, FindingAction] = {"alert": "none", "review": "review", "block": "block"}
#: How far around a new task other tasks matter to the pace rule.
TASK_HORIZON = 2 * DAY

#: The active shifts of a batch's workers near its new shifts, and those its shifts
#: name (a shift moved from another worker). Built once: making and keying a statement
#: costs ~120 µs, and one statement is cheaper than two (bench/intensity.py).
_KEYS: BindParameter[Any] = bindparam("keys", expanding=True)
_NEAR_OR_NAMED = and_(
    assignments.c.state == "active",
    assignments.c.kind == "shift",
    or_(
        and_(
            assignments.c.worker_ref.in_(bindparam("workers", expanding=True)),
            assignments.c.ends_at > bindparam("ends_after"),
            assignments.c.starts_at < bindparam("starts_before"),
        ),
        assignments.c.assignment_key.in_(_KEYS),
    ),
)


def _timelines(breaks: ColumnElement[Any]) -> Select[Any]:
    return select(
        assignments.c.seq,
        assignments.c.system_id,
        assignments.c.worker_ref,
        assignments.c.assignment_key,
        assignments.c.starts_at,
        assignments.c.ends_at,
        breaks,
        assignments.c.on_call,
        assignments.c.published_at,
    ).where(_NEAR_OR_NAMED)


_TIMELINES = _timelines(assignments.c.breaks)
#: When every profile counts breaks as work, the timeline's breaks are needed only for
#: the shifts a batch names (to tell a change from a republication): decoding them
#: for every row was a third of a batch's time on PostgreSQL.
_TIMELINES_NAMED_BREAKS = _timelines(
    case((assignments.c.assignment_key.in_(_KEYS), assignments.c.breaks), else_=null())
)
_TASKS = select(assignments.c.worker_ref, assignments.c.starts_at).where(
    assignments.c.worker_ref.in_(bindparam("workers", expanding=True)),
    assignments.c.state == "active",
    assignments.c.kind == "task",
    assignments.c.starts_at > bindparam("after"),
    assignments.c.starts_at < bindparam("before"),
)


@dataclass(frozen=True)
class IntensityCheck:
    """What the recorder needs to check one decision: its assignments and rules."""

    system_id: str
    assignments: Assignments
    profile: Profile
    policy: IntensityPolicy
    #: When the decision says it was made: a shift without ``published_at`` was
    #: published then (or when recorded, if it does not say).
    occurred_at: float | None


@dataclass
class _Active:
    shift: Shift
    seq: int | None = None  # the stored row, or
    row: dict[str, Any] | None = None  # the row this batch will insert


@dataclass
class BatchTimelines:
    """The timelines of one batch's workers, kept current as the batch is routed."""

    shifts: dict[str, list[Shift]] = field(default_factory=lambda: defaultdict(list))
    tasks: dict[str, list[Task]] = field(default_factory=lambda: defaultdict(list))
    active: dict[tuple[str, str], _Active] = field(default_factory=dict)
    rows: list[dict[str, Any]] = field(default_factory=list)
    finding_rows: list[dict[str, Any]] = field(default_factory=list)
    superseded: dict[int, str] = field(default_factory=dict)

    @classmethod
    async def load(
        cls, connection: AsyncConnection, checks: Sequence[IntensityCheck]
    ) -> BatchTimelines:
        timelines = cls()
        if not checks:
            return timelines
        shift_workers = {s.worker_ref for c in checks for s in c.assignments.shifts}
        task_workers = {t.worker_ref for c in checks for t in c.assignments.tasks}
        times = [x for c in checks for s in c.assignments.shifts for x in (s.start, s.end)]
        times += [t.at for c in checks for t in c.assignments.tasks]
        horizon = max(c.profile.horizon_seconds for c in checks)
        keys = {s.key for c in checks for s in c.assignments.shifts}
        breaks_needed = not all(c.profile.breaks_count_as_work for c in checks)
        rows = await connection.execute(
            _TIMELINES if breaks_needed else _TIMELINES_NAMED_BREAKS,
            {
                "workers": sorted(shift_workers | task_workers),
                "ends_after": min(times) - horizon,
                "starts_before": max(times) + horizon,
                "keys": sorted(keys),
            },
        )
        for seq, system_id, worker, key, start, end, breaks, on_call, published in rows:
            shift = Shift(key, worker, start, end, _pairs(breaks), on_call, published)
            timelines.shifts[worker].append(shift)
            timelines.active[(system_id, key)] = _Active(shift, seq=seq)
        if task_workers:
            task_times = [t.at for c in checks for t in c.assignments.tasks]
            task_rows = await connection.execute(
                _TASKS,
                {
                    "workers": sorted(task_workers),
                    "after": min(task_times) - TASK_HORIZON,
                    "before": max(task_times) + TASK_HORIZON,
                },
            )
            for worker, at in task_rows:
                timelines.tasks[worker].append(Task(worker, at))
        return timelines

    def check(self, check: IntensityCheck, *, now: float) -> list[Violation]:
        """The violations this decision would cause, without changing anything."""
        timelines: dict[str, list[Shift]] = {}

        def timeline_of(worker: str) -> list[Shift]:
            """The worker's timeline as this decision would leave it (a copy)."""
            if worker not in timelines:
                timelines[worker] = list(self.shifts.get(worker, ()))
            return timelines[worker]

        new: dict[str, list[Shift]] = defaultdict(list)
        changes: dict[str, list[Change]] = defaultdict(list)
        replaced_here: dict[str, Shift] = {}
        for shift in check.assignments.shifts:
            current = self.active.get((check.system_id, shift.key))
            previous = replaced_here.get(shift.key) or (current.shift if current else None)
            if previous is not None:
                timeline = timeline_of(previous.worker_ref)
                timeline[:] = [s for s in timeline if s is not previous]
            worker = previous.worker_ref if shift.cancelled and previous else shift.worker_ref
            published = _published(shift, check, now)
            changes[worker].append(Change(shift, previous, published))
            if not shift.cancelled:
                timeline_of(shift.worker_ref).append(shift)
                new[shift.worker_ref].append(shift)
            replaced_here[shift.key] = shift
        new_tasks: dict[str, list[Task]] = defaultdict(list)
        for task in check.assignments.tasks:
            new_tasks[task.worker_ref].append(task)
        violations: list[Violation] = []
        for worker in sorted(set(new) | set(changes) | set(new_tasks)):
            violations.extend(
                WorkerCheck(
                    check.profile,
                    worker,
                    timeline_of(worker),
                    new.get(worker, []),
                    tasks=[*self.tasks.get(worker, []), *new_tasks.get(worker, [])],
                    new_tasks=new_tasks.get(worker, []),
                ).violations(changes.get(worker, []))
            )
        return violations

    def commit(
        self,
        check: IntensityCheck,
        violations: Sequence[Violation],
        *,
        decision_id: str,
        route: Route,
        now: float,
        recorded_at: datetime,
    ) -> None:
        """Stage the decision's rows; released, its shifts join the timelines now."""
        state = {"released": "active", "pending_review": "pending"}.get(route, "void")
        for shift in check.assignments.shifts:
            row = {
                "decision_id": decision_id,
                "system_id": check.system_id,
                "worker_ref": shift.worker_ref,
                "kind": "cancel" if shift.cancelled else "shift",
                "assignment_key": shift.key,
                "starts_at": shift.start,
                "ends_at": shift.end,
                "breaks": [list(b) for b in shift.breaks],
                "on_call": shift.on_call,
                "published_at": _published(shift, check, now),
                "hours": hours_of(shift, breaks_count_as_work=check.profile.breaks_count_as_work)
                / 3600,
                "state": state,
            }
            self.rows.append(row)
            if state == "active":
                self._activate(check.system_id, shift, row)
        for task in check.assignments.tasks:
            self.rows.append(
                {
                    "decision_id": decision_id,
                    "system_id": check.system_id,
                    "worker_ref": task.worker_ref,
                    "kind": "task",
                    "assignment_key": None,
                    "starts_at": task.at,
                    "ends_at": task.at + task.minutes * 60,
                    "breaks": None,
                    "on_call": False,
                    "published_at": task.at,
                    "hours": task.minutes / 60,
                    "state": state,
                }
            )
            if state == "active":
                self.tasks[task.worker_ref].append(task)
        for violation in violations:
            self.finding_rows.append(
                {
                    "decision_id": decision_id,
                    "system_id": check.system_id,
                    "worker_ref": violation.worker_ref,
                    "rule": violation.rule,
                    "severity": violation.severity,
                    "action": check.policy.action_for(violation.rule),
                    "message": violation.message,
                    "data": violation.data,
                    "recorded_at": recorded_at,
                }
            )

    def _activate(self, system_id: str, shift: Shift, row: dict[str, Any]) -> None:
        previous = self.active.pop((system_id, shift.key), None)
        if previous is not None:
            ending = "cancelled" if shift.cancelled else "replaced"
            if previous.seq is not None:
                self.superseded[previous.seq] = ending
            elif previous.row is not None:
                previous.row["state"] = ending
            timeline = self.shifts[previous.shift.worker_ref]
            timeline[:] = [s for s in timeline if s is not previous.shift]
        if not shift.cancelled:
            self.active[(system_id, shift.key)] = _Active(shift, row=row)
            self.shifts[shift.worker_ref].append(shift)

    async def write(self, connection: AsyncConnection) -> None:
        for ending in ("replaced", "cancelled"):
            seqs = [seq for seq, e in self.superseded.items() if e == ending]
            if seqs:
                await connection.execute(
                    update(assignments).where(assignments.c.seq.in_(seqs)).values(state=ending)
                )
        if self.rows:
            await connection.execute(insert(assignments), self.rows)
        if self.finding_rows:
            await connection.execute(insert(intensity_findings), self.finding_rows)


def findings_of(violations: Sequence[Violation], policy: IntensityPolicy) -> list[CheckedFinding]:
    return [
        CheckedFinding(
            Finding(
                check="intensity",
                rule=v.rule,
                severity=v.severity,
                message=v.message,
                data={"worker_ref": v.worker_ref, **v.data},
            ),
            action=_ACTION[policy.action_for(v.rule)],
        )
        for v in violations
    ]


async def settle(connection: AsyncConnection, decision_id: str, status: str) -> None:
    """A reviewer's final word on a held decision: approved, its shifts join the
    timelines (replacing or cancelling what they name); rejected or overridden, they
    never apply (and leave them, if a complaint's re-review overturned them)."""
    if status != "approved":
        await connection.execute(
            update(assignments)
            .where(
                assignments.c.decision_id == decision_id,
                assignments.c.state.in_(("pending", "active")),
            )
            .values(state="void")
        )
        return
    pending = await connection.execute(
        select(
            assignments.c.seq,
            assignments.c.kind,
            assignments.c.system_id,
            assignments.c.assignment_key,
        )  # fmt: skip
        .where(assignments.c.decision_id == decision_id, assignments.c.state == "pending")
        .order_by(assignments.c.seq)
    )
    for row in pending:
        if row.kind != "task":
            await connection.execute(
                update(assignments)
                .where(
                    assignments.c.assignment_key == row.assignment_key,
                    assignments.c.system_id == row.system_id,
                    assignments.c.kind == "shift",
                    assignments.c.state == "active",
                )
                .values(state="cancelled" if row.kind == "cancel" else "replaced")
            )
        await connection.execute(
            update(assignments).where(assignments.c.seq == row.seq).values(state="active")
        )


def _pairs(breaks: list[list[float]] | None) -> tuple[tuple[float, float], ...]:
    return tuple((b[0], b[1]) for b in breaks) if breaks else ()


def _published(shift: Shift, check: IntensityCheck, now: float) -> float:
    if shift.published_at is not None:
        return shift.published_at
    return check.occurred_at if check.occurred_at is not None else now
