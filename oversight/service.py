"""``Oversight``: the whole pipeline in one object, for the HTTP API and for in-process use.

A Python application can record, check, route and audit its decisions against a
database without running a server::

    async with Oversight.open(Settings(db="sqlite:///oversight.db", policy=path)) as ov:
        accepted = await ov.submit(DecisionIn(...), submitted_by="my-app")
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from oversight import audit, server_secrets
from oversight.bias import BiasMonitor
from oversight.clock import Clock, utcnow
from oversight.complaints import ComplaintDesk
from oversight.concerns import ConcernBox
from oversight.database import (
    create_engine,
    read_only,
    revision_state,
    storage_errors,
    upgrade,
)
from oversight.decisions import DecisionReader
from oversight.errors import ConfigurationError, UnknownSystem
from oversight.guard import guard_inputs, withhold
from oversight.intensity.assignments import read_assignments
from oversight.intensity.ledger import IntensityCheck
from oversight.labels import GroundTruth
from oversight.metrics import Metrics
from oversight.policy import INTENSITY_CATEGORIES, Policy, load_policy
from oversight.pseudonyms import Pseudonymiser
from oversight.receipts import ReceiptIssuer
from oversight.recorder import DecisionRecorder, Recorded, Submission
from oversight.review import ReviewQueue
from oversight.routing import check
from oversight.schemas import DecisionIn
from oversight.settings import Settings
from oversight.systems import HaltSwitch
from oversight.tables import policies

logger = logging.getLogger(__name__)


class Oversight:
    """Records, checks and routes decisions; holds the review queue and complaints."""

    def __init__(
        self,
        engine: AsyncEngine,
        policy: Policy,
        *,
        settings: Settings,
        subject_key: bytes,
        receipt_key: bytes,
        metrics: Metrics | None = None,
        clock: Clock = utcnow,
    ) -> None:
        self.engine = engine
        self.reader = read_only(engine)
        self.policy = policy
        self.settings = settings
        self.metrics = metrics or Metrics()
        self.clock = clock
        self._pseudonymise = Pseudonymiser(subject_key)
        self.recorder = DecisionRecorder(
            engine,
            receipts=ReceiptIssuer(receipt_key),
            metrics=self.metrics,
            clock=clock,
            default_review_sla_hours=settings.default_review_sla_hours,
            max_batch=settings.batch_max_size,
            max_wait=settings.batch_max_wait_ms / 1000,
        )
        self.reviews = ReviewQueue(
            engine,
            policy=policy,
            metrics=self.metrics,
            clock=clock,
            claim_minutes=settings.claim_minutes,
        )
        self.complaints = ComplaintDesk(
            engine,
            policy=policy,
            queue=self.reviews,
            metrics=self.metrics,
            clock=clock,
        )
        self.decisions = DecisionReader(engine, policy=policy)
        self.labels = GroundTruth(engine, policy=policy, clock=clock)
        self.bias = BiasMonitor(
            engine,
            policy,
            metrics=self.metrics,
            clock=clock,
            refresh_seconds=settings.bias_refresh_seconds,
        )
        self.halt_switch = HaltSwitch(engine, policy=policy, clock=clock)
        self.concerns = ConcernBox(engine, policy=policy, clock=clock)

    @classmethod
    @asynccontextmanager
    async def open(
        cls,
        settings: Settings,
        *,
        policy: Policy | None = None,
        metrics: Metrics | None = None,
        clock: Clock = utcnow,
    ) -> AsyncIterator[Oversight]:
        """Connect, create the schema of an empty database, start the recorder."""
        if policy is None:
            if settings.policy is None:
                raise ConfigurationError(
                    "No policy file given: pass --policy FILE or set OVERSIGHT_POLICY."
                )
            policy = load_policy(settings.policy)
        engine = create_engine(settings.db)
        try:
            with storage_errors("opening the database"):
                await prepare_schema(engine)
                subject_key = await server_secrets.load_or_create(
                    engine, "subject_key", settings.subject_key
                )
                receipt_key = await server_secrets.load_or_create(
                    engine, "receipt_key", settings.receipt_key
                )
            oversight = cls(
                engine,
                policy,
                settings=settings,
                subject_key=subject_key,
                receipt_key=receipt_key,
                metrics=metrics,
                clock=clock,
            )
            await oversight.start()
            try:
                yield oversight
            finally:
                await oversight.bias.stop()
                await oversight.recorder.stop()
        finally:
            await engine.dispose()

    async def start(self) -> None:
        """Start the recorder and the bias checks; log and keep the policy in force."""
        await self.recorder.start()
        now = self.clock()
        with storage_errors("recording the policy"):
            async with self.engine.begin() as connection:
                await audit.append(
                    connection,
                    "policy_loaded",
                    {"digest": self.policy.digest, "systems": sorted(self.policy.systems)},
                    at=now,
                )
                known = await connection.scalar(
                    select(policies.c.digest).where(policies.c.digest == self.policy.digest)
                )
                if known is None:
                    await connection.execute(
                        insert(policies).values(
                            digest=self.policy.digest,
                            policy=self.policy.model_dump(mode="json"),
                            loaded_at=now,
                        )
                    )
                else:
                    await connection.execute(
                        update(policies)
                        .where(policies.c.digest == self.policy.digest)
                        .values(loaded_at=now)
                    )
        await self.bias.start()

    async def submit(self, decision: DecisionIn, *, submitted_by: str) -> Recorded:
        """Check, record durably and route one decision."""
        return await self.recorder.record(self.prepare(decision, submitted_by=submitted_by))

    def prepare(
        self, decision: DecisionIn, *, submitted_by: str, default_id: str | None = None
    ) -> Submission:
        """Check a decision against the policy, ready to record. ``default_id`` is the
        id when the decision carries none (a stable one makes a redelivery idempotent);
        raises ``UnknownSystem`` naming what the policy lacks."""
        system = self.policy.systems.get(decision.system_id)
        if system is None:
            raise UnknownSystem(
                f"Unknown system {decision.system_id!r}; the policy knows "
                f"{', '.join(sorted(self.policy.systems))}.",
                field="system_id",
            )
        decision_type = system.decision_types.get(decision.decision_type)
        if decision_type is None:
            raise UnknownSystem(
                f"System {decision.system_id!r} has no decision type "
                f"{decision.decision_type!r}; it has {', '.join(sorted(system.decision_types))}.",
                field="decision_type",
            )
        given_id = decision.decision_id or default_id
        dump = decision.model_dump(mode="json")
        body_digest = Submission.digest_of(dump)
        guarded = guard_inputs(decision.inputs, system.inputs)
        if guarded.withheld:  # the digest still covers what was sent, for replays
            decision = decision.model_copy(
                update={"inputs": withhold(decision.inputs, guarded.withheld)}
            )
            dump = {**dump, "inputs": decision.inputs}
        intensity = None
        if decision_type.category in INTENSITY_CATEGORIES:
            assigned = read_assignments(
                decision.context, subject_id=decision.subject_id, pseudonymise=self._pseudonymise
            )
            if assigned:
                intensity = IntensityCheck(
                    system_id=decision.system_id,
                    assignments=assigned,
                    profile=self.policy.intensity_profile(decision.system_id),
                    policy=system.intensity,
                    occurred_at=None if decision.occurred_at is None
                    else decision.occurred_at.timestamp(),
                )  # fmt: skip
        return Submission(
            decision=decision,
            decision_id=given_id or str(uuid.uuid4()),
            id_is_fresh=given_id is None,
            dump=dump,
            body_digest=body_digest,
            subject_ref=self._pseudonymise(decision.subject_id),
            submitted_by=submitted_by,
            system=system,
            decision_type=decision_type,
            findings=guarded.findings + check(decision, system) + self.bias.findings_for(decision),
            intensity=intensity,
        )

    async def record_event(
        self, kind: str, payload: dict[str, Any], *, subject_ref: str | None = None
    ) -> None:
        """Append one event to the audit log (adapters use it for what is not a decision:
        an upstream timeout, a response that could not be read)."""
        with storage_errors(f"recording {kind}"):
            async with self.engine.begin() as connection:
                await audit.append(
                    connection, kind, payload, at=self.clock(), subject_ref=subject_ref
                )

    async def verify(self) -> audit.VerifyResult:
        with storage_errors("verifying the audit log"):
            result = await audit.verify(self.engine)
        self.metrics.audit_verify_ok.set(int(result.ok))
        self.metrics.audit_verify_time.set(self.clock().timestamp())
        return result

    async def is_ready(self) -> bool:
        try:
            async with self.reader.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except Exception:
            logger.warning("readiness check: the database does not answer", exc_info=True)
            return False
        return True


async def prepare_schema(engine: AsyncEngine) -> None:
    """Create the schema of an empty database; refuse to run on an outdated one."""
    current, head = await revision_state(engine)
    if current == head:
        return
    if current is None:
        await upgrade(engine)
        return
    raise ConfigurationError(
        f"The database schema is at revision {current}, this version needs {head}: "
        "run `oversight db upgrade --db URL` first."
    )
