"""The review queue: held decisions, claimed and decided by registered reviewers.

A task's life (AI Act Art 14(4), GDPR Art 22)::

    pending ──claim──▶ pending (claimed: a lease, not a state) ──decide──▶ decided
                                         │ four eyes, first step
                                         ▼
                              awaiting_second_review ──claim by another──▶ ... ──▶ decided

A claim is a lease (``claim_minutes``): when it runs out the task is free again. Only
the holder of a live claim may decide. On a four-eyes task the first reviewer can never
claim or decide the second step. The second reviewer's ``approve`` confirms the first
step; ``override`` and ``reject`` replace it. Every step is an audit entry.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from oversight import audit, outbox
from oversight.clock import Clock
from oversight.database import read_only, storage_errors
from oversight.errors import ClaimConflict, InvalidRequest, NotFound, PermissionDenied
from oversight.intensity import ledger as intensity_ledger
from oversight.keys import Principal
from oversight.metrics import FAST_APPROVAL_SECONDS, Metrics
from oversight.policy import Policy
from oversight.schemas import (
    DecisionStatus,
    ReviewDecided,
    ReviewDecisionIn,
    ReviewRecord,
    ReviewTask,
)
from oversight.tables import decisions, review_tasks, reviews

MIN_RATIONALE = 20
_FINAL_STATUS: dict[str, DecisionStatus] = {
    "approve": "approved",
    "override": "overridden",
    "reject": "rejected",
}


def final_outcome_for(action: str, ai_outcome: Any, reviewer_outcome: Any) -> Any:
    """The outcome in force after a review: the AI's, the reviewer's, or none."""
    if action == "approve":
        return ai_outcome
    if action == "override":
        return reviewer_outcome
    return None


class ReviewQueue:
    def __init__(
        self,
        engine: AsyncEngine,
        *,
        policy: Policy,
        metrics: Metrics,
        clock: Clock,
        claim_minutes: int,
    ) -> None:
        self._engine = engine
        self._reader = read_only(engine)
        self._policy = policy
        self._metrics = metrics
        self._clock = clock
        self._lease = timedelta(minutes=claim_minutes)

    def require_reviewer_of(self, principal: Principal, system_id: str) -> None:
        if principal.role != "reviewer" or not self._policy.reviews(principal.name, system_id):
            raise PermissionDenied(
                f"{principal.name!r} is not a registered reviewer of system {system_id!r}; "
                "ask an admin to add them to the system's reviewers in the policy."
            )

    def visible_systems(self, principal: Principal, system_id: str | None) -> list[str]:
        """The systems whose tasks and complaints the caller may list: a reviewer's own
        (403 when asking for another's), every system for an admin."""
        if principal.role == "reviewer":
            if system_id is not None:
                self.require_reviewer_of(principal, system_id)
                return [system_id]
            return self._policy.systems_reviewed_by(principal.name)
        return [system_id] if system_id is not None else list(self._policy.systems)

    async def list(
        self,
        principal: Principal,
        *,
        system_id: str | None = None,
        status: str | None = None,
        limit: int = 100,
    ) -> list[ReviewTask]:
        """Tasks the caller may see, the earliest due (so the overdue) first."""
        visible = self.visible_systems(principal, system_id)
        query = _task_query().where(review_tasks.c.system_id.in_(visible))
        if status is None:
            query = query.where(review_tasks.c.status != "decided")
        else:
            query = query.where(review_tasks.c.status == status)
        query = query.order_by(review_tasks.c.due_at, review_tasks.c.created_at).limit(limit)
        now = self._clock()
        with storage_errors("listing the review queue"):
            async with self._reader.connect() as connection:
                rows = (await connection.execute(query)).all()
        return [_task(row._mapping, now) for row in rows]

    async def get(self, review_id: str, principal: Principal) -> ReviewTask:
        """One task, decided or not, if the caller may see its system."""
        with storage_errors("reading the review task"):
            async with self._reader.connect() as connection:
                row = (
                    await connection.execute(
                        _task_query().where(review_tasks.c.review_id == review_id)
                    )
                ).one_or_none()
        if row is None or row.system_id not in self.visible_systems(principal, None):
            raise NotFound(f"There is no review task {review_id!r} that you may see.")
        return _task(row._mapping, self._clock())

    async def claim(self, review_id: str, principal: Principal) -> ReviewTask:
        now = self._clock()
        with storage_errors("claiming the task"):
            async with self._engine.begin() as connection:
                task = await self._lock_task(connection, review_id, principal)
                self._check_claimable(task, principal.name, now)
                expires = now + self._lease
                await connection.execute(
                    update(review_tasks)
                    .where(review_tasks.c.review_id == review_id)
                    .values(claimed_by=principal.name, claimed_at=now, claim_expires_at=expires)
                )
                await audit.append(
                    connection,
                    "review_claimed",
                    {
                        "review_id": review_id,
                        "decision_id": task["decision_id"],
                        "reviewer": principal.name,
                        "expires_at": expires.isoformat(),
                    },
                    at=now,
                    subject_ref=task["decision_id"],
                )
                row = (
                    await connection.execute(
                        _task_query().where(review_tasks.c.review_id == review_id)
                    )
                ).one()
        return _task(row._mapping, now)

    async def claim_next(self, principal: Principal, system_id: str | None) -> ReviewTask | None:
        """Claim the earliest-due free task; ``SKIP LOCKED`` keeps two reviewers apart."""
        if principal.role != "reviewer":
            raise PermissionDenied("Only reviewers claim tasks.")
        systems = self._policy.systems_reviewed_by(principal.name)
        if system_id is not None:
            self.require_reviewer_of(principal, system_id)
            systems = [system_id]
        now = self._clock()
        with storage_errors("claiming the next task"):
            async with self._engine.begin() as connection:
                candidate = (
                    await connection.execute(
                        select(review_tasks.c.review_id)
                        .where(
                            review_tasks.c.system_id.in_(systems),
                            review_tasks.c.status != "decided",
                            or_(
                                review_tasks.c.claimed_by.is_(None),
                                review_tasks.c.claim_expires_at <= now,
                            ),
                            or_(
                                review_tasks.c.first_reviewer.is_(None),
                                review_tasks.c.first_reviewer != principal.name,
                            ),
                        )
                        .order_by(review_tasks.c.due_at)
                        .limit(1)
                        .with_for_update(skip_locked=True)
                    )
                ).scalar_one_or_none()
        if candidate is None:
            return None
        return await self.claim(candidate, principal)

    async def decide(
        self, review_id: str, principal: Principal, body: ReviewDecisionIn
    ) -> ReviewDecided:
        _check_decision_body(body)
        now = self._clock()
        with storage_errors("recording the review"):
            async with self._engine.begin() as connection:
                task = await self._lock_task(connection, review_id, principal)
                if task["status"] == "decided":
                    raise ClaimConflict(f"Review {review_id} is already decided.")
                if task["claimed_by"] != principal.name or task["claim_expires_at"] <= now:
                    raise ClaimConflict(
                        f"Claim review {review_id} first (POST /v1/reviews/{review_id}/claim); "
                        "only the holder of a live claim may decide."
                    )
                result = await self._record_step(connection, task, principal.name, body, now)
        self._observe(task, body.action, now, result.status)
        return result

    async def _record_step(
        self,
        connection: AsyncConnection,
        task: dict[str, Any],
        reviewer: str,
        body: ReviewDecisionIn,
        now: datetime,
    ) -> ReviewDecided:
        review_id, decision_id = task["review_id"], task["decision_id"]
        second_step = task["status"] == "awaiting_second_review"
        seconds = (now - task["claimed_at"]).total_seconds()
        await connection.execute(
            insert(reviews).values(
                review_id=review_id,
                step=2 if second_step else 1,
                reviewer=reviewer,
                action=body.action,
                outcome=body.outcome if body.action == "override" else None,
                rationale=body.rationale,
                claimed_at=task["claimed_at"],
                decided_at=now,
                seconds_on_task=seconds,
            )
        )
        decision = (
            await connection.execute(
                select(
                    decisions.c.outcome,
                    decisions.c.status,
                    decisions.c.final_outcome,
                    decisions.c.decision_type,
                    decisions.c.submitted_by,
                ).where(decisions.c.decision_id == decision_id)
            )
        ).one()
        head = await audit.ChainHead.lock(connection)
        head.add(
            "review_decided",
            {
                "review_id": review_id,
                "decision_id": decision_id,
                "reviewer": reviewer,
                "step": 2 if second_step else 1,
                "action": body.action,
                "outcome": body.outcome if body.action == "override" else None,
                "rationale": body.rationale,
                "seconds_on_task": seconds,
            },
            at=now,
            subject_ref=decision_id,
        )
        if task["four_eyes"] and not second_step:
            await connection.execute(
                update(review_tasks)
                .where(review_tasks.c.review_id == review_id)
                .values(
                    status="awaiting_second_review",
                    first_reviewer=reviewer,
                    claimed_by=None,
                    claimed_at=None,
                    claim_expires_at=None,
                )
            )
            await head.write(connection)
            return ReviewDecided(
                review_id=review_id,
                decision_id=decision_id,
                status="awaiting_second_review",
                decision_status=decision.status,
                final_outcome=decision.final_outcome,
            )
        action, outcome = body.action, body.outcome
        if second_step and action == "approve":
            first = (
                await connection.execute(
                    select(reviews.c.action, reviews.c.outcome).where(
                        reviews.c.review_id == review_id, reviews.c.step == 1
                    )
                )
            ).one()
            action, outcome = first.action, first.outcome
        status = _FINAL_STATUS[action]
        final = final_outcome_for(action, decision.outcome, outcome)
        await connection.execute(
            update(review_tasks)
            .where(review_tasks.c.review_id == review_id)
            .values(
                status="decided",
                decided_at=now,
                claimed_by=None,
                claim_expires_at=None,
            )
        )
        await connection.execute(
            update(decisions)
            .where(decisions.c.decision_id == decision_id)
            .values(
                status=status,
                final_outcome=final,
            )
        )
        await intensity_ledger.settle(connection, decision_id, status)
        message = outbox.outcome_message(
            decision_id=decision_id,
            system_id=task["system_id"],
            decision_type=decision.decision_type,
            status=status,
            review_id=review_id,
            final_outcome=final,
        )
        system = self._policy.systems.get(task["system_id"])
        if system is not None and system.callback_url is not None:
            await outbox.enqueue(
                connection,
                channel="webhook",
                destination=str(system.callback_url),
                message=message,
                now=now,
            )
        if decision.submitted_by == outbox.KAFKA_SUBMITTER:
            await outbox.enqueue(
                connection,
                channel=outbox.KAFKA_CHANNEL,
                destination="outcomes",
                message=message,
                now=now,
            )
        head.add(
            "decision_finalised",
            {
                "decision_id": decision_id,
                "review_id": review_id,
                "status": status,
                "final_outcome": final,
            },
            at=now,
            subject_ref=decision_id,
        )
        await head.write(connection)
        return ReviewDecided(
            review_id=review_id,
            decision_id=decision_id,
            status="decided",
            decision_status=status,
            final_outcome=final,
        )

    async def _lock_task(
        self, connection: AsyncConnection, review_id: str, principal: Principal
    ) -> dict[str, Any]:
        row = (
            await connection.execute(
                select(review_tasks).where(review_tasks.c.review_id == review_id).with_for_update()
            )
        ).one_or_none()
        if row is None:
            raise NotFound(f"There is no review task {review_id!r}.")
        task = dict(row._mapping)
        self.require_reviewer_of(principal, task["system_id"])
        return task

    @staticmethod
    def _check_claimable(task: dict[str, Any], reviewer: str, now: datetime) -> None:
        review_id = task["review_id"]
        if task["status"] == "decided":
            raise ClaimConflict(f"Review {review_id} is already decided.")
        if task["status"] == "awaiting_second_review" and task["first_reviewer"] == reviewer:
            raise ClaimConflict(
                f"Review {review_id} needs four eyes and you made the first decision; "
                "a different reviewer must take the second step."
            )
        holder, expires = task["claimed_by"], task["claim_expires_at"]
        if holder is not None and holder != reviewer and expires is not None and expires > now:
            raise ClaimConflict(
                f"Review {review_id} is claimed by another reviewer until {expires.isoformat()}."
            )

    def _observe(self, task: dict[str, Any], action: str, now: datetime, status: str) -> None:
        system = task["system_id"]
        seconds = (now - task["claimed_at"]).total_seconds()
        self._metrics.review_actions.labels(system=system, action=action).inc()
        self._metrics.time_on_task.labels(system=system).observe(seconds)
        if action == "approve" and seconds < FAST_APPROVAL_SECONDS:
            self._metrics.fast_approvals.labels(system=system).inc()
        if status == "decided":
            latency = (now - task["created_at"]).total_seconds()
            self._metrics.review_latency.labels(system=system).observe(latency)


async def review_history(
    connection: AsyncConnection, review_ids: Sequence[str]
) -> list[ReviewRecord]:
    rows = await connection.execute(
        select(reviews).where(reviews.c.review_id.in_(review_ids)).order_by(reviews.c.id)
    )
    return [ReviewRecord.model_validate(dict(row._mapping)) for row in rows]


def _check_decision_body(body: ReviewDecisionIn) -> None:
    if body.action == "override" and body.outcome is None:
        raise InvalidRequest("An override needs the new outcome.", field="outcome")
    if body.action in ("override", "reject") and len(body.rationale.strip()) < MIN_RATIONALE:
        raise InvalidRequest(
            f"{body.action} needs a rationale of at least {MIN_RATIONALE} "
            "characters, for the worker and the audit.",
            field="rationale",
        )


def _task_query() -> Any:
    return select(review_tasks, decisions.c.decision_type, decisions.c.findings).join(
        decisions, and_(decisions.c.decision_id == review_tasks.c.decision_id)
    )


def _task(row: Any, now: datetime) -> ReviewTask:
    data = dict(row)
    data["overdue"] = data["status"] != "decided" and data["due_at"] < now
    if data["claim_expires_at"] is not None and data["claim_expires_at"] <= now:
        data["claimed_by"], data["claim_expires_at"] = None, None
    return ReviewTask.model_validate(data)
