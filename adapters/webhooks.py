"""Outcome webhooks: POST each final outcome to its system's ``callback_url``.

The body is the outcome message (``oversight.outbox.outcome_message``). Headers:

- ``X-Oversight-Delivery``: the delivery id, the same on every retry: dedupe by it;
- ``X-Oversight-Signature: t=<unix time>,v1=<hex>``, where ``hex`` is
  HMAC-SHA256(secret, ``f"{t}.{body}"``), as Stripe signs its webhooks: the receiver
  recomputes it and rejects old ``t`` values to stop replays.

Any 2xx is success; anything else, or no answer, is retried with exponential backoff
(1 s, 2 s, 4 s ... at most an hour apart) up to ``max_attempts``. State lives in the
outbox table, so a restart resumes where the last process stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import time
from datetime import timedelta

import aiohttp

from oversight import outbox
from oversight.service import Oversight

logger = logging.getLogger(__name__)

CHANNEL = "webhook"


def sign(secret: bytes, body: bytes, timestamp: int) -> str:
    """The signature header's value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify_signature(secret: bytes, body: bytes, header: str, *, tolerance: float = 300) -> bool:
    """What a receiver does: check the MAC and that the timestamp is recent."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
    except (ValueError, KeyError):
        return False
    if abs(time.time() - timestamp) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, body, timestamp), header)


class WebhookDelivery:
    """Delivers due outbox rows of the webhook channel until stopped."""

    def __init__(
        self,
        oversight: Oversight,
        *,
        secret: bytes,
        poll_seconds: float = 0.5,
        timeout_seconds: float = 10.0,
        base_delay: timedelta = timedelta(seconds=1),
        max_attempts: int = 20,
        batch: int = 20,
    ) -> None:
        self._oversight = oversight
        self._secret = secret
        self._poll = poll_seconds
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._base_delay = base_delay
        self._max_attempts = max_attempts
        self._batch = batch
        # A claim outlives one attempt; after a crash the row is free again this soon.
        self._lease = timedelta(seconds=timeout_seconds + 5)
        self._session: aiohttp.ClientSession | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(timeout=self._timeout)
        self._task = asyncio.create_task(self._run(), name="oversight-webhooks")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def deliver_due(self) -> int:
        """One round: deliver what is due now; returns how many were tried."""
        now = self._oversight.clock()
        due = await outbox.claim_due(
            self._oversight.engine,
            channel=CHANNEL,
            now=now,
            lease=self._lease,
            limit=self._batch,
        )
        await asyncio.gather(*(self._deliver(delivery) for delivery in due))
        return len(due)

    async def _run(self) -> None:
        while True:
            try:
                tried = await self.deliver_due()
            except Exception:
                logger.exception("webhook delivery round failed; trying again shortly")
                tried = 0
            if tried < self._batch:
                await asyncio.sleep(self._poll)

    async def _deliver(self, delivery: outbox.Delivery) -> None:
        assert self._session is not None, "start() first"
        body = outbox.canonical_body(delivery.payload)
        headers = {
            "Content-Type": "application/json",
            "X-Oversight-Delivery": delivery.delivery_id,
            "X-Oversight-Signature": sign(self._secret, body, int(time.time())),
        }
        metrics = self._oversight.metrics.deliveries
        error: str | None = None
        try:
            async with self._session.post(
                delivery.destination, data=body, headers=headers
            ) as response:
                if 200 <= response.status < 300:
                    await outbox.mark_delivered(
                        self._oversight.engine, delivery.delivery_id, self._oversight.clock()
                    )
                    metrics.labels(channel=CHANNEL, result="delivered").inc()
                    return
                error = f"HTTP {response.status} from {delivery.destination}"
        except (aiohttp.ClientError, TimeoutError) as exc:
            error = f"{type(exc).__name__} calling {delivery.destination}: {exc}"
        gave_up = await outbox.mark_failed_attempt(
            self._oversight.engine,
            delivery,
            error,
            self._oversight.clock(),
            base_delay=self._base_delay,
            max_attempts=self._max_attempts,
        )
        metrics.labels(channel=CHANNEL, result="gave_up" if gave_up else "retry").inc()
        log = logger.error if gave_up else logger.warning
        log("webhook %s: %s%s", delivery.delivery_id, error, " (giving up)" if gave_up else "")
