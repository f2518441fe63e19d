"""Complaints: lodged and followed by workers with their receipt, answered by reviewers."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from oversight.api.auth import AdminOrReviewer, OversightDep, Reviewer
from oversight.api.responses import AUTHED, BODY, errors
from oversight.schemas import (
    ComplaintAnswerIn,
    ComplaintIn,
    ComplaintLodged,
    ComplaintRecord,
    ComplaintStatus,
    ComplaintView,
)

router = APIRouter(tags=["complaints"])
ComplaintId = Annotated[str, Path(max_length=200)]


@router.post(
    "/v1/complaints",
    status_code=201,
    response_model=ComplaintLodged,
    responses=errors(*BODY, 404, 429, 503),
)
async def lodge(body: ComplaintIn, oversight: OversightDep) -> ComplaintLodged:
    """Ask for a person to look at a decision again. The receipt is the credential."""
    return await oversight.complaints.lodge(body)


@router.get("/v1/complaints", response_model=list[ComplaintRecord], responses=errors(*AUTHED))
async def list_complaints(
    principal: AdminOrReviewer,
    oversight: OversightDep,
    status: ComplaintStatus | None = None,
    system_id: Annotated[str | None, Query(max_length=200)] = None,
) -> list[ComplaintRecord]:
    return await oversight.complaints.list(principal, status=status, system_id=system_id)


@router.get(
    "/v1/complaints/{complaint_id}",
    response_model=ComplaintView,
    responses=errors(404, 503),
)
async def follow(
    complaint_id: ComplaintId,
    receipt: Annotated[str, Query(min_length=1, max_length=200)],
    oversight: OversightDep,
) -> ComplaintView:
    """The status and answer of a complaint, for the holder of the decision's receipt."""
    return await oversight.complaints.view(complaint_id, receipt)


@router.post(
    "/v1/complaints/{complaint_id}/answer",
    response_model=ComplaintRecord,
    responses=errors(*AUTHED, *BODY, 404, 409),
)
async def answer(
    complaint_id: ComplaintId,
    body: ComplaintAnswerIn,
    principal: Reviewer,
    oversight: OversightDep,
) -> ComplaintRecord:
    return await oversight.complaints.answer(complaint_id, principal, body)
