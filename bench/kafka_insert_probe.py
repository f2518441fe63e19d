"""What the recorder's INSERTs cost PostgreSQL, as shipped and done otherwise.

Records ``--preload`` decisions and then ``-n`` more through ``DecisionRecorder.record_many``
(batches of ``--batch``, the bodies of ``kafka.py``) into the PostgreSQL database
``kafkabench`` (dropped and recreated), capturing the bound parameters of every INSERT the
recorder sends for the ``-n`` (SQLAlchemy's ``before_cursor_execute``: the rows exactly as
asyncpg receives them). Then replays each captured batch (its decisions, review_tasks and
audit_entries rows, one transaction, committed) on a plain asyncpg connection into copies
of the tables (``LIKE ... INCLUDING ALL``, holding the preloaded rows), three ways:

* ``executemany``: ``Connection.executemany`` of the recorder's statements, with
  PostgreSQL's default ``plan_cache_mode`` (``auto``: a generic plan after five runs);
* ``executemany-force-custom``: the same with ``plan_cache_mode=force_custom_plan``, as
  ``oversight/database.py`` sets it for every connection: every row is planned again;
* ``copy``: ``copy_records_to_table`` of the same rows.

Reports, in µs per decision: wall time, the CPU of the PostgreSQL backend serving the
connection (``/proc``), and this process's CPU (asyncpg's encoding; SQLAlchemy's own
parameter processing is not in it). Alternates the ways ``--repeats`` times.

    .venv/bin/python bench/kafka_insert_probe.py -n 20000 --preload 100000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
from common import POLICY, machine_facts, pg_url, wait_quiet  # noqa: E402
from kafka import PG_DATABASE, decision_messages, fresh_database  # noqa: E402

TABLES = ["decisions", "review_tasks", "audit_entries"]  # in the order the recorder writes


def backend_cpu(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def record(db_url: str, n: int, batch: int, prefix: str, seed: int) -> list[tuple[str, Any]]:
    """Record ``n`` decisions as the Kafka worker does; the INSERTs it sent."""
    from sqlalchemy import event

    from oversight import outbox
    from oversight.schemas import DecisionIn
    from oversight.service import Oversight
    from oversight.settings import Settings

    captured: list[tuple[str, Any]] = []
    settings = Settings(db=db_url, policy=POLICY, subject_key="s", receipt_key="r")
    async with Oversight.open(settings) as ov:

        def grab(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
            if statement.startswith("INSERT"):
                captured.append((statement, parameters))

        event.listen(ov.engine.sync_engine, "before_cursor_execute", grab)
        messages = decision_messages(n, prefix, seed=seed, reject_share=0.1)
        for start in range(0, n, batch):
            submissions = [
                ov.prepare(
                    DecisionIn.model_validate_json(value),
                    submitted_by=outbox.KAFKA_SUBMITTER,
                    default_id="x",
                )
                for _, _, value in messages[start : start + batch]
            ]
            await ov.recorder.record_many(submissions)
    return captured


async def replay(
    batches: list[dict[str, tuple[str, Any]]], way: str, n: int, audit_rows: int
) -> dict[str, float]:
    import asyncpg

    conn = await asyncpg.connect(pg_url(PG_DATABASE))
    try:
        pid = await conn.fetchval("SELECT pg_backend_pid()")
        for table in TABLES:
            await conn.execute(f"DROP TABLE IF EXISTS x_{table}")
            await conn.execute(f"CREATE TABLE x_{table} (LIKE {table} INCLUDING ALL)")
        # the preloaded rows: everything but what the replay inserts
        await conn.execute(
            "INSERT INTO x_decisions SELECT * FROM decisions WHERE decision_id LIKE 'pre-%'"
        )
        await conn.execute(
            "INSERT INTO x_review_tasks SELECT * FROM review_tasks WHERE decision_id LIKE 'pre-%'"
        )
        await conn.execute(
            "INSERT INTO x_audit_entries SELECT * FROM audit_entries "
            f"WHERE seq <= (SELECT max(seq) FROM audit_entries) - {audit_rows}"
        )
        mode = "force_custom_plan" if way == "executemany-force-custom" else "auto"
        await conn.execute(f"SET plan_cache_mode = {mode}")
        await conn.execute("CHECKPOINT")
        wait_quiet(max_wait=60)
        wall = server = client = 0.0
        for statements in batches:
            w, s, c = time.perf_counter(), backend_cpu(pid), time.process_time()
            async with conn.transaction():
                for table in TABLES:
                    if table not in statements:
                        continue
                    statement, rows = statements[table]
                    if way == "copy":
                        columns = re.match(r"INSERT INTO \w+ \(([^)]*)\)", statement)
                        assert columns is not None
                        await conn.copy_records_to_table(
                            f"x_{table}", records=rows, columns=columns.group(1).split(", ")
                        )
                    else:
                        await conn.executemany(
                            statement.replace(f"INSERT INTO {table} ", f"INSERT INTO x_{table} "),
                            rows,
                        )
            wall += time.perf_counter() - w
            server += backend_cpu(pid) - s
            client += time.process_time() - c
        return {"wall": wall / n * 1e6, "server": server / n * 1e6, "client": client / n * 1e6}
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=20_000, help="decisions replayed")
    parser.add_argument("--preload", type=int, default=100_000, help="decisions already there")
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    print("machine:", json.dumps(machine_facts()), flush=True)
    db_url = fresh_database("postgres", Path("."))
    asyncio.run(record(db_url, args.preload, args.batch, "pre", 1))
    captured = asyncio.run(record(db_url, args.n, args.batch, "probe", 2))
    batches: list[dict[str, tuple[str, Any]]] = []
    for statement, rows in captured:
        match = re.match(r"INSERT INTO (\w+)", statement)
        assert match is not None
        if match.group(1) == "decisions":
            batches.append({})
        batches[-1][match.group(1)] = (statement, rows)
    counts = {t: sum(len(b[t][1]) for b in batches if t in b) for t in TABLES}
    print(f"{len(batches)} batches; rows per table: {counts}", flush=True)
    ways = ["executemany", "executemany-force-custom", "copy"]
    results: dict[str, list[dict[str, float]]] = {way: [] for way in ways}
    for _ in range(args.repeats):
        for way in ways:
            result = asyncio.run(replay(batches, way, args.n, counts["audit_entries"]))
            results[way].append(result)
            print(
                f"{way:26s} wall {result['wall']:6.1f}  postgres backend cpu "
                f"{result['server']:6.1f}  client cpu {result['client']:5.1f}  (us/decision)",
                flush=True,
            )


if __name__ == "__main__":
    main()
