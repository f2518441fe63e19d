"""The admins' pages: systems with their halt switch, statistics, the audit chain."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import Keys, decision
from tests.pages.conftest import csrf_of, sign_in


def test_admin_halts_and_resumes_a_system_and_verifies_the_chain(
    app_client: TestClient, keys: Keys
) -> None:
    app_client.post("/v1/decisions", json=decision(), headers=keys.header("ingest"))
    sign_in(app_client, keys.admin)
    page = app_client.get("/console/admin")
    assert "Halt cv-screening" in page.text
    assert "1 (0)" in page.text  # one open task, none overdue
    token = csrf_of(page.text)
    halted = app_client.post("/console/admin/systems/cv-screening/halt", data={"csrf": token})
    assert "cv-screening halted" in halted.text and "Resume cv-screening" in halted.text
    body = decision(decision_type="shortlist", outcome="shortlist")
    answer = app_client.post("/v1/decisions", json=body, headers=keys.header("ingest")).json()
    assert answer["status"] == "pending_review"
    app_client.post("/console/admin/systems/cv-screening/resume", data={"csrf": token})
    checked = app_client.post("/console/admin/verify", data={"csrf": token})
    assert "Checked: intact" in checked.text


def test_reviewers_are_kept_out_of_the_admin_pages(app_client: TestClient, keys: Keys) -> None:
    sign_in(app_client, keys.alice)
    assert app_client.get("/console/admin").status_code == 403
    token = csrf_of(app_client.get("/console").text)
    response = app_client.post("/console/admin/systems/cv-screening/halt", data={"csrf": token})
    assert response.status_code == 403
