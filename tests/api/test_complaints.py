"""The worker's side: explanations by receipt, complaints, answers, fresh reviews."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import FakeClock, Keys, decision


def post(client: TestClient, keys: Keys, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = client.post(
        "/v1/decisions", json=decision(**overrides), headers=keys.header("ingest")
    ).json()
    return body


def test_explanation_of_a_released_decision(client: TestClient, keys: Keys) -> None:
    d = post(client, keys, decision_type="shortlist", outcome="shortlist")
    response = client.get(f"/v1/explanations/{d['receipt']}")
    assert response.status_code == 200
    body = response.json()
    assert body["outcome"] == "shortlist"
    assert body["status"] == "released"
    assert body["human_reviewed"] is False
    assert "Few years of relevant experience." in body["summary"]
    assert [f["feature"] for f in body["factors"]] == [
        "years_experience",
        "certificates",
        "distance_km",
    ]
    assert "complaint" in body["how_to_complain"]


def test_pending_decision_shows_no_proposed_outcome(client: TestClient, keys: Keys) -> None:
    d = post(client, keys)
    body = client.get(f"/v1/explanations/{d['receipt']}").json()
    assert body["outcome"] is None
    assert body["factors"] == []
    assert "person is reviewing" in body["summary"]


def test_unknown_receipt_is_404(client: TestClient) -> None:
    assert client.get("/v1/explanations/rcpt_guess").status_code == 404
    response = client.post("/v1/complaints", json={"receipt": "rcpt_guess", "message": "hi"})
    assert response.status_code == 404


def test_complaint_opens_a_review_and_gets_an_answer(
    client: TestClient, keys: Keys, clock: FakeClock
) -> None:
    d = post(client, keys, decision_id="c1", decision_type="shortlist", outcome="no")
    lodged = client.post(
        "/v1/complaints",
        json={"receipt": d["receipt"], "message": "My certificates were not counted."},
    )
    assert lodged.status_code == 201
    complaint = lodged.json()
    assert complaint["status"] == "open"
    assert complaint["reference"].startswith("C-")
    assert complaint["due_at"].startswith("2026-12-11")  # 14 days
    tasks = client.get("/v1/reviews", headers=keys.header("alice")).json()
    assert [t["reason"] for t in tasks] == ["complaint"]
    review_id = tasks[0]["review_id"]

    client.post(f"/v1/reviews/{review_id}/claim", headers=keys.header("alice"))
    client.post(
        f"/v1/reviews/{review_id}/decide",
        headers=keys.header("alice"),
        json={
            "action": "override",
            "outcome": "yes",
            "rationale": "Two certificates were missed by the parser.",
        },
    )
    answer = client.post(
        f"/v1/complaints/{complaint['complaint_id']}/answer",
        headers=keys.header("alice"),
        json={"answer": "We looked again and changed the decision.", "outcome_changed": True},
    )
    assert answer.status_code == 200
    seen = client.get(
        f"/v1/complaints/{complaint['complaint_id']}", params={"receipt": d["receipt"]}
    ).json()
    assert seen["status"] == "answered"
    assert seen["outcome_changed"] is True
    explanation = client.get(f"/v1/explanations/{d['receipt']}").json()
    assert explanation["outcome"] == "yes"
    assert explanation["human_reviewed"] is True
    assert explanation["complaints"] == [complaint["complaint_id"]]
    again = client.post(
        f"/v1/complaints/{complaint['complaint_id']}/answer",
        headers=keys.header("alice"),
        json={"answer": "again", "outcome_changed": False},
    )
    assert again.status_code == 409


def test_complaint_is_shown_only_with_its_own_receipt(client: TestClient, keys: Keys) -> None:
    mine = post(client, keys, decision_type="shortlist")
    other = post(client, keys, decision_type="shortlist")
    c = client.post("/v1/complaints", json={"receipt": mine["receipt"], "message": "why?"}).json()
    url = f"/v1/complaints/{c['complaint_id']}"
    assert client.get(url, params={"receipt": mine["receipt"]}).status_code == 200
    assert client.get(url, params={"receipt": other["receipt"]}).status_code == 404


def test_at_most_five_open_complaints_per_receipt(client: TestClient, keys: Keys) -> None:
    d = post(client, keys, decision_type="shortlist")
    statuses = [
        client.post(
            "/v1/complaints", json={"receipt": d["receipt"], "message": f"#{i}"}
        ).status_code
        for i in range(6)
    ]
    assert statuses == [201] * 5 + [429]


def test_complaint_message_limits(client: TestClient, keys: Keys) -> None:
    d = post(client, keys, decision_type="shortlist")
    assert (
        client.post("/v1/complaints", json={"receipt": d["receipt"], "message": ""}).status_code
        == 422
    )
    too_long = {"receipt": d["receipt"], "message": "x" * 5001}
    assert client.post("/v1/complaints", json=too_long).status_code == 422


def test_overdue_complaints_show_in_metrics(
    client: TestClient, keys: Keys, clock: FakeClock
) -> None:
    d = post(client, keys, decision_type="shortlist")
    client.post("/v1/complaints", json={"receipt": d["receipt"], "message": "please check"})
    clock.advance(days=15)
    text = client.get("/metrics").text
    assert "oversight_complaints_open 1.0" in text
    assert "oversight_complaints_overdue 1.0" in text
    listed = client.get("/v1/complaints", headers=keys.header("admin")).json()
    assert listed[0]["overdue"] is True
