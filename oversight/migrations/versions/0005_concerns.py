"""concerns: what reviewers raise through the console, named or not

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "concerns",
        sa.Column("concern_id", sa.String(length=36), nullable=False),
        sa.Column("system_id", sa.String(length=200), nullable=True),
        sa.Column("decision_id", sa.String(length=200), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("raised_by", sa.String(length=200), nullable=True),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("concern_id", name=op.f("pk_concerns")),
    )
    op.create_index("ix_concerns_raised_at", "concerns", ["raised_at"])


def downgrade() -> None:
    op.drop_index("ix_concerns_raised_at", table_name="concerns")
    op.drop_table("concerns")
