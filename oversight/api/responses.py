"""The error responses each endpoint documents, so its OpenAPI schema tells the truth."""

from __future__ import annotations

from typing import Any

from oversight.schemas import ErrorBody

_DESCRIPTIONS = {
    400: "The body is not JSON",
    401: "No API key, or an unknown one",
    403: "The key's role or registration does not allow this",
    404: "Not found, or not visible to the caller",
    409: "Conflicts with the current state",
    413: "Request body too large",
    429: "Too many open complaints for this receipt",
    503: "The database is unavailable; nothing was written",
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": ErrorBody, "description": _DESCRIPTIONS[code]} for code in codes}


AUTHED = (401, 403, 503)
#: For endpoints that take a JSON body.
BODY = (400, 413)
