"""The timelines inside one recording batch (as the Kafka worker records them) and
across an approval that replaces a shift."""

from __future__ import annotations

import asyncio

from oversight.keys import Principal
from oversight.policy import parse_policy
from oversight.schemas import DecisionIn, ReviewDecisionIn
from oversight.service import Oversight
from oversight.settings import Settings
from tests.api.test_intensity import POLICY, a_shift


def decision(
    decision_id: str, *shifts: dict[str, object], decision_type: str = "assign"
) -> DecisionIn:
    return DecisionIn.model_validate(
        {
            "decision_id": decision_id,
            "system_id": "rostering",
            "decision_type": decision_type,
            "subject_id": "emp-7",
            "outcome": "assigned",
            "explanation": {"summary": "Fills the gap"},
            "context": {"shifts": list(shifts)},
        }
    )


def test_a_decision_sees_the_ones_released_before_it_in_the_same_batch(settings: Settings) -> None:
    async def run() -> list[tuple[str, list[str | None]]]:
        async with Oversight.open(settings, policy=parse_policy(POLICY)) as oversight:
            batch = [
                oversight.prepare(decision("d1", a_shift("2027-01-11 08:00", 8)), submitted_by="k"),
                oversight.prepare(decision("d2", a_shift("2027-01-11 23:00", 6)), submitted_by="k"),
                # d2 was held, so d3 is judged against d1 only: 11 h after d1 is fine.
                oversight.prepare(decision("d3", a_shift("2027-01-12 03:00", 6)), submitted_by="k"),
            ]
            results = await oversight.recorder.record_many(batch)
            return [
                (r.accepted.status, [f.rule for f in r.accepted.findings])  # type: ignore[union-attr]
                for r in results
            ]

    assert asyncio.run(run()) == [
        ("released", []),
        ("pending_review", ["rest_between_shifts"]),
        ("released", []),
    ]


def test_an_approved_change_replaces_the_shift_in_force(settings: Settings) -> None:
    async def run() -> list[str]:
        async with Oversight.open(settings, policy=parse_policy(POLICY)) as oversight:
            first = await oversight.submit(
                decision("d1", a_shift("2027-01-11 08:00", 8, shift_id="s1")), submitted_by="k"
            )
            moved = await oversight.submit(
                decision("d2", a_shift("2027-01-11 14:00", 8, shift_id="s1"), decision_type="plan"),
                submitted_by="k",
            )
            assert first.accepted.status == "released"
            assert moved.accepted.review_id is not None
            carol = Principal(name="carol", role="reviewer")
            await oversight.reviews.claim(moved.accepted.review_id, carol)
            await oversight.reviews.decide(
                moved.accepted.review_id,
                carol,
                ReviewDecisionIn(action="approve", rationale="Agreed with the worker"),
            )
            # 08:00 the next day is 10 h after 22:00 (the moved shift): shortened once,
            # allowed; it would be 16 h after the old 16:00 end. Then a 7 h rest fails.
            later = await oversight.submit(
                decision("d3", a_shift("2027-01-12 05:00", 8)), submitted_by="k"
            )
            return [f.message for f in later.accepted.findings if f.check == "intensity"]

    [message] = asyncio.run(run())
    assert "rest 7h < 8h after the shift ending Mon 11 Jan 2027 22:00" in message
