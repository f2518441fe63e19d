"""The AI service the proxy benchmark puts the sidecar in front of (bench/proxy.py).

A small FastAPI app: ``POST /v1/score`` answers with a decision, a score and a 3-factor
explanation, computed from the request's features (deterministic, no I/O, no sleep).
``POST /v1/score-unrouted`` gives the same answer on a path the benchmark's routes file
does not list, so the sidecar passes it through without recording a decision: the
proxy hop alone.

    cd /work/main && .venv/bin/python -m uvicorn --app-dir bench upstream:app \\
        --host 127.0.0.1 --port 9000 --log-level warning

The body is read and written with ``json`` rather than through pydantic models, so the
upstream costs little CPU and the benchmark shows the sidecar's cost, not the model's.
``UPSTREAM_WORK_MS`` (default 0) adds that much CPU work to each answer, a stand-in for
a model's inference (bench/proxy.py --upstream-work-ms).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from typing import Any

from fastapi import FastAPI, Request, Response

app = FastAPI(title="bench upstream", openapi_url=None, docs_url=None, redoc_url=None)

WORK_SECONDS = float(os.environ.get("UPSTREAM_WORK_MS", "0")) / 1000
WEIGHTS = (("years_experience", 0.04), ("forklift_cert", 0.12), ("distance_km", -0.004))


def score(features: dict[str, Any]) -> dict[str, Any]:
    factors = []
    total = 0.3
    for name, weight in WEIGHTS:
        value = features.get(name, 0)
        contribution = round(weight * float(value), 4)
        total += contribution
        factors.append({"feature": name, "contribution": contribution, "value": value})
    total = round(min(1.0, max(0.0, total)), 4)
    return {
        "decision": "shortlist" if total >= 0.5 else "hold",
        "score": total,
        "model_version": "bench-linear-1",
        "explanation": {
            "method": "linear",
            "summary": "Years of relevant experience and certificates weighed most.",
            "factors": factors,
        },
    }


def work(seconds: float) -> None:
    """Busy CPU for ``seconds`` (hashing; blocks the event loop as inference would)."""
    deadline = time.perf_counter() + seconds
    digest = b"model"
    while time.perf_counter() < deadline:
        for _ in range(50):
            digest = hashlib.sha256(digest).digest()


async def _answer(request: Request) -> Response:
    body = json.loads(await request.body())
    if WORK_SECONDS:
        work(WORK_SECONDS)
    content = json.dumps(score(body.get("features") or {}), separators=(",", ":"))
    return Response(content=content.encode(), media_type="application/json")


@app.post("/v1/score")
async def score_route(request: Request) -> Response:
    return await _answer(request)


@app.post("/v1/score-unrouted")
async def score_unrouted(request: Request) -> Response:
    return await _answer(request)


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}
