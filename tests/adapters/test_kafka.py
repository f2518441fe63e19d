"""The Kafka worker against a real Kafka-protocol broker (Tansu): exactly once in the
audit log, through kills, rebalances, poison and a broker restart."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from adapters.kafka import KafkaTopics, KafkaWorker, create_topics
from oversight import Oversight, Settings
from oversight.database import create_engine
from oversight.keys import Principal
from oversight.policy import parse_policy
from oversight.schemas import ReviewDecisionIn
from oversight.tables import audit_entries, decisions
from tests.adapters.kafka_support import Broker, produce, read_all
from tests.conftest import POLICY_YAML, decision, make_keys
from tests.servers import free_port, oversight_command, write_policy

TOPICS = KafkaTopics()
ALICE = Principal(name="alice", role="reviewer")


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    running = Broker(tmp_path / "broker.log")
    running.start()
    asyncio.run(create_topics(running.bootstrap, TOPICS, partitions=4))
    try:
        yield running
    finally:
        running.stop()


def stream(count: int, *, prefix: str = "k") -> tuple[list[bytes], list[bytes]]:
    """Mixed decisions: shortlists (released), rejects (held), dismissals (held, four eyes)."""
    types = ["shortlist", "shortlist", "reject", "dismiss"]
    values, keys = [], []
    for i in range(count):
        body = decision(
            decision_id=f"{prefix}-{i}", decision_type=types[i % 4], subject_id=f"worker-{i % 37}"
        )
        values.append(json.dumps(body).encode())
        keys.append(f"cv-screening:worker-{i % 37}".encode())
    return values, keys


async def counts(db_url: str) -> tuple[int, int]:
    """(decisions, decision_recorded audit entries)."""
    engine = create_engine(db_url)
    try:
        async with engine.connect() as connection:
            recorded = (
                await connection.execute(select(func.count()).select_from(decisions))
            ).scalar_one()
            entries = (
                await connection.execute(
                    select(func.count()).where(audit_entries.c.kind == "decision_recorded")
                )
            ).scalar_one()
            return recorded, entries
    finally:
        await engine.dispose()


async def with_worker(
    db_url: str, broker: Broker, body: Callable[[Oversight], Awaitable[Any]]
) -> Any:
    """Run a worker in process while ``body`` runs, then stop it cleanly."""
    settings = Settings(db=db_url, subject_key="s", receipt_key="r")
    async with Oversight.open(settings, policy=parse_policy(POLICY_YAML)) as oversight:
        stop = asyncio.Event()
        worker = KafkaWorker(
            oversight, bootstrap=broker.bootstrap, group="oversight", batch_size=200, flush_ms=20
        )
        running = asyncio.create_task(worker.run(stop))
        try:
            return await body(oversight)
        finally:
            stop.set()
            await running


async def wait_for(db_url: str, expected: int, timeout: float = 60) -> tuple[int, int]:
    deadline = time.monotonic() + timeout
    while True:
        seen = await counts(db_url)
        if seen[0] >= expected or time.monotonic() > deadline:
            return seen
        await asyncio.sleep(0.2)


def test_stream_is_recorded_once_and_routed(db_url: str, broker: Broker) -> None:
    n = 400
    values, keys = stream(n)

    async def run(oversight: Oversight) -> tuple[list[Any], list[Any]]:
        await produce(broker.bootstrap, TOPICS.decisions, values, keys)
        routed = await read_all(broker.bootstrap, TOPICS.routed, n)
        held = json.loads(
            next(
                r.value
                for r in routed
                if json.loads(r.value)["status"] == "pending_review"
                and json.loads(r.value)["decision_type"] == "reject"
            )
        )
        await oversight.reviews.claim(held["review_id"], ALICE)
        await oversight.reviews.decide(
            held["review_id"],
            ALICE,
            ReviewDecisionIn(
                action="override",
                outcome="interview",
                rationale="Two seasonal jobs were not counted as experience.",
            ),
        )
        outcomes = await read_all(broker.bootstrap, TOPICS.outcomes, 1)
        return routed, outcomes

    routed, outcomes = asyncio.run(with_worker(db_url, broker, run))
    assert asyncio.run(counts(db_url)) == (n, n)
    messages = [json.loads(r.value) for r in routed]
    assert sorted(m["decision_id"] for m in messages) == sorted(f"k-{i}" for i in range(n))
    assert all(r.key.decode() == json.loads(r.value)["decision_id"] for r in routed)
    statuses = {m["decision_type"]: set() for m in messages}
    for m in messages:
        statuses[m["decision_type"]].add(m["status"])
    assert statuses == {
        "shortlist": {"released"},
        "reject": {"pending_review"},
        "dismiss": {"pending_review"},
    }
    assert all(m["final_outcome"] == "reject" for m in messages if m["status"] == "released")
    assert all(m["review_id"] for m in messages if m["status"] == "pending_review")
    assert len(outcomes) == 1
    outcome = json.loads(outcomes[0].value)
    assert outcome["status"] == "overridden" and outcome["final_outcome"] == "interview"
    assert outcomes[0].key == outcome["decision_id"].encode()


def test_poison_goes_to_the_dead_letter_topic(sqlite_url: str, broker: Broker) -> None:
    good, good_keys = stream(3, prefix="good")
    bad = [
        b"{not json",
        json.dumps(decision(system_id="payroll")).encode(),
        json.dumps({"system_id": "cv-screening"}).encode(),
    ]

    async def run(oversight: Oversight) -> list[Any]:
        await produce(broker.bootstrap, TOPICS.decisions, bad + good, [b"x"] * 3 + good_keys)
        dead = await read_all(broker.bootstrap, TOPICS.dead_letters, 3)
        await wait_for(sqlite_url, 3)
        return dead

    dead = asyncio.run(with_worker(sqlite_url, broker, run))
    assert sorted(r.value for r in dead) == sorted(bad)
    reasons = sorted(dict(r.headers)["oversight-error"].decode() for r in dead)
    assert reasons[0].startswith("invalid decision:") and "decision_type" in reasons[0]
    assert "payroll" in reasons[1] and reasons[1].startswith("refused:")
    assert reasons[2].startswith("unreadable: the value is not JSON")
    assert all(
        dict(r.headers)["oversight-source"].startswith(b"oversight.decisions/") for r in dead
    )
    assert asyncio.run(counts(sqlite_url)) == (3, 3)


def start_worker(
    db_url: str, broker: Broker, folder: Path, name: str, metrics_port: int | None = None
) -> subprocess.Popen[bytes]:
    """``oversight kafka`` as a real process; the schema is made first, so tests can count."""
    make_keys(db_url)
    args = [
        "kafka",
        "--db",
        db_url,
        "--policy",
        str(write_policy(folder)),
        "--bootstrap",
        broker.bootstrap,
        "--group",
        "oversight",
    ]
    if metrics_port is not None:
        args += ["--metrics-port", str(metrics_port)]
    with (folder / f"{name}.log").open("ab") as log:
        return subprocess.Popen(
            oversight_command(*args),
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "OVERSIGHT_SUBJECT_KEY": "s", "OVERSIGHT_RECEIPT_KEY": "r"},
        )


def test_kill_9_mid_stream_records_everything_exactly_once(
    db_url: str, broker: Broker, tmp_path: Path
) -> None:
    n = 8000  # large enough that the kill lands mid-stream on a fast machine too
    asyncio.run(produce(broker.bootstrap, TOPICS.decisions, *stream(n)))
    worker = start_worker(db_url, broker, tmp_path, "first")
    try:
        seen = asyncio.run(wait_for(db_url, 300))
        assert 0 < seen[0] < n, "kill the worker mid-stream, not after it"
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        worker = start_worker(db_url, broker, tmp_path, "second")
        assert asyncio.run(wait_for(db_url, n)) == (n, n)
        time.sleep(1)  # anything recorded twice would show up now
        assert asyncio.run(counts(db_url)) == (n, n)
    finally:
        worker.kill()
        worker.wait()
    verify = subprocess.run(
        oversight_command("audit", "verify", "--db", db_url),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert verify.returncode == 0, verify.stdout


def test_two_workers_share_the_stream_and_one_finishes_it(
    sqlite_url: str, broker: Broker, tmp_path: Path
) -> None:
    n = 4000
    ports = [free_port(), free_port()]
    workers = [
        start_worker(sqlite_url, broker, tmp_path, f"w{i}", port) for i, port in enumerate(ports)
    ]
    try:
        # Both must have joined the group (and been given partitions) before the stream.
        _until(lambda: all(_metric(p, "oversight_kafka_rebalances_total") >= 1 for p in ports))
        time.sleep(2)
        asyncio.run(produce(broker.bootstrap, TOPICS.decisions, *stream(n)))
        _until(lambda: all(_metric(p, "oversight_kafka_recorded_total") > 0 for p in ports))
        shares = [_metric(port, "oversight_kafka_recorded_total") for port in ports]
        workers[1].send_signal(signal.SIGTERM)
        assert workers[1].wait(timeout=30) == 0
        assert asyncio.run(wait_for(sqlite_url, n)) == (n, n)
    finally:
        for worker in workers:
            worker.kill()
            worker.wait()
    assert all(share > 0 for share in shares), shares


def _until(condition: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.2)


def _metric(port: int, name: str) -> float:
    """A counter from a worker's /metrics (0 while it is not serving yet)."""
    try:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics").text
    except httpx.TransportError:
        return 0.0
    line = next((line for line in text.splitlines() if line.startswith(name)), None)
    return 0.0 if line is None else float(line.split()[-1])


def test_broker_restart_between_phases(sqlite_url: str, broker: Broker, tmp_path: Path) -> None:
    worker = start_worker(sqlite_url, broker, tmp_path, "worker")
    try:
        asyncio.run(produce(broker.bootstrap, TOPICS.decisions, *stream(500, prefix="one")))
        assert asyncio.run(wait_for(sqlite_url, 500)) == (500, 500)
        broker.stop()
        time.sleep(3)  # the worker sees the broker gone
        assert worker.poll() is None, "the worker must survive the broker going away"
        broker.start()  # memory storage: topics and offsets are gone; make them again
        asyncio.run(create_topics(broker.bootstrap, TOPICS, partitions=4))
        asyncio.run(produce(broker.bootstrap, TOPICS.decisions, *stream(500, prefix="two")))
        assert asyncio.run(wait_for(sqlite_url, 1000, timeout=90)) == (1000, 1000)
        assert worker.poll() is None
    finally:
        worker.kill()
        worker.wait()
