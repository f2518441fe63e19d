"""The real sidecar process in front of a real upstream: what callers see, what is kept."""

from __future__ import annotations

import httpx

from tests.adapters.conftest import Stack
from tests.conftest import audit_kinds


def score(stack: Stack, years: int, candidate: str = "cand-1") -> httpx.Response:
    return httpx.post(
        f"{stack.sidecar}/v1/score",
        json={
            "candidate_id": candidate,
            "features": {"years_experience": years},
            "protected": {"gender": "female"},
        },
    )


def test_released_answer_passes_byte_for_byte(stack: Stack) -> None:
    direct = httpx.post(
        f"{stack.upstream}/v1/score",
        json={
            "candidate_id": "cand-1",
            "features": {"years_experience": 5},
            "protected": {"gender": "female"},
        },
    )
    through = score(stack, 5)
    assert through.status_code == 200
    assert through.content == direct.content
    assert through.headers["content-type"] == direct.headers["content-type"]
    decision_id = through.headers["x-oversight-decision-id"]
    assert through.headers["x-oversight-receipt"].startswith("rcpt_")
    record = httpx.get(
        f"{stack.sidecar}/v1/decisions/{decision_id}", headers=stack.keys.header("admin")
    ).json()
    assert record["status"] == "released"
    assert record["outcome"] == "shortlist"
    assert record["inputs"] == {"years_experience": 5}
    assert record["explanation"]["factors"][0]["feature"] == "years_experience"


def test_held_answer_is_kept_not_shown(stack: Stack) -> None:
    response = score(stack, 0)
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "pending_human_review"
    assert body["review_id"] and body["receipt"] and body["decision_id"]
    assert "reject" not in response.text
    record = httpx.get(
        f"{stack.sidecar}/v1/decisions/{body['decision_id']}", headers=stack.keys.header("admin")
    ).json()
    assert record["outcome"] == "reject"


def test_advisory_route_passes_the_answer_with_a_status_header(stack: Stack) -> None:
    response = httpx.post(f"{stack.sidecar}/v1/advise", json={"candidate_id": "c"})
    assert response.status_code == 200
    assert response.json()["decision"] == "reject"
    assert response.headers["x-oversight-status"] == "pending_review"
    assert response.headers["x-oversight-review-id"]


def test_blocked_decision_is_403_with_findings(stack: Stack) -> None:
    response = httpx.post(f"{stack.sidecar}/v1/emotion", json={"candidate_id": "c"})
    assert response.status_code == 403
    assert response.json()["status"] == "blocked"
    assert "prohibited_system" in [f["check"] for f in response.json()["findings"]]
    assert "0.8" not in response.text


def test_upstream_timeout_is_504_and_recorded(stack: Stack) -> None:
    response = httpx.post(f"{stack.sidecar}/v1/slow", json={"candidate_id": "c"}, timeout=10)
    assert response.status_code == 504
    assert "did not answer" in response.json()["detail"]
    assert audit_kinds(stack.db_url).count("upstream_timeout") == 1


def test_unmatched_requests_pass_untouched_with_forwarding_headers(stack: Stack) -> None:
    response = httpx.get(
        f"{stack.sidecar}/v1/echo?x=1",
        headers={
            "Connection": "keep-alive, X-Secret-Hop",
            "X-Secret-Hop": "drop me",
            "X-Keep": "me",
        },
    )
    assert response.status_code == 200
    seen = response.json()
    assert seen["query"] == "x=1"
    assert seen["headers"]["x-keep"] == "me"
    assert "x-secret-hop" not in seen["headers"]
    assert seen["headers"]["x-forwarded-for"] == "127.0.0.1"
    assert seen["headers"]["host"] == stack.upstream.removeprefix("http://")
    assert "x-oversight-decision-id" not in response.headers


def test_upstream_error_is_passed_through_and_recorded(stack: Stack) -> None:
    response = httpx.post(f"{stack.sidecar}/v1/broken", json={"candidate_id": "c"})
    assert response.status_code == 500
    assert response.json() == {"error": "model not loaded"}
    assert audit_kinds(stack.db_url).count("upstream_error") == 1


def test_unparsable_response_is_passed_through_with_a_finding(stack: Stack) -> None:
    response = httpx.post(f"{stack.sidecar}/v1/garbage", json={"candidate_id": "c"})
    assert response.status_code == 200
    assert response.text == "<html>not json</html>"
    assert audit_kinds(stack.db_url).count("unparsable_response") == 1


def test_decision_type_the_policy_lacks_is_passed_through_with_a_finding(stack: Stack) -> None:
    response = httpx.post(f"{stack.sidecar}/v1/maybe", json={"candidate_id": "c"})
    assert response.status_code == 200
    assert response.json() == {"decision": "maybe-later"}
    assert audit_kinds(stack.db_url).count("unparsable_response") == 1


def test_a_roster_in_the_answer_is_checked_or_named_when_unreadable(stack: Stack) -> None:
    shift = {"start": "2027-01-11T08:00:00+01:00", "end": "2027-01-11T13:00:00+01:00"}
    body = {"employee_id": "emp-1", "shifts": [{**shift, "published_at": "2026-11-01T09:00Z"}]}
    response = httpx.post(f"{stack.sidecar}/v1/roster", json=body)
    assert response.status_code == 200
    assert response.headers["x-oversight-receipt"]
    backwards = {"start": shift["end"], "end": shift["start"]}
    response = httpx.post(
        f"{stack.sidecar}/v1/roster", json={"employee_id": "emp-1", "shifts": [backwards]}
    )
    assert response.status_code == 200 and "x-oversight-receipt" not in response.headers
    assert audit_kinds(stack.db_url).count("unparsable_response") == 1


def test_sidecar_routes_still_answer(stack: Stack) -> None:
    assert httpx.get(f"{stack.sidecar}/healthz").json() == {"status": "ok"}
    metrics = httpx.get(f"{stack.sidecar}/metrics").text
    assert "oversight_proxy_requests_total" in metrics
    # a path with parameters is the sidecar's own (it asks for a key; the upstream would 404)
    own = httpx.get(f"{stack.sidecar}/v1/decisions/some-id")
    assert own.status_code == 401 and own.headers["www-authenticate"] == "Bearer"
    # one slash off one of its routes: the sidecar redirects, as its router always did
    slash = httpx.get(f"{stack.sidecar}/healthz/")
    assert slash.status_code == 307 and slash.headers["location"].endswith("/healthz")


def test_proxied_requests_keep_the_body_limit(stack: Stack) -> None:
    response = httpx.post(f"{stack.sidecar}/v1/echo-anything", content=b"x" * 2_000_000)
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"
