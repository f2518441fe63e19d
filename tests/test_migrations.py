"""The migrations build the schema the code expects, and 0003 moves protected
attributes out of the decisions without losing any."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, DateTime, bindparam, text

from oversight.database import _alembic_config, create_engine, upgrade
from oversight.tables import metadata


def _run(db_url: str, work: Any) -> Any:
    async def go() -> Any:
        engine = create_engine(db_url)
        try:
            async with engine.begin() as connection:
                return await connection.run_sync(work)
        finally:
            await engine.dispose()

    return asyncio.run(go())


def test_migrations_make_the_schema_of_the_tables_module(db_url: str) -> None:
    def upgrade_and_compare(connection: Connection) -> list[Any]:
        command.upgrade(_alembic_config(connection), "head")
        context = MigrationContext.configure(connection)
        return list(compare_metadata(context, metadata))

    assert _run(db_url, upgrade_and_compare) == []


def test_0003_moves_protected_attributes_in_recording_order(db_url: str) -> None:
    def at_0002(connection: Connection) -> None:
        command.upgrade(_alembic_config(connection), "0002")
        for i, protected in enumerate(['{"gender": "f"}', None, '{"gender": "m"}']):
            connection.execute(
                text(
                    "INSERT INTO decisions (decision_id, body_digest, system_id, decision_type, "
                    "subject_hash, outcome, inputs, protected, recorded_at, submitted_by, route, "
                    "status, findings, receipt_nonce, receipt_hash) VALUES (:id, 'd', 's', 't', "
                    "'h', '\"yes\"', '{}', :protected, :at, 'x', 'released', 'released', '[]', "
                    "'n', :receipt)"
                ).bindparams(bindparam("at", type_=DateTime(timezone=True))),
                {
                    "id": f"d{i}",
                    "protected": protected,
                    "at": datetime(2026, 11, 27 - i, 10, tzinfo=UTC),
                    "receipt": f"r{i}",
                },
            )

    def moved(connection: Connection) -> list[Any]:
        return list(
            connection.execute(
                text("SELECT decision_id, attributes FROM protected_attributes ORDER BY seq")
            )
        )

    _run(db_url, at_0002)

    async def upgrade_as_the_server_does() -> None:
        engine = create_engine(db_url)
        try:
            await upgrade(engine)
        finally:
            await engine.dispose()

    asyncio.run(upgrade_as_the_server_does())
    rows = _run(db_url, moved)
    assert [row[0] for row in rows] == ["d2", "d1", "d0"]  # oldest first
    by_id = {row[0]: row[1] for row in rows}
    assert by_id["d1"] is None
    assert by_id["d0"] in ({"gender": "f"}, '{"gender": "f"}')
