"""Outcome webhooks: signed, retried, kept across a kill -9, one per decision id."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.webhooks import sign, verify_signature
from tests.adapters.conftest import Stack, make_stack
from tests.servers import WEBHOOK_SECRET

RATIONALE = "The candidate's experience abroad was not counted."


def held_decision(stack: Stack, candidate: str) -> dict[str, Any]:
    response = httpx.post(
        f"{stack.sidecar}/v1/score",
        json={
            "candidate_id": candidate,
            "features": {"years_experience": 0},
        },
    )
    assert response.status_code == 202
    body: dict[str, Any] = response.json()
    return body


def approve(stack: Stack, review_id: str) -> None:
    headers = stack.keys.header("alice")
    assert (
        httpx.post(f"{stack.sidecar}/v1/reviews/{review_id}/claim", headers=headers).status_code
        == 200
    )
    decided = httpx.post(
        f"{stack.sidecar}/v1/reviews/{review_id}/decide",
        headers=headers,
        json={"action": "override", "outcome": "shortlist", "rationale": RATIONALE},
    )
    assert decided.status_code == 200


def received(stack: Stack, expected: int, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        seen: dict[str, Any] = httpx.get(f"{stack.upstream}/callbacks").json()
        if len(seen["received"]) >= expected or time.monotonic() > deadline:
            return seen
        time.sleep(0.2)


def test_signature_round_trip() -> None:
    body = b'{"decision_id":"d1"}'
    header = sign(b"secret", body, int(time.time()))
    assert verify_signature(b"secret", body, header)
    assert not verify_signature(b"other", body, header)
    assert not verify_signature(b"secret", body + b" ", header)
    assert not verify_signature(b"secret", body, sign(b"secret", body, int(time.time()) - 3600))
    assert not verify_signature(b"secret", body, "garbage")


def test_final_outcome_is_posted_signed(stack: Stack) -> None:
    held = held_decision(stack, "cand-9")
    approve(stack, held["review_id"])
    seen = received(stack, 1)
    delivery_id = f"webhook:{held['decision_id']}:{held['review_id']}"
    assert list(seen["received"]) == [delivery_id]
    delivery = seen["received"][delivery_id]
    assert verify_signature(
        WEBHOOK_SECRET.encode(), delivery["body"].encode(), delivery["signature"]
    )
    message = json.loads(delivery["body"])
    assert message == {
        "decision_id": held["decision_id"],
        "system_id": "cv-screening",
        "decision_type": "reject",
        "status": "overridden",
        "review_id": held["review_id"],
        "final_outcome": "shortlist",
    }
    metrics = httpx.get(f"{stack.sidecar}/metrics").text
    assert 'oversight_deliveries_total{channel="webhook",result="delivered"} 1.0' in metrics


@pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)
def test_kill_9_while_deliveries_are_pending_loses_nothing(db_url: str, tmp_path: Path) -> None:
    # The receiver refuses each delivery twice, so they are pending when the sidecar dies.
    stack = make_stack(db_url, tmp_path, UPSTREAM_FAIL_FIRST="2")
    try:
        decided = []
        for i in range(8):
            held = held_decision(stack, f"crash-{i}")
            approve(stack, held["review_id"])
            decided.append(f"{held['decision_id']}:{held['review_id']}")
        stack.kill_sidecar()
        assert len(httpx.get(f"{stack.upstream}/callbacks").json()["received"]) < len(decided)
        stack.start_sidecar()
        seen = received(stack, len(decided))
    finally:
        stack.stop_all()
    assert sorted(seen["received"]) == sorted(f"webhook:{d}" for d in decided)
    for delivery in decided:
        body = json.loads(seen["received"][f"webhook:{delivery}"]["body"])
        assert f"{body['decision_id']}:{body['review_id']}" == delivery
        assert body["final_outcome"] == "shortlist"
    assert all(count >= 3 for count in seen["attempts"].values())


def test_a_re_review_after_a_complaint_is_a_second_delivery(stack: Stack) -> None:
    held = held_decision(stack, "cand-12")
    approve(stack, held["review_id"])
    complaint = httpx.post(
        f"{stack.sidecar}/v1/complaints",
        json={"receipt": held["receipt"], "message": "Please look again."},
    )
    assert complaint.status_code == 201
    approve(stack, complaint.json()["review_id"])
    seen = received(stack, 2)
    assert sorted(seen["received"]) == sorted(
        [
            f"webhook:{held['decision_id']}:{held['review_id']}",
            f"webhook:{held['decision_id']}:{complaint.json()['review_id']}",
        ]
    )
