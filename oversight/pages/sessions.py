"""Console sign-in: a signed, HttpOnly, Secure, SameSite=Strict session cookie, and the
CSRF tokens every form carries.

The cookie holds the key's SHA-256 (never the key), the principal and a CSRF token,
signed with a server secret and valid for ``max_age`` seconds; each request looks the key
up again, so a revoked key ends its sessions. Forms before sign-in (the login form, the
worker's complaint form) use a double-submit token: a cookie that a page of another site
can neither read nor send (SameSite=Strict), repeated in the form.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import Response

from oversight.errors import PermissionDenied

SESSION_COOKIE = "oversight_console"
FORM_COOKIE = "oversight_form"


@dataclass(frozen=True)
class Session:
    key_digest: str
    name: str
    role: str
    csrf: str


class Sessions:
    def __init__(self, secret: bytes, *, max_age_seconds: int = 8 * 3600) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt="oversight-console")
        self._max_age = max_age_seconds

    def start(self, response: Response, *, key: str, name: str, role: str) -> None:
        value = {
            "k": hashlib.sha256(key.encode("utf-8")).hexdigest(),
            "n": name,
            "r": role,
            "c": secrets.token_urlsafe(24),
        }
        response.set_cookie(
            SESSION_COOKIE,
            self._serializer.dumps(value),
            max_age=self._max_age,
            path="/",
            secure=True,
            httponly=True,
            samesite="strict",
        )

    def read(self, request: Request) -> Session | None:
        raw = request.cookies.get(SESSION_COOKIE)
        if not raw:
            return None
        try:
            value = self._serializer.loads(raw, max_age=self._max_age)
        except BadSignature:
            return None
        return Session(key_digest=value["k"], name=value["n"], role=value["r"], csrf=value["c"])

    @staticmethod
    def end(response: Response) -> None:
        response.delete_cookie(
            SESSION_COOKIE, path="/", secure=True, httponly=True, samesite="strict"
        )


def form_token(request: Request) -> str:
    """The double-submit token for a form shown before sign-in: the cookie's, or a new
    one (``keep_form_token`` sets it on the page that shows the form)."""
    return request.cookies.get(FORM_COOKIE) or secrets.token_urlsafe(24)


def keep_form_token(response: Response, token: str) -> None:
    response.set_cookie(FORM_COOKIE, token, path="/", secure=True, httponly=True, samesite="strict")


def sent_form_token(request: Request) -> str | None:
    return request.cookies.get(FORM_COOKIE)


def check_token(expected: str | None, sent: str | None) -> None:
    """Refuse a form whose CSRF token is missing or wrong (403)."""
    if not expected or not sent or not hmac.compare_digest(expected, sent):
        raise PermissionDenied(
            "This form is out of date or did not come from this site (CSRF check). "
            "Go back, reload the page and send it again."
        )
