"""The reviewers' console: sign-in and its cookie, the queue, a decision page, claim and
decide, CSRF, the automation-bias notice, concerns."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.conftest import FakeClock, Keys, decision
from tests.pages.conftest import csrf_of, sign_in


def held(client: TestClient, keys: Keys, decision_id: str, **overrides: object) -> str:
    body = decision(decision_id=decision_id, **overrides)
    response = client.post("/v1/decisions", json=body, headers=keys.header("ingest"))
    review_id = response.json()["review_id"]
    assert review_id
    return str(review_id)


def test_sign_in_sets_a_secure_httponly_strict_cookie_and_sign_out_ends_it(
    app_client: TestClient, keys: Keys
) -> None:
    assert app_client.get("/console", follow_redirects=False).headers["location"] == (
        "/console/login"
    )
    page = app_client.get("/console/login")
    response = app_client.post(
        "/console/login",
        data={"api_key": keys.alice, "csrf": csrf_of(page.text)},
        follow_redirects=False,
    )
    cookie = response.headers["set-cookie"]
    assert "oversight_console=" in cookie
    assert "HttpOnly" in cookie and "Secure" in cookie and "SameSite=strict" in cookie
    assert keys.alice not in cookie  # the key itself is never in the cookie
    queue = app_client.get("/console")
    assert "Signed in as alice (reviewer)" in queue.text
    assert queue.headers["content-security-policy"].startswith("default-src 'none'")
    app_client.post("/console/logout", data={"csrf": csrf_of(queue.text)})
    assert app_client.get("/console", follow_redirects=False).status_code == 303


def test_wrong_keys_are_refused(app_client: TestClient, keys: Keys) -> None:
    page = app_client.get("/console/login")
    for key in ("ovs_reviewer_nonsense", keys.ingest):
        response = app_client.post(
            "/console/login", data={"api_key": key, "csrf": csrf_of(page.text)}
        )
        assert response.status_code == 401
        assert "not known, was revoked" in response.text


def test_login_without_the_form_token_is_refused(app_client: TestClient, keys: Keys) -> None:
    response = app_client.post("/console/login", data={"api_key": keys.alice, "csrf": "forged"})
    assert response.status_code == 403
    assert "CSRF" in response.text


def test_queue_shows_overdue_first_with_checks_and_four_eyes(
    app_client: TestClient, keys: Keys, clock: FakeClock
) -> None:
    held(app_client, keys, "late", decision_type="reject")  # due in 48 h
    clock.advance(hours=50)
    held(app_client, keys, "fresh", decision_type="double", outcome="promote")
    sign_in(app_client, keys.alice)
    text = app_client.get("/console").text
    rows = re.findall(r"<tr>(.*?)</tr>", text, re.S)[1:]  # after the header
    assert "(overdue)" in rows[0] and "reject" in rows[0]
    assert "first of two" in rows[1]
    assert "No explanation" not in rows[0]  # the test decision has one
    assert "Your workload" in text


def test_decision_page_claim_and_override(app_client: TestClient, keys: Keys) -> None:
    review_id = held(app_client, keys, "d1")
    sign_in(app_client, keys.alice)
    page = app_client.get(f"/console/reviews/{review_id}")
    text = page.text
    assert "Screens applications for warehouse roles" in text
    assert "Undervalues experience gained abroad" in text  # known limits
    assert text.index("years_experience") < text.index("certificates")  # biggest first
    assert "bar down w10" in text  # the largest factor fills the bar
    assert "Claim this task" in text
    token = csrf_of(text)
    page = app_client.post(f"/console/reviews/{review_id}/claim", data={"csrf": token})
    assert "Record my decision" in page.text
    short = app_client.post(
        f"/console/reviews/{review_id}/decide",
        data={"csrf": token, "action": "override", "outcome": "shortlist", "rationale": "no"},
    )
    assert "at least 20 characters" in short.text
    done = app_client.post(
        f"/console/reviews/{review_id}/decide",
        data={
            "csrf": token,
            "action": "override",
            "outcome": "shortlist",
            "rationale": "Seasonal warehouse work counts as experience.",
        },
    )
    assert "Recorded: the decision is now overridden." in done.text
    record = app_client.get("/v1/decisions/d1", headers=keys.header("admin")).json()
    assert record["status"] == "overridden" and record["final_outcome"] == "shortlist"


def test_every_form_checks_its_csrf_token(app_client: TestClient, keys: Keys) -> None:
    review_id = held(app_client, keys, "d1")
    sign_in(app_client, keys.alice)
    for path, data in [
        (f"/console/reviews/{review_id}/claim", {}),
        (f"/console/reviews/{review_id}/decide", {"action": "approve", "rationale": "x" * 30}),
        ("/console/concerns", {"message": "Too many tasks today."}),
        ("/console/logout", {}),
    ]:
        for token in ("", "forged"):
            response = app_client.post(path, data={**data, "csrf": token})
            assert response.status_code == 403, path
    task = app_client.get("/v1/reviews", headers=keys.header("alice")).json()[0]
    assert task["claimed_by"] is None


def test_a_reviewer_of_another_system_cannot_open_the_task(
    app_client: TestClient, keys: Keys
) -> None:
    review_id = held(app_client, keys, "d1")
    sign_in(app_client, keys.carol)
    response = app_client.get(f"/console/reviews/{review_id}")
    assert response.status_code == 404


def test_automation_bias_notice_after_fast_unbroken_approvals(
    app_client: TestClient, keys: Keys, clock: FakeClock
) -> None:
    review_ids = [held(app_client, keys, f"d{i}") for i in range(21)]
    for review_id in review_ids[:20]:
        app_client.post(f"/v1/reviews/{review_id}/claim", headers=keys.header("alice"))
        clock.advance(seconds=4)
        app_client.post(
            f"/v1/reviews/{review_id}/decide",
            json={"action": "approve", "rationale": ""},
            headers=keys.header("alice"),
        )
    sign_in(app_client, keys.alice)
    token = csrf_of(app_client.get("/console").text)
    page = app_client.post(f"/console/reviews/{review_ids[20]}/claim", data={"csrf": token})
    assert "your last 20 actions were all" in page.text
    assert "20 of them in under 10 seconds" in page.text
    verify = app_client.get("/v1/audit/verify", headers=keys.header("admin")).json()
    assert verify["ok"]
    # bob, with no such history, sees no notice
    app_client.cookies.clear()
    sign_in(app_client, keys.bob)
    assert "your last 20 actions" not in app_client.get(f"/console/reviews/{review_ids[20]}").text


def test_a_concern_reaches_the_admins_with_or_without_a_name(
    app_client: TestClient, keys: Keys
) -> None:
    sign_in(app_client, keys.alice)
    token = csrf_of(app_client.get("/console").text)
    named = app_client.post(
        "/console/concerns", data={"csrf": token, "message": "The queue is too long for care."}
    )
    assert "with your name" in named.text
    anonymous = app_client.post(
        "/console/concerns",
        data={"csrf": token, "message": "I was told to approve faster.", "anonymous": "1"},
    )
    assert "without your name" in anonymous.text
    app_client.cookies.clear()
    sign_in(app_client, keys.admin)
    admin = app_client.get("/console/admin").text
    assert "I was told to approve faster." in admin
    assert admin.count("name not recorded") == 1
    assert "alice" in admin
