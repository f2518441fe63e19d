"""A small AI service for the proxy tests: scores candidates, and misbehaves on request.

Run: ``python -m uvicorn tests.upstream_app:app --port P``. It also receives outcome
webhooks at /callback, failing the first ``FAIL_FIRST`` deliveries of each id.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from fastapi import FastAPI, Request, Response

app = FastAPI()
received: dict[str, dict[str, Any]] = {}  # deduped by delivery id, as receivers should
attempts: dict[str, int] = {}
FAIL_FIRST = int(os.environ.get("UPSTREAM_FAIL_FIRST", "0"))


@app.post("/v1/score")
async def score(body: dict[str, Any]) -> dict[str, Any]:
    years = body.get("features", {}).get("years_experience", 0)
    contribution = round(0.2 * (years - 2), 3)
    return {
        "decision": "shortlist" if years >= 2 else "reject",
        "score": round(0.5 + contribution, 3),
        "explanation": {
            "method": "linear",
            "summary": "Years of experience weigh most.",
            "factors": [
                {"feature": "years_experience", "contribution": contribution, "value": years}
            ],
        },
    }


@app.post("/v1/advise")
async def advise(body: dict[str, Any]) -> dict[str, Any]:
    return {"decision": "reject", "note": "a recruiter reads this advice"}


@app.post("/v1/maybe")
async def maybe(body: dict[str, Any]) -> dict[str, Any]:
    return {"decision": "maybe-later"}


@app.post("/v1/emotion")
async def emotion(body: dict[str, Any]) -> dict[str, Any]:
    return {"stress": 0.8}


@app.post("/v1/roster")
async def roster(body: dict[str, Any]) -> dict[str, Any]:
    """Plans the shifts it is asked for (so a test can send a roster that cannot be read)."""
    return {"decision": "assigned", "plan": {"shifts": body["shifts"]}}


@app.post("/v1/slow")
async def slow(body: dict[str, Any]) -> dict[str, Any]:
    await asyncio.sleep(3)
    return {"decision": "shortlist"}


@app.post("/v1/broken")
async def broken() -> Response:
    return Response('{"error": "model not loaded"}', status_code=500, media_type="application/json")


@app.post("/v1/garbage")
async def garbage() -> Response:
    return Response("<html>not json</html>", media_type="text/html")


@app.get("/v1/echo")
async def echo(request: Request) -> dict[str, Any]:
    return {"headers": dict(request.headers), "query": str(request.query_params)}


@app.post("/callback")
async def callback(request: Request) -> Response:
    delivery = request.headers["x-oversight-delivery"]
    attempts[delivery] = attempts.get(delivery, 0) + 1
    if attempts[delivery] <= FAIL_FIRST:
        return Response(status_code=503)
    received.setdefault(
        delivery,
        {
            "signature": request.headers["x-oversight-signature"],
            "body": (await request.body()).decode(),
        },
    )
    return Response(status_code=204)


@app.get("/callbacks")
async def callbacks() -> dict[str, Any]:
    return {"received": received, "attempts": attempts}
