"""``oversight kafka`` with suggested changes patched in at run time, to measure them
before anyone makes them in adapters/ or oversight/ (``bench/kafka.py --variant``).

    .venv/bin/python bench/kafka_variant.py VARIANTS kafka --db URL --policy FILE ...

VARIANTS is a comma-separated list of:

- ``none``            no change (the same as ``oversight kafka``)
- ``uvloop``          the worker's event loop is uvloop (``oversight serve`` already runs
                      on it through uvicorn; ``oversight kafka`` uses plain asyncio)
- ``batch-publish``   ``KafkaWorker._handle`` publishes a batch's routed messages as one
                      ``BatchBuilder`` per partition (``create_batch`` / ``send_batch``),
                      awaiting one future per partition, instead of one ``send_and_wait``
                      coroutine per message. Still all delivered before the offsets commit.
- ``validate-json``   ``KafkaWorker._prepare`` validates the bytes directly with
                      ``DecisionIn.model_validate_json`` instead of ``json.loads`` +
                      ``model_validate`` (not-JSON then reads "invalid decision: (body):
                      Invalid JSON" in the dead-letter reason)
- ``dump-once``       the decision's ``model_dump(mode="json")`` made for the body digest in
                      ``Oversight.prepare`` is reused for the ``decision_recorded`` payload in
                      ``DecisionRecorder._new`` (today the recorder dumps the model again)
- ``fetch-wait``      the worker's consumer with ``fetch_max_wait_ms=50`` (the flush
                      interval) instead of aiokafka's default 500 ms: how long the broker may
                      hold a fetch that has nothing new
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

VARIANTS = {"none", "uvloop", "batch-publish", "validate-json", "dump-once", "fetch-wait"}


def patch(variants: set[str]) -> None:
    unknown = variants - VARIANTS
    if unknown:
        raise SystemExit(f"unknown variants: {', '.join(sorted(unknown))}")

    if "uvloop" in variants:
        import uvloop

        uvloop.install()  # asyncio.run in oversight.cli._run then makes a uvloop loop

    if "batch-publish" in variants:
        from adapters.kafka import KafkaWorker

        original_handle = KafkaWorker._handle
        original_send = KafkaWorker._send

        async def _send(self: Any, topic: str, key: str, message: dict[str, Any]) -> None:
            buffer = getattr(self, "_bench_buffer", None)
            if buffer is None or topic != self._topics.routed:
                await original_send(self, topic, key, message)
                return
            from oversight import outbox

            buffer.append((key.encode(), outbox.canonical_body(message)))

        async def _handle(self: Any, messages: Any) -> None:
            self._bench_buffer = []
            try:
                await original_handle(self, messages)
                items, self._bench_buffer = self._bench_buffer, None
                await publish_batches(self._producer, self._topics.routed, items)
            finally:
                self._bench_buffer = None

        KafkaWorker._send = _send  # type: ignore[method-assign]
        KafkaWorker._handle = _handle  # type: ignore[method-assign]

    if "validate-json" in variants:
        from adapters.kafka import KafkaWorker
        from oversight import outbox
        from oversight.schemas import DecisionIn

        def _prepare(self: Any, message: Any) -> Any:
            if message.value is None:
                raise ValueError("the message has no value")
            decision = DecisionIn.model_validate_json(message.value)
            return self._oversight.prepare(
                decision,
                submitted_by=outbox.KAFKA_SUBMITTER,
                default_id=f"kafka:{message.topic}:{message.partition}:{message.offset}",
            )

        KafkaWorker._prepare = _prepare  # type: ignore[method-assign]

    if "dump-once" in variants:
        from oversight import recorder
        from oversight.audit import canonical_json, sha256_hex

        dumps: dict[int, dict[str, Any]] = {}

        def digest_of(decision: Any) -> str:
            dump = decision.model_dump(mode="json")
            dumps[id(decision)] = dump
            return sha256_hex(canonical_json(dump))

        class Decision:
            """Stands in for the model inside _new: model_dump answers from the cache."""

            def __init__(self, model: Any) -> None:
                self._model = model

            def __getattr__(self, name: str) -> Any:
                return getattr(self._model, name)

            def model_dump(self, **kwargs: Any) -> dict[str, Any]:
                dump = dumps.pop(id(self._model), None)
                if dump is None or kwargs.get("mode") != "json":
                    return self._model.model_dump(**kwargs)  # type: ignore[no-any-return]
                return {k: v for k, v in dump.items() if k not in kwargs.get("exclude", ())}

        original_new = recorder.DecisionRecorder._new

        def _new(self: Any, submission: Any, **kwargs: Any) -> Any:
            import dataclasses

            wrapped = dataclasses.replace(submission, decision=Decision(submission.decision))
            return original_new(self, wrapped, **kwargs)

        recorder.Submission.digest_of = staticmethod(digest_of)  # type: ignore[method-assign]
        recorder.DecisionRecorder._new = _new  # type: ignore[method-assign]

    if "fetch-wait" in variants:
        import functools

        import adapters.kafka

        adapters.kafka.AIOKafkaConsumer = functools.partial(  # type: ignore[misc]
            adapters.kafka.AIOKafkaConsumer, fetch_max_wait_ms=50
        )


async def publish_batches(producer: Any, topic: str, items: list[tuple[bytes, bytes]]) -> None:
    """Publish ``(key, value)`` pairs with the producer's partitioner, one batch per
    partition (more when one fills up), and wait until the broker has them all."""
    if not items:
        return
    await producer.client._wait_on_metadata(topic)
    batches: dict[int, Any] = {}
    futures = []
    for key, value in items:
        partition = producer._partition(topic, None, key, value, key, value)
        batch = batches.get(partition)
        if batch is None:
            batch = batches[partition] = producer.create_batch()
        if batch.append(key=key, value=value, timestamp=None) is None:
            batch.close()
            futures.append(await producer.send_batch(batch, topic, partition=partition))
            batch = batches[partition] = producer.create_batch()
            batch.append(key=key, value=value, timestamp=None)
    for partition, batch in batches.items():
        batch.close()
        futures.append(await producer.send_batch(batch, topic, partition=partition))
    await asyncio.gather(*futures)


def main() -> None:
    variants = set(sys.argv[1].split(","))
    patch(variants)
    from oversight.cli import main as oversight_main

    sys.argv = ["oversight", *sys.argv[2:]]
    oversight_main()


if __name__ == "__main__":
    main()
