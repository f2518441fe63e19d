"""``oversight.__all__`` lists exactly the public names, for SDK users to rely on."""

from __future__ import annotations

import asyncio
from pathlib import Path

import oversight
from oversight.policy import parse_policy
from tests.conftest import POLICY_YAML


def test_all_lists_every_public_name() -> None:
    public = {
        name
        for name, value in vars(oversight).items()
        if not name.startswith("_") and not isinstance(value, type(oversight))
    }
    assert sorted(oversight.__all__) == sorted(public)


def test_in_process_use_without_a_server(tmp_path: Path) -> None:
    async def run() -> tuple[str, str, bool]:
        settings = oversight.Settings(db=f"sqlite:///{tmp_path / 'library.db'}")
        async with oversight.Oversight.open(settings, policy=parse_policy(POLICY_YAML)) as engine:
            recorded = await engine.submit(
                oversight.DecisionIn(
                    system_id="cv-screening",
                    decision_type="shortlist",
                    subject_id="w-1",
                    outcome="yes",
                ),
                submitted_by="my-app",
            )
            verified = await engine.verify()
        return recorded.accepted.status, recorded.accepted.receipt, verified.ok

    status, receipt, ok = asyncio.run(run())
    assert status == "released" and receipt.startswith("rcpt_") and ok
