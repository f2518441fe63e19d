"""The database schema, as SQLAlchemy Core tables (Alembic migrations create them).

Core rather than the ORM: the hot path inserts many rows per transaction with
``executemany`` and never needs identity maps.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
)
from sqlalchemy.engine import Dialect


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in UTC on every backend (SQLite would hand back naive ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored: give a timezone")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)  # type: ignore[no-any-return]
        return value.astimezone(UTC)  # type: ignore[no-any-return]


metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

#: Server secrets made on first use when the settings give none (subject and receipt keys).
server_secrets = Table(
    "server_secrets",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", String(128), nullable=False),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("role", String(16), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("revoked_at", UTCDateTime()),
)

#: Run-time state of each system named by the policy (the halt switch).
systems = Table(
    "systems",
    metadata,
    Column("system_id", String(200), primary_key=True),
    Column("halted", Boolean, nullable=False, default=False),
    Column("changed_at", UTCDateTime(), nullable=False),
    Column("changed_by", String(200), nullable=False),
)

decisions = Table(
    "decisions",
    metadata,
    Column("decision_id", String(200), primary_key=True),
    Column("body_digest", String(64), nullable=False),
    Column("system_id", String(200), nullable=False),
    Column("decision_type", String(200), nullable=False),
    Column("subject_hash", String(64), nullable=False),
    Column("outcome", JSON, nullable=False),
    Column("score", Float),
    Column("model_version", String(200)),
    Column("inputs", JSON, nullable=False),
    Column("explanation", JSON),
    Column("context", JSON),
    Column("occurred_at", UTCDateTime()),
    Column("recorded_at", UTCDateTime(), nullable=False),
    Column("submitted_by", String(200), nullable=False),
    Column("route", String(32), nullable=False),
    Column("status", String(32), nullable=False),
    Column("review_id", String(36)),
    Column("final_outcome", JSON),
    Column("findings", JSON, nullable=False),
    Column("receipt_nonce", String(64), nullable=False),
    Column("receipt_hash", String(64), nullable=False, unique=True),
    Index("ix_decisions_system_subject", "system_id", "subject_hash"),
)

#: Protected attributes, apart from the decision and its inputs: admins and the bias
#: checks read them, reviewers never do. Every decision has a row (``attributes`` NULL
#: when it came without), so a bias window counts missing data instead of skipping it.
#: ``seq`` is given out while the writer holds the chain lock, so it runs in commit order
#: and the bias monitor can follow new decisions with ``seq > last seen``.
protected_attributes = Table(
    "protected_attributes",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("decision_id", ForeignKey("decisions.decision_id"), nullable=False, unique=True),
    Column("system_id", String(200), nullable=False),
    Column("decision_type", String(200), nullable=False),
    Column("attributes", JSON),
    Column("recorded_at", UTCDateTime(), nullable=False),
    Index("ix_protected_attributes_type_seq", "system_id", "decision_type", "seq"),
)

#: Ground truth that arrived after the decision (``POST /v1/decisions/{id}/label``).
decision_labels = Table(
    "decision_labels",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("decision_id", ForeignKey("decisions.decision_id"), nullable=False, unique=True),
    Column("favourable", Boolean, nullable=False),
    Column("outcome", JSON),
    Column("labelled_at", UTCDateTime(), nullable=False),
    Column("labelled_by", String(200), nullable=False),
)

#: Bias findings, open while ``cleared_at`` is NULL; one open row per affected group.
bias_findings = Table(
    "bias_findings",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("system_id", String(200), nullable=False),
    Column("decision_type", String(200), nullable=False),
    Column("attributes", String(1000), nullable=False),
    Column("affected_group", String(1000), nullable=False),
    Column("details", JSON, nullable=False),
    Column("raised_at", UTCDateTime(), nullable=False),
    Column("cleared_at", UTCDateTime()),
    Index("ix_bias_findings_open", "system_id", "decision_type", "cleared_at"),
)

#: The shifts and tasks of scheduling and task decisions: each worker's timeline for the
#: intensity rules. ``state`` is ``active`` once the decision is released or approved,
#: ``pending`` while it waits for a human, ``void`` when blocked, rejected or overridden,
#: and ``replaced`` or ``cancelled`` when a later decision changed the shift of the same
#: ``assignment_key``. Times are POSIX seconds: the rules do interval arithmetic on them.
assignments = Table(
    "assignments",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("decision_id", ForeignKey("decisions.decision_id"), nullable=False),
    Column("system_id", String(200), nullable=False),
    Column("worker_ref", String(64), nullable=False),
    Column("kind", String(8), nullable=False),  # shift | cancel | task
    Column("assignment_key", String(300)),
    Column("starts_at", Float, nullable=False),
    Column("ends_at", Float, nullable=False),
    Column("breaks", JSON),
    Column("on_call", Boolean, nullable=False),
    Column("published_at", Float, nullable=False),
    Column("hours", Float, nullable=False),
    Column("state", String(12), nullable=False),
    Index("ix_assignments_worker", "worker_ref", "state", "starts_at"),
    Index("ix_assignments_key", "assignment_key", "state"),
    Index("ix_assignments_decision", "decision_id"),
    # For the weekly gauges. Not (kind, state, starts_at): with stale statistics a
    # generic plan of the timeline read chose it and scanned every row (bench/intensity.py).
    Index("ix_assignments_starts", "starts_at"),
)

#: Each intensity violation found, for the per-rule report and the share of workers
#: affected; the decision's own ``findings`` carry the same text.
intensity_findings = Table(
    "intensity_findings",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("decision_id", ForeignKey("decisions.decision_id"), nullable=False),
    Column("system_id", String(200), nullable=False),
    Column("worker_ref", String(64), nullable=False),
    Column("rule", String(64), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("action", String(8), nullable=False),
    Column("message", Text, nullable=False),
    Column("data", JSON),
    Column("recorded_at", UTCDateTime(), nullable=False),
    Index("ix_intensity_findings_system_time", "system_id", "recorded_at"),
    Index("ix_intensity_findings_time", "recorded_at"),
)

#: Concerns raised by reviewers through the console (the SER's "protection"): they reach
#: the admins, and ``raised_by`` is NULL when the reviewer asked not to be named.
concerns = Table(
    "concerns",
    metadata,
    Column("concern_id", String(36), primary_key=True),
    Column("system_id", String(200)),
    Column("decision_id", String(200)),
    Column("message", Text, nullable=False),
    Column("raised_by", String(200)),
    Column("raised_at", UTCDateTime(), nullable=False),
    Index("ix_concerns_raised_at", "raised_at"),
)

#: Each policy the server ran with, so tools such as ``oversight fairness report`` can
#: use the one in force without being given the file.
policies = Table(
    "policies",
    metadata,
    Column("digest", String(64), primary_key=True),
    Column("policy", JSON, nullable=False),
    Column("loaded_at", UTCDateTime(), nullable=False),
)

review_tasks = Table(
    "review_tasks",
    metadata,
    Column("review_id", String(36), primary_key=True),
    Column("decision_id", ForeignKey("decisions.decision_id"), nullable=False, index=True),
    Column("system_id", String(200), nullable=False),
    Column("reason", String(32), nullable=False),
    Column("impact", String(16), nullable=False),
    Column("four_eyes", Boolean, nullable=False),
    Column("status", String(32), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("due_at", UTCDateTime(), nullable=False),
    Column("claimed_by", String(200)),
    Column("claimed_at", UTCDateTime()),
    Column("claim_expires_at", UTCDateTime()),
    Column("first_reviewer", String(200)),
    Column("decided_at", UTCDateTime()),
    Column("complaint_id", String(36)),
    Index("ix_review_tasks_system_status", "system_id", "status"),
)

reviews = Table(
    "reviews",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("review_id", ForeignKey("review_tasks.review_id"), nullable=False, index=True),
    Column("step", Integer, nullable=False),
    Column("reviewer", String(200), nullable=False),
    Column("action", String(16), nullable=False),
    Column("outcome", JSON),
    Column("rationale", Text, nullable=False),
    Column("claimed_at", UTCDateTime(), nullable=False),
    Column("decided_at", UTCDateTime(), nullable=False),
    Column("seconds_on_task", Float, nullable=False),
)

complaints = Table(
    "complaints",
    metadata,
    Column("complaint_id", String(36), primary_key=True),
    Column("reference", String(32), nullable=False, unique=True),
    Column("decision_id", ForeignKey("decisions.decision_id"), nullable=False, index=True),
    Column("system_id", String(200), nullable=False),
    Column("message", Text, nullable=False),
    Column("contact", String(320)),
    Column("status", String(16), nullable=False),
    Column("lodged_at", UTCDateTime(), nullable=False),
    Column("due_at", UTCDateTime(), nullable=False),
    Column("review_id", String(36), nullable=False),
    Column("answer", Text),
    Column("outcome_changed", Boolean),
    Column("answered_by", String(200)),
    Column("answered_at", UTCDateTime()),
)

#: Outcomes waiting to be delivered (webhooks now, a Kafka topic later), written in the
#: same transaction as the decision they report, so none is lost or forgotten.
#: ``delivery_id`` is stable per decision and channel: receivers dedupe by it.
outbox = Table(
    "outbox",
    metadata,
    Column("delivery_id", String(250), primary_key=True),
    Column("channel", String(32), nullable=False),
    Column("decision_id", String(200), nullable=False, index=True),
    Column("system_id", String(200), nullable=False),
    Column("destination", Text, nullable=False),
    Column("payload", JSON, nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UTCDateTime(), nullable=False),
    Column("last_error", Text),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("delivered_at", UTCDateTime()),
    Index("ix_outbox_due", "channel", "status", "next_attempt_at"),
)

#: The hash chain. ``seq`` runs 1, 2, 3 ... without gaps; ``entry_hash`` covers the
#: previous hash and this entry's header, which holds ``payload_digest``; the payload
#: itself may later be erased (``payload`` NULL, ``erased_at`` set) without breaking it.
audit_entries = Table(
    "audit_entries",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("kind", String(40), nullable=False),
    Column("recorded_at", String(40), nullable=False),
    Column("subject_ref", String(200)),
    Column("payload", Text),
    Column("payload_digest", String(64), nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("entry_hash", String(64), nullable=False),
    Column("erased_at", UTCDateTime()),
)

#: One row: the chain's head. Writers lock it (``FOR UPDATE``) to append in order, so
#: two server processes on one PostgreSQL never fork the chain.
audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("entry_hash", String(64), nullable=False),
)
