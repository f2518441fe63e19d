"""Decisions as their readers see them: the record for admins and reviewers, the status
for the system that sent it, and the plain-language explanation for the worker."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from oversight.database import read_only, storage_errors
from oversight.errors import NotFound, PermissionDenied
from oversight.keys import Principal
from oversight.policy import Policy
from oversight.receipts import receipt_hash
from oversight.review import review_history
from oversight.schemas import DecisionRecord, ExplanationFactor, WorkerExplanation
from oversight.tables import complaints, decisions, protected_attributes, review_tasks

MAIN_FACTORS = 5
HOW_TO_COMPLAIN = (
    "If you think this decision is wrong or unfair, you can ask for a person to look at it "
    "again. Send a complaint with this receipt (POST /v1/complaints with your receipt and "
    "a message). You will get a reference and an answer by the due date."
)
_UNDER_REVIEW = (
    "A person is reviewing this decision. You will see the outcome here once it is decided."
)
_SUMMARY = {
    "released": "This decision was made with the help of an automated system.",
    "approved": "A person reviewed this decision and agreed with it.",
    "overridden": "A person reviewed this decision and changed it.",
    "rejected": "A person reviewed this decision and set it aside; it does not apply to you.",
    "blocked": "This decision was stopped by our checks and does not apply to you.",
}


class DecisionReader:
    def __init__(self, engine: AsyncEngine, *, policy: Policy) -> None:
        self._reader = read_only(engine)
        self._policy = policy

    async def get(self, decision_id: str, principal: Principal) -> DecisionRecord:
        with storage_errors("reading the decision"):
            async with self._reader.connect() as connection:
                row = (
                    await connection.execute(
                        select(decisions).where(decisions.c.decision_id == decision_id)
                    )
                ).one_or_none()
                if row is None:
                    raise NotFound(f"There is no decision {decision_id!r}.")
                data = dict(row._mapping)
                _check_can_read(principal, data, self._policy)
                task_ids = (
                    (
                        await connection.execute(
                            select(review_tasks.c.review_id).where(
                                review_tasks.c.decision_id == decision_id
                            )
                        )
                    )
                    .scalars()
                    .all()
                )
                history = await review_history(connection, task_ids)
                protected = None
                if principal.role == "admin":  # nobody else reads protected attributes
                    protected = await connection.scalar(
                        select(protected_attributes.c.attributes).where(
                            protected_attributes.c.decision_id == decision_id
                        )
                    )
        data["subject_ref"] = data.pop("subject_hash")
        data["reviews"] = history
        data["protected"] = protected
        return DecisionRecord.model_validate(data)

    async def explain(self, receipt: str) -> WorkerExplanation:
        with storage_errors("reading the explanation"):
            async with self._reader.connect() as connection:
                row = (
                    await connection.execute(
                        select(decisions).where(decisions.c.receipt_hash == receipt_hash(receipt))
                    )
                ).one_or_none()
                if row is None:
                    raise NotFound("No decision has this receipt. Check that it was copied whole.")
                complaint_ids = (
                    (
                        await connection.execute(
                            select(complaints.c.complaint_id)
                            .where(complaints.c.decision_id == row.decision_id)
                            .order_by(complaints.c.lodged_at)
                        )
                    )
                    .scalars()
                    .all()
                )
        return _worker_view(dict(row._mapping), list(complaint_ids))


def _check_can_read(principal: Principal, decision: dict[str, Any], policy: Policy) -> None:
    if principal.role == "admin":
        return
    if principal.role == "reviewer" and policy.reviews(principal.name, decision["system_id"]):
        return
    if principal.role == "ingest" and principal.name == decision["submitted_by"]:
        return
    raise PermissionDenied(
        "Only an admin, a reviewer of this system, or the ingest key that sent the decision "
        "may read it."
    )


def _worker_view(decision: dict[str, Any], complaint_ids: list[str]) -> WorkerExplanation:
    status = decision["status"]
    explanation = decision["explanation"] or {}
    factors = sorted(
        explanation.get("factors", []), key=lambda f: abs(f["contribution"]), reverse=True
    )[:MAIN_FACTORS]
    if status == "pending_review":
        summary, factors = _UNDER_REVIEW, []  # nothing that would hint at the proposal
    else:
        summary = " ".join(part for part in (_SUMMARY[status], explanation.get("summary")) if part)
    return WorkerExplanation(
        decision_id=decision["decision_id"],
        decision_type=decision["decision_type"],
        status=status,
        outcome=decision["final_outcome"],
        human_reviewed=status in ("approved", "overridden", "rejected"),
        summary=summary,
        factors=[ExplanationFactor.model_validate(f) for f in factors],
        how_to_complain=HOW_TO_COMPLAIN,
        complaints=complaint_ids,
    )
