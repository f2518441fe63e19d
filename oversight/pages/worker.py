"""The worker's page: no sign-in, the receipt is the credential. What was decided,
whether a person reviewed it, why, and what the worker can do: ask for a person to look
again, and follow the answer. Dutch or English; plain HTML, no JavaScript needed."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from oversight.errors import NotFound, OversightError, TooManyRequests
from oversight.pages.i18n import LANGUAGE_COOKIE, TEXT, language
from oversight.pages.sessions import check_token, form_token, keep_form_token, sent_form_token
from oversight.pages.templating import page
from oversight.schemas import ComplaintIn
from oversight.service import Oversight

router = APIRouter(prefix="/worker", include_in_schema=False)


def _page(
    request: Request, name: str, context: dict[str, object], *, status_code: int = 200
) -> Response:
    lang = language(request)
    token = form_token(request)
    response = page(
        request,
        name,
        {**context, "t": TEXT[lang], "lang": lang, "csrf": token, "path": request.url.path},
        status_code=status_code,
    )
    keep_form_token(response, token)
    if request.query_params.get("lang") == lang:
        response.set_cookie(
            LANGUAGE_COOKIE, lang, path="/worker", samesite="strict", secure=True, httponly=True
        )
    response.headers["Content-Language"] = lang
    return response


@router.get("")
async def lookup_page(request: Request) -> Response:
    return _page(request, "worker_lookup.html", {"error": None})


@router.post("")
async def lookup(request: Request, receipt: Annotated[str, Form(max_length=200)]) -> Response:
    receipt = receipt.strip()
    if not receipt:
        return _page(request, "worker_lookup.html", {"error": "not_found"}, status_code=404)
    return RedirectResponse(f"/worker/r/{quote(receipt, safe='')}", status_code=303)


@router.get("/r/{receipt}")
async def decision(request: Request, receipt: str) -> Response:
    oversight: Oversight = request.state.oversight
    try:
        explanation = await oversight.decisions.explain(receipt)
        complaints = [
            await oversight.complaints.view(complaint_id, receipt)
            for complaint_id in explanation.complaints
        ]
    except NotFound:
        return _page(request, "worker_lookup.html", {"error": "not_found"}, status_code=404)
    except OversightError as error:
        return _page(request, "worker_error.html", {"message": error.message}, status_code=503)
    largest = max((abs(f.contribution) for f in explanation.factors), default=0.0) or 1.0
    return _page(
        request,
        "worker_decision.html",
        {
            "e": explanation,
            # the API's summary starts with the status sentence the page already shows
            "why": explanation.summary.removeprefix(TEXT["en"][explanation.status]).strip(),
            "receipt": receipt,
            "complaints": complaints,
            "factors": [
                (f, round(10 * abs(f.contribution) / largest)) for f in explanation.factors
            ],
            "sent": request.query_params.get("sent"),
            "error": None,
        },
    )


@router.post("/r/{receipt}/complaints")
async def complain(
    request: Request,
    receipt: str,
    message: Annotated[str, Form(max_length=5000)] = "",
    contact: Annotated[str, Form(max_length=320)] = "",
    csrf: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    oversight: Oversight = request.state.oversight
    try:
        check_token(sent_form_token(request), csrf)
        body = ComplaintIn(
            receipt=receipt, message=message.strip(), contact=contact.strip() or None
        )
        lodged = await oversight.complaints.lodge(body)
    except ValidationError:
        return RedirectResponse(f"/worker/r/{quote(receipt, safe='')}#complaint", status_code=303)
    except NotFound:
        return _page(request, "worker_lookup.html", {"error": "not_found"}, status_code=404)
    except (TooManyRequests, OversightError) as error:
        return _page(
            request, "worker_error.html", {"message": error.message}, status_code=error.status_code
        )
    return RedirectResponse(
        f"/worker/r/{quote(receipt, safe='')}?sent={quote(lodged.reference)}", status_code=303
    )
