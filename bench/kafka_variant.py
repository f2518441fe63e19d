"""``oversight kafka`` with suggested changes patched in at run time, to measure them
before anyone makes them in adapters/ or oversight/ (``bench/kafka.py --variant``).

    .venv/bin/python bench/kafka_variant.py VARIANTS kafka --db URL --policy FILE ...

VARIANTS is a comma-separated list of:

- ``none``            no change (the same as ``oversight kafka``)
- ``uvloop``          the worker's event loop is uvloop (``oversight serve`` already runs
                      on it through uvicorn; ``oversight kafka`` uses plain asyncio)
- ``dump-once``       the decision's ``model_dump(mode="json")`` made for the body digest in
                      ``Oversight.prepare`` is reused for the ``decision_recorded`` payload in
                      ``DecisionRecorder._new`` (today the recorder dumps the model again).
                      The cache is keyed by ``id()`` of the model and emptied by ``_new``
                      only: good for a benchmark without replays, not as shipped code
- ``fetch-wait``      the worker's consumer with ``fetch_max_wait_ms=50`` (the flush
                      interval) instead of aiokafka's default 500 ms: how long the broker may
                      hold a fetch that has nothing new
- ``plan-lookup``     PostgreSQL's ``plan_cache_mode=force_custom_plan`` only around the
                      recorder's look-up of existing decision ids (``SET LOCAL`` before
                      ``DecisionRecorder._existing``, back to ``auto`` after it) instead of
                      for the whole connection (``oversight/database.py``): the INSERTs,
                      executed once per row, then keep their generic plans instead of being
                      planned again for every row

- ``overlap``         the pipelined run loop of ``KafkaWorker.run`` (batch N written in a
                      task while batch N+1 is fetched and checked), but letting batch N's
                      task actually run meanwhile: the loop yields once after starting the
                      task and then every ``OVERLAP_EVERY`` (25) messages while it validates
                      and prepares batch N+1. At 5b9b807, ``getmany`` returns buffered
                      records without yielding and ``_prepare_batch`` is synchronous, so with
                      a backlog batch N's task only starts at ``await task``, after batch
                      N+1 has been prepared: the two do not overlap

- ``timeline``        no change in behaviour: timestamps of each batch's steps (fetch,
                      validate and prepare, the write task's start, ``record_many``, the
                      publish, the offset commit) written as JSON to
                      ``$KAFKA_TIMELINE_OUT`` when the worker exits;
                      ``kafka_variant.py timeline-summary FILE`` prints how the steps of
                      consecutive batches overlap. Combine with ``overlap`` to see its loop

``dump-once`` and ``plan-lookup`` were measured before the change they stand for was
made (commits a337def and 5b9b807): at those commits and later, the recorder dumps each
decision once and sets custom plans around the look-up only, so ``dump-once`` no longer
applies (``Submission.digest_of`` takes the dump) and ``plan-lookup`` only repeats what
the code does.

The earlier variants ``batch-publish`` (routed messages as one record batch per partition)
and ``validate-json`` (``DecisionIn.model_validate_json`` on the bytes) are what
``adapters/kafka.py`` does now.
"""

from __future__ import annotations

import sys
from typing import Any

VARIANTS = {"none", "uvloop", "dump-once", "fetch-wait", "plan-lookup", "overlap", "timeline"}

#: ``overlap``: the loop yields after this many messages of the next batch.
OVERLAP_EVERY = 25


def patch(variants: set[str]) -> None:
    unknown = variants - VARIANTS
    if unknown:
        raise SystemExit(f"unknown variants: {', '.join(sorted(unknown))}")

    if "uvloop" in variants:
        import uvloop

        uvloop.install()  # asyncio.run in oversight.cli._run then makes a uvloop loop

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

    if "plan-lookup" in variants:
        from oversight import database, recorder, service

        def create_engine(url: str, **options: Any) -> Any:
            if database.async_url(url).get_backend_name() == "postgresql":
                options.setdefault("connect_args", {})  # no server_settings: plans as default
            return database.create_engine(url, **options)

        original_existing = recorder.DecisionRecorder._existing

        async def _existing(connection: Any, decision_ids: list[str]) -> Any:
            if connection.dialect.name != "postgresql":
                return await original_existing(connection, decision_ids)
            await connection.exec_driver_sql("SET LOCAL plan_cache_mode = force_custom_plan")
            found = await original_existing(connection, decision_ids)
            await connection.exec_driver_sql("SET LOCAL plan_cache_mode = auto")
            return found

        service.create_engine = create_engine  # type: ignore[assignment]
        recorder.DecisionRecorder._existing = staticmethod(_existing)  # type: ignore[method-assign,assignment]

    if "overlap" in variants:
        patch_overlap()
    if "timeline" in variants:
        patch_timeline()


#: ``timeline``: (step, batch number, start, end) in perf_counter seconds.
EVENTS: list[tuple[str, int, float, float]] = []


def patch_timeline() -> None:
    """Wrap the worker's steps with timestamps; see ``timeline`` above."""
    import atexit
    import functools
    import json
    import os
    import time

    from adapters import kafka
    from oversight.recorder import DecisionRecorder

    perf = time.perf_counter
    state = {"fetched": 0, "prepared": 0}
    worker = kafka.KafkaWorker

    def wrap_async(owner: Any, name: str, step: str, key: str | None) -> None:
        original = getattr(owner, name)

        @functools.wraps(original)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            number = state[key] if key else -1
            started = perf()
            try:
                return await original(*args, **kwargs)
            finally:
                EVENTS.append((step, number, started, perf()))

        setattr(owner, name, wrapper)

    def numbered(prepared: Any, started: float) -> Any:
        state["prepared"] += 1
        prepared._timeline_number = state["prepared"]
        EVENTS.append(("prepare", state["prepared"], started, perf()))
        return prepared

    original_prepare = worker._prepare_batch

    def prepare_batch(self: Any, batch: Any) -> Any:
        started = perf()
        return numbered(original_prepare(self, batch), started)

    original_prepare_async = getattr(worker, "_prepare_batch_async", None)

    async def prepare_batch_async(self: Any, batch: Any) -> Any:
        started = perf()
        return numbered(await original_prepare_async(self, batch), started)

    original_getmany = kafka.AIOKafkaConsumer.getmany

    async def getmany(self: Any, *args: Any, **kwargs: Any) -> Any:
        started = perf()
        result = await original_getmany(self, *args, **kwargs)
        if result:
            state["fetched"] += 1
            EVENTS.append(("fetch", state["fetched"], started, perf()))
        return result

    original_finish = worker._finish

    async def finish(self: Any, batch: Any, prepared: Any) -> Any:
        number = getattr(prepared, "_timeline_number", -1)
        started = perf()
        try:
            return await original_finish(self, batch, prepared)
        finally:
            EVENTS.append(("task", number, started, perf()))

    worker._prepare_batch = prepare_batch  # type: ignore[method-assign]
    if original_prepare_async is not None:
        worker._prepare_batch_async = prepare_batch_async  # type: ignore[attr-defined]
    kafka.AIOKafkaConsumer.getmany = getmany  # type: ignore[method-assign]
    worker._finish = finish  # type: ignore[method-assign]
    wrap_async(DecisionRecorder, "record_many", "record_many", None)
    wrap_async(worker, "_publish", "publish", None)
    wrap_async(worker, "_commit", "commit", None)

    def dump() -> None:
        out = os.environ.get("KAFKA_TIMELINE_OUT", f"/tmp/kafka-timeline-{os.getpid()}.json")
        with open(out, "w") as handle:
            json.dump(EVENTS, handle)

    atexit.register(dump)


def timeline_summary(path: str) -> str:
    """How the steps of consecutive batches overlap, from a ``timeline`` file."""
    import json
    from statistics import mean, median

    events = json.load(open(path))  # noqa: SIM115
    by_step: dict[str, list[tuple[int, float, float]]] = {}
    for step, number, start, end in events:
        by_step.setdefault(step, []).append((number, start, end))
    lines = [f"{'step':14s} {'count':>6s} {'median ms':>10s} {'mean ms':>9s}"]
    for step in ("fetch", "prepare", "task", "record_many", "publish", "commit"):
        spans = [(end - start) * 1000 for _, start, end in by_step.get(step, [])]
        if spans:
            lines.append(f"{step:14s} {len(spans):6d} {median(spans):10.2f} {mean(spans):9.2f}")
    prepares = {n: (s, e) for n, s, e in by_step.get("prepare", [])}
    tasks = {n: (s, e) for n, s, e in by_step.get("task", []) if n > 0}
    # batch n's task against batch n+1's preparation
    starts_after_next_prepare = overlapped = 0
    idle = []
    for n, (t_start, t_end) in tasks.items():
        nxt = prepares.get(n + 1)
        if nxt is None:
            continue
        p_start, p_end = nxt
        if t_start >= p_end:
            starts_after_next_prepare += 1
        overlapped += max(0.0, min(t_end, p_end) - max(t_start, p_start)) * 1000
        idle.append(max(0.0, t_end - p_end) * 1000)
    pairs = sum(1 for n in tasks if n + 1 in prepares)
    if pairs:
        lines.append(
            f"write tasks that started only after the next batch was prepared: "
            f"{starts_after_next_prepare} of {pairs}"
        )
        lines.append(
            f"mean overlap of a write task with the next batch's preparation: "
            f"{overlapped / pairs:.2f} ms; mean wait for the write task after preparing the "
            f"next batch: {mean(idle):.2f} ms"
        )
    all_tasks = sorted(tasks.values())
    if len(all_tasks) > 1:
        span = (all_tasks[-1][1] - all_tasks[0][0]) * 1000
        lines.append(f"ms per batch from the first write to the last: {span / len(all_tasks):.2f}")
    return "\n".join(lines)


def patch_overlap() -> None:
    """``KafkaWorker.run`` as at 5b9b807, with the two yields described above."""
    import asyncio
    import contextlib

    from pydantic import ValidationError

    from adapters import kafka
    from oversight.errors import OversightError, StorageUnavailable

    async def prepare_batch(self: Any, batch: Any) -> Any:
        messages = [m for partition in batch.values() for m in partition]
        self._metrics.consumed.inc(len(messages))
        self._metrics.batch_size.observe(len(messages))
        prepared = kafka.Prepared()
        for i, message in enumerate(messages):
            if i % OVERLAP_EVERY == 0:
                await asyncio.sleep(0)  # the batch being written goes on meanwhile
            try:
                prepared.submissions.append(self._prepare(message))
                prepared.sources.append(message)
            except (ValueError, ValidationError, OversightError) as exc:
                prepared.poison.append(kafka.Poison(message, kafka._reason(exc)))
        return prepared

    async def run(self: Any, stop: asyncio.Event) -> None:
        self._consumer = kafka.AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap,
            group_id=self._group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=self._batch_size,
        )
        self._producer = kafka.AIOKafkaProducer(bootstrap_servers=self._bootstrap, linger_ms=5)
        await self._start_with_backoff(stop)
        self._consumer.subscribe(
            [self._topics.decisions], listener=kafka.CountRebalances(self._metrics)
        )
        publisher = asyncio.create_task(self._publish_outcomes(stop), name="kafka-outcomes")
        failures = 0
        in_flight: Any = None
        try:
            while not stop.is_set():
                batch = await self._consumer.getmany(
                    timeout_ms=self._flush_ms, max_records=self._batch_size
                )
                prepared = await self._prepare_batch_async(batch) if batch else None
                if in_flight is not None:
                    previous, task = in_flight
                    in_flight = None
                    try:
                        await task
                        failures = 0
                    except (StorageUnavailable, kafka.KafkaError) as exc:
                        failures += 1
                        self._rewind(previous, batch)
                        await self._back_off(stop, exc, failures, previous)
                        continue
                if prepared is not None:
                    in_flight = (batch, asyncio.create_task(self._finish(batch, prepared)))
                    await asyncio.sleep(0)  # let it start before the next fetch
            if in_flight is not None:
                with contextlib.suppress(StorageUnavailable, kafka.KafkaError):
                    await in_flight[1]
        finally:
            if in_flight is not None and not in_flight[1].done():
                in_flight[1].cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await in_flight[1]
            publisher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await publisher
            await self._consumer.stop()
            await self._producer.stop()

    kafka.KafkaWorker._prepare_batch_async = prepare_batch  # type: ignore[attr-defined]
    kafka.KafkaWorker.run = run  # type: ignore[method-assign]


def main() -> None:
    if sys.argv[1] == "timeline-summary":
        print(timeline_summary(sys.argv[2]))
        return
    variants = set(sys.argv[1].split(","))
    patch(variants)
    from oversight.cli import main as oversight_main

    sys.argv = ["oversight", *sys.argv[2:]]
    oversight_main()


if __name__ == "__main__":
    main()
