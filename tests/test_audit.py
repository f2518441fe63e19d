"""The hash chain: every kind of tampering is caught; erasure of a payload is not tampering."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from oversight import audit
from oversight.database import create_engine
from oversight.service import prepare_schema
from oversight.tables import audit_entries

ENTRIES = 12
AT = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


async def _chain(url: str) -> AsyncEngine:
    engine = create_engine(url)
    await prepare_schema(engine)
    async with engine.begin() as connection:
        head = await audit.ChainHead.lock(connection)
        for i in range(ENTRIES):
            head.add(
                "decision_recorded",
                {"decision_id": f"d{i}", "score": i / 10},
                at=AT,
                subject_ref=f"d{i}",
            )
        await head.write(connection)
    return engine


TEXT_COLUMNS = [
    "kind",
    "recorded_at",
    "subject_ref",
    "payload",
    "payload_digest",
    "prev_hash",
    "entry_hash",
]

tampering = st.one_of(
    st.tuples(
        st.just("modify"),
        st.integers(1, ENTRIES),
        st.sampled_from(TEXT_COLUMNS),
        st.text(min_size=1, max_size=8),
    ),
    st.tuples(st.just("delete"), st.integers(1, ENTRIES)),
    st.tuples(st.just("insert"), st.integers(1, ENTRIES + 1)),
    st.tuples(st.just("swap"), st.integers(1, ENTRIES), st.integers(1, ENTRIES)),
    st.tuples(st.just("erase_unrecorded"), st.integers(1, ENTRIES)),
)


async def _tamper(engine: AsyncEngine, action: tuple[object, ...]) -> bool:
    """Apply one tampering; False when it changed nothing (hypothesis then discards)."""
    async with engine.begin() as connection:
        kind = action[0]
        if kind == "modify":
            _, seq, column, value = action
            old = (
                await connection.execute(
                    select(audit_entries.c[column]).where(audit_entries.c.seq == seq)
                )
            ).scalar_one()
            if old == value:
                return False
            await connection.execute(
                update(audit_entries).where(audit_entries.c.seq == seq).values({column: value})
            )
        elif kind == "delete":
            await connection.execute(delete(audit_entries).where(audit_entries.c.seq == action[1]))
        elif kind == "insert":
            seq = int(str(action[1]))
            await connection.execute(
                update(audit_entries)
                .where(audit_entries.c.seq >= seq)
                .values(seq=audit_entries.c.seq + 1000)
            )
            await connection.execute(
                update(audit_entries)
                .where(audit_entries.c.seq >= 1000)
                .values(seq=audit_entries.c.seq - 999)
            )
            payload = audit.canonical_json({"decision_id": "forged"})
            digest = audit.sha256_hex(payload)
            previous = "0" * 64
            at = AT.isoformat()
            await connection.execute(
                insert(audit_entries).values(
                    seq=seq,
                    kind="decision_recorded",
                    recorded_at=at,
                    subject_ref=None,
                    payload=payload,
                    payload_digest=digest,
                    prev_hash=previous,
                    entry_hash=audit.entry_hash(
                        previous, seq, "decision_recorded", at, None, digest
                    ),
                )
            )
        elif kind == "swap":
            _, a, b = action
            if a == b:
                return False
            rows = {
                r.seq: r
                for r in await connection.execute(
                    select(audit_entries).where(audit_entries.c.seq.in_([a, b]))
                )
            }
            if rows[a].payload == rows[b].payload and rows[a].entry_hash == rows[b].entry_hash:
                return False
            await connection.execute(delete(audit_entries).where(audit_entries.c.seq.in_([a, b])))
            for new_seq, row in ((a, rows[b]), (b, rows[a])):
                await connection.execute(
                    insert(audit_entries).values({**row._mapping, "seq": new_seq})
                )
        elif kind == "erase_unrecorded":
            await connection.execute(
                update(audit_entries).where(audit_entries.c.seq == action[1]).values(payload=None)
            )
    return True


def test_intact_chain_verifies(tmp_path: Path) -> None:
    async def run() -> audit.VerifyResult:
        engine = await _chain(f"sqlite:///{tmp_path / 'a.db'}")
        try:
            return await audit.verify(engine)
        finally:
            await engine.dispose()

    result = asyncio.run(run())
    assert result.ok and result.entries == ENTRIES and result.first_bad_entry is None


def test_recorded_erasure_keeps_the_chain_valid(tmp_path: Path) -> None:
    async def run() -> audit.VerifyResult:
        engine = await _chain(f"sqlite:///{tmp_path / 'a.db'}")
        try:
            async with engine.begin() as connection:
                await connection.execute(
                    update(audit_entries)
                    .where(audit_entries.c.seq == 3)
                    .values(payload=None, erased_at=AT)
                )
            return await audit.verify(engine)
        finally:
            await engine.dispose()

    assert asyncio.run(run()).ok


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(action=tampering)
def test_any_tampering_is_caught(
    tmp_path_factory: pytest.TempPathFactory, action: tuple[object, ...]
) -> None:
    """One tampering per example: two could undo each other (a swap and its swap back)."""

    async def run() -> audit.VerifyResult | None:
        engine = await _chain(f"sqlite:///{tmp_path_factory.mktemp('chain') / 'a.db'}")
        try:
            if not await _tamper(engine, action):
                return None
            return await audit.verify(engine)
        finally:
            await engine.dispose()

    result = asyncio.run(run())
    if result is not None:
        assert not result.ok
        assert result.first_bad_entry is not None and result.reason
