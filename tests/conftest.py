"""Shared fixtures: a database per test on SQLite and on PostgreSQL, keys, and a clock.

PostgreSQL is at OVERSIGHT_TEST_POSTGRES_URL (default: the local server's `test`
database). Its tests are skipped when it cannot be reached, unless
OVERSIGHT_REQUIRE_POSTGRES=1 (as .ci/run sets), which makes that a failure.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from sqlalchemy.sql import Select

from oversight.api import create_app
from oversight.database import create_engine
from oversight.keys import create_key
from oversight.policy import Policy, parse_policy
from oversight.service import prepare_schema
from oversight.settings import Settings
from oversight.tables import audit_entries

POSTGRES_URL = os.environ.get(
    "OVERSIGHT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
REQUIRE_POSTGRES = os.environ.get("OVERSIGHT_REQUIRE_POSTGRES") == "1"

POLICY_YAML = """
systems:
  cv-screening:
    purpose: "Screens applications for warehouse roles"
    risk_class: high
    use_case: annex-iii-4a
    reviewers: [alice, bob]
    decision_types:
      shortlist: {category: hiring, impact: low, qa_sample_rate: 0.0}
      sampled:   {category: hiring, impact: low, qa_sample_rate: 1.0}
      reject:    {category: hiring, impact: high, review_sla_hours: 48}
      dismiss:   {category: termination, impact: high}
      double:    {category: promotion, impact: high, four_eyes: true}
  rostering:
    purpose: "Plans shifts"
    risk_class: high
    reviewers: [carol]
    decision_types:
      assign: {category: scheduling, impact: low}
  emotion-scan:
    purpose: "Reads faces in interviews"
    risk_class: prohibited
    reviewers: [alice]
    decision_types:
      score: {category: hiring, impact: low}
complaints:
  sla_days: 14
"""


@pytest.fixture
def policy() -> Policy:
    return parse_policy(POLICY_YAML)


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def _postgres_reachable() -> bool:
    async def ping() -> None:
        engine = create_engine(POSTGRES_URL)
        try:
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        finally:
            await engine.dispose()

    try:
        asyncio.run(ping())
    except Exception:
        return False
    return True


def reset_postgres(url: str = POSTGRES_URL) -> None:
    async def reset() -> None:
        engine = create_engine(url)
        try:
            async with engine.begin() as connection:
                await connection.execute(text("DROP SCHEMA public CASCADE"))
                await connection.execute(text("CREATE SCHEMA public"))
        finally:
            await engine.dispose()

    asyncio.run(reset())


def _fresh_postgres() -> str:
    if not _postgres_reachable():
        message = f"PostgreSQL is not reachable at {POSTGRES_URL}"
        if REQUIRE_POSTGRES:
            pytest.fail(message + " and OVERSIGHT_REQUIRE_POSTGRES=1")
        pytest.skip(message)
    reset_postgres()
    return POSTGRES_URL


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database of each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'oversight.db'}"
    return _fresh_postgres()


@pytest.fixture
def postgres_url() -> str:
    """A fresh, empty PostgreSQL database."""
    return _fresh_postgres()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'oversight.db'}"


@dataclass
class Keys:
    admin: str
    ingest: str
    other_ingest: str
    alice: str
    bob: str
    carol: str
    mallory: str  # a reviewer key whose name no system lists

    def header(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {getattr(self, who)}"}


def make_keys(url: str) -> Keys:
    async def make() -> Keys:
        engine = create_engine(url)
        now = datetime.now(UTC)
        try:
            await prepare_schema(engine)
            names = {
                "admin": ("admin", "root"),
                "ingest": ("ingest", "hr-ai"),
                "other_ingest": ("ingest", "other-ai"),
                "alice": ("reviewer", "alice"),
                "bob": ("reviewer", "bob"),
                "carol": ("reviewer", "carol"),
                "mallory": ("reviewer", "mallory"),
            }
            made = {
                field: await create_key(engine, role=role, name=name, now=now)
                for field, (role, name) in names.items()
            }
            return Keys(**made)
        finally:
            await engine.dispose()

    return asyncio.run(make())


@pytest.fixture
def keys(db_url: str) -> Keys:
    return make_keys(db_url)


@pytest.fixture
def settings(db_url: str) -> Settings:
    return Settings(db=db_url, subject_key="test-subject-key", receipt_key="test-receipt-key")


@pytest.fixture
def client(
    settings: Settings, policy: Policy, clock: FakeClock, keys: Keys
) -> Iterator[TestClient]:
    app = create_app(settings, policy=policy, clock=clock)
    with TestClient(app) as test_client:
        yield test_client


def decision(**overrides: Any) -> dict[str, Any]:
    """A valid decision body; tests change what they are about."""
    body: dict[str, Any] = {
        "system_id": "cv-screening",
        "decision_type": "reject",
        "subject_id": "candidate-17",
        "outcome": "reject",
        "score": 0.21,
        "model_version": "cv-2026.11",
        "inputs": {"years_experience": 1, "certificates": 0},
        "protected": {"gender": "female", "age_band": "25-34"},
        "explanation": {
            "method": "shap",
            "summary": "Few years of relevant experience.",
            "factors": [
                {"feature": "years_experience", "contribution": -0.4, "value": 1},
                {"feature": "certificates", "contribution": -0.1, "value": 0},
                {"feature": "distance_km", "contribution": 0.05, "value": 12},
            ],
        },
    }
    body.update(overrides)
    return body


def read_rows(db_url: str, statement: Select[Any]) -> list[dict[str, Any]]:
    """What a select returns from the database behind a running app, read with an engine
    of its own (for tests that look past the API at what was stored)."""

    async def read() -> list[dict[str, Any]]:
        engine = create_engine(db_url)
        try:
            async with engine.connect() as connection:
                return [dict(row._mapping) for row in await connection.execute(statement)]
        finally:
            await engine.dispose()

    return asyncio.run(read())


def audit_kinds(db_url: str) -> list[str]:
    """The kinds of the audit entries, in chain order."""
    query = select(audit_entries.c.kind).order_by(audit_entries.c.seq)
    return [row["kind"] for row in read_rows(db_url, query)]
