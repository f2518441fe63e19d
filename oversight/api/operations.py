"""Operating the sidecar: the halt switch, audit verification, metrics, health."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST

from oversight.api.auth import Admin, OversightDep
from oversight.api.responses import AUTHED, errors
from oversight.database import storage_errors
from oversight.schemas import HaltState, VerifyReport

router = APIRouter()
SystemId = Annotated[str, Path(max_length=200)]


@router.post(
    "/v1/systems/{system_id}/halt",
    response_model=HaltState,
    responses=errors(*AUTHED, 404),
    tags=["systems"],
)
async def halt(system_id: SystemId, principal: Admin, oversight: OversightDep) -> HaltState:
    """Stop releasing this system's decisions: every new one waits for a human."""
    return await oversight.halt_switch.set(system_id, halted=True, by=principal)


@router.post(
    "/v1/systems/{system_id}/resume",
    response_model=HaltState,
    responses=errors(*AUTHED, 404),
    tags=["systems"],
)
async def resume(system_id: SystemId, principal: Admin, oversight: OversightDep) -> HaltState:
    return await oversight.halt_switch.set(system_id, halted=False, by=principal)


@router.get(
    "/v1/audit/verify", response_model=VerifyReport, responses=errors(*AUTHED), tags=["audit"]
)
async def verify(principal: Admin, oversight: OversightDep) -> VerifyReport:
    """Walk the hash chain; ``first_bad_entry`` names where it breaks."""
    result = await oversight.verify()
    return VerifyReport(
        ok=result.ok,
        entries=result.entries,
        head=result.head,
        first_bad_entry=result.first_bad_entry,
        reason=result.reason,
    )


@router.get(
    "/metrics", response_class=PlainTextResponse, responses=errors(503), tags=["operations"]
)
async def metrics(oversight: OversightDep) -> PlainTextResponse:
    with storage_errors("reading the metrics"):
        await oversight.metrics.refresh(
            oversight.reader, list(oversight.policy.systems), oversight.clock()
        )
    return PlainTextResponse(oversight.metrics.render(), media_type=CONTENT_TYPE_LATEST)


@router.get("/healthz", tags=["operations"])
async def healthz() -> dict[str, str]:
    """The process answers (liveness)."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    tags=["operations"],
    responses={503: {"description": "The database does not answer"}},
)
async def readyz(oversight: OversightDep) -> JSONResponse:
    """The database answers (readiness)."""
    if await oversight.is_ready():
        return JSONResponse({"status": "ready"})
    return JSONResponse({"status": "database unavailable"}, status_code=503)
