"""Intensity checks through the API, on SQLite and PostgreSQL: released and approved
shifts make up each worker's timeline, later decisions are checked against it, and a
violation alerts, holds or blocks as the policy says."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import select

from oversight.api import create_app
from oversight.cli import main
from oversight.policy import parse_policy
from oversight.settings import Settings
from oversight.tables import assignments
from tests.conftest import FakeClock, Keys, read_rows

AMS = ZoneInfo("Europe/Amsterdam")
POLICY = """
systems:
  rostering:
    purpose: "Plans warehouse shifts"
    risk_class: high
    reviewers: [carol]
    intensity:
      profile: nl-atw-warehouse
      action: review
      actions: {roster_notice: alert, breaks: block}
    decision_types:
      assign: {category: scheduling, impact: low}
      plan: {category: scheduling, impact: high}
      dispatch: {category: task_allocation, impact: low}
intensity_profiles:
  nl-atw-warehouse:
    extends: nl-atw
    rules:
      pace: {baseline_tasks_per_hour: 10}
"""


@pytest.fixture
def roster(settings: Settings, clock: FakeClock, keys: Keys) -> Iterator[TestClient]:
    # The clock stands at 27 November 2026; rosters here are for January, 5+ weeks out.
    app = create_app(settings, policy=parse_policy(POLICY), clock=clock)
    with TestClient(app) as client:
        yield client


def local(text: str) -> str:
    return datetime.fromisoformat(text).replace(tzinfo=AMS).isoformat()


def a_shift(start: str, hours: float, **extra: Any) -> dict[str, Any]:
    """A shift from ``start`` (Amsterdam) with the break it needs."""
    begin = datetime.fromisoformat(start)
    end = begin + timedelta(hours=hours)
    body: dict[str, Any] = {"start": local(start), "end": local(str(end))}
    if hours > 5.5:
        pause = begin + timedelta(hours=3)
        body["breaks"] = [
            {"start": local(str(pause)), "end": local(str(pause + timedelta(minutes=45)))}
        ]
    body.update(extra)
    return body


def assign(
    client: TestClient, keys: Keys, *shifts: dict[str, Any], subject: str = "emp-7",
    decision_type: str = "assign", decision_id: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    body: dict[str, Any] = {
        "system_id": "rostering",
        "decision_type": decision_type,
        "subject_id": subject,
        "outcome": "assigned",
        "explanation": {"summary": "Fills the gap in the roster"},
        "context": {"shifts": list(shifts)},
    }
    if decision_id is not None:
        body["decision_id"] = decision_id
    response = client.post("/v1/decisions", json=body, headers=keys.header("ingest"))
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def review(client: TestClient, keys: Keys, review_id: str, action: str, rationale: str) -> None:
    """carol, the planner's reviewer, claims the task and decides it."""
    client.post(f"/v1/reviews/{review_id}/claim", headers=keys.header("carol"))
    decided = client.post(
        f"/v1/reviews/{review_id}/decide",
        json={"action": action, "rationale": rationale},
        headers=keys.header("carol"),
    )
    assert decided.status_code == 200, decided.text


def intensity_findings(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [f for f in body["findings"] if f["check"] == "intensity"]


def stored(db_url: str) -> list[dict[str, Any]]:
    return read_rows(db_url, select(assignments).order_by(assignments.c.seq))


def test_a_violation_of_a_released_shift_holds_the_new_decision(
    roster: TestClient, keys: Keys, db_url: str
) -> None:
    first = assign(roster, keys, a_shift("2027-01-11 08:00", 8))  # ends 16:00
    assert first["status"] == "released" and not intensity_findings(first)
    second = assign(roster, keys, a_shift("2027-01-11 23:00", 6))  # 7 h rest
    assert second["status"] == "pending_review"
    [finding] = intensity_findings(second)
    assert finding["rule"] == "rest_between_shifts"
    assert finding["severity"] == "critical"
    assert "rest 7h < 8h" in finding["message"]
    assert finding["data"]["measured_hours"] == 7
    assert len(finding["data"]["worker_ref"]) == 64  # the pseudonym, never the id
    rows = stored(db_url)
    assert [r["state"] for r in rows] == ["active", "pending"]
    assert "emp-7" not in json.dumps([r["worker_ref"] for r in rows])
    tasks = roster.get("/v1/reviews", headers=keys.header("carol")).json()
    assert [t["reason"] for t in tasks] == ["finding"]


def test_other_workers_timelines_do_not_interfere(roster: TestClient, keys: Keys) -> None:
    assign(roster, keys, a_shift("2027-01-11 08:00", 8))
    other = assign(roster, keys, a_shift("2027-01-11 23:00", 6), subject="emp-8")
    assert other["status"] == "released"
    # worker_ref in the shift names the worker when it is not the subject.
    named = assign(roster, keys, a_shift("2027-01-11 23:00", 6, worker_ref="emp-7"), subject="x")
    assert [f["rule"] for f in intensity_findings(named)] == ["rest_between_shifts"]


def test_held_shifts_join_the_timeline_only_when_approved(
    roster: TestClient, keys: Keys, db_url: str
) -> None:
    held = assign(roster, keys, a_shift("2027-01-11 08:00", 8), decision_type="plan")
    assert held["status"] == "pending_review"
    # Not yet in force: a shift that would clash with it is not judged against it.
    clash = assign(roster, keys, a_shift("2027-01-11 20:00", 4), subject="emp-7")
    assert clash["status"] == "released" and not intensity_findings(clash)
    review(roster, keys, held["review_id"], "approve", "Staffing agreed with the team")
    # Approved, it is in force: the day after, a shift 7 h after either one is held.
    later = assign(roster, keys, a_shift("2027-01-12 07:00", 8))
    assert [f["rule"] for f in intensity_findings(later)] == ["rest_between_shifts"]
    assert [r["state"] for r in stored(db_url)] == ["active", "active", "pending"]


def test_a_rejected_decision_never_adds_its_shifts(
    roster: TestClient, keys: Keys, db_url: str
) -> None:
    held = assign(roster, keys, a_shift("2027-01-11 08:00", 8), decision_type="plan")
    review(roster, keys, held["review_id"], "reject", "The shift is not needed after all this week")
    assert [r["state"] for r in stored(db_url)] == ["void"]
    after = assign(roster, keys, a_shift("2027-01-11 23:00", 6))
    assert after["status"] == "released"


def test_a_later_decision_replaces_or_cancels_a_shift(
    roster: TestClient, keys: Keys, db_url: str
) -> None:
    assign(roster, keys, a_shift("2027-01-11 08:00", 8, shift_id="mon-early"))
    # Moving the shift to the afternoon replaces it: an evening shift right after the
    # old one's end now clashes with the new one instead.
    assign(roster, keys, a_shift("2027-01-11 13:00", 8, shift_id="mon-early"))
    assert [r["state"] for r in stored(db_url)] == ["replaced", "active"]
    clash = assign(roster, keys, a_shift("2027-01-12 02:00", 6))  # 5 h after 21:00
    assert [f["rule"] for f in intensity_findings(clash)] == ["rest_between_shifts"]
    # Cancelled, it no longer counts.
    cancel = {**a_shift("2027-01-11 13:00", 8, shift_id="mon-early"), "cancelled": True}
    assign(roster, keys, cancel)
    states = [(r["kind"], r["state"]) for r in stored(db_url)]
    assert states[:2] == [("shift", "replaced"), ("shift", "cancelled")]
    assert states[-1] == ("cancel", "active")
    # (the clash above was held, so it is not in force either)
    fine = assign(roster, keys, a_shift("2027-01-12 02:00", 6))
    assert fine["status"] == "released" and not intensity_findings(fine)


def test_actions_alert_review_block(roster: TestClient, keys: Keys) -> None:
    # roster_notice is an alert: released with the finding.
    soon = assign(roster, keys, a_shift("2026-12-01 08:00", 8))
    assert soon["status"] == "released"
    [notice] = intensity_findings(soon)
    assert notice["rule"] == "roster_notice" and notice["severity"] == "warning"
    assert "published 3d22h before it starts < 28 days" in notice["message"]
    # breaks is set to block.
    no_break = {"start": local("2027-01-18 08:00"), "end": local("2027-01-18 16:00")}
    blocked = assign(roster, keys, no_break)
    assert blocked["status"] == "blocked"
    assert [f["rule"] for f in intensity_findings(blocked)] == ["breaks"]


def test_a_shift_published_in_the_decision_uses_its_own_date(
    roster: TestClient, keys: Keys
) -> None:
    early = a_shift("2026-12-20 08:00", 8, published_at="2026-11-01T09:00:00+01:00")
    assert assign(roster, keys, early)["findings"] == []


def test_unreadable_shifts_are_refused_and_nothing_is_recorded(
    roster: TestClient, keys: Keys, db_url: str
) -> None:
    bad = {"start": local("2027-01-11 16:00"), "end": local("2027-01-11 08:00")}
    body = {
        "system_id": "rostering", "decision_type": "assign", "subject_id": "emp-7",
        "outcome": "assigned", "context": {"shifts": [bad]},
    }  # fmt: skip
    response = roster.post("/v1/decisions", json=body, headers=keys.header("ingest"))
    assert response.status_code == 422
    detail = response.json()["detail"][0]
    assert (
        detail["loc"] == ["body", "context", "shifts", "0"] or "context.shifts.0" in detail["msg"]
    )
    assert "end after it starts" in detail["msg"]
    naive = {
        **body,
        "context": {"shifts": [{"start": "2027-01-11T08:00", "end": "2027-01-11T16:00"}]},
    }
    response = roster.post("/v1/decisions", json=naive, headers=keys.header("ingest"))
    assert response.status_code == 422 and "timezone" in response.text
    assert stored(db_url) == []
    assert roster.get("/v1/audit/verify", headers=keys.header("admin")).json()["entries"] == 1


def test_tasks_at_a_pace_over_the_baseline_are_held(roster: TestClient, keys: Keys) -> None:
    assign(roster, keys, a_shift("2027-01-11 08:00", 8))
    start = datetime.fromisoformat("2027-01-11 09:00")
    tasks = [
        {"assigned_at": local(str(start + timedelta(minutes=4.5 * i))), "expected_minutes": 4}
        for i in range(40)  # 13.3 per hour for 3 hours: over 12 (120% of 10) for 3 h > 2
    ]
    body = {
        "system_id": "rostering", "decision_type": "dispatch", "subject_id": "emp-7",
        "outcome": "dispatched", "explanation": {"summary": "Nearest picker"},
        "context": {"tasks": tasks},
    }  # fmt: skip
    answer = roster.post("/v1/decisions", json=body, headers=keys.header("ingest")).json()
    assert [f["rule"] for f in intensity_findings(answer)] == ["pace"]
    assert answer["status"] == "pending_review"
    evening = {**body, "context": {"tasks": [{"assigned_at": local("2027-01-11 21:00")}]}}
    answer = roster.post("/v1/decisions", json=evening, headers=keys.header("ingest")).json()
    assert [f["rule"] for f in intensity_findings(answer)] == ["reference_hours"]


def test_metrics_and_report(roster: TestClient, keys: Keys, db_url: str, clock: FakeClock) -> None:
    ahead = {"published_at": "2026-10-01T09:00:00+02:00"}
    assign(roster, keys, a_shift("2026-11-23 08:00", 8, **ahead), subject="emp-1")
    assign(roster, keys, a_shift("2026-11-23 23:00", 6, **ahead), subject="emp-1")  # rest 7 h
    assign(roster, keys, a_shift("2026-11-24 08:00", 8, **ahead), subject="emp-2")
    metrics = roster.get("/metrics", headers=keys.header("admin")).text
    assert (
        'oversight_intensity_findings_total{rule="rest_between_shifts",severity="critical",'
        'system="rostering"} 1.0' in metrics
    )
    assert 'oversight_intensity_workers{system="rostering"} 2.0' in metrics
    assert 'oversight_intensity_workers_with_violation_ratio{system="rostering"} 0.5' in metrics
    assert (
        'oversight_intensity_workers_by_weekly_hours{band="0-24",system="rostering"} 2.0' in metrics
    )
    runner = CliRunner()
    result = runner.invoke(main, ["intensity", "report", "--db", db_url, "--system", "rostering"])
    assert result.exit_code == 0, result.output
    assert "rest_between_shifts" in result.output and "1 of 2 workers" in result.output
    result = runner.invoke(
        main, ["intensity", "report", "--db", db_url, "--system", "rostering", "--format", "json"]
    )
    report = json.loads(result.output)
    by_rule = {r["rule"]: r for r in report["rules"]}
    assert by_rule["rest_between_shifts"] == {
        "rule": "rest_between_shifts", "findings": 1, "workers": 1, "held_or_blocked": 1,
    }  # fmt: skip
    assert report["workers_assigned"] == 2
    assert report["most_affected"][0]["rules"] == ["rest_between_shifts"]
