"""verify on a live database: appends during the walk are no false alarm, and on SQLite a
reader never holds the write lock that the recorder needs."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

from sqlalchemy import select

from oversight import audit
from oversight.database import create_engine, read_only
from oversight.service import prepare_schema
from oversight.tables import audit_entries

AT = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


async def _append(engine: object, count: int) -> None:
    async with engine.begin() as connection:  # type: ignore[attr-defined]
        head = await audit.ChainHead.lock(connection)
        for i in range(count):
            head.add("decision_recorded", {"n": i, "pad": "x" * 200}, at=AT)
        await head.write(connection)


def test_verify_during_appends_never_reports_a_broken_chain(db_url: str) -> None:
    async def run() -> list[audit.VerifyResult]:
        writer, checker = create_engine(db_url), create_engine(db_url)
        try:
            await prepare_schema(writer)
            await _append(writer, 3000)
            stop = asyncio.Event()

            async def keep_appending() -> None:
                while not stop.is_set():
                    await _append(writer, 5)

            appender = asyncio.create_task(keep_appending())
            results = [await audit.verify(checker, chunk=200) for _ in range(15)]
            stop.set()
            await appender
            results.append(await audit.verify(checker))
            return results
        finally:
            await writer.dispose()
            await checker.dispose()

    results = asyncio.run(run())
    assert all(r.ok for r in results), [r for r in results if not r.ok]
    assert results[-1].entries > results[0].entries


def test_sqlite_reader_does_not_block_a_writer(sqlite_url: str) -> None:
    async def run() -> float:
        engine = create_engine(sqlite_url)
        try:
            await prepare_schema(engine)
            await _append(engine, 10)
            async with read_only(engine).connect() as reader:
                await reader.execute(select(audit_entries.c.seq).limit(1))  # snapshot held
                started = time.monotonic()
                await asyncio.wait_for(_append(engine, 10), timeout=10)
                return time.monotonic() - started
        finally:
            await engine.dispose()

    assert asyncio.run(run()) < 5
