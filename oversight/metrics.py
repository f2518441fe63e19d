"""Prometheus metrics, on a registry of each application's own (no global state).

Counters and histograms count what this process did. The gauges of shared state (queue
depth, open and overdue complaints, audit entries) are read from the database at each
scrape, so every replica reports the same truth: aggregate them with ``max``, not ``sum``.
"""

from __future__ import annotations

from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from oversight.tables import audit_head, complaints, outbox, review_tasks

#: Approvals faster than this are counted as a rubber-stamp signal (AI Act Art 14(4)(b)).
FAST_APPROVAL_SECONDS = 10.0
_REVIEW_BUCKETS = (60, 300, 900, 3600, 4 * 3600, 12 * 3600, 86400, 2 * 86400, 7 * 86400)
_TASK_BUCKETS = (1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800, 3600)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.decisions = Counter(
            "oversight_decisions",
            "Decisions recorded, by route",
            ["system", "decision_type", "route"],
            registry=r,
        )
        self.findings = Counter(
            "oversight_findings",
            "Findings raised on decisions",
            ["system", "check", "severity"],
            registry=r,
        )
        self.bias_impact_ratio = Gauge(
            "oversight_bias_impact_ratio",
            "Selection rate over the reference group's, in the bias window",
            ["system", "decision_type", "attribute", "group"],
            registry=r,
        )
        self.bias_selection_rate = Gauge(
            "oversight_bias_selection_rate",
            "Share of favourable decisions in the bias window",
            ["system", "decision_type", "attribute", "group"],
            registry=r,
        )
        self.bias_findings = Counter(
            "oversight_bias_findings",
            "Bias findings raised (a group's impact ratio left the band with enough data)",
            ["system", "decision_type", "attribute"],
            registry=r,
        )
        self.queue_depth = Gauge(
            "oversight_review_queue_depth",
            "Review tasks not yet decided",
            ["system"],
            registry=r,
        )
        self.review_latency = Histogram(
            "oversight_review_latency_seconds",
            "From task created to decided",
            ["system"],
            buckets=_REVIEW_BUCKETS,
            registry=r,
        )
        self.time_on_task = Histogram(
            "oversight_review_time_on_task_seconds",
            "From claim to a reviewer's decision",
            ["system"],
            buckets=_TASK_BUCKETS,
            registry=r,
        )
        self.review_actions = Counter(
            "oversight_review_actions",
            "Reviewer actions",
            ["system", "action"],
            registry=r,
        )
        self.fast_approvals = Counter(
            "oversight_review_fast_approvals",
            f"Approvals decided in under {FAST_APPROVAL_SECONDS:.0f} s of claiming "
            "(a rubber-stamp signal)",
            ["system"],
            registry=r,
        )
        self.complaints_lodged = Counter(
            "oversight_complaints_lodged",
            "Complaints lodged",
            ["system"],
            registry=r,
        )
        self.complaints_open = Gauge(
            "oversight_complaints_open",
            "Complaints not yet answered",
            registry=r,
        )
        self.complaints_overdue = Gauge(
            "oversight_complaints_overdue",
            "Open complaints past their due date",
            registry=r,
        )
        self.audit_entries = Gauge(
            "oversight_audit_entries",
            "Entries in the audit chain",
            registry=r,
        )
        self.audit_appended = Counter(
            "oversight_audit_appended",
            "Audit entries appended by this process",
            registry=r,
        )
        self.batch_size = Histogram(
            "oversight_decision_batch_size",
            "Decisions written per transaction",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512),
            registry=r,
        )
        self.deliveries = Counter(
            "oversight_deliveries",
            "Outcome deliveries attempted, by channel and result",
            ["channel", "result"],
            registry=r,
        )
        self.outbox_pending = Gauge(
            "oversight_outbox_pending",
            "Outcomes waiting to be delivered",
            ["channel"],
            registry=r,
        )
        self.http_latency = Histogram(
            "oversight_http_request_duration_seconds",
            "HTTP request latency",
            ["method", "route", "status"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=r,
        )

    async def refresh(self, engine: AsyncEngine, system_ids: list[str], now: datetime) -> None:
        """Read the shared-state gauges from the database."""
        async with engine.connect() as connection:
            rows = await connection.execute(
                select(review_tasks.c.system_id, func.count())
                .where(review_tasks.c.status != "decided")
                .group_by(review_tasks.c.system_id)
            )
            depth: dict[str, int] = {system: count for system, count in rows}
            open_count = (
                await connection.execute(select(func.count()).where(complaints.c.status == "open"))
            ).scalar_one()
            overdue = (
                await connection.execute(
                    select(func.count()).where(
                        complaints.c.status == "open", complaints.c.due_at < now
                    )
                )
            ).scalar_one()
            head = (await connection.execute(select(audit_head.c.seq))).scalar_one()
            pending = await connection.execute(
                select(outbox.c.channel, func.count())
                .where(outbox.c.status == "pending")
                .group_by(outbox.c.channel)
            )
            waiting: dict[str, int] = {channel: count for channel, count in pending}
        for system_id in set(system_ids) | set(depth):
            self.queue_depth.labels(system=system_id).set(depth.get(system_id, 0))
        self.complaints_open.set(open_count)
        self.complaints_overdue.set(overdue)
        self.audit_entries.set(head)
        for channel in set(waiting) | {"webhook"}:
            self.outbox_pending.labels(channel=channel).set(waiting.get(channel, 0))

    def render(self) -> bytes:
        return generate_latest(self.registry)
