"""Bias reports per system (admins, the system's reviewers) and ground truth in (ingest)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from oversight.api.auth import AdminOrReviewer, Ingest, OversightDep
from oversight.api.responses import AUTHED, BODY, errors
from oversight.errors import NotFound, PermissionDenied
from oversight.schemas import LabelIn, LabelRecorded, SystemFairness

router = APIRouter()


@router.post(
    "/v1/decisions/{decision_id}/label",
    status_code=201,
    response_model=LabelRecorded,
    responses={
        200: {"model": LabelRecorded, "description": "The same label again"},
        **errors(*AUTHED, *BODY, 404, 409),
    },
    tags=["fairness"],
)
async def label_decision(
    decision_id: Annotated[str, Path(max_length=200)],
    label: LabelIn,
    principal: Ingest,
    oversight: OversightDep,
    response: Response,
) -> LabelRecorded:
    """Ground truth for a decision, once it is known (did the hire work out?), so the
    bias checks can compare error rates between groups. Written once; 409 if it differs."""
    recorded, created = await oversight.labels.record(decision_id, label, principal)
    if not created:
        response.status_code = 200
    return recorded


@router.get(
    "/v1/systems/{system_id}/fairness",
    response_model=SystemFairness,
    responses=errors(*AUTHED, 404),
    tags=["fairness"],
)
async def fairness_report(
    system_id: Annotated[str, Path(max_length=200)],
    principal: AdminOrReviewer,
    oversight: OversightDep,
) -> SystemFairness:
    """The bias report of each checked decision type: groups and intersections, the
    reference, rates with intervals, impact ratios and a verdict per group, and the open
    findings. Groups only: no person's protected attributes."""
    system = oversight.policy.systems.get(system_id)
    if system is None:
        raise NotFound(f"There is no system {system_id!r} in the policy.")
    if principal.role != "admin" and not oversight.policy.reviews(principal.name, system_id):
        raise PermissionDenied(f"Only admins and reviewers of {system_id!r} may read this.")
    await oversight.bias.refresh()
    return oversight.bias.system_fairness(system_id)
