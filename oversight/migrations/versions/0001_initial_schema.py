"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-27 19:43:28.233541
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('api_keys',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_keys')),
    sa.UniqueConstraint('key_hash', name=op.f('uq_api_keys_key_hash'))
    )
    op.create_table('audit_entries',
    sa.Column('seq', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('recorded_at', sa.String(length=40), nullable=False),
    sa.Column('subject_ref', sa.String(length=200), nullable=True),
    sa.Column('payload', sa.Text(), nullable=True),
    sa.Column('payload_digest', sa.String(length=64), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('entry_hash', sa.String(length=64), nullable=False),
    sa.Column('erased_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_audit_entries'))
    )
    op.create_table('audit_head',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('entry_hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_head'))
    )
    op.create_table('decisions',
    sa.Column('decision_id', sa.String(length=200), nullable=False),
    sa.Column('body_digest', sa.String(length=64), nullable=False),
    sa.Column('system_id', sa.String(length=200), nullable=False),
    sa.Column('decision_type', sa.String(length=200), nullable=False),
    sa.Column('subject_hash', sa.String(length=64), nullable=False),
    sa.Column('outcome', sa.JSON(), nullable=False),
    sa.Column('score', sa.Float(), nullable=True),
    sa.Column('model_version', sa.String(length=200), nullable=True),
    sa.Column('inputs', sa.JSON(), nullable=False),
    sa.Column('protected', sa.JSON(), nullable=True),
    sa.Column('explanation', sa.JSON(), nullable=True),
    sa.Column('context', sa.JSON(), nullable=True),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('submitted_by', sa.String(length=200), nullable=False),
    sa.Column('route', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('review_id', sa.String(length=36), nullable=True),
    sa.Column('final_outcome', sa.JSON(), nullable=True),
    sa.Column('findings', sa.JSON(), nullable=False),
    sa.Column('receipt_nonce', sa.String(length=64), nullable=False),
    sa.Column('receipt_hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('decision_id', name=op.f('pk_decisions')),
    sa.UniqueConstraint('receipt_hash', name=op.f('uq_decisions_receipt_hash'))
    )
    with op.batch_alter_table('decisions', schema=None) as batch_op:
        batch_op.create_index('ix_decisions_system_subject', ['system_id', 'subject_hash'], unique=False)

    op.create_table('server_secrets',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('value', sa.String(length=128), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_server_secrets'))
    )
    op.create_table('systems',
    sa.Column('system_id', sa.String(length=200), nullable=False),
    sa.Column('halted', sa.Boolean(), nullable=False),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('changed_by', sa.String(length=200), nullable=False),
    sa.PrimaryKeyConstraint('system_id', name=op.f('pk_systems'))
    )
    op.create_table('complaints',
    sa.Column('complaint_id', sa.String(length=36), nullable=False),
    sa.Column('reference', sa.String(length=32), nullable=False),
    sa.Column('decision_id', sa.String(length=200), nullable=False),
    sa.Column('system_id', sa.String(length=200), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('contact', sa.String(length=320), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('lodged_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('review_id', sa.String(length=36), nullable=False),
    sa.Column('answer', sa.Text(), nullable=True),
    sa.Column('outcome_changed', sa.Boolean(), nullable=True),
    sa.Column('answered_by', sa.String(length=200), nullable=True),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['decision_id'], ['decisions.decision_id'], name=op.f('fk_complaints_decision_id_decisions')),
    sa.PrimaryKeyConstraint('complaint_id', name=op.f('pk_complaints')),
    sa.UniqueConstraint('reference', name=op.f('uq_complaints_reference'))
    )
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_complaints_decision_id'), ['decision_id'], unique=False)

    op.create_table('review_tasks',
    sa.Column('review_id', sa.String(length=36), nullable=False),
    sa.Column('decision_id', sa.String(length=200), nullable=False),
    sa.Column('system_id', sa.String(length=200), nullable=False),
    sa.Column('reason', sa.String(length=32), nullable=False),
    sa.Column('impact', sa.String(length=16), nullable=False),
    sa.Column('four_eyes', sa.Boolean(), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('claimed_by', sa.String(length=200), nullable=True),
    sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('claim_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('first_reviewer', sa.String(length=200), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('complaint_id', sa.String(length=36), nullable=True),
    sa.ForeignKeyConstraint(['decision_id'], ['decisions.decision_id'], name=op.f('fk_review_tasks_decision_id_decisions')),
    sa.PrimaryKeyConstraint('review_id', name=op.f('pk_review_tasks'))
    )
    with op.batch_alter_table('review_tasks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_review_tasks_decision_id'), ['decision_id'], unique=False)
        batch_op.create_index('ix_review_tasks_system_status', ['system_id', 'status'], unique=False)

    op.create_table('reviews',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('review_id', sa.String(length=36), nullable=False),
    sa.Column('step', sa.Integer(), nullable=False),
    sa.Column('reviewer', sa.String(length=200), nullable=False),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('outcome', sa.JSON(), nullable=True),
    sa.Column('rationale', sa.Text(), nullable=False),
    sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('seconds_on_task', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['review_id'], ['review_tasks.review_id'], name=op.f('fk_reviews_review_id_review_tasks')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reviews'))
    )
    with op.batch_alter_table('reviews', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reviews_review_id'), ['review_id'], unique=False)

    # The chain starts from a fixed genesis hash, so verify needs no other anchor.
    op.bulk_insert(
        sa.table("audit_head", sa.column("id"), sa.column("seq"), sa.column("entry_hash")),
        [{"id": 1, "seq": 0, "entry_hash": "0" * 64}],
    )


def downgrade() -> None:
    with op.batch_alter_table('reviews', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reviews_review_id'))

    op.drop_table('reviews')
    with op.batch_alter_table('review_tasks', schema=None) as batch_op:
        batch_op.drop_index('ix_review_tasks_system_status')
        batch_op.drop_index(batch_op.f('ix_review_tasks_decision_id'))

    op.drop_table('review_tasks')
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_complaints_decision_id'))

    op.drop_table('complaints')
    op.drop_table('systems')
    op.drop_table('server_secrets')
    with op.batch_alter_table('decisions', schema=None) as batch_op:
        batch_op.drop_index('ix_decisions_system_subject')

    op.drop_table('decisions')
    op.drop_table('audit_head')
    op.drop_table('audit_entries')
    op.drop_table('api_keys')
