"""Where one Kafka worker's time per decision goes, stage by stage, in process.

The Kafka worker (``adapters/kafka.py``) does, per batch: validate each message's bytes
(``DecisionIn.model_validate_json``), prepare it (``Oversight.prepare``: body digest,
HMAC pseudonym, checks), record the batch in one transaction
(``DecisionRecorder.record_many``: chain lock, look-ups, per-decision rows and audit
hashing in ``_new``, the inserts, the commit), build one routed message per decision
(``_routed_message`` + ``outbox.canonical_body``), and publish them
(``KafkaWorker._publish``: one record batch per partition).

This script runs those same functions on the bodies ``kafka.py`` produces, without a
broker, and times each stage over ``-n`` decisions in batches of ``--batch``: wall time
and this process's CPU time, in µs per decision. The database stages are split by
statement (``AsyncConnection.execute`` is wrapped), the commit is what remains. The
publish stage runs ``KafkaWorker._publish`` against a producer that is never started:
partitioning and filling the record batches are measured, the network and the broker
are not (that is the ``kafka-io`` baseline of ``kafka.py``).

    .venv/bin/python bench/kafka_breakdown.py --backend postgres -n 20000 --batch 500
    .venv/bin/python bench/kafka_breakdown.py --backend both --repeats 3

Uses the PostgreSQL database ``kafkabench`` (dropped and recreated) or a temporary
SQLite file. Runs with the collector thresholds ``oversight kafka`` sets.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
from common import (  # noqa: E402
    POLICY,
    cpu_calibration,
    machine_facts,
    median,
    wait_quiet,
)
from kafka import decision_messages, fresh_database, other_benchmark_running  # noqa: E402


class Clock:
    """Accumulates wall and CPU seconds per stage."""

    def __init__(self) -> None:
        self.wall: dict[str, float] = defaultdict(float)
        self.cpu: dict[str, float] = defaultdict(float)

    def add(self, stage: str, wall: float, cpu: float) -> None:
        self.wall[stage] += wall
        self.cpu[stage] += cpu


def statement_name(statement: Any) -> str:
    kind = type(statement).__name__.lower()
    table = getattr(statement, "table", None)
    if table is None:
        froms = getattr(statement, "get_final_froms", lambda: [])()
        table = froms[0] if froms else None
    return f"sql {kind} {getattr(table, 'name', '?')}"


class OfflineProducer:
    """What ``KafkaWorker._publish`` uses of its producer, without a broker: real record
    batches from an aiokafka producer that is never started; sending does nothing."""

    def __init__(self, partitions: int) -> None:
        from aiokafka import AIOKafkaProducer

        self._producer = AIOKafkaProducer(bootstrap_servers="127.0.0.1:9", linger_ms=5)
        self._partitions = set(range(partitions))
        self.batches = 0

    async def partitions_for(self, topic: str) -> set[int]:
        return self._partitions

    def create_batch(self) -> Any:
        return self._producer.create_batch()

    async def send_batch(self, batch: Any, topic: str, *, partition: int) -> asyncio.Future[None]:
        batch.close()  # what the accumulator does before it sends
        self.batches += 1
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done

    async def stop(self) -> None:
        await self._producer.stop()


async def one_run(
    db_url: str, n: int, batch: int, seed: int, partitions: int
) -> tuple[Clock, float, float]:
    from types import SimpleNamespace

    from aiokafka.partitioner import DefaultPartitioner
    from sqlalchemy.ext.asyncio import AsyncConnection

    from adapters.kafka import KafkaWorker, _routed_message
    from oversight import outbox
    from oversight.recorder import DecisionRecorder
    from oversight.schemas import DecisionIn
    from oversight.service import Oversight
    from oversight.settings import Settings

    messages = decision_messages(n, f"b{seed}", seed=seed, reject_share=0.1)
    clock = Clock()
    perf, proc = time.perf_counter, time.process_time

    original_execute = AsyncConnection.execute
    original_new = DecisionRecorder._new

    async def timed_execute(self: AsyncConnection, statement: Any, *a: Any, **k: Any) -> Any:
        w, c = perf(), proc()
        try:
            return await original_execute(self, statement, *a, **k)
        finally:
            clock.add(statement_name(statement), perf() - w, proc() - c)

    def timed_new(self: DecisionRecorder, *a: Any, **k: Any) -> Any:
        w, c = perf(), proc()
        try:
            return original_new(self, *a, **k)
        finally:
            clock.add("_new (rows, receipt, audit hashing)", perf() - w, proc() - c)

    settings = Settings(db=db_url, policy=POLICY, subject_key="s", receipt_key="r")
    producer = OfflineProducer(partitions)
    # what KafkaWorker._publish reads of its worker, so that the worker's own code runs
    publisher = SimpleNamespace(_producer=producer, _partitioner=DefaultPartitioner())
    gc.set_threshold(50_000, 20, 20)  # as `oversight kafka` sets it
    AsyncConnection.execute = timed_execute  # type: ignore[method-assign]
    DecisionRecorder._new = timed_new  # type: ignore[method-assign]
    try:
        async with Oversight.open(settings) as ov:
            all_w, all_c = perf(), proc()
            for start in range(0, n, batch):
                chunk = messages[start : start + batch]
                w1, c1 = perf(), proc()
                models = [DecisionIn.model_validate_json(value) for _, _, value in chunk]
                w2, c2 = perf(), proc()
                clock.add("DecisionIn.model_validate_json", w2 - w1, c2 - c1)
                submissions = [
                    ov.prepare(m, submitted_by=outbox.KAFKA_SUBMITTER, default_id="x")
                    for m in models
                ]
                w3, c3 = perf(), proc()
                clock.add("Oversight.prepare (digest, HMAC, checks)", w3 - w2, c3 - c2)
                results = await ov.recorder.record_many(submissions)
                w4, c4 = perf(), proc()
                clock.add("record_many (total)", w4 - w3, c4 - c3)
                routed = [
                    (s.decision_id.encode(), outbox.canonical_body(_routed_message(s, r)))
                    for s, r in zip(submissions, results, strict=True)
                ]
                w5, c5 = perf(), proc()
                clock.add("routed message + canonical_body", w5 - w4, c5 - c4)
                assert len(routed) == len(chunk)
                await KafkaWorker._publish(  # type: ignore[arg-type]
                    publisher, "oversight.routed", routed
                )
                w6, c6 = perf(), proc()
                clock.add("_publish: partition + record batches (no I/O)", w6 - w5, c6 - c5)
            total_w, total_c = perf() - all_w, proc() - all_c
    finally:
        await producer.stop()
        AsyncConnection.execute = original_execute  # type: ignore[method-assign]
        DecisionRecorder._new = original_new  # type: ignore[method-assign]
    return clock, total_w, total_c


async def micro(n: int) -> dict[str, float]:
    """µs per decision of the pieces inside prepare and _new, one at a time."""
    from adapters.kafka import _routed_message  # noqa: F401
    from oversight.audit import canonical_json, sha256_hex
    from oversight.pseudonyms import Pseudonymiser
    from oversight.receipts import ReceiptIssuer, receipt_hash
    from oversight.schemas import DecisionIn

    messages = decision_messages(n, "m", seed=7, reject_share=0.1)
    bodies = [json.loads(v) for _, _, v in messages]
    models = [DecisionIn.model_validate(b) for b in bodies]
    pseudo = Pseudonymiser(b"s")
    receipts = ReceiptIssuer(b"r")
    out: dict[str, float] = {}

    def timeit(name: str, fn: Any) -> None:
        best = float("inf")
        for _ in range(3):
            started = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - started)
        out[name] = best / n * 1e6

    timeit("json.loads", lambda: [json.loads(v) for _, _, v in messages])
    timeit("DecisionIn.model_validate", lambda: [DecisionIn.model_validate(b) for b in bodies])
    timeit(
        "DecisionIn.model_validate_json (bytes)",
        lambda: [DecisionIn.model_validate_json(v) for _, _, v in messages],
    )
    timeit("model_dump(mode=json)", lambda: [m.model_dump(mode="json") for m in models])
    dumps = [m.model_dump(mode="json") for m in models]
    timeit("canonical_json of the dump", lambda: [canonical_json(d) for d in dumps])
    texts = [canonical_json(d) for d in dumps]
    timeit("sha256_hex of it", lambda: [sha256_hex(t) for t in texts])
    timeit("HMAC pseudonym", lambda: [pseudo(m.subject_id) for m in models])
    timeit(
        "receipt (nonce + HMAC + sha256)",
        lambda: [
            receipt_hash(receipts.receipt(m.decision_id or "", receipts.new_nonce()))
            for m in models
        ],
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("-n", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--partitions", type=int, default=4, help="of oversight.routed")
    parser.add_argument("--quiet-wait", type=float, default=180.0)
    args = parser.parse_args()
    print("machine:", json.dumps(machine_facts()), flush=True)
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    with tempfile.TemporaryDirectory(prefix="kafkabreak-") as tmp:
        for backend in backends:
            runs: list[tuple[Clock, float, float]] = []
            for rep in range(args.repeats):
                for _ in range(90):  # bench/proxy.py shares the machine: up to 30 min
                    if not other_benchmark_running():
                        break
                    time.sleep(20)
                background = wait_quiet(max_wait=args.quiet_wait)
                calibration = cpu_calibration()
                db_url = fresh_database(backend, Path(tmp))
                runs.append(asyncio.run(one_run(db_url, args.n, args.batch, rep, args.partitions)))
                clock, wall, cpu = runs[-1]
                print(
                    f"[{backend} #{rep}] {args.n / wall:,.0f} decisions/s without Kafka "
                    f"({wall / args.n * 1e6:.0f} us wall, {cpu / args.n * 1e6:.0f} us cpu per "
                    f"decision); background {background:.2f}, calibration {calibration:.0f} ms",
                    flush=True,
                )
            stages = list(runs[0][0].wall)
            per = lambda d, r: d / args.n * 1e6  # noqa: E731
            print(f"\n{backend}, batch {args.batch}, median of {len(runs)} (us per decision):")
            print(f"{'stage':48s} {'wall':>8s} {'cpu':>8s}")
            sql_w = sql_c = 0.0
            for stage in stages:
                w = median([per(c.wall[stage], None) for c, _, _ in runs])
                c = median([per(cl.cpu[stage], None) for cl, _, _ in runs])
                print(f"{stage:48s} {w:8.1f} {c:8.1f}")
                if stage.startswith("sql "):
                    sql_w, sql_c = sql_w + w, sql_c + c
            rm_w = median([per(c.wall["record_many (total)"], None) for c, _, _ in runs])
            rm_c = median([per(c.cpu["record_many (total)"], None) for c, _, _ in runs])
            new_w = median(
                [per(c.wall["_new (rows, receipt, audit hashing)"], None) for c, _, _ in runs]
            )
            new_c = median(
                [per(c.cpu["_new (rows, receipt, audit hashing)"], None) for c, _, _ in runs]
            )
            print(
                f"{'record_many minus _new and statements (commit, metrics, ...)':48s} "
                f"{rm_w - new_w - sql_w:8.1f} {rm_c - new_c - sql_c:8.1f}"
            )
            total_w = median([w / args.n * 1e6 for _, w, _ in runs])
            total_c = median([c / args.n * 1e6 for _, _, c in runs])
            print(f"{'total':48s} {total_w:8.1f} {total_c:8.1f}\n", flush=True)
    print("micro-benchmarks (best of 3, us per decision):")
    for name, us in asyncio.run(micro(args.n)).items():
        print(f"  {name:44s} {us:7.2f}")


if __name__ == "__main__":
    main()
