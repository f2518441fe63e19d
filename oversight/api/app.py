"""``create_app``: the FastAPI application, its lifespan, error mapping and middleware."""

from __future__ import annotations

import gc
import re
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from oversight import plugins, server_secrets
from oversight.api import complaints, decisions, fairness, operations, reviews
from oversight.clock import Clock, utcnow
from oversight.database import storage_errors
from oversight.errors import (
    AuthenticationRequired,
    ConfigurationError,
    InvalidRequest,
    OversightError,
    PayloadTooLarge,
)
from oversight.keys import KeyStore
from oversight.metrics import Metrics
from oversight.pages import admin as admin_pages
from oversight.pages import console, worker
from oversight.pages.sessions import Sessions
from oversight.plugins import BackgroundService
from oversight.policy import Policy
from oversight.service import Oversight
from oversight.settings import Settings


def create_app(
    settings: Settings, *, policy: Policy | None = None, clock: Clock = utcnow
) -> FastAPI:
    """Build the sidecar's application; the database and policy open in its lifespan."""
    metrics = Metrics()
    proxy = _http_proxy(settings, metrics)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        async with Oversight.open(
            settings, policy=policy, metrics=metrics, clock=clock
        ) as oversight:
            keys = KeyStore(oversight.engine, cache_seconds=settings.key_cache_seconds)
            with storage_errors("reading the console session key"):
                session_key = await server_secrets.load_or_create(
                    oversight.engine, "session_key", settings.session_key
                )
            sessions = Sessions(session_key)
            services: list[BackgroundService] = []
            if proxy is not None:
                proxy.check_against(oversight.policy)
                services.append(proxy)
            if any(s.callback_url for s in oversight.policy.systems.values()):
                with storage_errors("reading the webhook secret"):
                    secret = await server_secrets.webhook_secret(
                        oversight.engine, settings.webhook_secret
                    )
                services.append(plugins.load(plugins.WEBHOOK_DELIVERY)(oversight, secret=secret))
            async with AsyncExitStack() as stack:
                for service in services:
                    await service.start()
                    stack.push_async_callback(service.stop)
                # What start-up made lives as long as the app: keep it out of every
                # later collection (a full one took 52 ms here, most of the p99 tail).
                gc.collect()
                gc.freeze()
                yield {"oversight": oversight, "keys": keys, "sessions": sessions}

    app = FastAPI(
        title="oversight",
        version="0.1.0",
        summary="Human oversight, audit and complaints around AI systems that manage people",
        lifespan=lifespan,
    )
    app.add_exception_handler(OversightError, _oversight_error)
    app.add_exception_handler(HTTPException, _http_error)
    routers = [
        module.router
        for module in (
            decisions, reviews, complaints, fairness, operations, console, admin_pages, worker,
        )
    ]  # fmt: skip
    for router in routers:
        app.include_router(router)
    if proxy is not None:
        # Whatever the sidecar does not serve itself goes to the AI service. Added
        # first, so it runs inside the body limit and the request metrics.
        served = [*app.routes, *(route for router in routers for route in router.routes)]
        app.add_middleware(ProxyUnserved, proxy=proxy, routes=served)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestMetrics, metrics=metrics)
    return app


def _http_proxy(settings: Settings, metrics: Metrics) -> Any:
    if settings.upstream is None:
        if settings.routes is not None:
            raise ConfigurationError("A routes file needs an upstream: add --upstream URL.")
        return None
    routes = None
    if settings.routes is not None:
        routes = plugins.load(plugins.LOAD_ROUTES)(settings.routes)
    return plugins.load(plugins.HTTP_PROXY)(
        upstream=settings.upstream,
        routes=routes,
        metrics=metrics,
        timeout_seconds=settings.upstream_timeout_seconds,
    )


def _error_code(error: OversightError) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", type(error).__name__).lower()


async def _oversight_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, OversightError)
    if isinstance(exc, InvalidRequest):
        # The same shape as a request-schema error, so clients parse one kind of 422.
        loc = ["body", exc.field] if exc.field else ["body"]
        return JSONResponse(
            {"detail": [{"loc": loc, "msg": exc.message, "type": _error_code(exc)}]},
            status_code=exc.status_code,
        )
    headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, AuthenticationRequired) else None
    return JSONResponse(
        {"error": _error_code(exc), "detail": exc.message},
        status_code=exc.status_code,
        headers=headers,
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    """Starlette's own errors (a body that is not JSON, an unknown path) in our error shape."""
    assert isinstance(exc, HTTPException)
    return JSONResponse(
        {
            "error": HTTPStatus(exc.status_code).phrase.lower().replace(" ", "_"),
            "detail": str(exc.detail),
        },
        status_code=exc.status_code,
        headers=exc.headers,
    )


class ProxyUnserved:
    """Send requests for paths the sidecar does not serve straight to the proxy.

    As the router's default the proxy was reached only after every API route had been
    tried, which was 18 % of the CPU of a passed-through request and 8 % of a recorded
    one. One regular expression made of all the routes' own decides instead. A path that
    differs from a route only by a trailing slash stays with the router, which redirects
    it, as before. (The included routers' routes are passed in: FastAPI keeps them
    apart from ``app.routes``.)
    """

    def __init__(self, app: ASGIApp, *, proxy: ASGIApp, routes: list[BaseRoute]) -> None:
        self.app = app
        self.proxy = proxy
        patterns = [
            # named groups would clash between routes; only the match matters here
            re.sub(r"\(\?P<\w+>", "(?:", route.path_regex.pattern)
            for route in routes
            if isinstance(route, Route)
        ]
        self.served = re.compile("|".join(f"(?:{pattern})" for pattern in patterns))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self._served(scope["path"]):
            await self.app(scope, receive, send)
            return
        try:
            await self.proxy(scope, receive, send)
        except OversightError as error:  # the database or the body limit said no
            await _send_error(send, error)

    def _served(self, path: str) -> bool:
        toggled = path[:-1] if path.endswith("/") else path + "/"
        return bool(self.served.match(path) or (path != "/" and self.served.match(toggled)))


class BodySizeLimit:
    """413 for request bodies over the limit, whether Content-Length says so or not."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = PayloadTooLarge(
            f"The request body is over {self.max_bytes // 1024} KiB; send less."
        )
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                await _send_error(send, too_large)
                return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise too_large
            return message

        await self.app(scope, limited_receive, send)


async def _send_error(send: Send, error: OversightError) -> None:
    response = JSONResponse(
        {"error": _error_code(error), "detail": error.message}, status_code=error.status_code
    )
    await send(
        {
            "type": "http.response.start",
            "status": response.status_code,
            "headers": response.raw_headers,
        }
    )
    await send({"type": "http.response.body", "body": response.body})


class RequestMetrics:
    """HTTP latency by method, route template and status."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", "unmatched")
            self.metrics.http_latency.labels(
                method=scope["method"], route=template, status=str(status)
            ).observe(time.perf_counter() - started)
