"""The review queue over HTTP: list, claim, decide."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from oversight.api.auth import AdminOrReviewer, OversightDep, Reviewer
from oversight.api.responses import AUTHED, BODY, errors
from oversight.schemas import ReviewDecided, ReviewDecisionIn, ReviewTask, TaskStatus

router = APIRouter(tags=["reviews"])
ReviewId = Annotated[str, Path(max_length=200)]


@router.get("/v1/reviews", response_model=list[ReviewTask], responses=errors(*AUTHED))
async def list_reviews(
    principal: AdminOrReviewer,
    oversight: OversightDep,
    system_id: Annotated[str | None, Query(max_length=200)] = None,
    status: TaskStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[ReviewTask]:
    """Open tasks (or those of ``status``), earliest due first. Reviewers see only the
    systems they are registered for."""
    return await oversight.reviews.list(principal, system_id=system_id, status=status, limit=limit)


@router.post(
    "/v1/reviews/claim-next",
    response_model=ReviewTask,
    responses={204: {"description": "No task is free"}, **errors(*AUTHED)},
)
async def claim_next(
    principal: Reviewer,
    oversight: OversightDep,
    response: Response,
    system_id: Annotated[str | None, Query(max_length=200)] = None,
) -> ReviewTask | Response:
    """Claim the earliest-due task nobody holds; two reviewers never get the same one."""
    task = await oversight.reviews.claim_next(principal, system_id)
    if task is None:
        return Response(status_code=204)
    return task


@router.post(
    "/v1/reviews/{review_id}/claim",
    response_model=ReviewTask,
    responses=errors(*AUTHED, 404, 409),
)
async def claim(review_id: ReviewId, principal: Reviewer, oversight: OversightDep) -> ReviewTask:
    """Take a lease on the task (renewed when the holder claims again)."""
    return await oversight.reviews.claim(review_id, principal)


@router.post(
    "/v1/reviews/{review_id}/decide",
    response_model=ReviewDecided,
    responses=errors(*AUTHED, *BODY, 404, 409),
)
async def decide(
    review_id: ReviewId, body: ReviewDecisionIn, principal: Reviewer, oversight: OversightDep
) -> ReviewDecided:
    """Approve, override (with the new outcome) or reject, with a rationale."""
    return await oversight.reviews.decide(review_id, principal, body)
