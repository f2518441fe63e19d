"""What the Kafka worker counts: consumed, recorded, dead-lettered, batch sizes, lag,
commit latency, rebalances and retries (``oversight_kafka_*`` on ``--metrics-port``)."""

from __future__ import annotations

import logging
from typing import Any

from aiokafka.abc import ConsumerRebalanceListener
from prometheus_client import CollectorRegistry, Counter, Histogram

logger = logging.getLogger("adapters.kafka")


class KafkaMetrics:
    """The worker's counters and histograms, on the sidecar's registry."""

    def __init__(self, r: CollectorRegistry) -> None:
        self.consumed = Counter("oversight_kafka_consumed", "Messages consumed", registry=r)
        self.recorded = Counter(
            "oversight_kafka_recorded",
            "Decisions recorded from Kafka (replays not counted)",
            registry=r,
        )
        self.dead_lettered = Counter(
            "oversight_kafka_dead_lettered",
            "Messages sent to the dead-letter topic",
            ["reason"],
            registry=r,
        )
        self.batch_size = Histogram(
            "oversight_kafka_batch_size",
            "Messages per consumed batch",
            buckets=(1, 10, 50, 100, 250, 500, 1000, 2000, 5000),
            registry=r,
        )
        self.lag = Histogram(
            "oversight_kafka_end_to_end_lag_seconds",
            "From the message's timestamp to its decision being durable",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
            registry=r,
        )
        self.commit_latency = Histogram(
            "oversight_kafka_commit_seconds",
            "Offset commit latency",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1),
            registry=r,
        )
        self.rebalances = Counter(
            "oversight_kafka_rebalances", "Partition assignments received", registry=r
        )
        self.retries = Counter(
            "oversight_kafka_batch_retries",
            "Batches rewound after a failure",
            ["cause"],
            registry=r,
        )


class CountRebalances(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, metrics: KafkaMetrics) -> None:
        self._metrics = metrics

    async def on_partitions_revoked(self, revoked: Any) -> None:
        """Offsets are committed after every batch, so there is nothing to save here."""

    async def on_partitions_assigned(self, assigned: Any) -> None:
        self._metrics.rebalances.inc()
        logger.info("assigned partitions: %s", sorted(f"{p.topic}/{p.partition}" for p in assigned))
