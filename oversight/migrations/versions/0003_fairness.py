"""fairness: protected attributes apart from decisions, ground-truth labels, bias
findings, and the policies the server ran with

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "protected_attributes",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("decision_id", sa.String(length=200), nullable=False),
        sa.Column("system_id", sa.String(length=200), nullable=False),
        sa.Column("decision_type", sa.String(length=200), nullable=False),
        sa.Column("attributes", sa.JSON(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["decision_id"],
            ["decisions.decision_id"],
            name=op.f("fk_protected_attributes_decision_id_decisions"),
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_protected_attributes")),
        sa.UniqueConstraint("decision_id", name=op.f("uq_protected_attributes_decision_id")),
    )
    op.create_index(
        "ix_protected_attributes_type_seq",
        "protected_attributes",
        ["system_id", "decision_type", "seq"],
    )
    op.create_table(
        "decision_labels",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("decision_id", sa.String(length=200), nullable=False),
        sa.Column("favourable", sa.Boolean(), nullable=False),
        sa.Column("outcome", sa.JSON(), nullable=True),
        sa.Column("labelled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("labelled_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["decision_id"],
            ["decisions.decision_id"],
            name=op.f("fk_decision_labels_decision_id_decisions"),
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_decision_labels")),
        sa.UniqueConstraint("decision_id", name=op.f("uq_decision_labels_decision_id")),
    )
    op.create_table(
        "bias_findings",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("system_id", sa.String(length=200), nullable=False),
        sa.Column("decision_type", sa.String(length=200), nullable=False),
        sa.Column("attributes", sa.String(length=1000), nullable=False),
        sa.Column("affected_group", sa.String(length=1000), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cleared_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bias_findings")),
    )
    op.create_index(
        "ix_bias_findings_open", "bias_findings", ["system_id", "decision_type", "cleared_at"]
    )
    op.create_table(
        "policies",
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("policy", sa.JSON(), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("digest", name=op.f("pk_policies")),
    )
    # Move the protected attributes out of the decisions, in the order they were recorded.
    op.execute(
        "INSERT INTO protected_attributes "
        "(decision_id, system_id, decision_type, attributes, recorded_at) "
        "SELECT decision_id, system_id, decision_type, protected, recorded_at "
        "FROM decisions ORDER BY recorded_at, decision_id"
    )
    with op.batch_alter_table("decisions") as batch_op:
        batch_op.drop_column("protected")


def downgrade() -> None:
    with op.batch_alter_table("decisions") as batch_op:
        batch_op.add_column(sa.Column("protected", sa.JSON(), nullable=True))
    op.execute(
        "UPDATE decisions SET protected = (SELECT attributes FROM protected_attributes p "
        "WHERE p.decision_id = decisions.decision_id)"
    )
    op.drop_table("policies")
    op.drop_index("ix_bias_findings_open", table_name="bias_findings")
    op.drop_table("bias_findings")
    op.drop_table("decision_labels")
    op.drop_index("ix_protected_attributes_type_seq", table_name="protected_attributes")
    op.drop_table("protected_attributes")
