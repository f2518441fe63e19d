"""The Kafka adapter: decisions in from a topic, routing results and outcomes out.

A ``KafkaWorker`` consumes ``oversight.decisions`` in batches. Each batch is validated,
recorded in one transaction, its routing results are published to ``oversight.routed``,
and only then are its offsets committed. Anything that fails on the way (the database,
the broker) rewinds the consumer to the batch's first offsets and tries again after a
backoff: nothing uncommitted is ever taken as done, and since recording is idempotent by
decision id, a redelivered message is recorded once. (Writing one batch while checking
the next was tried and measured: the checks are one synchronous block that overlaps only
the write's first round trip, +1 % at most; bench/results/kafka-postgres-timeline-final.log.)
A message without a ``decision_id`` gets ``kafka:<topic>:<partition>:<offset>``, stable
across redeliveries.

Poison messages (not JSON, failing validation, an unknown system, an id reused with
another body) go to ``oversight.decisions.dlq`` with the original bytes as the value and
the reason in headers; the worker keeps going. Final outcomes of decisions that came
from Kafka reach ``oversight.outcomes`` through the database outbox, so a decision
decided by a reviewer while no worker runs is published when one starts.

Messages on routed and outcomes are JSON with ``decision_id``, ``system_id``,
``decision_type`` and ``status`` (plus ``review_id`` when held, ``final_outcome`` once in
force), keyed by the decision id.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.producer.message_accumulator import BatchBuilder
from pydantic import ValidationError

from adapters.kafka_metrics import CountRebalances, KafkaMetrics
from oversight import outbox
from oversight.errors import OversightError, StorageUnavailable
from oversight.recorder import Recorded, Submission
from oversight.schemas import DecisionIn
from oversight.service import Oversight

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class KafkaTopics:
    decisions: str = "oversight.decisions"
    routed: str = "oversight.routed"
    outcomes: str = "oversight.outcomes"
    dead_letters: str = "oversight.decisions.dlq"


@dataclass(frozen=True)
class Poison:
    message: ConsumerRecord[bytes, bytes]
    reason: str


#: What one ``getmany`` returned: records by partition.
Batch = dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]


class KafkaWorker:
    """Consumes decisions until ``stop`` is set; see the module docstring."""

    def __init__(
        self,
        oversight: Oversight,
        *,
        bootstrap: str,
        group: str,
        topics: KafkaTopics = KafkaTopics(),
        batch_size: int = 500,
        flush_ms: int = 50,
        max_backoff_seconds: float = 30.0,
    ) -> None:
        self._oversight = oversight
        self._bootstrap = bootstrap
        self._group = group
        self._topics = topics
        self._batch_size = batch_size
        self._flush_ms = flush_ms
        self._max_backoff = max_backoff_seconds
        self._metrics = KafkaMetrics(oversight.metrics.registry)
        self._consumer: AIOKafkaConsumer | None = None
        self._producer: AIOKafkaProducer | None = None
        self._partitioner = DefaultPartitioner()

    async def run(self, stop: asyncio.Event) -> None:
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap,
            group_id=self._group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=self._batch_size,
        )
        self._producer = AIOKafkaProducer(bootstrap_servers=self._bootstrap, linger_ms=5)
        await self._start_with_backoff(stop)
        self._consumer.subscribe([self._topics.decisions], listener=CountRebalances(self._metrics))
        publisher = asyncio.create_task(self._publish_outcomes(stop), name="kafka-outcomes")
        failures = 0
        try:
            while not stop.is_set():
                batch = await self._consumer.getmany(
                    timeout_ms=self._flush_ms, max_records=self._batch_size
                )
                messages = [m for partition in batch.values() for m in partition]
                if not messages:
                    continue
                try:
                    await self._handle(messages)
                    await self._commit(batch)
                    failures = 0
                except (StorageUnavailable, KafkaError) as exc:
                    failures += 1
                    cause = "database" if isinstance(exc, StorageUnavailable) else "broker"
                    self._metrics.retries.labels(cause=cause).inc()
                    self._rewind(batch)
                    delay = min(0.5 * 2 ** (failures - 1), self._max_backoff)
                    logger.warning(
                        "batch of %d not done (%s: %s); retrying in %.1f s",
                        len(messages),
                        cause,
                        exc,
                        delay,
                    )
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), delay)
        finally:
            publisher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await publisher
            await self._consumer.stop()
            await self._producer.stop()

    async def _start_with_backoff(self, stop: asyncio.Event) -> None:
        assert self._consumer is not None and self._producer is not None
        delay = 0.5
        while True:
            try:
                await self._producer.start()
                await self._consumer.start()
                return
            except KafkaError as exc:
                if stop.is_set():
                    raise
                logger.warning(
                    "broker %s not reachable (%s); retrying in %.1f s", self._bootstrap, exc, delay
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._max_backoff)

    async def _handle(self, messages: list[ConsumerRecord[bytes, bytes]]) -> None:
        self._metrics.consumed.inc(len(messages))
        self._metrics.batch_size.observe(len(messages))
        submissions: list[Submission] = []
        sources: list[ConsumerRecord[bytes, bytes]] = []
        poison: list[Poison] = []
        for message in messages:
            try:
                submissions.append(self._prepare(message))
                sources.append(message)
            except (ValueError, ValidationError, OversightError) as exc:
                poison.append(Poison(message, _reason(exc)))
        results = await self._oversight.recorder.record_many(submissions) if submissions else []
        now = time.time()
        routed: list[tuple[bytes, bytes]] = []
        recorded = 0
        for submission, source, result in zip(submissions, sources, results, strict=True):
            if isinstance(result, OversightError):
                poison.append(Poison(source, result.message))
                continue
            if result.created:
                recorded += 1
                self._metrics.lag.observe(max(0.0, now - source.timestamp / 1000))
            routed.append(
                (
                    submission.decision_id.encode(),
                    outbox.canonical_body(_routed_message(submission, result)),
                )
            )
        self._metrics.recorded.inc(recorded)
        await asyncio.gather(
            self._publish(self._topics.routed, routed),
            *(self._dead_letter(item) for item in poison),
        )

    async def _publish(self, topic: str, messages: list[tuple[bytes, bytes]]) -> None:
        """Publish ``(key, value)`` pairs and wait until the broker has them all.

        One record batch per partition (more when one fills up), partitioned by key as
        the producer's own partitioner would: a ``send_and_wait`` per message costs
        several times the CPU of recording the decision.
        """
        assert self._producer is not None
        if not messages:
            return
        partitions = sorted(await self._producer.partitions_for(topic))
        batches: dict[int, BatchBuilder] = {}
        delivered = []
        for key, value in messages:
            partition = self._partitioner(key, partitions, partitions)
            batch = batches.get(partition)
            if batch is None:
                batch = batches[partition] = self._producer.create_batch()
            if batch.append(key=key, value=value, timestamp=None) is None:  # full
                delivered.append(await self._producer.send_batch(batch, topic, partition=partition))
                batch = batches[partition] = self._producer.create_batch()
                batch.append(key=key, value=value, timestamp=None)
        for partition, batch in batches.items():
            delivered.append(await self._producer.send_batch(batch, topic, partition=partition))
        await asyncio.gather(*delivered)

    def _prepare(self, message: ConsumerRecord[bytes, bytes]) -> Submission:
        if message.value is None:
            raise ValueError("the message has no value")
        decision = DecisionIn.model_validate_json(message.value)
        return self._oversight.prepare(
            decision,
            submitted_by=outbox.KAFKA_SUBMITTER,
            default_id=f"kafka:{message.topic}:{message.partition}:{message.offset}",
        )

    async def _send(self, topic: str, key: str, message: dict[str, Any]) -> None:
        assert self._producer is not None
        await self._producer.send_and_wait(
            topic, key=key.encode(), value=outbox.canonical_body(message)
        )

    async def _dead_letter(self, item: Poison) -> None:
        assert self._producer is not None
        source = item.message
        self._metrics.dead_lettered.labels(reason=item.reason.split(":")[0][:60]).inc()
        logger.warning(
            "dead-lettered %s/%d@%d: %s", source.topic, source.partition, source.offset, item.reason
        )
        await self._producer.send_and_wait(
            self._topics.dead_letters,
            key=source.key,
            value=source.value,
            headers=[
                ("oversight-error", item.reason.encode()),
                ("oversight-source", f"{source.topic}/{source.partition}@{source.offset}".encode()),
            ],
        )

    async def _commit(self, batch: Batch) -> None:
        assert self._consumer is not None
        started = time.perf_counter()
        await self._consumer.commit({tp: records[-1].offset + 1 for tp, records in batch.items()})
        self._metrics.commit_latency.observe(time.perf_counter() - started)

    def _rewind(self, batch: Batch) -> None:
        """Fetch the batch again next time; nothing of it counts as done."""
        assert self._consumer is not None
        for tp, records in batch.items():
            with contextlib.suppress(KafkaError, AssertionError, ValueError):
                self._consumer.seek(tp, records[0].offset)

    async def _publish_outcomes(self, stop: asyncio.Event) -> None:
        """Publish final outcomes from the outbox to the outcomes topic."""
        engine, clock = self._oversight.engine, self._oversight.clock
        while not stop.is_set():
            try:
                due = await outbox.claim_due(
                    engine,
                    channel=outbox.KAFKA_CHANNEL,
                    now=clock(),
                    lease=timedelta(seconds=30),
                    limit=200,
                )
                for delivery in due:
                    try:
                        await self._send(
                            self._topics.outcomes, delivery.decision_id, delivery.payload
                        )
                    except KafkaError as exc:
                        await outbox.mark_failed_attempt(
                            engine,
                            delivery,
                            f"{type(exc).__name__}: {exc}",
                            clock(),
                            base_delay=timedelta(seconds=1),
                            max_attempts=1_000_000,
                        )
                        continue
                    await outbox.mark_delivered(engine, delivery.delivery_id, clock())
            except StorageUnavailable as exc:
                logger.warning("outcome publisher: %s", exc.message)
                due = []
            except Exception:
                logger.exception("outcome publisher round failed")
                due = []
            if len(due) < 200:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 0.5)


def _routed_message(submission: Submission, recorded: Recorded) -> dict[str, Any]:
    accepted = recorded.accepted
    message = outbox.outcome_message(
        decision_id=accepted.decision_id,
        system_id=submission.decision.system_id,
        decision_type=submission.decision.decision_type,
        status=accepted.status,
        review_id=accepted.review_id,
        final_outcome=submission.decision.outcome if accepted.status == "released" else None,
    )
    message["findings"] = [f.model_dump() for f in accepted.findings]
    return message


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        errors = exc.errors()
        if errors and errors[0]["type"] == "json_invalid":
            return f"unreadable: the value is not JSON: {errors[0]['msg']}"
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(body)'}: {e['msg']}" for e in errors
        )
        return f"invalid decision: {problems}"
    if isinstance(exc, OversightError):
        return f"refused: {exc.message}"
    return f"unreadable: {exc}"


async def create_topics(bootstrap: str, topics: KafkaTopics, partitions: int) -> None:
    """Create the four topics (tests, first set-up); existing ones are left alone."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [topics.decisions, topics.routed, topics.outcomes, topics.dead_letters]
        new = [
            NewTopic(name, num_partitions=partitions, replication_factor=1)
            for name in wanted
            if name not in existing
        ]
        if new:
            await admin.create_topics(new)
    finally:
        await admin.close()
