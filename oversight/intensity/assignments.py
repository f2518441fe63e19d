"""Reading shifts and tasks out of a scheduling or task decision's ``context``.

The contract (DESIGN.md, 'Contract clarifications'): ``context.shifts`` is a list of
``{worker_ref, start, end, breaks: [{start, end}], on_call, published_at}`` and
``context.tasks`` a list of ``{worker_ref, assigned_at, expected_minutes}``, times in
ISO 8601 with an offset, ``worker_ref`` defaulting to the decision's subject and
pseudonymised like it. Two optional keys let a later decision change the roster:
``shift_id`` names a shift (without it, a shift is known by its worker and start), and
``cancelled: true`` withdraws the shift of that id. Keys the contract does not name
(a location, a role) are ignored.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, model_validator

from oversight.errors import InvalidRequest
from oversight.intensity.timeline import Shift, Task

MAX_SHIFT = timedelta(days=7)


class BreakIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    start: AwareDatetime
    end: AwareDatetime


class ShiftIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    shift_id: str | None = Field(default=None, min_length=1, max_length=200)
    worker_ref: str | None = Field(default=None, min_length=1, max_length=500)
    start: AwareDatetime
    end: AwareDatetime
    breaks: list[BreakIn] = Field(default_factory=list, max_length=50)
    on_call: bool = False
    published_at: AwareDatetime | None = None
    cancelled: bool = False

    @model_validator(mode="after")
    def _coherent(self) -> ShiftIn:
        if self.end <= self.start:
            raise ValueError("the shift must end after it starts")
        if self.end - self.start > MAX_SHIFT:
            raise ValueError("a shift cannot last more than 7 days; split it")
        for i, pause in enumerate(self.breaks):
            if pause.end <= pause.start:
                raise ValueError(f"break {i} must end after it starts")
            if pause.start < self.start or pause.end > self.end:
                raise ValueError(f"break {i} lies outside the shift")
        return self


class TaskIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    worker_ref: str | None = Field(default=None, min_length=1, max_length=500)
    assigned_at: AwareDatetime
    expected_minutes: float = Field(default=0.0, ge=0, le=7 * 24 * 60, allow_inf_nan=False)


class ContextAssignments(BaseModel):
    model_config = ConfigDict(extra="ignore")

    shifts: list[ShiftIn] = Field(default_factory=list, max_length=1000)
    tasks: list[TaskIn] = Field(default_factory=list, max_length=1000)


@dataclass(frozen=True)
class Assignments:
    """What one decision assigns, with worker refs pseudonymised."""

    shifts: list[Shift]
    tasks: list[Task]

    def __bool__(self) -> bool:
        return bool(self.shifts or self.tasks)


def read_assignments(
    context: Mapping[str, object] | None,
    *,
    subject_id: str,
    pseudonymise: Callable[[str], str],
) -> Assignments:
    """The shifts and tasks in ``context``; raises ``InvalidRequest`` (422) naming the
    field at fault, so nothing is recorded from a roster that cannot be read."""
    if not context:
        return Assignments([], [])
    try:
        parsed = ContextAssignments.model_validate(context)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in ("context", *error["loc"]))
        raise InvalidRequest(f"{where}: {error['msg']}", field=where) from exc
    shifts = []
    for item in parsed.shifts:
        worker = pseudonymise(item.worker_ref or subject_id)
        start = item.start.timestamp()
        shifts.append(
            Shift(
                key=item.shift_id or f"{worker}@{int(start)}",
                worker_ref=worker,
                start=start,
                end=item.end.timestamp(),
                breaks=tuple(sorted((b.start.timestamp(), b.end.timestamp()) for b in item.breaks)),
                on_call=item.on_call,
                published_at=None if item.published_at is None else item.published_at.timestamp(),
                cancelled=item.cancelled,
            )
        )
    tasks = [
        Task(
            worker_ref=pseudonymise(item.worker_ref or subject_id),
            at=item.assigned_at.timestamp(),
            minutes=item.expected_minutes,
        )
        for item in parsed.tasks
    ]
    return Assignments(shifts, tasks)
