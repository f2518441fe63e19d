"""Database engines and migrations, for SQLite (embedded) and PostgreSQL (production).

Users type plain URLs (``sqlite:///oversight.db``, ``postgresql://user@host:5432/db``);
the async driver is chosen here. Schema changes are Alembic migrations shipped inside the
package, run by ``oversight db upgrade`` or by ``serve`` on an empty database.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, event, make_url, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import ArgumentError, DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from oversight.errors import ConfigurationError, StorageUnavailable

MIGRATIONS = Path(__file__).parent / "migrations"
_ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}
_SCHEME_ALIASES = {"postgres": "postgresql"}
#: Any constant will do: two processes upgrading one PostgreSQL take turns on it.
_MIGRATION_LOCK_ID = 7_461_001
_READ_ONLY = "oversight_read_only"
_MIGRATING = "oversight_migrating"


def async_url(url: str) -> URL:
    """Turn the URL a user typed into one with an async driver, or say what is accepted."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigurationError(
            f"Cannot read the database URL {url!r}: use sqlite:///path.db or "
            "postgresql://user@host:5432/dbname."
        ) from exc
    backend = _SCHEME_ALIASES.get(parsed.get_backend_name(), parsed.get_backend_name())
    if backend not in _ASYNC_DRIVERS:
        raise ConfigurationError(
            f"Database {backend!r} is not supported: use sqlite:///path.db or "
            "postgresql://user@host:5432/dbname."
        )
    if backend == "sqlite" and parsed.database in (None, "", ":memory:"):
        raise ConfigurationError(
            "An in-memory SQLite database would lose the audit log on exit; "
            "give a file, e.g. sqlite:///oversight.db."
        )
    return parsed.set(drivername=_ASYNC_DRIVERS[backend])


def create_engine(url: str, **options: Any) -> AsyncEngine:
    """An async engine with the settings each backend needs for a durable audit log."""
    parsed = async_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_async_engine(parsed, connect_args={"timeout": 30}, **options)
        _make_sqlite_durable_and_serial(engine)
        return engine
    options.setdefault("pool_size", 10)
    options.setdefault("max_overflow", 10)
    options.setdefault("pool_pre_ping", True)
    return create_async_engine(parsed, **options)


def _make_sqlite_durable_and_serial(engine: AsyncEngine) -> None:
    """WAL with full fsync, and ``BEGIN IMMEDIATE`` so writers queue instead of failing.

    pysqlite's own transaction handling would begin lazily and deferred, which lets two
    writers both read the chain head and then fail on upgrade to a write lock.
    """

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        if connection.get_execution_options().get(_MIGRATING):
            # Outside a transaction, or SQLite ignores it: a migration that rebuilds a
            # table (drop a column) must drop the old one while other tables refer to it.
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        if connection.get_execution_options().get(_READ_ONLY):
            connection.exec_driver_sql("BEGIN")  # a snapshot; takes no write lock
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE")


def is_postgres(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "postgresql"


def read_only(engine: AsyncEngine) -> AsyncEngine:
    """The same engine and pool for transactions that only read.

    On SQLite they begin deferred, so a verify or a page view never holds the write lock
    that the recorder needs (every other transaction begins IMMEDIATE). PostgreSQL
    ignores the option.
    """
    return engine.execution_options(**{_READ_ONLY: True})


def _alembic_config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def _upgrade(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK_ID})"))
    command.upgrade(_alembic_config(connection), "head")
    if connection.dialect.name == "sqlite":
        broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
        if broken:
            raise ConfigurationError(
                f"The schema upgrade would leave {len(broken)} rows referring to rows that do "
                f"not exist (first: {tuple(broken[0])}); nothing was changed."
            )


def _revision_state(connection: Connection) -> tuple[str | None, str | None]:
    current = MigrationContext.configure(connection).get_current_revision()
    head = ScriptDirectory.from_config(_alembic_config(connection)).get_current_head()
    return current, head


async def upgrade(engine: AsyncEngine) -> None:
    """Bring the schema to the newest revision (safe to run from two processes at once)."""
    async with engine.connect() as connection:
        if engine.dialect.name != "sqlite":
            async with connection.begin():
                await connection.run_sync(_upgrade)
            return
        # SQLite: foreign keys off for the migration (checked at its end instead), and the
        # connection is not given back to the pool, so none is ever used without them.
        migrating = await connection.execution_options(**{_MIGRATING: True})
        try:
            async with migrating.begin():
                await migrating.run_sync(_upgrade)
        finally:
            await migrating.invalidate()


async def revision_state(engine: AsyncEngine) -> tuple[str | None, str | None]:
    """The database's schema revision and the newest one this code knows."""
    async with read_only(engine).connect() as connection:
        return await connection.run_sync(_revision_state)


async def require_current_schema(engine: AsyncEngine, url: str) -> None:
    """For tools that only read: refuse a database without this version's schema, naming
    what to do, instead of failing on a missing table."""
    current, head = await revision_state(engine)
    if current is None or current != head:
        raise ConfigurationError(
            f"The database at {url} has no oversight schema at this version; run "
            "`oversight db upgrade --db URL` or point at the sidecar's database."
        )


@contextmanager
def storage_errors(what: str) -> Iterator[None]:
    """Turn a database that is down or refuses into ``StorageUnavailable`` (a 503).

    Only connection-level failures are mapped: an integrity error is a bug or a race the
    caller must handle, and should not be disguised as an outage.
    """
    try:
        yield
    except (OperationalError, InterfaceError, OSError, ConnectionError, TimeoutError) as exc:
        raise StorageUnavailable(
            f"The database is unavailable, so {what} was not done and nothing was written "
            f"({type(exc).__name__}). Retry when /readyz answers 200."
        ) from exc
    except DBAPIError as exc:
        if exc.connection_invalidated:
            raise StorageUnavailable(
                f"The database connection was lost, so {what} was not done and nothing "
                "was written. Retry when /readyz answers 200."
            ) from exc
        raise
