"""The SDK: OversightClient over a real socket, and @overseen with the client and in-process."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.sdk import DecisionBlocked, PendingReview, overseen
from oversight import Oversight, Settings
from oversight.client import OversightClient
from oversight.errors import Conflict, InvalidRequest, PermissionDenied
from oversight.policy import parse_policy
from tests.conftest import POLICY_YAML, Keys, decision
from tests.servers import serving

EXPLANATION = {"method": "rules", "summary": "Two years or more.", "factors": []}


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Keys]]:
    with serving(tmp_path) as server:
        yield server


def test_client_submits_and_reads_back(served: tuple[str, Keys]) -> None:
    url, keys = served
    with OversightClient(url, keys.ingest) as client:
        accepted = client.submit(decision(decision_id="sdk-1", decision_type="shortlist"))
        assert accepted.status == "released"
        record = client.decision("sdk-1")
        assert record.final_outcome == "reject"
        assert "api_key=***" in repr(client) and keys.ingest not in repr(client)


def test_client_raises_the_servers_errors(served: tuple[str, Keys]) -> None:
    url, keys = served
    with OversightClient(url, keys.ingest) as client:
        client.submit(decision(decision_id="sdk-2"))
        with pytest.raises(Conflict, match="409"):
            client.submit(decision(decision_id="sdk-2", outcome="hire"))
        with pytest.raises(InvalidRequest, match="system_id"):
            client.submit(decision(system_id="payroll"))
    with OversightClient(url, keys.alice) as client, pytest.raises(PermissionDenied):
        client.submit(decision())


def test_overseen_sync_function(served: tuple[str, Keys]) -> None:
    url, keys = served
    client = OversightClient(url, keys.ingest)

    @overseen(
        system_id="cv-screening",
        decision_type="shortlist",
        subject="candidate_id",
        via=client,
        explanation=lambda _: EXPLANATION,
    )
    def shortlist(candidate_id: str, years: int) -> str:
        return "yes" if years >= 2 else "no"

    @overseen(system_id="cv-screening", decision_type="dismiss", subject="worker", via=client)
    def dismiss(worker: str) -> str:
        return "dismiss"

    @overseen(system_id="emotion-scan", decision_type="score", subject="who", via=client)
    def read_face(who: str) -> float:
        return 0.9

    try:
        assert shortlist("c-1", years=3) == "yes"
        pending = dismiss("w-7")
        assert isinstance(pending, PendingReview)
        assert pending.proposed == "dismiss" and pending.review_id and pending.receipt
        with pytest.raises(DecisionBlocked) as blocked:
            read_face("w-8")
        assert blocked.value.result == 0.9
        assert [f.check for f in blocked.value.findings][0] == "prohibited_system"
    finally:
        client.close()


def test_overseen_names_a_missing_argument() -> None:
    client = OversightClient("http://127.0.0.1:1", "k")
    with pytest.raises(TypeError, match="no argument 'candidate'"):
        overseen(system_id="s", decision_type="t", subject="candidate", via=client)(
            lambda worker: worker
        )
    client.close()


def test_overseen_async_in_process(tmp_path: Path) -> None:
    async def run() -> tuple[object, object]:
        settings = Settings(db=f"sqlite:///{tmp_path / 'sdk.db'}")
        async with Oversight.open(settings, policy=parse_policy(POLICY_YAML)) as engine:

            @overseen(
                system_id="cv-screening",
                decision_type="reject",
                subject="candidate_id",
                via=engine,
                explanation=lambda _: EXPLANATION,
                submitted_by="screener",
            )
            async def screen(candidate_id: str) -> str:
                return "reject"

            held = await screen("c-2")
            released = await overseen(
                system_id="cv-screening",
                decision_type="shortlist",
                subject=lambda candidate_id: candidate_id,
                via=engine,
            )(_async_yes)("c-3")
        return held, released

    held, released = asyncio.run(run())
    assert isinstance(held, PendingReview) and held.proposed == "reject"
    assert released == "yes"


async def _async_yes(candidate_id: str) -> str:
    return "yes"


def test_overseen_refuses_a_sync_function_in_process(tmp_path: Path) -> None:
    async def run() -> None:
        settings = Settings(db=f"sqlite:///{tmp_path / 'sdk.db'}")
        async with Oversight.open(settings, policy=parse_policy(POLICY_YAML)) as engine:
            with pytest.raises(TypeError, match="needs an async function"):
                overseen(system_id="cv-screening", decision_type="reject", subject="c", via=engine)(
                    lambda c: c
                )

    asyncio.run(run())
