"""The automation-bias signal: a reviewer whose recent approvals are fast and unbroken
may be rubber-stamping (AI Act Art 14(4)(b)). The console shows it before the next
approval and records that it did."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from oversight import audit
from oversight.database import read_only, storage_errors
from oversight.metrics import FAST_APPROVAL_SECONDS
from oversight.tables import reviews

#: How many of the reviewer's latest actions are looked at.
RECENT_ACTIONS = 20


@dataclass(frozen=True)
class ReviewHabit:
    """A reviewer's recent work: for the warning, and for their own view of workload."""

    recent_actions: int
    approvals_in_a_row: int
    fast_approvals: int
    median_seconds_on_task: float | None
    decided_today: int

    @property
    def rubber_stamp_risk(self) -> bool:
        """The last 20 actions all approvals, most of them under 10 seconds."""
        return (
            self.recent_actions >= RECENT_ACTIONS
            and self.approvals_in_a_row >= RECENT_ACTIONS
            and self.fast_approvals > RECENT_ACTIONS // 2
        )


async def review_habit(engine: AsyncEngine, reviewer: str, now: datetime) -> ReviewHabit:
    with storage_errors("reading the reviewer's recent reviews"):
        async with read_only(engine).connect() as connection:
            rows = (
                await connection.execute(
                    select(reviews.c.action, reviews.c.seconds_on_task)
                    .where(reviews.c.reviewer == reviewer)
                    .order_by(reviews.c.decided_at.desc(), reviews.c.id.desc())
                    .limit(RECENT_ACTIONS)
                )
            ).all()
            today = await connection.scalar(
                select(func.count()).where(
                    reviews.c.reviewer == reviewer,
                    reviews.c.decided_at >= now - timedelta(hours=24),
                )
            )
    in_a_row = 0
    for action, _ in rows:
        if action != "approve":
            break
        in_a_row += 1
    fast = sum(1 for action, s in rows if action == "approve" and s < FAST_APPROVAL_SECONDS)
    return ReviewHabit(
        recent_actions=len(rows),
        approvals_in_a_row=in_a_row,
        fast_approvals=fast,
        median_seconds_on_task=statistics.median(s for _, s in rows) if rows else None,
        decided_today=today or 0,
    )


async def record_warning_shown(
    engine: AsyncEngine, reviewer: str, review_id: str, habit: ReviewHabit, now: datetime
) -> None:
    """The console showed the warning before this reviewer's next approval."""
    with storage_errors("recording the automation-bias warning"):
        async with engine.begin() as connection:
            await audit.append(
                connection,
                "automation_bias_warning_shown",
                {
                    "reviewer": reviewer,
                    "review_id": review_id,
                    "approvals_in_a_row": habit.approvals_in_a_row,
                    "fast_approvals": habit.fast_approvals,
                },
                at=now,
                subject_ref=review_id,
            )
