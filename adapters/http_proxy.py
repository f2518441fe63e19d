"""The HTTP reverse proxy: the sidecar in front of an AI service.

Requests the sidecar does not serve itself go to the upstream. When a request matches a
route, the upstream's answer becomes a decision that is recorded, checked and routed
before anything goes back to the caller:

- released: the upstream response, byte for byte, with ``X-Oversight-Decision-Id`` and
  ``X-Oversight-Receipt``;
- held, mode ``hold``: 202 ``{status: "pending_human_review", decision_id, review_id,
  receipt}``; the upstream answer is kept in the record, not shown;
- held, mode ``advisory``: the answer with ``X-Oversight-Status: pending_review``;
- blocked: 403 with the findings.

Upstream calls use one pooled ``aiohttp`` session: it measured about nine times the
throughput of httpx here (DESIGN.md, 'Measured facts').
"""

from __future__ import annotations

import json
import logging
import time
import zlib
from typing import Any

import aiohttp
from prometheus_client import Counter, Histogram
from starlette.types import Receive, Scope, Send

from adapters.routes import Route, Routes
from oversight.errors import InvalidRequest
from oversight.metrics import Metrics
from oversight.policy import Policy
from oversight.service import Oversight

logger = logging.getLogger(__name__)

#: RFC 9110 section 7.6.1: connection-specific headers never forwarded.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
        "proxy-connection",
    }
)
_NOT_FORWARDED_REQUEST = HOP_BY_HOP | {"host", "content-length"}
_NOT_FORWARDED_RESPONSE = HOP_BY_HOP | {"content-length", "date", "server"}
SUBMITTED_BY = "http-proxy"


class HttpProxy:
    """An ASGI app that forwards to ``upstream`` and oversees the routes' decisions."""

    def __init__(
        self, *, upstream: str, routes: Routes | None, metrics: Metrics, timeout_seconds: float
    ) -> None:
        self._upstream = upstream.rstrip("/")
        self._routes = routes
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._session: aiohttp.ClientSession | None = None
        self._requests = Counter(
            "oversight_proxy_requests",
            "Requests through the proxy, by route and result",
            ["route", "result"],
            registry=metrics.registry,
        )
        self._upstream_latency = Histogram(
            "oversight_proxy_upstream_seconds",
            "Time the upstream took to answer",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=metrics.registry,
        )

    def check_against(self, policy: Policy) -> None:
        """Refuse routes that name systems or decision types the policy lacks."""
        if self._routes is not None:
            self._routes.check_against(policy)

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(
            timeout=self._timeout,
            auto_decompress=False,  # pass bodies through byte for byte
            connector=aiohttp.TCPConnector(limit=200, keepalive_timeout=30),
            skip_auto_headers=("User-Agent", "Accept-Encoding"),
        )

    async def stop(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        oversight: Oversight = scope["state"]["oversight"]
        method, path = scope["method"], scope["path"]
        route = self._routes.find(method, path) if self._routes else None
        label = route.name if route else "unmatched"
        body = await _read_body(receive)
        started = time.perf_counter()
        try:
            status, headers, answer = await self._forward(scope, body)
        except TimeoutError:
            detail = f"The AI service did not answer within {self._timeout.total:g} s."
            await self._upstream_failed(
                oversight, send, 504, "upstream_timeout", label, path, detail
            )
            return
        except aiohttp.ClientError as exc:
            detail = (
                f"The AI service at {self._upstream} could not be reached ({type(exc).__name__})."
            )
            await self._upstream_failed(
                oversight, send, 502, "upstream_unreachable", label, path, detail
            )
            return
        self._upstream_latency.observe(time.perf_counter() - started)
        if route is None:
            self._requests.labels(route=label, result="passed_through").inc()
            await _send(send, status, headers, answer)
            return
        await self._oversee(oversight, route, body, status, headers, answer, send)

    async def _upstream_failed(
        self,
        oversight: Oversight,
        send: Send,
        status: int,
        kind: str,
        label: str,
        path: str,
        detail: str,
    ) -> None:
        """Count, record and answer an upstream that timed out or could not be reached."""
        self._requests.labels(route=label, result=kind).inc()
        await oversight.record_event(
            kind, {"route": label, "upstream": self._upstream, "path": path, "detail": detail}
        )
        await _send_json(send, status, {"error": kind, "detail": detail})

    async def _forward(self, scope: Scope, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        assert self._session is not None, "HttpProxy.start() was not awaited"
        query = scope.get("query_string", b"").decode("latin-1")
        url = self._upstream + scope["path"] + (f"?{query}" if query else "")
        incoming = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        named_in_connection = {
            token.strip().lower()
            for name, value in incoming
            if name.lower() == "connection"
            for token in value.split(",")
        }
        headers = [
            (name, value)
            for name, value in incoming
            if name.lower() not in _NOT_FORWARDED_REQUEST
            and name.lower() not in named_in_connection
        ]
        client = scope.get("client")
        forwarded_for = next((v for k, v in incoming if k.lower() == "x-forwarded-for"), None)
        if client:
            chain = f"{forwarded_for}, {client[0]}" if forwarded_for else client[0]
            headers = [(k, v) for k, v in headers if k.lower() != "x-forwarded-for"]
            headers.append(("X-Forwarded-For", chain))
        host = next((v for k, v in incoming if k.lower() == "host"), None)
        if host:
            headers.append(("X-Forwarded-Host", host))
        headers.append(("X-Forwarded-Proto", scope.get("scheme", "http")))
        async with self._session.request(
            scope["method"], url, data=body or None, headers=headers, allow_redirects=False
        ) as response:
            answer = await response.read()
            out = [
                (name, value)
                for name, value in response.headers.items()
                if name.lower() not in _NOT_FORWARDED_RESPONSE
            ]
            return response.status, out, answer

    async def _oversee(
        self,
        oversight: Oversight,
        route: Route,
        body: bytes,
        status: int,
        headers: list[tuple[str, str]],
        answer: bytes,
        send: Send,
    ) -> None:
        if status >= 400:
            self._requests.labels(route=route.name, result="upstream_error").inc()
            await oversight.record_event("upstream_error", {"route": route.name, "status": status})
            await _send(send, status, headers, answer)
            return
        try:
            request_json = json.loads(body) if body else None
            response_json = json.loads(_decoded(answer, headers))
            decision = route.decision(request_json, response_json)
            recorded = await oversight.submit(decision, submitted_by=SUBMITTED_BY)
        except (ValueError, zlib.error, InvalidRequest) as exc:
            # The caller did nothing wrong: the answer does not fit the route or the policy
            # (an unknown system, a roster in the context that cannot be read).
            message = exc.message if isinstance(exc, InvalidRequest) else str(exc)
            self._requests.labels(route=route.name, result="unparsable").inc()
            await oversight.record_event(
                "unparsable_response",
                {
                    "route": route.name,
                    "status": status,
                    "finding": {
                        "check": "unparsable_response",
                        "severity": "warning",
                        "message": message[:2000],
                    },
                },
            )
            await _send(send, status, headers, answer)
            return
        accepted = recorded.accepted
        ids = [
            ("X-Oversight-Decision-Id", accepted.decision_id),
            ("X-Oversight-Receipt", accepted.receipt),
        ]
        self._requests.labels(route=route.name, result=accepted.status).inc()
        if accepted.status == "released":
            await _send(send, status, headers + ids, answer)
        elif accepted.status == "blocked":
            await _send_json(
                send,
                403,
                {
                    "status": "blocked",
                    "decision_id": accepted.decision_id,
                    "findings": [f.model_dump() for f in accepted.findings],
                },
            )
        elif route.mode == "advisory":
            held = [("X-Oversight-Status", "pending_review")]
            if accepted.review_id:
                held.append(("X-Oversight-Review-Id", accepted.review_id))
            await _send(send, status, headers + ids + held, answer)
        else:
            await _send_json(
                send,
                202,
                {
                    "status": "pending_human_review",
                    "decision_id": accepted.decision_id,
                    "review_id": accepted.review_id,
                    "receipt": accepted.receipt,
                },
            )


def _decoded(answer: bytes, headers: list[tuple[str, str]]) -> bytes:
    encoding = next((v for k, v in headers if k.lower() == "content-encoding"), "identity")
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return answer
    if encoding in ("gzip", "x-gzip"):
        return zlib.decompress(answer, 16 + zlib.MAX_WBITS)
    if encoding == "deflate":
        return zlib.decompress(answer)
    raise ValueError(f"cannot read a response with Content-Encoding {encoding!r}")


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.request":
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                return b"".join(chunks)
        elif message["type"] == "http.disconnect":
            return b"".join(chunks)


async def _send(send: Send, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
    raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers]
    raw.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


async def _send_json(send: Send, status: int, content: dict[str, Any]) -> None:
    body = json.dumps(content).encode()
    await _send(send, status, [("content-type", "application/json")], body)
