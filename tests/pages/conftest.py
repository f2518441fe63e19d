"""A sidecar app for the pages, reached over https (the session cookie is Secure), and
helpers that act as a person would: read the form's CSRF token, send the form."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from oversight.api import create_app
from oversight.policy import parse_policy
from oversight.settings import Settings
from tests.conftest import POLICY_YAML, FakeClock, Keys

POLICY = POLICY_YAML.replace(
    '    purpose: "Screens applications for warehouse roles"\n',
    '    purpose: "Screens applications for warehouse roles"\n'
    '    known_limits: "Undervalues experience gained abroad and in seasonal work."\n',
)


@pytest.fixture
def app_client(settings: Settings, clock: FakeClock, keys: Keys) -> Iterator[TestClient]:
    app = create_app(settings, policy=parse_policy(POLICY), clock=clock)
    with TestClient(app, base_url="https://testserver") as client:
        yield client


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


def sign_in(client: TestClient, key: str) -> None:
    page = client.get("/console/login")
    response = client.post(
        "/console/login", data={"api_key": key, "csrf": csrf_of(page.text)}, follow_redirects=False
    )
    assert response.status_code == 303, response.text
