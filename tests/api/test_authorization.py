"""Every endpoint against every kind of caller: the authorisation matrix."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Keys, decision

RATIONALE = "Checked against the original application file."
Who = str  # "none", "bad", "admin", "alice" (reviewer of the system), "mallory", "ingest"
CALLERS = ["none", "bad", "admin", "alice", "mallory", "ingest"]


def headers(keys: Keys, who: Who) -> dict[str, str]:
    if who == "none":
        return {}
    if who == "bad":
        return {"Authorization": "Bearer ovs_admin_not-a-real-key"}
    return keys.header(who)


def fresh(client: TestClient, keys: Keys) -> dict[str, Any]:
    """A held decision and a complaint about a released one, made anew for each call."""
    held = client.post("/v1/decisions", json=decision(), headers=keys.header("ingest")).json()
    released = client.post(
        "/v1/decisions", json=decision(decision_type="shortlist"), headers=keys.header("ingest")
    ).json()
    complaint = client.post(
        "/v1/complaints", json={"receipt": released["receipt"], "message": "please look"}
    ).json()
    return {"held": held, "released": released, "complaint": complaint}


def _decide(client: TestClient, keys: Keys, who: Who, state: dict[str, Any]) -> int:
    review_id = state["held"]["review_id"]
    if who == "alice":
        client.post(f"/v1/reviews/{review_id}/claim", headers=keys.header("alice"))
    response = client.post(
        f"/v1/reviews/{review_id}/decide",
        headers=headers(keys, who),
        json={"action": "reject", "rationale": RATIONALE},
    )
    return response.status_code


Call = Callable[[TestClient, Keys, Who, dict[str, Any]], int]
ENDPOINTS: dict[str, tuple[Call, dict[Who, int]]] = {
    "POST /v1/decisions": (
        lambda c, k, w, s: (
            c.post("/v1/decisions", json=decision(), headers=headers(k, w)).status_code
        ),
        {"admin": 403, "alice": 403, "mallory": 403, "ingest": 201},
    ),
    "GET /v1/decisions/{id}": (
        lambda c, k, w, s: (
            c.get(f"/v1/decisions/{s['held']['decision_id']}", headers=headers(k, w)).status_code
        ),
        {"admin": 200, "alice": 200, "mallory": 403, "ingest": 200},
    ),
    "GET /v1/reviews": (
        lambda c, k, w, s: c.get("/v1/reviews", headers=headers(k, w)).status_code,
        {"admin": 200, "alice": 200, "mallory": 200, "ingest": 403},
    ),
    "POST /v1/reviews/claim-next": (
        lambda c, k, w, s: c.post("/v1/reviews/claim-next", headers=headers(k, w)).status_code,
        {"admin": 403, "alice": 200, "mallory": 204, "ingest": 403},
    ),
    "POST /v1/reviews/{id}/claim": (
        lambda c, k, w, s: (
            c.post(f"/v1/reviews/{s['held']['review_id']}/claim", headers=headers(k, w)).status_code
        ),
        {"admin": 403, "alice": 200, "mallory": 403, "ingest": 403},
    ),
    "POST /v1/reviews/{id}/decide": (
        _decide,
        {"admin": 403, "alice": 200, "mallory": 403, "ingest": 403},
    ),
    "POST /v1/systems/{id}/halt": (
        lambda c, k, w, s: c.post("/v1/systems/rostering/halt", headers=headers(k, w)).status_code,
        {"admin": 200, "alice": 403, "mallory": 403, "ingest": 403},
    ),
    "POST /v1/systems/{id}/resume": (
        lambda c, k, w, s: (
            c.post("/v1/systems/rostering/resume", headers=headers(k, w)).status_code
        ),
        {"admin": 200, "alice": 403, "mallory": 403, "ingest": 403},
    ),
    "GET /v1/explanations/{receipt}": (
        lambda c, k, w, s: (
            c.get(f"/v1/explanations/{s['released']['receipt']}", headers=headers(k, w)).status_code
        ),
        dict.fromkeys(CALLERS, 200),
    ),
    "POST /v1/complaints": (
        lambda c, k, w, s: (
            c.post(
                "/v1/complaints",
                headers=headers(k, w),
                json={"receipt": s["released"]["receipt"], "message": "again"},
            ).status_code
        ),
        dict.fromkeys(CALLERS, 201),
    ),
    "GET /v1/complaints/{id}": (
        lambda c, k, w, s: (
            c.get(
                f"/v1/complaints/{s['complaint']['complaint_id']}",
                params={"receipt": s["released"]["receipt"]},
                headers=headers(k, w),
            ).status_code
        ),
        dict.fromkeys(CALLERS, 200),
    ),
    "GET /v1/complaints": (
        lambda c, k, w, s: c.get("/v1/complaints", headers=headers(k, w)).status_code,
        {"admin": 200, "alice": 200, "mallory": 200, "ingest": 403},
    ),
    "POST /v1/complaints/{id}/answer": (
        lambda c, k, w, s: (
            c.post(
                f"/v1/complaints/{s['complaint']['complaint_id']}/answer",
                headers=headers(k, w),
                json={"answer": "We looked again.", "outcome_changed": False},
            ).status_code
        ),
        {"admin": 403, "alice": 200, "mallory": 403, "ingest": 403},
    ),
    "POST /v1/decisions/{id}/label": (
        lambda c, k, w, s: (
            c.post(
                f"/v1/decisions/{s['held']['decision_id']}/label",
                headers=headers(k, w),
                json={"favourable": False},
            ).status_code
        ),
        {"admin": 403, "alice": 403, "mallory": 403, "ingest": 201},
    ),
    "GET /v1/systems/{id}/fairness": (
        lambda c, k, w, s: (
            c.get("/v1/systems/cv-screening/fairness", headers=headers(k, w)).status_code
        ),
        {"admin": 200, "alice": 200, "mallory": 403, "ingest": 403},
    ),
    "GET /v1/audit/verify": (
        lambda c, k, w, s: c.get("/v1/audit/verify", headers=headers(k, w)).status_code,
        {"admin": 200, "alice": 403, "mallory": 403, "ingest": 403},
    ),
    "GET /metrics": (
        lambda c, k, w, s: c.get("/metrics", headers=headers(k, w)).status_code,
        dict.fromkeys(CALLERS, 200),
    ),
    "GET /healthz": (
        lambda c, k, w, s: c.get("/healthz", headers=headers(k, w)).status_code,
        dict.fromkeys(CALLERS, 200),
    ),
    "GET /readyz": (
        lambda c, k, w, s: c.get("/readyz", headers=headers(k, w)).status_code,
        dict.fromkeys(CALLERS, 200),
    ),
}


def expected(endpoint: str, who: Who) -> int:
    by_caller = ENDPOINTS[endpoint][1]
    return by_caller.get(who, 401)  # no key or an unknown key: 401 wherever a key is needed


@pytest.mark.parametrize("endpoint", sorted(ENDPOINTS))
def test_authorization_matrix(client: TestClient, keys: Keys, endpoint: str) -> None:
    call = ENDPOINTS[endpoint][0]
    seen = {who: call(client, keys, who, fresh(client, keys)) for who in CALLERS}
    assert seen == {who: expected(endpoint, who) for who in CALLERS}


def test_matrix_covers_every_route(client: TestClient) -> None:
    routes = {
        f"{method} {path}"
        for path, item in client.get("/openapi.json").json()["paths"].items()
        for method in (m.upper() for m in item)
    }
    named = {e.replace("{id}", "{x}").replace("{receipt}", "{x}") for e in ENDPOINTS}
    normalised = {
        r.replace("{decision_id}", "{x}")
        .replace("{review_id}", "{x}")
        .replace("{system_id}", "{x}")
        .replace("{complaint_id}", "{x}")
        .replace("{receipt}", "{x}")
        for r in routes
    }
    assert normalised == named
