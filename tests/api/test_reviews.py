"""The review queue: claims, leases, decisions, four eyes, visibility."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import FakeClock, Keys, decision

RATIONALE = "Experience was under-counted: the CV lists two seasonal warehouse jobs."


def held(client: TestClient, keys: Keys, **overrides: Any) -> dict[str, Any]:
    response = client.post(
        "/v1/decisions", json=decision(**overrides), headers=keys.header("ingest")
    )
    body: dict[str, Any] = response.json()
    assert body["status"] == "pending_review", body
    return body


def claim(client: TestClient, keys: Keys, review_id: str, who: str):  # type: ignore[no-untyped-def]
    return client.post(f"/v1/reviews/{review_id}/claim", headers=keys.header(who))


def decide(client: TestClient, keys: Keys, review_id: str, who: str, **body: Any):  # type: ignore[no-untyped-def]
    return client.post(f"/v1/reviews/{review_id}/decide", json=body, headers=keys.header(who))


def test_approve_releases_the_ai_outcome(client: TestClient, keys: Keys, clock: FakeClock) -> None:
    d = held(client, keys, decision_id="r1")
    assert claim(client, keys, d["review_id"], "alice").status_code == 200
    clock.advance(seconds=45)
    result = decide(client, keys, d["review_id"], "alice", action="approve")
    assert result.status_code == 200
    assert result.json()["status"] == "decided"
    record = client.get("/v1/decisions/r1", headers=keys.header("admin")).json()
    assert record["status"] == "approved"
    assert record["final_outcome"] == "reject"
    assert record["reviews"][0]["seconds_on_task"] == 45
    assert record["reviews"][0]["reviewer"] == "alice"


def test_override_puts_the_reviewers_outcome_in_force(client: TestClient, keys: Keys) -> None:
    d = held(client, keys, decision_id="r2")
    claim(client, keys, d["review_id"], "bob")
    short = decide(
        client,
        keys,
        d["review_id"],
        "bob",
        action="override",
        outcome="interview",
        rationale="too short",
    )
    assert short.status_code == 422
    assert short.json()["detail"][0]["loc"] == ["body", "rationale"]
    no_outcome = decide(client, keys, d["review_id"], "bob", action="override", rationale=RATIONALE)
    assert no_outcome.status_code == 422
    done = decide(
        client,
        keys,
        d["review_id"],
        "bob",
        action="override",
        outcome="interview",
        rationale=RATIONALE,
    )
    assert done.json()["decision_status"] == "overridden"
    assert done.json()["final_outcome"] == "interview"
    record = client.get("/v1/decisions/r2", headers=keys.header("admin")).json()
    assert record["final_outcome"] == "interview"


def test_reject_leaves_no_outcome_in_force(client: TestClient, keys: Keys) -> None:
    d = held(client, keys, decision_id="r3")
    claim(client, keys, d["review_id"], "alice")
    decide(client, keys, d["review_id"], "alice", action="reject", rationale=RATIONALE)
    record = client.get("/v1/decisions/r3", headers=keys.header("admin")).json()
    assert record["status"] == "rejected"
    assert record["final_outcome"] is None


def test_claim_held_by_another_is_refused_until_the_lease_runs_out(
    client: TestClient, keys: Keys, clock: FakeClock
) -> None:
    d = held(client, keys)
    assert claim(client, keys, d["review_id"], "alice").status_code == 200
    assert claim(client, keys, d["review_id"], "bob").status_code == 409
    assert decide(client, keys, d["review_id"], "bob", action="approve").status_code == 409
    clock.advance(minutes=16)
    assert claim(client, keys, d["review_id"], "bob").status_code == 200
    assert decide(client, keys, d["review_id"], "alice", action="approve").status_code == 409


def test_deciding_without_a_claim_is_refused(client: TestClient, keys: Keys) -> None:
    d = held(client, keys)
    response = decide(client, keys, d["review_id"], "alice", action="approve")
    assert response.status_code == 409
    assert "claim" in response.json()["detail"].lower()


def test_four_eyes_needs_two_different_reviewers(client: TestClient, keys: Keys) -> None:
    d = held(client, keys, decision_id="fe", decision_type="dismiss", outcome="dismiss")
    review_id = d["review_id"]
    claim(client, keys, review_id, "alice")
    first = decide(client, keys, review_id, "alice", action="approve")
    assert first.json()["status"] == "awaiting_second_review"
    assert client.get("/v1/decisions/fe", headers=keys.header("admin")).json()["status"] == (
        "pending_review"
    )
    assert claim(client, keys, review_id, "alice").status_code == 409
    assert claim(client, keys, review_id, "bob").status_code == 200
    second = decide(client, keys, review_id, "bob", action="approve")
    assert second.json()["status"] == "decided"
    assert second.json()["decision_status"] == "approved"
    assert decide(client, keys, review_id, "bob", action="approve").status_code == 409


def test_second_approval_confirms_the_first_override(client: TestClient, keys: Keys) -> None:
    d = held(client, keys, decision_type="double", outcome="no-promotion")
    claim(client, keys, d["review_id"], "bob")
    decide(
        client,
        keys,
        d["review_id"],
        "bob",
        action="override",
        outcome="promote",
        rationale=RATIONALE,
    )
    claim(client, keys, d["review_id"], "alice")
    final = decide(client, keys, d["review_id"], "alice", action="approve").json()
    assert final["decision_status"] == "overridden"
    assert final["final_outcome"] == "promote"


def test_reviewers_see_only_their_systems(client: TestClient, keys: Keys) -> None:
    d = held(client, keys)
    assert [
        t["review_id"] for t in client.get("/v1/reviews", headers=keys.header("alice")).json()
    ] == [d["review_id"]]
    assert client.get("/v1/reviews", headers=keys.header("carol")).json() == []
    assert (
        client.get("/v1/reviews?system_id=cv-screening", headers=keys.header("carol")).status_code
        == 403
    )
    assert claim(client, keys, d["review_id"], "carol").status_code == 403
    assert claim(client, keys, d["review_id"], "mallory").status_code == 403
    assert claim(client, keys, "no-such-task", "alice").status_code == 404


def test_queue_lists_overdue_first(client: TestClient, keys: Keys, clock: FakeClock) -> None:
    late = held(client, keys, decision_type="reject")  # 48 h SLA
    clock.advance(hours=1)
    later = held(client, keys, decision_type="dismiss")  # default 72 h SLA
    clock.advance(hours=50)
    tasks = client.get("/v1/reviews", headers=keys.header("alice")).json()
    assert [t["review_id"] for t in tasks] == [late["review_id"], later["review_id"]]
    assert [t["overdue"] for t in tasks] == [True, False]


def test_claim_next_never_gives_two_reviewers_the_same_task(client: TestClient, keys: Keys) -> None:
    first = held(client, keys)
    second = held(client, keys)
    a = client.post("/v1/reviews/claim-next", headers=keys.header("alice")).json()
    b = client.post("/v1/reviews/claim-next", headers=keys.header("bob")).json()
    assert {a["review_id"], b["review_id"]} == {first["review_id"], second["review_id"]}
    none_left = client.post("/v1/reviews/claim-next", headers=keys.header("alice"))
    assert none_left.status_code == 204


def test_review_metrics_count_fast_approvals(
    client: TestClient, keys: Keys, clock: FakeClock
) -> None:
    d = held(client, keys)
    claim(client, keys, d["review_id"], "alice")
    clock.advance(seconds=3)
    decide(client, keys, d["review_id"], "alice", action="approve")
    text = client.get("/metrics").text
    assert 'oversight_review_fast_approvals_total{system="cv-screening"} 1.0' in text
    assert 'oversight_review_actions_total{action="approve",system="cv-screening"} 1.0' in text
    assert 'oversight_review_queue_depth{system="cv-screening"} 0.0' in text
    assert (
        'oversight_decisions_total{decision_type="reject",route="pending_review",'
        'system="cv-screening"} 1.0' in text
    )
