"""The prohibited-input guard through the API: a hit blocks the decision, names the
field, the category and the article, is counted, and its value is never stored; a
declared exception passes and is logged on every decision that uses it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from oversight.api import create_app
from oversight.policy import parse_policy
from oversight.settings import Settings
from oversight.tables import audit_entries, decisions
from tests.conftest import FakeClock, Keys, read_rows

JUSTIFICATION = "Stops the forklift when the driver shows signs of drowsiness (safety)."
POLICY = f"""
systems:
  picking:
    purpose: "Assigns picking tasks in the warehouse"
    risk_class: high
    reviewers: [carol]
    inputs:
      driver_alertness:
        category: emotion
        exception: {{use: safety, justification: "{JUSTIFICATION}"}}
      engagement_index: {{category: emotion}}
      mood_of_product: {{category: ordinary}}
    decision_types:
      assign: {{category: task_allocation, impact: low}}
"""


@pytest.fixture
def picking(settings: Settings, clock: FakeClock, keys: Keys) -> Iterator[TestClient]:
    app = create_app(settings, policy=parse_policy(POLICY), clock=clock)
    with TestClient(app) as client:
        yield client


def submit(client: TestClient, keys: Keys, inputs: dict[str, Any], decision_id: str) -> Any:
    body = {
        "decision_id": decision_id,
        "system_id": "picking",
        "decision_type": "assign",
        "subject_id": "picker-3",
        "outcome": "aisle-12",
        "inputs": inputs,
        "explanation": {"summary": "Closest free picker"},
    }
    response = client.post("/v1/decisions", json=body, headers=keys.header("ingest"))
    assert response.status_code in (200, 201), response.text  # 200: a replay
    return response.json()


def raw_storage(db_url: str) -> str:
    """Every stored decision and audit entry, as text to search."""
    stored = read_rows(db_url, select(decisions)) + read_rows(db_url, select(audit_entries))
    return json.dumps(stored, default=str)


def test_an_undeclared_prohibited_field_blocks_and_is_never_stored(
    picking: TestClient, keys: Keys, db_url: str
) -> None:
    answer = submit(picking, keys, {"distance_m": 40, "vakbondslid": "SECRET-YES"}, "d1")
    assert answer["status"] == "blocked"
    [finding] = [f for f in answer["findings"] if f["check"] == "prohibited_input"]
    assert finding["rule"] == "trade_union"
    assert finding["data"]["field"] == "vakbondslid"
    assert "Platform Work Directive Art 7(1)(d)" in finding["message"]
    record = picking.get("/v1/decisions/d1", headers=keys.header("admin")).json()
    assert record["inputs"] == {"distance_m": 40, "vakbondslid": "[withheld: prohibited input]"}
    assert "SECRET-YES" not in raw_storage(db_url)
    metrics = picking.get("/metrics", headers=keys.header("admin")).text
    assert (
        'oversight_prohibited_inputs_total{category="trade_union",system="picking"} 1.0' in metrics
    )
    # The same body again is a replay, answered the same way; the chain still verifies.
    again = submit(picking, keys, {"distance_m": 40, "vakbondslid": "SECRET-YES"}, "d1")
    assert again["status"] == "blocked" and again["receipt"] == answer["receipt"]
    assert picking.get("/v1/audit/verify", headers=keys.header("admin")).json()["ok"] is True


def test_a_declared_prohibited_field_blocks(picking: TestClient, keys: Keys) -> None:
    answer = submit(picking, keys, {"engagement_index": 0.3}, "d2")
    assert answer["status"] == "blocked"
    assert "declared in the policy as emotion" in answer["findings"][0]["message"]


def test_a_declared_ordinary_field_passes_despite_its_name(picking: TestClient, keys: Keys) -> None:
    answer = submit(picking, keys, {"mood_of_product": "festive"}, "d3")
    assert answer["status"] == "released" and answer["findings"] == []


def test_an_exception_is_logged_on_every_decision_using_it(
    picking: TestClient, keys: Keys, db_url: str
) -> None:
    for n in range(2):
        answer = submit(picking, keys, {"driver_alertness": 0.8}, f"e{n}")
        assert answer["status"] == "released"
        [note] = answer["findings"]
        assert note["check"] == "prohibited_input_exception" and note["severity"] == "info"
        assert JUSTIFICATION in note["message"]
    assert raw_storage(db_url).count("prohibited_input_exception") >= 4  # 2 decisions + 2 entries
    metrics = picking.get("/metrics", headers=keys.header("admin")).text
    assert (
        'oversight_prohibited_input_exceptions_total{category="emotion",system="picking"} 2.0'
        in metrics
    )
