"""POST /v1/decisions, GET /v1/decisions/{id}: recording, routing, idempotency, limits."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import Keys, decision


def submit(client: TestClient, keys: Keys, body: dict[str, object], who: str = "ingest"):  # type: ignore[no-untyped-def]
    return client.post("/v1/decisions", json=body, headers=keys.header(who))


def test_low_impact_is_released_with_receipt(client: TestClient, keys: Keys) -> None:
    response = submit(client, keys, decision(decision_type="shortlist", outcome="shortlist"))
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "released"
    assert body["review_id"] is None
    assert body["receipt"].startswith("rcpt_") and len(body["receipt"]) >= 40
    assert body["findings"] == []


def test_high_impact_waits_for_review(client: TestClient, keys: Keys) -> None:
    body = submit(client, keys, decision(decision_id="d-high")).json()
    assert body["status"] == "pending_review"
    assert body["review_id"]
    record = client.get("/v1/decisions/d-high", headers=keys.header("admin")).json()
    assert record["status"] == "pending_review"
    assert record["final_outcome"] is None


def test_human_only_category_is_held_even_if_policy_says_low(
    client: TestClient, keys: Keys
) -> None:
    body = submit(client, keys, decision(decision_type="dismiss", outcome="dismiss")).json()
    assert body["status"] == "pending_review"
    tasks = client.get("/v1/reviews", headers=keys.header("alice")).json()
    task = next(t for t in tasks if t["review_id"] == body["review_id"])
    assert task["impact"] == "human_only"
    assert task["four_eyes"] is True


def test_qa_sample_is_held_not_released(client: TestClient, keys: Keys) -> None:
    body = submit(client, keys, decision(decision_type="sampled")).json()
    assert body["status"] == "pending_review"
    tasks = client.get("/v1/reviews", headers=keys.header("bob")).json()
    assert [t["reason"] for t in tasks if t["review_id"] == body["review_id"]] == ["qa_sample"]


def test_prohibited_system_is_blocked(client: TestClient, keys: Keys) -> None:
    body = submit(client, keys, decision(system_id="emotion-scan", decision_type="score")).json()
    assert body["status"] == "blocked"
    assert "prohibited_system" in [f["check"] for f in body["findings"]]


def test_missing_explanation_is_accepted_with_a_finding(client: TestClient, keys: Keys) -> None:
    body = decision(decision_type="shortlist")
    del body["explanation"]
    response = submit(client, keys, body)
    assert response.status_code == 201
    findings = response.json()["findings"]
    assert [f["check"] for f in findings] == ["missing_explanation"]
    assert findings[0]["severity"] == "warning"


def test_replay_returns_the_same_answer(client: TestClient, keys: Keys) -> None:
    body = decision(decision_id="same-1")
    first = submit(client, keys, body)
    again = submit(client, keys, dict(reversed(list(body.items()))))
    assert first.status_code == 201
    assert again.status_code == 200
    assert again.json() == first.json()
    assert client.get("/v1/audit/verify", headers=keys.header("admin")).json()["ok"] is True


def test_same_id_with_another_body_conflicts(client: TestClient, keys: Keys) -> None:
    submit(client, keys, decision(decision_id="same-2"))
    response = submit(client, keys, decision(decision_id="same-2", outcome="hire"))
    assert response.status_code == 409
    assert "different body" in response.json()["detail"]


def test_unknown_system_and_type_are_named(client: TestClient, keys: Keys) -> None:
    response = submit(client, keys, decision(system_id="payroll"))
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "system_id"]
    assert "payroll" in response.json()["detail"][0]["msg"]
    response = submit(client, keys, decision(decision_type="promote"))
    assert response.status_code == 422
    assert "promote" in response.json()["detail"][0]["msg"]


def test_validation_error_names_the_field(client: TestClient, keys: Keys) -> None:
    body = decision()
    del body["subject_id"]
    response = submit(client, keys, body)
    assert response.status_code == 422
    assert ["body", "subject_id"] in [e["loc"] for e in response.json()["detail"]]
    response = submit(client, keys, decision(outcome=None))
    assert response.status_code == 422
    response = submit(client, keys, decision(surprise=1))
    assert response.status_code == 422


def test_body_over_256_kib_is_refused(client: TestClient, keys: Keys) -> None:
    big = decision(inputs={"blob": "x" * (256 * 1024)})
    response = submit(client, keys, big)
    assert response.status_code == 413
    assert client.get("/v1/audit/verify", headers=keys.header("admin")).json()["entries"] == 1


def test_subject_id_is_stored_only_as_keyed_hash(client: TestClient, keys: Keys) -> None:
    submit(client, keys, decision(decision_id="pseudo", subject_id="jan.jansen@example.nl"))
    record = client.get("/v1/decisions/pseudo", headers=keys.header("admin")).json()
    assert "jan.jansen" not in str(record)
    assert len(record["subject_ref"]) == 64


def test_sender_reads_its_own_decision_only(client: TestClient, keys: Keys) -> None:
    submit(client, keys, decision(decision_id="mine", decision_type="shortlist"))
    mine = client.get("/v1/decisions/mine", headers=keys.header("ingest"))
    assert mine.status_code == 200
    assert mine.json()["final_outcome"] == "reject"
    assert mine.json()["protected"] is None
    other = client.get("/v1/decisions/mine", headers=keys.header("other_ingest"))
    assert other.status_code == 403


def test_reviewer_of_another_system_cannot_read(client: TestClient, keys: Keys) -> None:
    submit(client, keys, decision(decision_id="cv-1"))
    assert client.get("/v1/decisions/cv-1", headers=keys.header("carol")).status_code == 403
    assert client.get("/v1/decisions/cv-1", headers=keys.header("alice")).status_code == 200
    assert client.get("/v1/decisions/nope", headers=keys.header("admin")).status_code == 404


def test_halted_system_releases_nothing(client: TestClient, keys: Keys) -> None:
    halted = client.post("/v1/systems/cv-screening/halt", headers=keys.header("admin"))
    assert halted.status_code == 200 and halted.json()["halted"] is True
    body = submit(client, keys, decision(decision_type="shortlist")).json()
    assert body["status"] == "pending_review"
    client.post("/v1/systems/cv-screening/resume", headers=keys.header("admin"))
    assert submit(client, keys, decision(decision_type="shortlist")).json()["status"] == "released"
    assert client.post("/v1/systems/nope/halt", headers=keys.header("admin")).status_code == 404


def test_many_concurrent_decisions_are_all_recorded(client: TestClient, keys: Keys) -> None:
    from concurrent.futures import ThreadPoolExecutor

    bodies = [decision(decision_id=f"c-{i}", decision_type="shortlist") for i in range(60)]
    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda b: submit(client, keys, b).status_code, bodies))
    assert statuses == [201] * 60
    report = client.get("/v1/audit/verify", headers=keys.header("admin")).json()
    assert report["ok"] is True
    assert report["entries"] == 1 + 60 * 2  # policy_loaded, then recorded + routed each
