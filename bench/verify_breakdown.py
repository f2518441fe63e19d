"""Where the time of ``oversight.audit.verify`` goes, on a chain that already exists
(run bench/verify.py first; it leaves the PostgreSQL database ``bench`` behind, and the
SQLite file when given ``--sqlite PATH``).

    .venv/bin/python bench/verify_breakdown.py --db postgresql://postgres@127.0.0.1:5432/bench
    .venv/bin/python bench/verify_breakdown.py --db sqlite:////tmp/verify.db

Each variant runs ``--repeats`` times; the median is shown. The variants:

- ``verify``              oversight.audit.verify as shipped
- ``verify, gc off``      the same with the cyclic garbage collector disabled meanwhile
- ``verify, chunk=N``     the same with another ``chunk`` (rows per fetch)
- ``verify, chunk=2000, gc off``  both
- ``fetch only``          the same SQLAlchemy stream, rows fetched and dropped (no hashing)
- ``fetch only, gc off``  the same with the collector disabled
- ``checks only``         the per-entry checks of verify on rows already in memory
- ``driver fetch``        the rows straight from the driver (asyncpg cursor, or sqlite3),
                          no SQLAlchemy
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import hashlib
import sqlite3
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from sqlalchemy import select

from oversight import audit
from oversight.database import create_engine
from oversight.tables import audit_entries

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import wait_quiet  # noqa: E402

COLUMNS = (
    audit_entries.c.seq,
    audit_entries.c.kind,
    audit_entries.c.recorded_at,
    audit_entries.c.subject_ref,
    audit_entries.c.payload,
    audit_entries.c.payload_digest,
    audit_entries.c.prev_hash,
    audit_entries.c.entry_hash,
    audit_entries.c.erased_at,
)
SQL = (
    "SELECT seq, kind, recorded_at, subject_ref, payload, payload_digest, prev_hash, "
    "entry_hash, erased_at FROM audit_entries ORDER BY seq"
)


class gc_off:  # noqa: N801
    def __enter__(self) -> None:
        gc.disable()

    def __exit__(self, *exc: object) -> None:
        gc.enable()


def checks(rows: Any) -> int:
    """The per-entry work of audit.verify, on rows in memory."""
    previous = audit.GENESIS_HASH
    expected = 1
    for seq, kind, at, ref, payload, digest, prev, stored, _erased in rows:
        assert seq == expected and prev == previous
        if payload is not None:
            assert hashlib.sha256(payload.encode("utf-8")).hexdigest() == digest
        assert audit.entry_hash(prev, seq, kind, at, ref, digest) == stored
        previous = stored
        expected += 1
    return expected - 1


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quiet-wait", type=float, default=60)
    args = parser.parse_args()
    engine = create_engine(args.db)
    postgres = engine.dialect.name == "postgresql"

    async def verify(chunk: int = 20_000) -> int:
        result = await audit.verify(engine, chunk=chunk)
        assert result.ok, result
        return result.entries

    async def verify_gc_off() -> int:
        with gc_off():
            return await verify()

    async def verify_small_gc_off() -> int:
        with gc_off():
            return await verify(2_000)

    async def fetch_only(chunk: int = 20_000) -> int:
        n = 0
        async with engine.connect() as connection:
            stream = await connection.stream(
                select(*COLUMNS).order_by(audit_entries.c.seq).execution_options(yield_per=chunk)
            )
            async for partition in stream.partitions(chunk):
                n += len(partition)
        return n

    async def fetch_only_gc_off() -> int:
        with gc_off():
            return await fetch_only()

    rows_in_memory: list[tuple[Any, ...]] = []

    async def checks_only() -> int:
        if not rows_in_memory:
            async with engine.connect() as connection:
                result = await connection.execute(select(*COLUMNS).order_by(audit_entries.c.seq))
                rows_in_memory.extend(tuple(r) for r in result)
        return checks(rows_in_memory)

    async def driver_fetch() -> int:
        if postgres:
            import asyncpg

            conn = await asyncpg.connect(args.db)
            try:
                n = 0
                async with conn.transaction():
                    cursor = await conn.cursor(SQL)
                    while rows := await cursor.fetch(20_000):
                        n += len(rows)
                return n
            finally:
                await conn.close()
        path = args.db.removeprefix("sqlite:///")
        connection = sqlite3.connect(path)
        try:
            n = 0
            cursor = connection.execute(SQL)
            while rows := cursor.fetchmany(20_000):
                n += len(rows)
            return n
        finally:
            connection.close()

    async def driver_fetch_and_checks() -> int:
        """What verify could cost: driver rows, checked as they come, collector off."""
        with gc_off():
            if postgres:
                import asyncpg

                conn = await asyncpg.connect(args.db)
                try:
                    previous, expected = audit.GENESIS_HASH, 1
                    async with conn.transaction():
                        cursor = await conn.cursor(SQL)
                        while rows := await cursor.fetch(20_000):
                            for seq, kind, at, ref, payload, digest, prev, stored, _e in rows:
                                assert seq == expected and prev == previous
                                if payload is not None:
                                    assert hashlib.sha256(payload.encode()).hexdigest() == digest
                                assert audit.entry_hash(prev, seq, kind, at, ref, digest) == stored
                                previous, expected = stored, expected + 1
                    return expected - 1
                finally:
                    await conn.close()
            path = args.db.removeprefix("sqlite:///")
            connection = sqlite3.connect(path)
            try:
                cursor = connection.execute(SQL)
                n = 0
                while rows := cursor.fetchmany(20_000):
                    n += checks_from(rows, n)
                return n
            finally:
                connection.close()

    variants: list[tuple[str, Callable[[], Awaitable[int]]]] = [
        ("verify", verify),
        ("verify, gc off", verify_gc_off),
        ("verify, chunk=2000", lambda: verify(2_000)),
        ("verify, chunk=1000", lambda: verify(1_000)),
        ("verify, chunk=2000, gc off", verify_small_gc_off),
        ("fetch only", fetch_only),
        ("fetch only, gc off", fetch_only_gc_off),
        ("fetch only, chunk=1000", lambda: fetch_only(1_000)),
        ("checks only", checks_only),
        ("driver fetch", driver_fetch),
        ("driver fetch + checks, gc off", driver_fetch_and_checks),
    ]
    print(f"{args.db}; gc thresholds {gc.get_threshold()}")
    try:
        for name, variant in variants:
            if name == "checks only":
                await variant()  # load the rows first, untimed
            load = wait_quiet(max_wait=args.quiet_wait)
            times = []
            n = 0
            for _ in range(args.repeats):
                gc.collect()
                started = time.perf_counter()
                n = await variant()
                times.append(time.perf_counter() - started)
            best = statistics.median(times)
            print(
                f"{name:<32} {n:>9,} rows  median {best:6.2f} s  {n / best:>10,.0f} rows/s  "
                f"(runs {', '.join(f'{t:.2f}' for t in times)}; background {load:.2f} cores)"
            )
    finally:
        await engine.dispose()


_previous_state: dict[str, Any] = {"hash": audit.GENESIS_HASH}


def checks_from(rows: list[tuple[Any, ...]], done: int) -> int:
    previous = _previous_state["hash"] if done else audit.GENESIS_HASH
    expected = done + 1
    for seq, kind, at, ref, payload, digest, prev, stored, _erased in rows:
        assert seq == expected and prev == previous
        if payload is not None:
            assert hashlib.sha256(payload.encode()).hexdigest() == digest
        assert audit.entry_hash(prev, seq, kind, at, ref, digest) == stored
        previous, expected = stored, expected + 1
    _previous_state["hash"] = previous
    return len(rows)


if __name__ == "__main__":
    asyncio.run(main())
