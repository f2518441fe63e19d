"""The admins' pages of the console: each system with its halt switch, review and
complaint statistics, the audit chain's state, and the concerns reviewers raised."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from oversight.database import read_only, storage_errors
from oversight.errors import OversightError, PermissionDenied
from oversight.metrics import FAST_APPROVAL_SECONDS
from oversight.pages.console import SignedIn, error_page, signed_in, to_login
from oversight.pages.sessions import check_token
from oversight.pages.templating import page
from oversight.service import Oversight
from oversight.tables import complaints, review_tasks, reviews, systems

router = APIRouter(prefix="/console/admin", include_in_schema=False)


@dataclass
class SystemStats:
    system_id: str
    purpose: str
    halted: bool = False
    halted_by: str | None = None
    open_tasks: int = 0
    overdue_tasks: int = 0
    actions: dict[str, int] = field(default_factory=dict)
    fast_approvals: int = 0
    complaints_open: int = 0
    complaints_overdue: int = 0
    complaints_answered: int = 0
    complaints_changed: int = 0

    @property
    def decided(self) -> int:
        return sum(self.actions.values())

    @property
    def override_rate(self) -> float | None:
        return self.actions.get("override", 0) / self.decided if self.decided else None


async def system_statistics(
    engine: AsyncEngine, oversight: Oversight, now: datetime
) -> list[SystemStats]:
    stats = {
        sid: SystemStats(sid, s.purpose) for sid, s in sorted(oversight.policy.systems.items())
    }
    with storage_errors("reading the statistics"):
        async with read_only(engine).connect() as connection:
            for sid, halted, by in await connection.execute(
                select(systems.c.system_id, systems.c.halted, systems.c.changed_by)
            ):
                if sid in stats:
                    stats[sid].halted, stats[sid].halted_by = halted, by if halted else None
            for sid, open_, overdue in await connection.execute(
                select(
                    review_tasks.c.system_id,
                    func.count(),
                    func.sum(case((review_tasks.c.due_at < now, 1), else_=0)),
                )
                .where(review_tasks.c.status != "decided")
                .group_by(review_tasks.c.system_id)
            ):
                if sid in stats:
                    stats[sid].open_tasks, stats[sid].overdue_tasks = open_, int(overdue or 0)
            for sid, action, count, fast in await connection.execute(
                select(
                    review_tasks.c.system_id,
                    reviews.c.action,
                    func.count(),
                    func.sum(case((reviews.c.seconds_on_task < FAST_APPROVAL_SECONDS, 1), else_=0)),
                )
                .join(review_tasks, review_tasks.c.review_id == reviews.c.review_id)
                .group_by(review_tasks.c.system_id, reviews.c.action)
            ):
                if sid in stats:
                    stats[sid].actions[action] = count
                    if action == "approve":
                        stats[sid].fast_approvals = int(fast or 0)
            for sid, status, count, overdue, changed in await connection.execute(
                select(
                    complaints.c.system_id,
                    complaints.c.status,
                    func.count(),
                    func.sum(case((complaints.c.due_at < now, 1), else_=0)),
                    func.sum(case((complaints.c.outcome_changed.is_(True), 1), else_=0)),
                ).group_by(complaints.c.system_id, complaints.c.status)
            ):
                if sid not in stats:
                    continue
                if status == "open":
                    stats[sid].complaints_open = count
                    stats[sid].complaints_overdue = int(overdue or 0)
                else:
                    stats[sid].complaints_answered = count
                    stats[sid].complaints_changed = int(changed or 0)
    return list(stats.values())


async def admin(request: Request) -> SignedIn | None:
    who = await signed_in(request)
    if who is not None and who.principal.role != "admin":
        raise PermissionDenied("These pages are for admins; sign in with an admin key.")
    return who


@router.get("")
async def overview(request: Request) -> Response:
    try:
        who = await admin(request)
        if who is None:
            return to_login()
        oversight: Oversight = request.state.oversight
        now = oversight.clock()
        stats = await system_statistics(oversight.engine, oversight, now)
        concerns = await oversight.concerns.recent()
    except OversightError as error:
        return error_page(request, error, await signed_in(request))
    return page(
        request,
        "console_admin.html",
        {
            "who": who,
            "csrf": who.session.csrf,
            "stats": stats,
            "concerns": concerns,
            "verify": request.query_params.get("verify"),
            "notice": request.query_params.get("notice"),
        },
    )


@router.post("/systems/{system_id}/{switch}")
async def halt_or_resume(
    request: Request,
    system_id: str,
    switch: str,
    csrf: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    try:
        who = await admin(request)
        if who is None:
            return to_login()
        check_token(who.session.csrf, csrf)
        if switch not in ("halt", "resume"):
            raise PermissionDenied("Use halt or resume.")
        oversight: Oversight = request.state.oversight
        await oversight.halt_switch.set(system_id, halted=switch == "halt", by=who.principal)
    except OversightError as error:
        return error_page(request, error, await signed_in(request))
    done = "halted: nothing of it is released" if switch == "halt" else "resumed"
    return RedirectResponse(f"/console/admin?notice={system_id} {done}.", status_code=303)


@router.post("/verify")
async def verify(request: Request, csrf: Annotated[str, Form(max_length=200)] = "") -> Response:
    try:
        who = await admin(request)
        if who is None:
            return to_login()
        check_token(who.session.csrf, csrf)
        oversight: Oversight = request.state.oversight
        result = await oversight.verify()
    except OversightError as error:
        return error_page(request, error, await signed_in(request))
    text = (
        f"intact: {result.entries} entries, head {result.head[:16]}…"
        if result.ok
        else f"BROKEN at entry {result.first_bad_entry}: {result.reason}"
    )
    return RedirectResponse(f"/console/admin?verify={text}", status_code=303)
