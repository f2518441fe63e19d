"""Server-side keys: from settings when given, else made once and kept in the database.

Keeping a generated key in the database lets a first run work without configuration and
lets replicas on one database agree; production should set the keys explicitly, so that
a copy of the database alone cannot reverse pseudonyms or forge receipts.
"""

from __future__ import annotations

import logging
import secrets

from pydantic import SecretStr
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from oversight.tables import server_secrets

logger = logging.getLogger(__name__)


async def load_or_create(engine: AsyncEngine, name: str, configured: SecretStr | None) -> bytes:
    if configured is not None:
        return configured.get_secret_value().encode("utf-8")
    for _ in range(2):
        async with engine.begin() as connection:
            row = (
                await connection.execute(
                    select(server_secrets.c.value).where(server_secrets.c.name == name)
                )
            ).one_or_none()
            if row is not None:
                return bytes.fromhex(row.value)
        value = secrets.token_bytes(32)
        try:
            async with engine.begin() as connection:
                await connection.execute(
                    insert(server_secrets).values(name=name, value=value.hex())
                )
        except IntegrityError:
            continue  # another process made it first: read theirs
        logger.warning(
            "No %s configured: made a random one and kept it in the database. "
            "Set OVERSIGHT_%s in production.",
            name,
            name.upper(),
        )
        return value
    raise RuntimeError(f"Could not read or create the server secret {name!r}.")


async def webhook_secret(engine: AsyncEngine, configured: SecretStr | None) -> bytes:
    """The webhook signing key as receivers hold it: the configured text, or the hex
    text of the stored random key (``oversight webhooks secret`` prints it)."""
    if configured is not None:
        return configured.get_secret_value().encode("utf-8")
    return (await load_or_create(engine, "webhook_secret", None)).hex().encode("ascii")
