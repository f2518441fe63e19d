"""The intensity report of one system, from the database: how often each rule fired,
and which workers (by pseudonym) it fired for most."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel
from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from oversight.database import read_only
from oversight.tables import assignments, intensity_findings


class RuleCount(BaseModel):
    rule: str
    findings: int
    workers: int
    held_or_blocked: int


class WorkerCount(BaseModel):
    worker_ref: str
    findings: int
    rules: list[str]


class IntensityReport(BaseModel):
    system_id: str
    since: datetime | None
    findings: int
    workers_with_findings: int
    workers_assigned: int
    rules: list[RuleCount]
    most_affected: list[WorkerCount]


async def build_intensity_report(
    engine: AsyncEngine, system_id: str, *, since: datetime | None, top: int
) -> IntensityReport:
    f = intensity_findings.c
    where = [f.system_id == system_id]
    if since is not None:
        where.append(f.recorded_at >= since)
    assigned_where = [assignments.c.system_id == system_id, assignments.c.state == "active"]
    if since is not None:
        assigned_where.append(assignments.c.starts_at >= since.timestamp())
    async with read_only(engine).connect() as connection:
        rule_rows = await connection.execute(
            select(
                f.rule,
                func.count(),
                func.count(f.worker_ref.distinct()),
                func.sum(case((f.action != "alert", 1), else_=0)),
            )
            .where(*where)
            .group_by(f.rule)
            .order_by(func.count().desc(), f.rule)
        )
        rules = [
            RuleCount(rule=rule, findings=n, workers=w, held_or_blocked=int(h or 0))
            for rule, n, w, h in rule_rows
        ]
        worker_rows = await connection.execute(
            select(f.worker_ref, func.count())
            .where(*where)
            .group_by(f.worker_ref)
            .order_by(func.count().desc(), f.worker_ref)
            .limit(top)
        )
        most = [(worker, n) for worker, n in worker_rows]
        rules_of: dict[str, set[str]] = {w: set() for w, _ in most}
        if most:
            for worker, rule in await connection.execute(
                select(f.worker_ref, f.rule).distinct().where(*where, f.worker_ref.in_(rules_of))
            ):
                rules_of[worker].add(rule)
        with_findings = await connection.scalar(
            select(func.count(f.worker_ref.distinct())).where(*where)
        )
        workers_assigned = await connection.scalar(
            select(func.count(assignments.c.worker_ref.distinct())).where(*assigned_where)
        )
    return IntensityReport(
        system_id=system_id,
        since=since,
        findings=sum(r.findings for r in rules),
        workers_with_findings=with_findings or 0,
        workers_assigned=workers_assigned or 0,
        rules=rules,
        most_affected=[
            WorkerCount(worker_ref=w, findings=n, rules=sorted(rules_of[w])) for w, n in most
        ],
    )
