"""Prometheus metrics, on a registry of each application's own (no global state).

Counters and histograms count what this process did. The gauges of shared state (queue
depth, open and overdue complaints, audit entries) are read from the database at each
scrape, so every replica reports the same truth: aggregate them with ``max``, not ``sum``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from oversight.tables import (
    assignments,
    audit_head,
    complaints,
    intensity_findings,
    outbox,
    review_tasks,
    systems,
)

#: Approvals faster than this are counted as a rubber-stamp signal (AI Act Art 14(4)(b)).
FAST_APPROVAL_SECONDS = 10.0
_REVIEW_BUCKETS = (60, 300, 900, 3600, 4 * 3600, 12 * 3600, 86400, 2 * 86400, 7 * 86400)
_TASK_BUCKETS = (1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800, 3600)
#: Bands of weekly hours for the distribution gauge: the ATW's 48 h (16-week average),
#: 55 h (4-week average) and 60 h (any week) are band edges.
WEEKLY_HOURS_BANDS = ((0, 24), (24, 40), (40, 48), (48, 55), (55, 60), (60, None))


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
        self.intensity_findings = Counter(
            "oversight_intensity_findings",
            "Intensity rule violations found on scheduling and task decisions",
            ["system", "rule", "severity"],
            registry=r,
        )
        self.intensity_workers = Gauge(
            "oversight_intensity_workers",
            "Workers with shifts or tasks starting in the last 7 days",
            ["system"],
            registry=r,
        )
        self.intensity_violation_share = Gauge(
            "oversight_intensity_workers_with_violation_ratio",
            "Share of workers with an intensity finding in the last 7 days",
            ["system"],
            registry=r,
        )
        self.intensity_weekly_hours = Gauge(
            "oversight_intensity_workers_by_weekly_hours",
            "Workers by hours of shifts assigned in the last 7 days",
            ["system", "band"],
            registry=r,
        )
        self.prohibited_inputs = Counter(
            "oversight_prohibited_inputs",
            "Decisions blocked for a prohibited input, by category",
            ["system", "category"],
            registry=r,
        )
        self.prohibited_input_exceptions = Counter(
            "oversight_prohibited_input_exceptions",
            "Uses of a declared exception for a prohibited kind of input",
            ["system", "category"],
            registry=r,
        )
        self.review_overdue = Gauge(
            "oversight_review_tasks_overdue",
            "Review tasks past their due time (the review SLA)",
            ["system"],
            registry=r,
        )
        self.system_halted = Gauge(
            "oversight_system_halted",
            "1 while a system is halted: nothing of it is released",
            ["system"],
            registry=r,
        )
        self.audit_verify_ok = Gauge(
            "oversight_audit_verify_ok",
            "1 if this process's last audit chain verification found it intact, 0 if not",
            registry=r,
        )
        self.audit_verify_time = Gauge(
            "oversight_audit_verify_last_run_timestamp_seconds",
            "When this process last verified the audit chain",
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
        week_ago = now - timedelta(days=7)
        async with engine.connect() as connection:
            hours_rows = await connection.execute(
                select(
                    assignments.c.system_id, assignments.c.worker_ref, func.sum(assignments.c.hours)
                )
                .where(
                    assignments.c.state == "active",
                    assignments.c.kind == "shift",
                    assignments.c.starts_at >= week_ago.timestamp(),
                    assignments.c.starts_at < now.timestamp(),
                )
                .group_by(assignments.c.system_id, assignments.c.worker_ref)
            )
            weekly: dict[str, dict[str, float]] = {}
            for system_id, worker, hours in hours_rows:
                weekly.setdefault(system_id, {})[worker] = hours
            task_rows = await connection.execute(
                select(assignments.c.system_id, assignments.c.worker_ref)
                .distinct()
                .where(
                    assignments.c.state == "active",
                    assignments.c.kind == "task",
                    assignments.c.starts_at >= week_ago.timestamp(),
                    assignments.c.starts_at < now.timestamp(),
                )
            )
            assigned: dict[str, set[str]] = {s: set(w) for s, w in weekly.items()}
            for system_id, worker in task_rows:
                assigned.setdefault(system_id, set()).add(worker)
            violated: dict[str, set[str]] = {}
            for system_id, worker in await connection.execute(
                select(intensity_findings.c.system_id, intensity_findings.c.worker_ref)
                .distinct()
                .where(intensity_findings.c.recorded_at >= week_ago)
            ):
                violated.setdefault(system_id, set()).add(worker)
            rows = await connection.execute(
                select(review_tasks.c.system_id, func.count())
                .where(review_tasks.c.status != "decided")
                .group_by(review_tasks.c.system_id)
            )
            depth: dict[str, int] = {system: count for system, count in rows}
            overdue_rows = await connection.execute(
                select(review_tasks.c.system_id, func.count())
                .where(review_tasks.c.status != "decided", review_tasks.c.due_at < now)
                .group_by(review_tasks.c.system_id)
            )
            late: dict[str, int] = {system: count for system, count in overdue_rows}
            halted = {
                system: bool(flag)
                for system, flag in await connection.execute(
                    select(systems.c.system_id, systems.c.halted)
                )
            }
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
            self.review_overdue.labels(system=system_id).set(late.get(system_id, 0))
            self.system_halted.labels(system=system_id).set(int(halted.get(system_id, False)))
        self.complaints_open.set(open_count)
        self.complaints_overdue.set(overdue)
        self.audit_entries.set(head)
        for channel in set(waiting) | {"webhook"}:
            self.outbox_pending.labels(channel=channel).set(waiting.get(channel, 0))
        self._set_intensity(set(system_ids), weekly, assigned, violated)

    def _set_intensity(
        self,
        system_ids: set[str],
        weekly: dict[str, dict[str, float]],
        assigned: dict[str, set[str]],
        violated: dict[str, set[str]],
    ) -> None:
        for system_id in system_ids | set(assigned) | set(violated):
            workers = assigned.get(system_id, set()) | violated.get(system_id, set())
            self.intensity_workers.labels(system=system_id).set(len(workers))
            share = len(violated.get(system_id, ())) / len(workers) if workers else 0.0
            self.intensity_violation_share.labels(system=system_id).set(share)
            hours = weekly.get(system_id, {}).values()
            for low, high in WEEKLY_HOURS_BANDS:
                band = f"{low}-{high}" if high is not None else f"{low}+"
                count = sum(1 for h in hours if h >= low and (high is None or h < high))
                self.intensity_weekly_hours.labels(system=system_id, band=band).set(count)

    def render(self) -> bytes:
        return generate_latest(self.registry)
