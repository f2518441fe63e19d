"""Concerns a reviewer raises about a system or a decision: they reach the admins and
the audit log, without the reviewer's name when the reviewer asks (the SER's call for
reviewers who are protected when they speak up)."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from oversight import audit
from oversight.clock import Clock
from oversight.database import read_only, storage_errors
from oversight.errors import InvalidRequest
from oversight.keys import Principal
from oversight.policy import Policy
from oversight.tables import concerns


class ConcernIn(BaseModel):
    message: str = Field(min_length=10, max_length=5000)
    system_id: str | None = Field(default=None, max_length=200)
    decision_id: str | None = Field(default=None, max_length=200)
    anonymous: bool = False


class Concern(BaseModel):
    concern_id: str
    system_id: str | None
    decision_id: str | None
    message: str
    raised_by: str | None
    raised_at: datetime


class ConcernBox:
    def __init__(self, engine: AsyncEngine, *, policy: Policy, clock: Clock) -> None:
        self._engine = engine
        self._reader = read_only(engine)
        self._policy = policy
        self._clock = clock

    async def raise_concern(self, body: ConcernIn, principal: Principal) -> str:
        if body.system_id is not None and body.system_id not in self._policy.systems:
            raise InvalidRequest(f"There is no system {body.system_id!r}.", field="system_id")
        concern_id = str(uuid.uuid4())
        now = self._clock()
        raised_by = None if body.anonymous else principal.name
        with storage_errors("recording the concern"):
            async with self._engine.begin() as connection:
                await connection.execute(
                    insert(concerns).values(
                        concern_id=concern_id,
                        system_id=body.system_id,
                        decision_id=body.decision_id,
                        message=body.message,
                        raised_by=raised_by,
                        raised_at=now,
                    )
                )
                await audit.append(
                    connection,
                    "concern_raised",
                    {
                        "concern_id": concern_id,
                        "system_id": body.system_id,
                        "decision_id": body.decision_id,
                        "message": body.message,
                        "raised_by": raised_by,
                    },
                    at=now,
                )
        return concern_id

    async def recent(self, limit: int = 50) -> list[Concern]:
        with storage_errors("reading the concerns"):
            async with self._reader.connect() as connection:
                rows = await connection.execute(
                    select(concerns).order_by(concerns.c.raised_at.desc()).limit(limit)
                )
                return [Concern.model_validate(dict(r._mapping)) for r in rows]
