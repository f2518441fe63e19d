"""The halt switch of each system (AI Act Art 14(4)(e)): while halted, nothing of that
system is released; every new decision waits for a human."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from oversight import audit
from oversight.clock import Clock
from oversight.database import storage_errors
from oversight.errors import NotFound
from oversight.keys import Principal
from oversight.policy import Policy
from oversight.schemas import HaltState
from oversight.tables import systems


class HaltSwitch:
    def __init__(self, engine: AsyncEngine, *, policy: Policy, clock: Clock) -> None:
        self._engine = engine
        self._policy = policy
        self._clock = clock

    async def set(self, system_id: str, *, halted: bool, by: Principal) -> HaltState:
        if system_id not in self._policy.systems:
            raise NotFound(f"System {system_id!r} is not in the policy.")
        now = self._clock()
        state = HaltState(system_id=system_id, halted=halted, changed_at=now, changed_by=by.name)
        values = state.model_dump(exclude={"system_id"})
        with storage_errors("halting" if halted else "resuming"):
            async with self._engine.begin() as connection:
                # The chain lock first: a batch of decisions being recorded either sees
                # the switch or finishes before it moves.
                head = await audit.ChainHead.lock(connection)
                exists = (
                    await connection.execute(
                        select(systems.c.system_id).where(systems.c.system_id == system_id)
                    )
                ).one_or_none()
                if exists is None:
                    await connection.execute(systems.insert().values(system_id=system_id, **values))
                else:
                    await connection.execute(
                        update(systems).where(systems.c.system_id == system_id).values(**values)
                    )
                head.add(
                    "system_halted" if halted else "system_resumed",
                    {"system_id": system_id, "by": by.name},
                    at=now,
                    subject_ref=system_id,
                )
                await head.write(connection)
        return state
