"""Decisions in (ingest), decisions read (admin, reviewer, sender), explanations (worker)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from oversight.api.auth import AnyRole, Ingest, OversightDep
from oversight.api.responses import AUTHED, BODY, errors
from oversight.schemas import DecisionAccepted, DecisionIn, DecisionRecord, WorkerExplanation

router = APIRouter()
DecisionId = Annotated[str, Path(max_length=200)]


@router.post(
    "/v1/decisions",
    status_code=201,
    response_model=DecisionAccepted,
    responses={
        200: {"model": DecisionAccepted, "description": "A replay of a recorded decision"},
        **errors(*AUTHED, *BODY, 409),
    },
    tags=["decisions"],
)
async def submit_decision(
    decision: DecisionIn, principal: Ingest, oversight: OversightDep, response: Response
) -> DecisionAccepted:
    """Record a decision durably, run the checks and route it.

    201 for a new decision; 200 with the same answer when the same ``decision_id`` and
    body come again; 409 when the id comes again with another body.
    """
    recorded = await oversight.submit(decision, submitted_by=principal.name)
    if not recorded.created:
        response.status_code = 200
    return recorded.accepted


@router.get(
    "/v1/decisions/{decision_id}",
    response_model=DecisionRecord,
    responses=errors(*AUTHED, 404),
    tags=["decisions"],
)
async def read_decision(
    decision_id: DecisionId, principal: AnyRole, oversight: OversightDep
) -> DecisionRecord:
    """The record, findings, reviews, status and the outcome in force (``final_outcome``)."""
    return await oversight.decisions.get(decision_id, principal)


@router.get(
    "/v1/explanations/{receipt}",
    response_model=WorkerExplanation,
    responses=errors(404, 503),
    tags=["workers"],
)
async def explain(
    receipt: Annotated[str, Path(max_length=200)], oversight: OversightDep
) -> WorkerExplanation:
    """What was decided about you, in plain words, and how to complain. The receipt is
    the credential: no key needed."""
    return await oversight.decisions.explain(receipt)
