"""The outbox: outcomes to deliver, written in the transaction that decides them.

A delivery worker (``adapters.webhooks``, later a Kafka publisher) claims due rows with
``FOR UPDATE SKIP LOCKED`` and a lease, so replicas share the work and a worker that
dies mid-delivery only delays a row until its lease runs out. Delivery is at least
once; ``delivery_id`` is stable per decision, review and channel, so receivers dedupe
by it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from oversight.audit import canonical_json
from oversight.tables import outbox

MAX_BACKOFF = timedelta(hours=1)
#: Decisions recorded by the Kafka worker carry this ``submitted_by``; their final
#: outcomes go to the outcomes topic through this outbox channel.
KAFKA_SUBMITTER = "kafka"
KAFKA_CHANNEL = "kafka"


@dataclass(frozen=True)
class Delivery:
    delivery_id: str
    decision_id: str
    system_id: str
    destination: str
    payload: dict[str, Any]
    attempts: int


def outcome_message(
    *,
    decision_id: str,
    system_id: str,
    decision_type: str,
    status: str,
    review_id: str | None,
    final_outcome: Any,
) -> dict[str, Any]:
    """The message about a decision's outcome, the same on every channel (DESIGN.md)."""
    return {
        "decision_id": decision_id,
        "system_id": system_id,
        "decision_type": decision_type,
        "status": status,
        "review_id": review_id,
        "final_outcome": final_outcome,
    }


def canonical_body(message: dict[str, Any]) -> bytes:
    """The bytes sent (and signed) for a message: the same on every retry."""
    return canonical_json(message).encode("utf-8")


async def enqueue(
    connection: AsyncConnection,
    *,
    channel: str,
    destination: str,
    message: dict[str, Any],
    now: datetime,
) -> str:
    # One delivery per review of a decision: a complaint's re-review may change the
    # outcome again, and that is news the receiver must not dedupe away.
    delivery_id = f"{channel}:{message['decision_id']}:{message['review_id']}"
    await connection.execute(
        insert(outbox).values(
            delivery_id=delivery_id,
            channel=channel,
            decision_id=message["decision_id"],
            system_id=message["system_id"],
            destination=destination,
            payload=message,
            status="pending",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
    )
    return delivery_id


async def claim_due(
    engine: AsyncEngine, *, channel: str, now: datetime, lease: timedelta, limit: int
) -> list[Delivery]:
    """Take up to ``limit`` due deliveries for ``lease``; nobody else gets them meanwhile."""
    async with engine.begin() as connection:
        rows = (
            await connection.execute(
                select(outbox)
                .where(
                    outbox.c.channel == channel,
                    outbox.c.status == "pending",
                    outbox.c.next_attempt_at <= now,
                )
                .order_by(outbox.c.next_attempt_at)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        ).all()
        if rows:
            await connection.execute(
                update(outbox)
                .where(outbox.c.delivery_id.in_([r.delivery_id for r in rows]))
                .values(next_attempt_at=now + lease)
            )
    return [
        Delivery(r.delivery_id, r.decision_id, r.system_id, r.destination, r.payload, r.attempts)
        for r in rows
    ]


async def mark_delivered(engine: AsyncEngine, delivery_id: str, now: datetime) -> None:
    async with engine.begin() as connection:
        await connection.execute(
            update(outbox)
            .where(outbox.c.delivery_id == delivery_id)
            .values(
                status="delivered",
                delivered_at=now,
                attempts=outbox.c.attempts + 1,
                last_error=None,
            )
        )


async def mark_failed_attempt(
    engine: AsyncEngine,
    delivery: Delivery,
    error: str,
    now: datetime,
    *,
    base_delay: timedelta,
    max_attempts: int,
) -> bool:
    """Schedule the next try with exponential backoff; True when it gives up for good."""
    attempts = delivery.attempts + 1
    gave_up = attempts >= max_attempts
    delay = min(base_delay * (2 ** (attempts - 1)), MAX_BACKOFF)
    async with engine.begin() as connection:
        await connection.execute(
            update(outbox)
            .where(outbox.c.delivery_id == delivery.delivery_id)
            .values(
                status="failed" if gave_up else "pending",
                attempts=attempts,
                next_attempt_at=now + delay,
                last_error=error[:2000],
            )
        )
    return gave_up
