"""``OversightClient``: the sidecar's API from Python, sync and async (httpx).

Errors come back as the same ``OversightError`` classes the server raised, chosen by
status code, with the server's message.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

import httpx

from oversight.errors import (
    AuthenticationRequired,
    Conflict,
    InvalidRequest,
    NotFound,
    OversightError,
    PayloadTooLarge,
    PermissionDenied,
    SidecarUnreachable,
    StorageUnavailable,
    TooManyRequests,
)
from oversight.schemas import DecisionAccepted, DecisionIn, DecisionRecord

_BY_STATUS: dict[int, type[OversightError]] = {
    401: AuthenticationRequired,
    403: PermissionDenied,
    404: NotFound,
    409: Conflict,
    413: PayloadTooLarge,
    422: InvalidRequest,
    429: TooManyRequests,
    503: StorageUnavailable,
}


def _decision_body(decision: DecisionIn | dict[str, Any]) -> dict[str, Any]:
    model = decision if isinstance(decision, DecisionIn) else DecisionIn.model_validate(decision)
    return model.model_dump(mode="json", exclude_none=True)


def _raise_for(response: httpx.Response) -> None:
    if response.is_success:
        return
    try:
        body = response.json()
        detail = body.get("detail", body)
    except ValueError:
        detail = response.text[:500]
    if isinstance(detail, list):  # a validation error: name the fields
        detail = "; ".join(
            f"{'.'.join(map(str, d.get('loc', [])))}: {d.get('msg')}" for d in detail
        )
    error = _BY_STATUS.get(response.status_code, SidecarUnreachable)
    raise error(
        f"{response.request.method} {response.request.url.path} "
        f"answered {response.status_code}: {detail}"
    )


class OversightClient:
    """Posts decisions and reads them back. Use it as a (async) context manager, or call
    ``close``/``aclose``; connections are pooled."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
        async_transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        headers = {"Authorization": f"Bearer {api_key}"}
        self._sync = httpx.Client(
            base_url=base_url,
            headers=headers,
            timeout=timeout,
            transport=transport or httpx.HTTPTransport(retries=2),
        )
        self._async = httpx.AsyncClient(
            base_url=base_url,
            headers=headers,
            timeout=timeout,
            transport=async_transport or httpx.AsyncHTTPTransport(retries=2),
        )

    def __repr__(self) -> str:
        return f"OversightClient(base_url={str(self._sync.base_url)!r}, api_key=***)"

    def submit(self, decision: DecisionIn | dict[str, Any]) -> DecisionAccepted:
        """Record a decision; the answer says released, pending_review or blocked."""
        response = self._send(
            lambda: self._sync.post("/v1/decisions", json=_decision_body(decision))
        )
        return DecisionAccepted.model_validate(response.json())

    async def submit_async(self, decision: DecisionIn | dict[str, Any]) -> DecisionAccepted:
        try:
            response = await self._async.post("/v1/decisions", json=_decision_body(decision))
        except httpx.TransportError as exc:
            raise _unreachable(exc) from exc
        _raise_for(response)
        return DecisionAccepted.model_validate(response.json())

    def decision(self, decision_id: str) -> DecisionRecord:
        """The decision's status and ``final_outcome``, for systems that poll."""
        response = self._send(lambda: self._sync.get(f"/v1/decisions/{decision_id}"))
        return DecisionRecord.model_validate(response.json())

    async def decision_async(self, decision_id: str) -> DecisionRecord:
        try:
            response = await self._async.get(f"/v1/decisions/{decision_id}")
        except httpx.TransportError as exc:
            raise _unreachable(exc) from exc
        _raise_for(response)
        return DecisionRecord.model_validate(response.json())

    def _send(self, call: Any) -> httpx.Response:
        try:
            response: httpx.Response = call()
        except httpx.TransportError as exc:
            raise _unreachable(exc) from exc
        _raise_for(response)
        return response

    def close(self) -> None:
        self._sync.close()

    async def aclose(self) -> None:
        await self._async.aclose()
        self._sync.close()

    def __enter__(self) -> OversightClient:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    async def __aenter__(self) -> OversightClient:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()


def _unreachable(exc: httpx.TransportError) -> SidecarUnreachable:
    return SidecarUnreachable(
        f"The oversight sidecar could not be reached ({type(exc).__name__}: {exc}); "
        "the decision is not known to be recorded: send it again with the same decision_id."
    )
