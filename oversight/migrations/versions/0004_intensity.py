"""intensity: workers' assigned shifts and tasks, and the intensity findings

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "assignments",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("decision_id", sa.String(length=200), nullable=False),
        sa.Column("system_id", sa.String(length=200), nullable=False),
        sa.Column("worker_ref", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("assignment_key", sa.String(length=300), nullable=True),
        sa.Column("starts_at", sa.Float(), nullable=False),
        sa.Column("ends_at", sa.Float(), nullable=False),
        sa.Column("breaks", sa.JSON(), nullable=True),
        sa.Column("on_call", sa.Boolean(), nullable=False),
        sa.Column("published_at", sa.Float(), nullable=False),
        sa.Column("hours", sa.Float(), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.ForeignKeyConstraint(
            ["decision_id"],
            ["decisions.decision_id"],
            name=op.f("fk_assignments_decision_id_decisions"),
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_assignments")),
    )
    op.create_index(
        "ix_assignments_worker", "assignments", ["worker_ref", "state", "starts_at"]
    )
    op.create_index("ix_assignments_key", "assignments", ["assignment_key", "state"])
    op.create_index("ix_assignments_decision", "assignments", ["decision_id"])
    op.create_index("ix_assignments_starts", "assignments", ["starts_at"])
    op.create_table(
        "intensity_findings",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("decision_id", sa.String(length=200), nullable=False),
        sa.Column("system_id", sa.String(length=200), nullable=False),
        sa.Column("worker_ref", sa.String(length=64), nullable=False),
        sa.Column("rule", sa.String(length=64), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("action", sa.String(length=8), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["decision_id"],
            ["decisions.decision_id"],
            name=op.f("fk_intensity_findings_decision_id_decisions"),
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_intensity_findings")),
    )
    op.create_index(
        "ix_intensity_findings_system_time",
        "intensity_findings",
        ["system_id", "recorded_at"],
    )
    op.create_index("ix_intensity_findings_time", "intensity_findings", ["recorded_at"])


def downgrade() -> None:
    op.drop_index("ix_intensity_findings_time", table_name="intensity_findings")
    op.drop_index("ix_intensity_findings_system_time", table_name="intensity_findings")
    op.drop_table("intensity_findings")
    op.drop_index("ix_assignments_starts", table_name="assignments")
    op.drop_index("ix_assignments_decision", table_name="assignments")
    op.drop_index("ix_assignments_key", table_name="assignments")
    op.drop_index("ix_assignments_worker", table_name="assignments")
    op.drop_table("assignments")
