"""Who is calling: bearer API keys with a role; the worker's receipt needs no key."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from oversight.database import storage_errors
from oversight.errors import AuthenticationRequired, PermissionDenied
from oversight.keys import KeyStore, Principal, Role
from oversight.service import Oversight

_bearer = HTTPBearer(auto_error=False, description="An API key from `oversight keys create`")


async def get_oversight(request: Request) -> Oversight:
    """Async on purpose: FastAPI runs a plain ``def`` dependency in a thread pool."""
    oversight: Oversight = request.state.oversight
    return oversight


def require(*roles: Role) -> Callable[..., Awaitable[Principal]]:
    """A dependency that admits keys of the given roles: 401 without a key, 403 for others."""

    async def principal(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Principal:
        if credentials is None:
            raise AuthenticationRequired(
                "This needs an API key: send 'Authorization: Bearer <key>'."
            )
        keys: KeyStore = request.state.keys
        with storage_errors("checking the API key"):
            found = await keys.principal(credentials.credentials)
        if found is None:
            raise AuthenticationRequired("The API key is not known or was revoked.")
        if found.role not in roles:
            raise PermissionDenied(
                f"This needs a key with the role {' or '.join(roles)}; this key is {found.role}."
            )
        return found

    return principal


OversightDep = Annotated[Oversight, Depends(get_oversight)]
Admin = Annotated[Principal, Depends(require("admin"))]
Reviewer = Annotated[Principal, Depends(require("reviewer"))]
Ingest = Annotated[Principal, Depends(require("ingest"))]
AdminOrReviewer = Annotated[Principal, Depends(require("admin", "reviewer"))]
AnyRole = Annotated[Principal, Depends(require("admin", "reviewer", "ingest"))]
