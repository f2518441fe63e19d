"""The worker's page: the receipt is the credential; Dutch or English; a complaint and
its status; nothing about the proposal while a person reviews it."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import Keys, decision
from tests.pages.conftest import csrf_of


def receipt_of(client: TestClient, keys: Keys, **overrides: object) -> str:
    body = decision(**overrides)
    return str(
        client.post("/v1/decisions", json=body, headers=keys.header("ingest")).json()["receipt"]
    )


def test_lookup_by_receipt_in_english_and_dutch(app_client: TestClient, keys: Keys) -> None:
    receipt = receipt_of(app_client, keys, decision_type="shortlist", outcome="shortlist")
    looked_up = app_client.post("/worker", data={"receipt": f"  {receipt} "})
    assert looked_up.url.path == f"/worker/r/{receipt}"
    assert "What was decided" in looked_up.text and "shortlist" in looked_up.text
    assert '<html lang="en">' in looked_up.text
    dutch = app_client.get(f"/worker/r/{receipt}", headers={"Accept-Language": "nl-NL,nl;q=0.9"})
    assert "Wat er is beslist" in dutch.text and '<html lang="nl">' in dutch.text
    # The switch wins over the browser and is remembered.
    chosen = app_client.get(f"/worker/r/{receipt}?lang=en", headers={"Accept-Language": "nl"})
    assert "What was decided" in chosen.text
    again = app_client.get(f"/worker/r/{receipt}", headers={"Accept-Language": "nl"})
    assert "What was decided" in again.text


def test_an_unknown_receipt_is_a_plain_404(app_client: TestClient) -> None:
    response = app_client.get("/worker/r/rcpt_not-a-real-one")
    assert response.status_code == 404
    assert "could not find a decision" in response.text


def test_while_a_person_reviews_nothing_of_the_proposal_is_shown(
    app_client: TestClient, keys: Keys
) -> None:
    receipt = receipt_of(app_client, keys)  # a reject: held
    text = app_client.get(f"/worker/r/{receipt}").text
    assert "A person is reviewing this decision" in text
    assert "reject" not in text.lower().replace("rejected", "")
    assert "years experience" not in text


def test_lodge_a_complaint_and_follow_it(app_client: TestClient, keys: Keys) -> None:
    receipt = receipt_of(app_client, keys, decision_type="shortlist", outcome="shortlist")
    page = app_client.get(f"/worker/r/{receipt}")
    sent = app_client.post(
        f"/worker/r/{receipt}/complaints",
        data={"csrf": csrf_of(page.text), "message": "My forklift licence was not counted."},
    )
    assert "Your request was received. Your reference is" in sent.text
    assert "Open: a person is looking at it" in sent.text
    forged = app_client.post(
        f"/worker/r/{receipt}/complaints", data={"csrf": "forged", "message": "Again."}
    )
    assert forged.status_code == 403
    listed = app_client.get("/v1/complaints", headers=keys.header("alice")).json()
    assert [c["message"] for c in listed] == ["My forklift licence was not counted."]


def test_the_page_works_without_scripts_and_labels_every_field(
    app_client: TestClient, keys: Keys
) -> None:
    receipt = receipt_of(app_client, keys, decision_type="shortlist", outcome="shortlist")
    text = app_client.get(f"/worker/r/{receipt}").text
    assert "<script" not in text
    for field in ("message", "contact"):
        assert f'<label for="{field}">' in text and f'id="{field}"' in text
