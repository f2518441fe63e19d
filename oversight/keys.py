"""API keys: random, shown once, stored only as a SHA-256 hash, checked with a short cache.

Keys carry 256 bits of randomness, so a fast hash is as safe as a slow one here and keeps
the per-request check cheap. The cache means a revoked key may work for up to
``key_cache_seconds`` more.
"""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, get_args

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from oversight.database import read_only
from oversight.errors import InvalidRequest
from oversight.tables import api_keys

Role = Literal["admin", "reviewer", "ingest"]
ROLES: tuple[str, ...] = get_args(Role)


@dataclass(frozen=True)
class Principal:
    """Who is calling: a key's name (a reviewer's name for reviewers) and its role."""

    name: str
    role: Role


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


async def create_key(engine: AsyncEngine, *, role: str, name: str, now: datetime) -> str:
    """Store a new key's hash and return the key itself (the only time it is seen)."""
    if role not in ROLES:
        raise InvalidRequest(f"Unknown role {role!r}: use one of {', '.join(ROLES)}.")
    if not name or len(name) > 200:
        raise InvalidRequest("A key needs a name of 1 to 200 characters.")
    key = f"ovs_{role}_{secrets.token_urlsafe(32)}"
    async with engine.begin() as connection:
        await connection.execute(
            insert(api_keys).values(
                id=str(uuid.uuid4()), key_hash=_hash(key), name=name, role=role, created_at=now
            )
        )
    return key


async def revoke_keys(
    engine: AsyncEngine, *, now: datetime, key: str | None = None, name: str | None = None
) -> int:
    """Revoke one key (given whole) or every key of a name; returns how many. Servers
    stop accepting a revoked key within their key cache time."""
    if (key is None) == (name is None):
        raise InvalidRequest("Name the key to revoke: give the key, or the name, not both.")
    condition = api_keys.c.key_hash == _hash(key) if key is not None else api_keys.c.name == name
    async with engine.begin() as connection:
        result = await connection.execute(
            update(api_keys)
            .where(condition, api_keys.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )
    return result.rowcount


class KeyStore:
    def __init__(self, engine: AsyncEngine, *, cache_seconds: float) -> None:
        self._reader = read_only(engine)
        self._cache_seconds = cache_seconds
        self._cache: dict[str, tuple[Principal | None, float]] = {}

    async def principal(self, key: str) -> Principal | None:
        """The principal a key stands for, or None when it is unknown or revoked."""
        return await self.principal_by_digest(_hash(key))

    async def principal_by_digest(self, digest: str) -> Principal | None:
        """The same, from the key's SHA-256 (what a console session keeps)."""
        cached = self._cache.get(digest)
        now = time.monotonic()
        if cached is not None and cached[1] > now:
            return cached[0]
        async with self._reader.connect() as connection:
            row = (
                await connection.execute(
                    select(api_keys.c.name, api_keys.c.role).where(
                        api_keys.c.key_hash == digest, api_keys.c.revoked_at.is_(None)
                    )
                )
            ).one_or_none()
        principal = None if row is None else Principal(name=row.name, role=row.role)
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[digest] = (principal, now + self._cache_seconds)
        return principal
