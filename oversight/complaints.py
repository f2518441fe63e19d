"""Complaints: a worker, holding a receipt, asks a human to look again (PWD Art 11).

A complaint gets a due date from the policy (14 days by default; GDPR Art 12(3) allows
at most a month), a short reference to quote, and a human review of the decision: the
open review task when there is one, else a new one.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from oversight import audit
from oversight.clock import Clock
from oversight.database import read_only, storage_errors
from oversight.errors import Conflict, NotFound, TooManyRequests
from oversight.keys import Principal
from oversight.metrics import Metrics
from oversight.policy import Policy
from oversight.receipts import receipt_hash
from oversight.review import ReviewQueue
from oversight.schemas import (
    ComplaintAnswerIn,
    ComplaintIn,
    ComplaintLodged,
    ComplaintRecord,
    ComplaintView,
)
from oversight.tables import complaints, decisions, review_tasks

MAX_OPEN_PER_RECEIPT = 5
_REFERENCE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud safely
NO_SUCH_RECEIPT = "No decision has this receipt. Check that it was copied whole."


def new_reference() -> str:
    chars = "".join(secrets.choice(_REFERENCE_ALPHABET) for _ in range(8))
    return f"C-{chars[:4]}-{chars[4:]}"


class ComplaintDesk:
    def __init__(
        self,
        engine: AsyncEngine,
        *,
        policy: Policy,
        queue: ReviewQueue,
        metrics: Metrics,
        clock: Clock,
    ) -> None:
        self._engine = engine
        self._reader = read_only(engine)
        self._policy = policy
        self._queue = queue
        self._metrics = metrics
        self._clock = clock

    async def lodge(self, body: ComplaintIn) -> ComplaintLodged:
        now = self._clock()
        due = now + timedelta(days=self._policy.complaints.sla_days)
        complaint_id = str(uuid.uuid4())
        reference = new_reference()
        with storage_errors("lodging the complaint"):
            async with self._engine.begin() as connection:
                head = await audit.ChainHead.lock(connection)
                decision = (
                    await connection.execute(
                        select(
                            decisions.c.decision_id,
                            decisions.c.system_id,
                            decisions.c.decision_type,
                        ).where(decisions.c.receipt_hash == receipt_hash(body.receipt))
                    )
                ).one_or_none()
                if decision is None:
                    raise NotFound(NO_SUCH_RECEIPT)
                open_count = (
                    await connection.execute(
                        select(func.count()).where(
                            complaints.c.decision_id == decision.decision_id,
                            complaints.c.status == "open",
                        )
                    )
                ).scalar_one()
                if open_count >= MAX_OPEN_PER_RECEIPT:
                    raise TooManyRequests(
                        f"This decision already has {open_count} open complaints; wait for "
                        "an answer before lodging another."
                    )
                review_id = (
                    (
                        await connection.execute(
                            select(review_tasks.c.review_id).where(
                                review_tasks.c.decision_id == decision.decision_id,
                                review_tasks.c.status != "decided",
                            )
                        )
                    )
                    .scalars()
                    .first()
                )
                if review_id is None:
                    review_id = str(uuid.uuid4())
                    dtype = self._policy.decision_type(decision.system_id, decision.decision_type)
                    await connection.execute(
                        review_tasks.insert().values(
                            review_id=review_id,
                            decision_id=decision.decision_id,
                            system_id=decision.system_id,
                            reason="complaint",
                            impact=dtype.effective_impact if dtype else "high",
                            four_eyes=dtype.needs_four_eyes if dtype else False,
                            status="pending",
                            created_at=now,
                            due_at=due,
                            complaint_id=complaint_id,
                        )
                    )
                await connection.execute(
                    complaints.insert().values(
                        complaint_id=complaint_id,
                        reference=reference,
                        decision_id=decision.decision_id,
                        system_id=decision.system_id,
                        message=body.message,
                        contact=body.contact,
                        status="open",
                        lodged_at=now,
                        due_at=due,
                        review_id=review_id,
                    )
                )
                head.add(
                    "complaint_lodged",
                    {
                        "complaint_id": complaint_id,
                        "reference": reference,
                        "decision_id": decision.decision_id,
                        "review_id": review_id,
                        "message": body.message,
                        "contact": body.contact,
                        "due_at": due.isoformat(),
                    },
                    at=now,
                    subject_ref=decision.decision_id,
                )
                await head.write(connection)
        self._metrics.complaints_lodged.labels(system=decision.system_id).inc()
        return ComplaintLodged(
            complaint_id=complaint_id,
            status="open",
            due_at=due,
            reference=reference,
            review_id=review_id,
        )

    async def view(self, complaint_id: str, receipt: str) -> ComplaintView:
        """The worker's view; a complaint shows only to the receipt of its decision."""
        with storage_errors("reading the complaint"):
            async with self._reader.connect() as connection:
                row = (
                    await connection.execute(
                        select(complaints)
                        .join(decisions, decisions.c.decision_id == complaints.c.decision_id)
                        .where(
                            complaints.c.complaint_id == complaint_id,
                            decisions.c.receipt_hash == receipt_hash(receipt),
                        )
                    )
                ).one_or_none()
        if row is None:
            raise NotFound("No complaint with this id belongs to this receipt.")
        return ComplaintView.model_validate(dict(row._mapping))

    async def list(
        self, principal: Principal, *, status: str | None = None, system_id: str | None = None
    ) -> list[ComplaintRecord]:
        visible = self._queue.visible_systems(principal, system_id)
        query = select(complaints).where(complaints.c.system_id.in_(visible))
        if status is not None:
            query = query.where(complaints.c.status == status)
        now = self._clock()
        with storage_errors("listing complaints"):
            async with self._reader.connect() as connection:
                rows = (await connection.execute(query.order_by(complaints.c.due_at))).all()
        return [_record(dict(row._mapping), now) for row in rows]

    async def answer(
        self, complaint_id: str, principal: Principal, body: ComplaintAnswerIn
    ) -> ComplaintRecord:
        now = self._clock()
        with storage_errors("answering the complaint"):
            async with self._engine.begin() as connection:
                row = (
                    await connection.execute(
                        select(complaints)
                        .where(complaints.c.complaint_id == complaint_id)
                        .with_for_update()
                    )
                ).one_or_none()
                if row is None:
                    raise NotFound(f"There is no complaint {complaint_id!r}.")
                self._queue.require_reviewer_of(principal, row.system_id)
                if row.status != "open":
                    raise Conflict(f"Complaint {row.reference} was already answered.")
                values = {
                    "status": "answered",
                    "answer": body.answer,
                    "outcome_changed": body.outcome_changed,
                    "answered_by": principal.name,
                    "answered_at": now,
                }
                await connection.execute(
                    update(complaints)
                    .where(complaints.c.complaint_id == complaint_id)
                    .values(**values)
                )
                await audit.append(
                    connection,
                    "complaint_answered",
                    {
                        "complaint_id": complaint_id,
                        "decision_id": row.decision_id,
                        "reviewer": principal.name,
                        "answer": body.answer,
                        "outcome_changed": body.outcome_changed,
                    },
                    at=now,
                    subject_ref=row.decision_id,
                )
        return _record({**dict(row._mapping), **values}, now)


def _record(data: dict[str, object], now: object) -> ComplaintRecord:
    record = ComplaintRecord.model_validate({**data, "overdue": False})
    record.overdue = record.status == "open" and record.due_at < now  # type: ignore[operator]
    return record
