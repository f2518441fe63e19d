"""The console and the worker's page in a real browser: Debian's Chromium, headless,
driven by Playwright, against a running sidecar. Screenshots of the main pages go to
``$OVERSIGHT_TEST_ARTIFACTS`` (default ``test-artifacts/``)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.conftest import Keys, decision
from tests.dashboards.tools import tool
from tests.servers import serving

ARTIFACTS = Path(os.environ.get("OVERSIGHT_TEST_ARTIFACTS", "test-artifacts"))
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Browser]:
    """Ask for it after ``sidecar``: Playwright's loop runs while the browser is open, and
    the sidecar's set-up uses asyncio.run."""
    chromium = tool("chromium", "apt-get install chromium chromium-driver")
    home = tmp_path / "home"
    home.mkdir()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=chromium, args=FLAGS, env={**os.environ, "HOME": str(home)}
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def sidecar(tmp_path: Path) -> Iterator[tuple[str, Keys]]:
    with serving(tmp_path) as running:
        yield running


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def submit(url: str, keys: Keys, **overrides: object) -> dict[str, str]:
    response = httpx.post(
        f"{url}/v1/decisions", json=decision(**overrides), headers=keys.header("ingest")
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def sign_in(page: Page, url: str, key: str) -> None:
    page.goto(f"{url}/console/login")
    shot(page, "console-login")
    page.get_by_label("Reviewer key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{url}/console")


def test_a_reviewer_signs_in_claims_and_overrides(
    sidecar: tuple[str, Keys], browser: Browser
) -> None:
    url, keys = sidecar
    held = submit(url, keys, decision_id="app-1042")
    page = browser.new_page()
    sign_in(page, url, keys.alice)
    assert page.get_by_role("heading", name="Review queue").is_visible()
    shot(page, "console-queue")
    page.locator(f"a[href='/console/reviews/{held['review_id']}']").click()
    assert page.get_by_text("What the AI proposed").is_visible()
    page.get_by_role("button", name="Claim this task").click()
    shot(page, "console-decision")
    page.get_by_label("Override it with another outcome").check()
    page.get_by_label("New outcome (for an override)").fill("shortlist")
    page.get_by_label("Rationale").fill("Seasonal warehouse work was not counted as experience.")
    page.get_by_role("button", name="Record my decision").click()
    assert page.get_by_text("Recorded: the decision is now overridden.").is_visible()
    record = httpx.get(f"{url}/v1/decisions/app-1042", headers=keys.header("admin")).json()
    assert record["status"] == "overridden" and record["final_outcome"] == "shortlist"
    # ... and the worker's page shows the outcome now in force
    page.goto(f"{url}/worker/r/{held['receipt']}")
    assert page.get_by_text(
        "A person reviewed this decision and changed it.", exact=True
    ).is_visible()
    assert page.locator("dd strong").inner_text() == "shortlist"


def test_a_worker_reads_the_explanation_and_lodges_a_complaint(
    sidecar: tuple[str, Keys], browser: Browser
) -> None:
    url, keys = sidecar
    released = submit(url, keys, decision_type="shortlist", outcome="shortlist")
    page = browser.new_page(locale="nl-NL")
    page.goto(f"{url}/worker")
    page.get_by_label("Uw ontvangstbewijs").fill(released["receipt"])
    page.get_by_role("button", name="Toon mijn beslissing").click()
    assert page.get_by_role("heading", name="Wat er is beslist").is_visible()
    assert page.get_by_text("Wat het zwaarst woog").is_visible()
    shot(page, "worker-decision-nl")
    page.get_by_role("link", name="English").click()
    assert page.get_by_role("heading", name="What was decided").is_visible()
    page.get_by_label("What is wrong, in your own words").fill(
        "My forklift licence from Poland was not counted."
    )
    page.get_by_role("button", name="Send").click()
    assert page.get_by_text("Your request was received.").is_visible()
    assert page.get_by_text("Open: a person is looking at it").is_visible()
    shot(page, "worker-complaint-sent")
    complaints = httpx.get(f"{url}/v1/complaints", headers=keys.header("alice")).json()
    assert [c["message"] for c in complaints] == [
        "My forklift licence from Poland was not counted."
    ]


def test_the_csrf_token_is_enforced(sidecar: tuple[str, Keys], browser: Browser) -> None:
    url, keys = sidecar
    held = submit(url, keys)
    page = browser.new_page()
    sign_in(page, url, keys.alice)
    page.goto(f"{url}/console/reviews/{held['review_id']}")
    page.evaluate("document.querySelectorAll('input[name=csrf]').forEach(i => i.value = 'forged')")
    page.get_by_role("button", name="Claim this task").click()
    assert page.get_by_text("CSRF check").is_visible()
    shot(page, "console-csrf-refused")
    task = httpx.get(f"{url}/v1/reviews", headers=keys.header("alice")).json()[0]
    assert task["claimed_by"] is None
