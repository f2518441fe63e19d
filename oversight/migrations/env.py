"""Alembic environment: migrations always run on a connection handed in by
``oversight.database`` (inside the async engine's ``run_sync``), never from an ini URL."""

from __future__ import annotations

from alembic import context

from oversight.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("Run migrations with `oversight db upgrade --db URL`, not with alembic.")

context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
