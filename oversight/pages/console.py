"""The reviewers' console: sign in with a reviewer key, work the queue, decide.

Every form carries the session's CSRF token; every action goes through the same
``ReviewQueue`` as the API, so the rules (claims, four eyes, rationale) and the audit log
are the same. The decision page gives what the SER asks a reviewer to have: the
system's purpose and known limits, the explanation, the findings in plain words, earlier
reviews and complaints, the reviewer's own workload, and a way to raise a concern.
"""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from pydantic import JsonValue, ValidationError

from oversight.automation_bias import record_warning_shown, review_habit
from oversight.concerns import ConcernIn
from oversight.errors import OversightError
from oversight.keys import KeyStore, Principal
from oversight.pages.sessions import (
    Session,
    Sessions,
    check_token,
    form_token,
    keep_form_token,
    sent_form_token,
)
from oversight.pages.templating import HERE, page
from oversight.review import MIN_RATIONALE
from oversight.schemas import ReviewDecisionIn
from oversight.service import Oversight

router = APIRouter(prefix="/console", include_in_schema=False)

#: Findings in words a reviewer reads at a glance.
CHECK_NAMES = {
    "missing_explanation": "No explanation came with this decision",
    "prohibited_system": "Prohibited AI practice",
    "bias": "Bias check",
    "intensity": "Working time and pace",
    "prohibited_input": "Prohibited input",
    "prohibited_input_exception": "Declared exception for sensitive input",
}


class SignedIn:
    """The signed-in principal of a request, or why there is none."""

    def __init__(self, session: Session, principal: Principal) -> None:
        self.session = session
        self.principal = principal


async def signed_in(request: Request) -> SignedIn | None:
    sessions: Sessions = request.state.sessions
    session = sessions.read(request)
    if session is None:
        return None
    keys: KeyStore = request.state.keys
    principal = await keys.principal_by_digest(session.key_digest)
    if principal is None or principal.role not in ("reviewer", "admin"):
        return None
    return SignedIn(session, principal)


def to_login() -> RedirectResponse:
    return RedirectResponse("/console/login", status_code=303)


def error_page(request: Request, error: OversightError, who: SignedIn | None) -> Response:
    return page(
        request,
        "console_error.html",
        {"message": error.message, "who": who},
        status_code=error.status_code,
    )


@router.get("/static/oversight.css")
async def stylesheet() -> FileResponse:
    return FileResponse(HERE / "static" / "oversight.css", media_type="text/css")


@router.get("/login")
async def login_page(request: Request) -> Response:
    return login_form(request, error=None)


def login_form(request: Request, *, error: str | None, status_code: int = 200) -> Response:
    token = form_token(request)
    response = page(
        request,
        "console_login.html",
        {"csrf": token, "error": error, "who": None},
        status_code=status_code,
    )
    keep_form_token(response, token)
    return response


@router.post("/login")
async def login(
    request: Request,
    api_key: Annotated[str, Form(max_length=500)],
    csrf: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    try:
        check_token(sent_form_token(request), csrf)
    except OversightError as error:
        return error_page(request, error, None)
    keys: KeyStore = request.state.keys
    principal = await keys.principal(api_key.strip())
    if principal is None or principal.role not in ("reviewer", "admin"):
        message = "This key is not known, was revoked, or is not a reviewer's or admin's key."
        return login_form(request, error=message, status_code=401)
    response = RedirectResponse("/console", status_code=303)
    sessions: Sessions = request.state.sessions
    sessions.start(response, key=api_key.strip(), name=principal.name, role=principal.role)
    return response


@router.post("/logout")
async def logout(request: Request, csrf: Annotated[str, Form(max_length=200)] = "") -> Response:
    who = await signed_in(request)
    if who is None:
        return to_login()
    try:
        check_token(who.session.csrf, csrf)
    except OversightError as error:
        return error_page(request, error, who)
    response = to_login()
    Sessions.end(response)
    return response


@router.get("")
async def queue(request: Request) -> Response:
    who = await signed_in(request)
    if who is None:
        return to_login()
    oversight: Oversight = request.state.oversight
    try:
        tasks = await oversight.reviews.list(who.principal, limit=500)
        habit = await review_habit(oversight.engine, who.principal.name, oversight.clock())
    except OversightError as error:
        return error_page(request, error, who)
    tasks.sort(key=lambda t: (not t.overdue, t.due_at))
    return page(
        request,
        "console_queue.html",
        {
            "who": who,
            "csrf": who.session.csrf,
            "tasks": tasks,
            "habit": habit,
            "check_names": CHECK_NAMES,
            "systems": oversight.reviews.visible_systems(who.principal, None),
            "notice": request.query_params.get("notice"),
        },
    )


@router.get("/reviews/{review_id}")
async def decision_page(request: Request, review_id: str) -> Response:
    who = await signed_in(request)
    if who is None:
        return to_login()
    oversight: Oversight = request.state.oversight
    try:
        task = await oversight.reviews.get(review_id, who.principal)
        record = await oversight.decisions.get(task.decision_id, who.principal)
        complaints = [
            c
            for c in await oversight.complaints.list(who.principal, system_id=task.system_id)
            if c.decision_id == task.decision_id
        ]
        habit = await review_habit(oversight.engine, who.principal.name, oversight.clock())
        warn = habit.rubber_stamp_risk and task.status != "decided"
        if warn:
            await record_warning_shown(
                oversight.engine, who.principal.name, review_id, habit, oversight.clock()
            )
    except OversightError as error:
        return error_page(request, error, who)
    factors = sorted(
        record.explanation.factors if record.explanation else [],
        key=lambda f: abs(f.contribution),
        reverse=True,
    )
    largest = max((abs(f.contribution) for f in factors), default=0.0) or 1.0
    system = oversight.policy.systems[task.system_id]
    return page(
        request,
        "console_decision.html",
        {
            "who": who,
            "csrf": who.session.csrf,
            "task": task,
            "record": record,
            "system": system,
            "factors": [(f, round(10 * abs(f.contribution) / largest)) for f in factors],
            "complaints": complaints,
            "habit": habit,
            "warn": warn,
            "check_names": CHECK_NAMES,
            "min_rationale": MIN_RATIONALE,
            "claimed_by_me": task.claimed_by == who.principal.name,
            "error": request.query_params.get("error"),
        },
    )


@router.post("/reviews/{review_id}/claim")
async def claim(
    request: Request, review_id: str, csrf: Annotated[str, Form(max_length=200)] = ""
) -> Response:
    who = await signed_in(request)
    if who is None:
        return to_login()
    oversight: Oversight = request.state.oversight
    try:
        check_token(who.session.csrf, csrf)
        await oversight.reviews.claim(review_id, who.principal)
    except OversightError as error:
        return error_page(request, error, who)
    return RedirectResponse(f"/console/reviews/{review_id}", status_code=303)


@router.post("/reviews/{review_id}/decide")
async def decide(
    request: Request,
    review_id: str,
    action: Annotated[str, Form(max_length=20)],
    rationale: Annotated[str, Form(max_length=10_000)] = "",
    outcome: Annotated[str, Form(max_length=10_000)] = "",
    csrf: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    who = await signed_in(request)
    if who is None:
        return to_login()
    oversight: Oversight = request.state.oversight
    try:
        check_token(who.session.csrf, csrf)
        if len(rationale.strip()) < MIN_RATIONALE:
            return RedirectResponse(
                f"/console/reviews/{review_id}?error=rationale", status_code=303
            )
        body = ReviewDecisionIn(
            action=action,  # type: ignore[arg-type]
            outcome=_outcome(outcome) if action == "override" else None,
            rationale=rationale.strip(),
        )
        decided = await oversight.reviews.decide(review_id, who.principal, body)
    except ValidationError:
        return RedirectResponse(f"/console/reviews/{review_id}?error=action", status_code=303)
    except OversightError as error:
        return error_page(request, error, who)
    notice = (
        "Recorded. A second reviewer must now confirm it (four eyes)."
        if decided.status == "awaiting_second_review"
        else f"Recorded: the decision is now {decided.decision_status}."
    )
    return RedirectResponse(f"/console?notice={notice}", status_code=303)


def _outcome(text: str) -> JsonValue:
    """What the reviewer typed: JSON if it is JSON (``{"shift": "early"}``, ``3``), else
    the text itself (``shortlist``)."""
    text = text.strip()
    if not text:
        return None
    try:
        value: JsonValue = json.loads(text)
    except ValueError:
        return text
    return value


@router.post("/concerns")
async def raise_concern(
    request: Request,
    message: Annotated[str, Form(max_length=5000)],
    system_id: Annotated[str, Form(max_length=200)] = "",
    decision_id: Annotated[str, Form(max_length=200)] = "",
    anonymous: Annotated[str, Form(max_length=10)] = "",
    csrf: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    who = await signed_in(request)
    if who is None:
        return to_login()
    oversight: Oversight = request.state.oversight
    try:
        check_token(who.session.csrf, csrf)
        body = ConcernIn(
            message=message,
            system_id=system_id or None,
            decision_id=decision_id or None,
            anonymous=bool(anonymous),
        )
        await oversight.concerns.raise_concern(body, who.principal)
    except ValidationError:
        return RedirectResponse(
            "/console?notice=A concern needs at least 10 characters.", status_code=303
        )
    except OversightError as error:
        return error_page(request, error, who)
    said = "without your name" if body.anonymous else "with your name"
    return RedirectResponse(
        f"/console?notice=Your concern reached the admins ({said}).", status_code=303
    )
