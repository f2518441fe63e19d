"""Bias findings in the database: the open ones, and raising and clearing them.

Both happen under the chain lock and are audit entries, so two replicas that compute the
same report never raise the same finding twice: each decides on what the database says.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from fairness import BiasFinding
from oversight.audit import ChainHead
from oversight.database import storage_errors
from oversight.metrics import Metrics
from oversight.tables import bias_findings

if TYPE_CHECKING:
    from oversight.bias import BiasCheck


async def sync_findings(
    engine: AsyncEngine, check: BiasCheck, *, metrics: Metrics, now: datetime
) -> None:
    """Raise the report's new findings and clear those it no longer has."""
    assert check.report is not None
    wanted = {f.key: f for f in check.report.findings}
    if wanted.keys() == check.open.keys():
        return
    with storage_errors("recording a bias finding"):
        async with engine.begin() as connection:
            head = await ChainHead.lock(connection)
            # Another replica may have been first: decide on what the database says.
            check.open = await open_findings(connection, check.system_id, check.decision_type)
            where = {"system_id": check.system_id, "decision_type": check.decision_type}
            for key, finding in wanted.items():
                if key in check.open:
                    continue
                details = finding.model_dump(mode="json")
                await connection.execute(
                    bias_findings.insert().values(
                        **where, attributes=key[0], affected_group=key[1],
                        details=details, raised_at=now,
                    )
                )  # fmt: skip
                head.add("bias_finding_raised", {**where, **details}, at=now)
                metrics.bias_findings.labels(check.system_id, check.decision_type, key[0]).inc()
            for key, finding in check.open.items():
                if key in wanted:
                    continue
                await connection.execute(
                    update(bias_findings)
                    .where(
                        bias_findings.c.system_id == check.system_id,
                        bias_findings.c.decision_type == check.decision_type,
                        bias_findings.c.attributes == key[0],
                        bias_findings.c.affected_group == key[1],
                        bias_findings.c.cleared_at.is_(None),
                    )
                    .values(cleared_at=now)
                )
                head.add(
                    "bias_finding_cleared",
                    {**where, **finding.model_dump(mode="json")},
                    at=now,
                )
            await head.write(connection)
    check.open = {key: wanted[key] for key in wanted}


async def open_findings(
    connection: AsyncConnection, system_id: str, decision_type: str
) -> dict[tuple[str, str], BiasFinding]:
    rows = await connection.execute(
        select(bias_findings.c.attributes, bias_findings.c.affected_group, bias_findings.c.details)
        .where(
            bias_findings.c.system_id == system_id,
            bias_findings.c.decision_type == decision_type,
            bias_findings.c.cleared_at.is_(None),
        )
        .order_by(bias_findings.c.id)
    )
    return {
        (row.attributes, row.affected_group): BiasFinding.model_validate(row.details)
        for row in rows
    }
