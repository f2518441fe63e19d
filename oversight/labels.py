"""Ground truth that arrives after a decision (``POST /v1/decisions/{id}/label``): it
lets the bias checks compare error rates between groups, not only selection rates.

A label is written once. The same label again is a replay; a different one is refused,
because a bias report must not change under its readers without a trace. Each label is
an audit entry, written under the chain lock so that its ``seq`` follows commit order.
"""

from __future__ import annotations

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from oversight.audit import ChainHead
from oversight.clock import Clock
from oversight.database import storage_errors
from oversight.errors import Conflict, InvalidRequest, NotFound
from oversight.keys import Principal
from oversight.policy import Policy
from oversight.schemas import LabelIn, LabelRecorded
from oversight.tables import decision_labels, decisions

_ONE_OF = "Send either favourable (true or false) or outcome (the outcome that proved right)."


class GroundTruth:
    def __init__(self, engine: AsyncEngine, *, policy: Policy, clock: Clock) -> None:
        self._engine = engine
        self._policy = policy
        self._clock = clock

    async def record(
        self, decision_id: str, label: LabelIn, principal: Principal
    ) -> tuple[LabelRecorded, bool]:
        """The label as recorded, and whether it is new (False for a replay)."""
        if (label.favourable is None) == (label.outcome is None):
            raise InvalidRequest(_ONE_OF, field="favourable")
        now = self._clock()
        with storage_errors("recording the label"):
            async with self._engine.begin() as connection:
                head = await ChainHead.lock(connection)
                decision = (
                    await connection.execute(
                        select(decisions.c.system_id, decisions.c.decision_type).where(
                            decisions.c.decision_id == decision_id
                        )
                    )
                ).one_or_none()
                if decision is None:
                    raise NotFound(f"There is no decision {decision_id!r}.")
                favourable = self._favourable(decision.system_id, decision.decision_type, label)
                existing = (
                    await connection.execute(
                        select(decision_labels).where(decision_labels.c.decision_id == decision_id)
                    )
                ).one_or_none()
                if existing is not None:
                    if existing.favourable != favourable or existing.outcome != label.outcome:
                        raise Conflict(
                            f"Decision {decision_id!r} already has ground truth "
                            f"(favourable: {str(existing.favourable).lower()}); labels are "
                            "not changed."
                        )
                    return LabelRecorded.model_validate(existing, from_attributes=True), False
                row = {
                    "decision_id": decision_id,
                    "favourable": favourable,
                    "outcome": label.outcome,
                    "labelled_at": now,
                    "labelled_by": principal.name,
                }
                await connection.execute(insert(decision_labels).values(**row))
                head.add(
                    "label_recorded",
                    {**row, "labelled_at": now.isoformat()},
                    at=now,
                    subject_ref=decision_id,
                )
                await head.write(connection)
        return LabelRecorded.model_validate(row), True

    def _favourable(self, system_id: str, decision_type: str, label: LabelIn) -> bool:
        if label.favourable is not None:
            return label.favourable
        dtype = self._policy.decision_type(system_id, decision_type)
        bias = dtype.bias if dtype else None
        judged = bias.is_favourable(label.outcome, None) if bias else None
        if judged is None:
            raise InvalidRequest(
                f"The policy gives {system_id}.{decision_type} no list of favourable outcomes "
                "to judge this outcome by; send favourable: true or false instead.",
                field="outcome",
            )
        return judged
