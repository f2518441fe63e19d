"""Bias checks through the API: decisions one by one, a windowed report that equals a batch
computation over the same window, findings that hold later decisions, ground truth."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import MetricFrame, false_positive_rate, selection_rate
from fastapi.testclient import TestClient

from oversight.api import create_app
from oversight.policy import parse_policy
from oversight.settings import Settings
from tests.conftest import FakeClock, Keys, audit_kinds

WINDOW = 120
POLICY = f"""
systems:
  hiring:
    purpose: "Invites applicants to interviews"
    risk_class: high
    reviewers: [alice]
    decision_types:
      screen:
        category: hiring
        impact: low
        bias:
          favourable: [invite]
          attributes: [gender, age_band]
          window: {{decisions: {WINDOW}}}
          min_group_size: 10
          action: review_unfavourable
  other:
    purpose: "Something else"
    risk_class: high
    reviewers: [carol]
    decision_types:
      assign: {{category: scheduling, impact: low}}
"""


@pytest.fixture
def hiring(settings: Settings, clock: FakeClock, keys: Keys) -> Iterator[TestClient]:
    app = create_app(
        settings.model_copy(update={"bias_refresh_seconds": 3600}),
        policy=parse_policy(POLICY),
        clock=clock,
    )
    with TestClient(app) as client:
        yield client


def screen(subject: str, gender: str | None, age: str | None, outcome: str) -> dict[str, Any]:
    protected = {k: v for k, v in (("gender", gender), ("age_band", age)) if v is not None}
    return {
        "system_id": "hiring",
        "decision_type": "screen",
        "subject_id": subject,
        "outcome": outcome,
        "protected": protected or None,
        "explanation": {"summary": "Matched the role's requirements."},
    }


def send(client: TestClient, keys: Keys, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/v1/decisions", json=body, headers=keys.header("ingest"))
    assert response.status_code == 201, response.text
    return dict(response.json())


def report_of(client: TestClient, keys: Keys, who: str = "admin") -> dict[str, Any]:
    response = client.get("/v1/systems/hiring/fairness", headers=keys.header(who))
    assert response.status_code == 200, response.text
    (screen_type,) = response.json()["decision_types"]
    return dict(screen_type)


def stream(client: TestClient, keys: Keys, n: int, seed: int) -> list[dict[str, Any]]:
    """n decisions with random groups and outcomes; about half get ground truth."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        gender = rng.choice(["female", "male", "x", None])
        age = rng.choice(["18-29", "30-49", "50+"])
        outcome = "invite" if rng.random() < (0.3 if gender == "female" else 0.6) else "decline"
        accepted = send(client, keys, screen(f"s{seed}-{i}", gender, age, outcome))
        truth = None
        if rng.random() < 0.5:
            truth = rng.random() < 0.5
            labelled = client.post(
                f"/v1/decisions/{accepted['decision_id']}/label",
                json={"favourable": truth},
                headers=keys.header("ingest"),
            )
            assert labelled.status_code == 201
        rows.append({"gender": gender, "age_band": age, "y_pred": int(outcome == "invite"),
                     "y_true": truth})  # fmt: skip
    return rows


def expected_by_group(rows: list[dict[str, Any]], columns: list[str]) -> pd.DataFrame:
    """fairlearn on the raw rows of the window, each attribute known."""
    frame = pd.DataFrame(rows).dropna(subset=columns)
    selection = MetricFrame(
        metrics={"selection_rate": selection_rate},
        y_true=frame.y_pred.to_numpy(),
        y_pred=frame.y_pred.to_numpy(),
        sensitive_features=frame[columns],
    ).by_group
    labelled = frame.dropna(subset=["y_true"])
    errors = MetricFrame(
        metrics={"false_positive_rate": false_positive_rate},
        y_true=labelled.y_true.astype(int).to_numpy(),
        y_pred=labelled.y_pred.to_numpy(),
        sensitive_features=labelled[columns],
    ).by_group
    return selection.join(errors).dropna(subset=["selection_rate"])


def assert_report_equals_batch(report: dict[str, Any], window: list[dict[str, Any]]) -> None:
    assert report["decisions"] == len(window)
    for attribute in report["reports"]:
        columns = attribute["attributes"]
        expected = expected_by_group(window, columns)
        assert attribute["missing"] == sum(any(r[c] is None for c in columns) for r in window)
        assert len(attribute["groups"]) == len(expected)
        for row in attribute["groups"]:
            key = tuple(row["group"][c] for c in columns)
            want = expected.loc[key if len(key) > 1 else key[0]]
            assert row["selection_rate"] == pytest.approx(want.selection_rate, abs=1e-12, rel=0)
            if row["false_positive_rate"] is not None:
                assert row["false_positive_rate"] == pytest.approx(
                    want.false_positive_rate, abs=1e-12, rel=0
                )
            elif not np.isnan(want.false_positive_rate):
                assert want.false_positive_rate == 0.0  # fairlearn's 0 for "no negatives"


def test_windowed_report_equals_a_batch_computation_and_slides(
    hiring: TestClient, keys: Keys
) -> None:
    rows = stream(hiring, keys, 100, seed=1)
    report = report_of(hiring, keys)["report"]
    assert_report_equals_batch(report, rows)  # window not yet full
    rows += stream(hiring, keys, 70, seed=2)
    report = report_of(hiring, keys)["report"]
    assert_report_equals_batch(report, rows[-WINDOW:])  # the oldest 50 have left
    assert report["labelled"] == sum(r["y_true"] is not None for r in rows[-WINDOW:])
    labels = [a["label"] for a in report["reports"]]
    assert labels == ["gender", "age_band", "gender × age_band"]


def test_a_finding_holds_unfavourable_decisions_for_the_affected_group(
    hiring: TestClient, keys: Keys, settings: Settings
) -> None:
    for i in range(40):
        send(hiring, keys, screen(f"m{i}", "male", "30-49", "invite" if i % 5 else "decline"))
        send(
            hiring, keys, screen(f"f{i}", "female", "30-49", "invite" if i % 4 == 0 else "decline")
        )
    fairness = report_of(hiring, keys)
    (finding,) = [f for f in fairness["open_findings"] if f["attributes"] == ["gender"]]
    assert finding["affected_group"] == {"gender": "female"}
    assert finding["impact_ratio"] == pytest.approx(0.25 / 0.8)
    assert finding["interval_excludes_threshold"] is True

    held = send(hiring, keys, screen("f-new", "female", "18-29", "decline"))
    assert held["status"] == "pending_review"
    assert [f["check"] for f in held["findings"]] == ["bias"]
    other = send(hiring, keys, screen("m-new", "male", "18-29", "decline"))
    assert other["status"] == "released"
    assert other["findings"][0]["check"] == "bias" and other["findings"][0]["severity"] == "info"

    # the reviewer sees that a bias finding applies, not the person's attributes
    seen = hiring.get(f"/v1/decisions/{held['decision_id']}", headers=keys.header("alice"))
    assert seen.json()["protected"] is None
    assert "female" not in seen.text
    admin = hiring.get(f"/v1/decisions/{held['decision_id']}", headers=keys.header("admin"))
    assert admin.json()["protected"] == {"gender": "female", "age_band": "18-29"}

    metrics = hiring.get("/metrics").text
    assert (
        'oversight_bias_impact_ratio{attribute="gender",decision_type="screen",group="female",'
        'system="hiring"} 0.3125' in metrics
    )
    assert 'oversight_bias_findings_total{attribute="gender",decision_type="screen",' in metrics

    # women invited as often as men: the window turns over and the finding clears
    for i in range(WINDOW // 2):
        send(hiring, keys, screen(f"f2-{i}", "female", "30-49", "invite"))
        send(hiring, keys, screen(f"m2-{i}", "male", "30-49", "invite"))
    assert report_of(hiring, keys)["open_findings"] == []
    kinds = audit_kinds(settings.db)
    assert kinds.count("bias_finding_raised") >= 1
    assert kinds.count("bias_finding_cleared") == kinds.count("bias_finding_raised")
    assert send(hiring, keys, screen("f-last", "female", "18-29", "decline"))["status"] == (
        "released"
    )


def test_labels_are_written_once(hiring: TestClient, keys: Keys) -> None:
    decision_id = send(hiring, keys, screen("s", "female", "50+", "invite"))["decision_id"]
    url = f"/v1/decisions/{decision_id}/label"
    ingest = keys.header("ingest")
    first = hiring.post(url, json={"outcome": "decline"}, headers=ingest)
    assert first.status_code == 201 and first.json()["favourable"] is False
    assert hiring.post(url, json={"outcome": "decline"}, headers=ingest).status_code == 200
    changed = hiring.post(url, json={"favourable": True}, headers=ingest)
    assert changed.status_code == 409 and "not changed" in changed.json()["detail"]
    both = hiring.post(url, json={"favourable": True, "outcome": "invite"}, headers=ingest)
    assert both.status_code == 422
    assert hiring.post(url, json={}, headers=ingest).status_code == 422
    missing = hiring.post("/v1/decisions/nope/label", json={"favourable": True}, headers=ingest)
    assert missing.status_code == 404


def test_an_outcome_label_needs_a_favourable_list(hiring: TestClient, keys: Keys) -> None:
    body = {**screen("s", None, None, "assigned"), "system_id": "other", "decision_type": "assign"}
    decision_id = send(hiring, keys, body)["decision_id"]
    response = hiring.post(
        f"/v1/decisions/{decision_id}/label",
        json={"outcome": "assigned"},
        headers=keys.header("ingest"),
    )
    assert response.status_code == 422
    assert "send favourable: true or false" in response.json()["detail"][0]["msg"]


def test_a_restarted_server_rebuilds_the_window(
    settings: Settings, clock: FakeClock, keys: Keys
) -> None:
    app_settings = settings.model_copy(update={"bias_refresh_seconds": 3600})
    policy = parse_policy(POLICY)
    with TestClient(create_app(app_settings, policy=policy, clock=clock)) as client:
        rows = stream(client, keys, WINDOW + 30, seed=3)
        before = report_of(client, keys)
    with TestClient(create_app(app_settings, policy=policy, clock=clock)) as client:
        after = report_of(client, keys)
    assert after["report"] == before["report"]
    assert after["open_findings"] == before["open_findings"]
    assert_report_equals_batch(after["report"], rows[-WINDOW:])


def test_a_window_of_days_lets_old_decisions_go(
    settings: Settings, clock: FakeClock, keys: Keys
) -> None:
    policy = parse_policy(POLICY.replace(f"{{decisions: {WINDOW}}}", "{days: 7}"))
    app = create_app(
        settings.model_copy(update={"bias_refresh_seconds": 3600}), policy=policy, clock=clock
    )
    with TestClient(app) as client:
        stream(client, keys, 30, seed=4)
        assert report_of(client, keys)["report"]["decisions"] == 30
        clock.advance(days=5)
        rows = stream(client, keys, 20, seed=5)
        assert report_of(client, keys)["report"]["decisions"] == 50
        clock.advance(days=3)  # the first 30 are now 8 days old
        report = report_of(client, keys)["report"]
        assert_report_equals_batch(report, rows)
    # a restart rebuilds the same window from the database
    with TestClient(create_app(settings, policy=policy, clock=clock)) as client:
        assert report_of(client, keys)["report"] == report
