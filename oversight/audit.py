"""The tamper-evident audit log: an append-only hash chain (AI Act Art 12, Art 26(6)).

Each entry's hash covers the previous entry's hash and a header of its own: sequence
number, kind, time, subject reference and the SHA-256 of its payload. The payload (the
part that holds personal data) is stored beside the header, so it can be erased for
retention (GDPR Art 5(1)(e)) leaving its digest behind: the chain still verifies, while
any other change, deletion, insertion or reordering is caught.

Appends lock the one-row ``audit_head`` table for the rest of their transaction. That
orders writers across processes; the sidecar keeps it from being a bottleneck by writing
many decisions per transaction (see ``oversight.recorder``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from oversight.database import read_only
from oversight.tables import audit_entries, audit_head

GENESIS_HASH = "0" * 64


def canonical_json(value: Any) -> str:
    """One spelling per value, so its digest does not depend on key order or spacing."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def entry_hash(
    prev_hash: str,
    seq: int,
    kind: str,
    recorded_at: str,
    subject_ref: str | None,
    payload_digest: str,
) -> str:
    ref = subject_ref or ""
    header = f"{prev_hash}\x1f{seq}\x1f{kind}\x1f{recorded_at}\x1f{ref}\x1f{payload_digest}"
    return hashlib.sha256(header.encode("utf-8")).hexdigest()


@dataclass
class ChainHead:
    """The locked head of the chain within one transaction; entries added here are
    written, chained, by ``write``."""

    seq: int
    entry_hash: str
    _rows: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    async def lock(cls, connection: AsyncConnection) -> ChainHead:
        """Take the chain's write lock until the transaction ends, and read the head."""
        row = (
            await connection.execute(
                select(audit_head.c.seq, audit_head.c.entry_hash)
                .where(audit_head.c.id == 1)
                .with_for_update()
            )
        ).one()
        return cls(seq=row.seq, entry_hash=row.entry_hash)

    def add(
        self,
        kind: str,
        payload: dict[str, Any],
        *,
        at: datetime,
        subject_ref: str | None = None,
    ) -> int:
        """Chain one entry (written by ``write``); returns its sequence number."""
        text = canonical_json(payload)
        digest = sha256_hex(text)
        recorded_at = at.isoformat()
        previous = self.entry_hash
        self.seq += 1
        self.entry_hash = entry_hash(previous, self.seq, kind, recorded_at, subject_ref, digest)
        self._rows.append(
            {
                "seq": self.seq,
                "kind": kind,
                "recorded_at": recorded_at,
                "subject_ref": subject_ref,
                "payload": text,
                "payload_digest": digest,
                "prev_hash": previous,
                "entry_hash": self.entry_hash,
            }
        )
        return self.seq

    async def write(self, connection: AsyncConnection) -> int:
        """Insert the added entries and move the head; returns how many were written."""
        if not self._rows:
            return 0
        await connection.execute(insert(audit_entries), self._rows)
        await connection.execute(
            update(audit_head)
            .where(audit_head.c.id == 1)
            .values(seq=self.seq, entry_hash=self.entry_hash)
        )
        written = len(self._rows)
        self._rows = []
        return written


async def append(
    connection: AsyncConnection,
    kind: str,
    payload: dict[str, Any],
    *,
    at: datetime,
    subject_ref: str | None = None,
) -> int:
    """Append one entry inside the caller's transaction."""
    head = await ChainHead.lock(connection)
    seq = head.add(kind, payload, at=at, subject_ref=subject_ref)
    await head.write(connection)
    return seq


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    entries: int
    head: str
    first_bad_entry: int | None = None
    reason: str | None = None


async def verify(
    engine: AsyncEngine,
    *,
    progress: Callable[[int, int], None] | None = None,
    chunk: int = 500,
) -> VerifyResult:
    """Walk the whole chain and report the first entry that does not hold.

    The head and the entries are read in one snapshot, so appends by a live server
    during the walk are neither missed nor mistaken for tampering. Chunks are small
    because large ones cost more in garbage collection than they save in round trips
    (500 rows measured fastest of 250 to 20,000, see bench/RESULTS.md),
    and each chunk holds the event loop. ``progress(done, total)`` is called after every
    chunk, for a progress bar.
    """
    reader = read_only(engine)
    if reader.dialect.name == "postgresql":
        reader = reader.execution_options(isolation_level="REPEATABLE READ")
    async with reader.connect() as connection:
        head_row = (
            await connection.execute(select(audit_head.c.seq, audit_head.c.entry_hash))
        ).one()
        total = int(head_row.seq)
        columns = (
            audit_entries.c.seq,
            audit_entries.c.kind,
            audit_entries.c.recorded_at,
            audit_entries.c.subject_ref,
            audit_entries.c.payload,
            audit_entries.c.payload_digest,
            audit_entries.c.prev_hash,
            audit_entries.c.entry_hash,
            # a flag, not the timestamp: no per-row datetime conversion on a long walk
            audit_entries.c.erased_at.is_not(None),
        )
        expected_seq = 1
        previous = GENESIS_HASH
        stream = await connection.stream(
            select(*columns).order_by(audit_entries.c.seq).execution_options(yield_per=chunk)
        )
        async for partition in stream.partitions(chunk):
            for seq, kind, at, ref, payload, digest, prev, stored_hash, erased in partition:
                problem = None
                if seq != expected_seq:
                    problem = (
                        f"expected entry {expected_seq}, found {seq}: entries were "
                        "deleted, inserted or renumbered"
                    )
                    seq = expected_seq
                elif prev != previous:
                    problem = "prev_hash does not match the previous entry"
                elif payload is None:
                    if not erased:
                        problem = "payload is missing and no erasure was recorded"
                elif hashlib.sha256(payload.encode("utf-8")).hexdigest() != digest:
                    problem = "payload does not match its digest"
                if problem is None and entry_hash(prev, seq, kind, at, ref, digest) != stored_hash:
                    problem = "entry_hash does not match the entry's content"
                if problem is not None:
                    return VerifyResult(False, total, head_row.entry_hash, seq, problem)
                previous = stored_hash
                expected_seq += 1
            if progress is not None:
                progress(expected_seq - 1, total)
        if expected_seq - 1 != total or previous != head_row.entry_hash:
            return VerifyResult(
                False,
                total,
                head_row.entry_hash,
                expected_seq,
                "the chain ends before the recorded head: entries were removed from the end",
            )
        return VerifyResult(True, total, head_row.entry_hash)
