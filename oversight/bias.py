"""The bias monitor: each decision type with a ``bias`` policy is watched over a sliding
window of its decisions, and unequal treatment of a group becomes a finding.

The monitor follows the database, not this process's own traffic, so every replica of
the sidecar (and a Kafka worker) sees all decisions: it reads ``protected_attributes``
rows newer than the last ``seq`` it saw, with the decision's outcome and any ground
truth, and labels that arrived since. Counts per cell are kept as decisions enter and
leave the window; the report is recomputed from them (``fairness.build_report``) when
they change.

A finding is raised when a group's impact ratio leaves the band with enough data, and
cleared when it returns or the data no longer suffice; both are audit entries, and open
findings live in ``bias_findings``, written under the chain lock so two replicas never
raise the same one twice. While a finding is open, later decisions of that type carry a
``bias`` finding; with ``action: review_unfavourable``, an unfavourable decision for a
member of the affected group is held for a human. The finding on a decision never names
the person's group: reviewers see that a bias finding applies, not the attributes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from fairness import (
    BiasFinding,
    BiasPolicy,
    FairnessReport,
    ReportSettings,
    Window,
    build_report,
    group_of,
)
from oversight.bias_findings import open_findings, sync_findings
from oversight.clock import Clock
from oversight.database import read_only, storage_errors
from oversight.errors import StorageUnavailable
from oversight.metrics import Metrics
from oversight.policy import Policy
from oversight.routing import CheckedFinding
from oversight.schemas import DecisionIn, DecisionTypeFairness, Finding, SystemFairness
from oversight.tables import decision_labels, decisions, protected_attributes

logger = logging.getLogger(__name__)

#: Rows read per query while catching up.
PAGE = 5000
OPEN_FINDING = (
    "A bias check on this decision type has an open finding: a group's selection rate is "
    "outside the four-fifths band. See the system's fairness report."
)
HELD_FOR_BIAS = (
    "A bias check on this decision type has an open finding, and this unfavourable "
    "decision falls under it; it is held for a human while the finding lasts."
)


def report_settings(policy: BiasPolicy) -> ReportSettings:
    return ReportSettings(
        threshold=policy.threshold,
        min_group_size=policy.min_group_size,
        confidence=policy.confidence,
        reference=policy.reference,
    )


@dataclass
class BiasCheck:
    """One decision type's window, its latest report and its open findings."""

    system_id: str
    decision_type: str
    policy: BiasPolicy
    window: Window
    report: FairnessReport | None = None
    changed: bool = True
    #: decisions a score rule could not judge (no score): not counted, not guessed
    without_score: int = 0
    open: dict[tuple[str, str], BiasFinding] = field(default_factory=dict)

    @classmethod
    def create(cls, system_id: str, decision_type: str, policy: BiasPolicy) -> BiasCheck:
        window = Window(
            tuple(policy.attributes),
            max_decisions=policy.window.decisions,
            max_age_seconds=policy.window.days * 86400 if policy.window.days else None,
        )
        return cls(system_id, decision_type, policy, window)

    @property
    def attributes(self) -> tuple[str, ...]:
        return self.window.counts.attributes

    def observe(self, row: Any) -> None:
        """Take one decision row (seq, outcome, score, attributes, favourable label)."""
        y_pred = self.policy.is_favourable(row.outcome, row.score)
        if y_pred is None:
            self.without_score += 1
            return
        group = group_of(row.attributes, self.attributes)
        y_true = None if row.favourable is None else int(row.favourable)
        self.window.add(row.seq, row.recorded_at.timestamp(), group, int(y_pred), y_true)
        self.changed = True

    def label(self, row: Any) -> None:
        y_pred = self.policy.is_favourable(row.outcome, row.score)
        if y_pred is None:
            return
        group = group_of(row.attributes, self.attributes)
        if self.window.label(row.seq, group, int(y_pred), int(row.favourable)):
            self.changed = True


class BiasMonitor:
    """Keeps every bias check of the policy up to date; ``start`` it, ``stop`` it."""

    def __init__(
        self,
        engine: AsyncEngine,
        policy: Policy,
        *,
        metrics: Metrics,
        clock: Clock,
        refresh_seconds: float,
        record_findings: bool = True,
    ) -> None:
        """``record_findings=False`` computes reports without raising or clearing anything
        (for a read-only tool such as ``oversight fairness report``)."""
        self._engine = engine
        self._record_findings = record_findings
        self._reader = read_only(engine)
        self._metrics = metrics
        self._clock = clock
        self._refresh_seconds = refresh_seconds
        self.checks = {
            (system_id, name): BiasCheck.create(system_id, name, dtype.bias)
            for system_id, system in policy.systems.items()
            for name, dtype in system.decision_types.items()
            if dtype.bias is not None
        }
        self._cursor: int | None = None  # the last protected_attributes.seq taken in
        self._label_cursor = 0
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._gauge_labels: dict[tuple[str, str], set[tuple[str, str]]] = {}

    async def start(self) -> None:
        if not self.checks or self._task is not None:
            return
        try:
            await self.refresh()
        except StorageUnavailable as exc:
            logger.warning("bias checks start without data: %s", exc.message)
        self._task = asyncio.create_task(self._run(), name="oversight-bias-monitor")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._refresh_seconds)
            try:
                await self.refresh()
            except StorageUnavailable as exc:
                logger.warning("bias checks paused: %s", exc.message)
            except Exception:
                logger.exception("bias check round failed")

    async def refresh(self) -> None:
        """Take in what was recorded since the last round, recompute what changed, and
        raise or clear findings. Raises ``StorageUnavailable``."""
        if not self.checks:
            return
        async with self._lock:
            with storage_errors("reading decisions for the bias checks"):
                async with self._reader.connect() as connection:
                    await self._catch_up(connection)
            now = self._clock().timestamp()
            for check in self.checks.values():
                if check.window.expire(now):
                    check.changed = True
                if check.changed or check.report is None:
                    counts = check.window.counts.copy()
                    check.report = await asyncio.to_thread(
                        build_report, counts, report_settings(check.policy)
                    )
                    self._publish(check)
                    if self._record_findings:
                        await sync_findings(
                            self._engine, check, metrics=self._metrics, now=self._clock()
                        )
                    check.changed = False  # only once its findings are in the database

    def system_fairness(self, system_id: str, decision_type: str | None = None) -> SystemFairness:
        """What the checks of one system (or one of its types) know now."""
        return SystemFairness(
            system_id=system_id,
            decision_types=[
                DecisionTypeFairness(
                    decision_type=name,
                    policy=check.policy,
                    report=check.report,
                    open_findings=list(check.open.values()),
                    decisions_without_score=check.without_score,
                )
                for (system, name), check in self.checks.items()
                if system == system_id and decision_type in (None, name)
            ],
        )

    def findings_for(self, decision: DecisionIn) -> list[CheckedFinding]:
        """The bias finding a new decision carries while its type has an open finding."""
        check = self.checks.get((decision.system_id, decision.decision_type))
        if check is None or not check.open:
            return []
        if check.policy.action == "review_unfavourable":
            favourable = check.policy.is_favourable(decision.outcome, decision.score)
            values = group_of(decision.protected, check.attributes)
            group = dict(zip(check.attributes, values, strict=True))
            affected = any(
                all(group.get(k) == v for k, v in f.affected_group.items())
                for f in check.open.values()
            )
            if favourable is False and affected:
                return [
                    CheckedFinding(
                        Finding(check="bias", severity="warning", message=HELD_FOR_BIAS),
                        action="review",
                    )
                ]
        return [CheckedFinding(Finding(check="bias", severity="info", message=OPEN_FINDING))]

    async def _catch_up(self, connection: AsyncConnection) -> None:
        keys = list(self.checks)
        if self._cursor is None:
            self._label_cursor = (
                await connection.scalar(select(func.max(decision_labels.c.seq)))
            ) or 0
            self._cursor = await self._window_start(connection) - 1
            for key, check in self.checks.items():
                check.open = await open_findings(connection, *key)
        else:
            await self._take_labels(connection)
        while True:
            rows = (
                await connection.execute(
                    _decision_rows()
                    .where(
                        protected_attributes.c.seq > self._cursor,
                        tuple_(
                            protected_attributes.c.system_id, protected_attributes.c.decision_type
                        ).in_(keys),
                    )
                    .order_by(protected_attributes.c.seq)
                    .limit(PAGE)
                )
            ).all()
            for row in rows:
                self.checks[(row.system_id, row.decision_type)].observe(row)
            if rows:
                self._cursor = rows[-1].seq
            if len(rows) < PAGE:
                return

    async def _window_start(self, connection: AsyncConnection) -> int:
        """The lowest seq any check's window holds, to start reading from."""
        starts = []
        now = self._clock()
        for (system_id, decision_type), check in self.checks.items():
            of_type = (
                protected_attributes.c.system_id == system_id,
                protected_attributes.c.decision_type == decision_type,
            )
            start = 1
            if check.policy.window.decisions is not None:
                nth_newest = await connection.scalar(
                    select(protected_attributes.c.seq)
                    .where(*of_type)
                    .order_by(protected_attributes.c.seq.desc())
                    .offset(check.policy.window.decisions - 1)
                    .limit(1)
                )
                start = max(start, nth_newest or 1)
            if check.policy.window.days is not None:
                since = now - timedelta(days=check.policy.window.days)
                first_recent = await connection.scalar(
                    select(func.min(protected_attributes.c.seq)).where(
                        *of_type, protected_attributes.c.recorded_at >= since
                    )
                )
                if first_recent is not None:
                    start = max(start, first_recent)
            starts.append(start)
        return min(starts)

    async def _take_labels(self, connection: AsyncConnection) -> None:
        assert self._cursor is not None
        rows = (
            await connection.execute(
                _decision_rows()
                .add_columns(decision_labels.c.seq.label("label_seq"))
                .where(decision_labels.c.seq > self._label_cursor)
                .order_by(decision_labels.c.seq)
            )
        ).all()
        for row in rows:
            check = self.checks.get((row.system_id, row.decision_type))
            # A decision not taken in yet brings its label along when it is.
            if check is not None and row.seq <= self._cursor:
                check.label(row)
            self._label_cursor = row.label_seq

    def _publish(self, check: BiasCheck) -> None:
        assert check.report is not None
        labels: set[tuple[str, str]] = set()
        for attribute in check.report.reports:
            for row in attribute.groups:
                key = (attribute.label, row.label)
                labels.add(key)
                names = (check.system_id, check.decision_type, *key)
                if row.impact_ratio is not None:
                    self._metrics.bias_impact_ratio.labels(*names).set(row.impact_ratio)
                if row.selection_rate is not None:
                    self._metrics.bias_selection_rate.labels(*names).set(row.selection_rate)
        gone = self._gauge_labels.get((check.system_id, check.decision_type), set()) - labels
        for key in gone:
            for gauge in (self._metrics.bias_impact_ratio, self._metrics.bias_selection_rate):
                with contextlib.suppress(KeyError):
                    gauge.remove(check.system_id, check.decision_type, *key)
        self._gauge_labels[(check.system_id, check.decision_type)] = labels


def _decision_rows() -> Any:
    """Each decision with what a bias check needs: group, outcome, score, ground truth."""
    return (
        select(
            protected_attributes.c.seq,
            protected_attributes.c.system_id,
            protected_attributes.c.decision_type,
            protected_attributes.c.attributes,
            protected_attributes.c.recorded_at,
            decisions.c.outcome,
            decisions.c.score,
            decision_labels.c.favourable,
        )
        .join(decisions, decisions.c.decision_id == protected_attributes.c.decision_id)
        .outerjoin(
            decision_labels, decision_labels.c.decision_id == protected_attributes.c.decision_id
        )
    )
