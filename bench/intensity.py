"""Intensity checks: a scheduling decision checked against timelines of 10,000 workers
with 16 weeks of shifts each.

Issue 6's target: the intensity check adds at most 1 ms at the median to a scheduling
decision. The baseline, in the same run and the same database, is the same decision
(same body, same shifts in its context) of a type whose category the checks skip.

    .venv/bin/python bench/intensity.py                        # SQLite and PostgreSQL
    .venv/bin/python bench/intensity.py --backend sqlite --workers 2000

What it measures:

1. ``rules``: ``WorkerCheck`` alone, in memory: one new shift against a worker's 16
   weeks (80 shifts) plus the four weeks already rostered ahead; checks per second and
   the memory one check allocates (tracemalloc peak).
2. ``decision``: ``Oversight.submit`` one decision at a time (the recorder's batch is
   then one decision, the SDK's and a quiet sidecar's case) into a database holding
   10,000 workers x 16 weeks of active shifts (800,000 rows): scheduling decisions
   (checked: the timeline is read inside the transaction, judged, the shift written)
   alternating with the same decisions under a type the checks skip. The added time
   is the difference of the medians; each pair goes to a different random worker.
3. ``batch``: the same through ``record_many`` in batches of 100 (the Kafka worker's and
   a busy sidecar's case): the added time per decision.
4. ``scrape``: ``Metrics.refresh``, which reads the weekly intensity gauges (workers
   assigned, share with a violation, hours bands) from the database at each scrape, with
   10,000 workers' shifts in the last 7 days.

The process's peak RSS is reported too.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import resource
import statistics
import sys
import tempfile
import time
import tracemalloc
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import machine_facts, recreate_pg_database  # noqa: E402
from oversight.intensity.profile import resolve_profiles  # noqa: E402
from oversight.intensity.rules import Change, WorkerCheck  # noqa: E402
from oversight.intensity.timeline import Shift  # noqa: E402
from oversight.policy import parse_policy  # noqa: E402
from oversight.pseudonyms import Pseudonymiser  # noqa: E402
from oversight.schemas import DecisionIn  # noqa: E402
from oversight.service import Oversight  # noqa: E402
from oversight.settings import Settings  # noqa: E402
from oversight.tables import assignments, decisions  # noqa: E402

AMS = ZoneInfo("Europe/Amsterdam")
SUBJECT_KEY = "bench-subject-key"
WEEKS = 16
POLICY = """
systems:
  planner:
    purpose: "Plans warehouse shifts"
    risk_class: high
    intensity: {action: review}
    decision_types:
      roster: {category: scheduling, impact: low}
      unchecked: {category: staffing_note, impact: low}
"""
#: The history is 16 weeks ending with this week; the new shifts fall four weeks after
#: it, as a roster published now would.
_TODAY = datetime.now(AMS).date()
HISTORY_START = datetime.combine(
    _TODAY - timedelta(days=_TODAY.weekday(), weeks=WEEKS - 1), datetime.min.time(), AMS
)


def history(worker: str, weeks: int = WEEKS) -> list[Shift]:
    """Five 8-hour day shifts a week with a 30-minute break, published 5 weeks ahead."""
    shifts = []
    for week in range(weeks):
        for day in range(5):
            start = HISTORY_START + timedelta(weeks=week, days=day, hours=7)
            end = start + timedelta(hours=8)
            pause = start + timedelta(hours=4)
            shifts.append(
                Shift(
                    key=f"{worker}-{week}-{day}",
                    worker_ref=worker,
                    start=start.timestamp(),
                    end=end.timestamp(),
                    breaks=((pause.timestamp(), (pause + timedelta(minutes=30)).timestamp()),),
                    published_at=(start - timedelta(days=35)).timestamp(),
                )
            )
    return shifts


def new_shift_body(slot: int) -> dict[str, Any]:
    """A shift in the fifth week after the history (16 weeks lie behind it, and four
    weeks of unknown roster between)."""
    start = HISTORY_START + timedelta(weeks=WEEKS + 4, days=slot % 5, hours=7)
    pause = start + timedelta(hours=4)
    return {
        "shift_id": f"new-{uuid.uuid4().hex[:12]}",
        "start": start.isoformat(),
        "end": (start + timedelta(hours=8)).isoformat(),
        "breaks": [
            {"start": pause.isoformat(), "end": (pause + timedelta(minutes=30)).isoformat()}
        ],
        "published_at": (start - timedelta(days=35)).isoformat(),
    }


def bench_rules(repeats: int) -> dict[str, Any]:
    profile = resolve_profiles({})["nl-atw"]
    timeline = history("w")
    # four weeks already rostered ahead, then the new shift in the week after
    ahead = [
        Shift(
            s.key + "-ahead", "w", s.start + WEEKS * 7 * 86400, s.end + WEEKS * 7 * 86400, s.breaks
        )
        for s in timeline[: 4 * 5]
    ]
    body = new_shift_body(2)
    new = Shift(
        "new",
        "w",
        datetime.fromisoformat(body["start"]).timestamp(),
        datetime.fromisoformat(body["end"]).timestamp(),
        ((datetime.fromisoformat(body["breaks"][0]["start"]).timestamp(),
          datetime.fromisoformat(body["breaks"][0]["end"]).timestamp()),),
    )  # fmt: skip
    change = Change(new, None, new.start - 35 * 86400)
    everything = [*timeline, *ahead, new]
    assert not WorkerCheck(profile, "w", everything, [new]).violations([change])
    rounds = []
    for _ in range(repeats):
        n = 2000
        began = time.perf_counter()
        for _ in range(n):
            WorkerCheck(profile, "w", everything, [new]).violations([change])
        rounds.append((time.perf_counter() - began) / n)
    tracemalloc.start()
    WorkerCheck(profile, "w", everything, [new]).violations([change])
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    per_check = statistics.median(rounds)
    return {
        "shifts_in_timeline": len(everything),
        "us_per_check_rounds": [round(r * 1e6, 1) for r in rounds],
        "us_per_check": round(per_check * 1e6, 1),
        "checks_per_second": round(1 / per_check),
        "peak_bytes_per_check": peak,
    }


async def populate(oversight: Oversight, workers: int) -> list[str]:
    """``workers`` subjects with 16 weeks of active shifts, written straight to the
    tables (one placeholder decision per worker holds them)."""
    pseudonymise = Pseudonymiser(SUBJECT_KEY.encode())
    subjects = [f"emp-{i:05d}" for i in range(workers)]
    now = datetime.now(UTC)
    began = time.perf_counter()
    chunk = 500
    for first in range(0, workers, chunk):
        decision_rows, shift_rows = [], []
        for subject in subjects[first : first + chunk]:
            worker = pseudonymise(subject)
            decision_id = f"history-{subject}"
            decision_rows.append(
                {
                    "decision_id": decision_id, "body_digest": "0" * 64, "system_id": "planner",
                    "decision_type": "roster", "subject_hash": worker, "outcome": "assigned",
                    "inputs": {}, "findings": [], "recorded_at": now, "submitted_by": "bench",
                    "route": "released", "status": "released", "receipt_nonce": uuid.uuid4().hex,
                    "receipt_hash": uuid.uuid4().hex,
                }
            )  # fmt: skip
            for shift in history(worker):
                shift_rows.append(
                    {
                        "decision_id": decision_id, "system_id": "planner", "worker_ref": worker,
                        "kind": "shift", "assignment_key": shift.key, "starts_at": shift.start,
                        "ends_at": shift.end, "breaks": [list(b) for b in shift.breaks],
                        "on_call": False, "published_at": shift.published_at, "hours": 8.0,
                        "state": "active",
                    }
                )  # fmt: skip
        async with oversight.engine.begin() as connection:
            await connection.execute(insert(decisions), decision_rows)
            await connection.execute(insert(assignments), shift_rows)
    if oversight.engine.dialect.name == "postgresql":
        # What autovacuum does within a minute of such a load; without it the planner
        # believes the table empty.
        async with oversight.engine.begin() as connection:
            await connection.execute(text("ANALYZE"))
    print(
        f"  populated {workers} workers, {workers * WEEKS * 5} shifts in "
        f"{time.perf_counter() - began:.0f} s",
        flush=True,
    )
    return subjects


def decision(subject: str, decision_type: str, slot: int) -> DecisionIn:
    return DecisionIn.model_validate(
        {
            "system_id": "planner",
            "decision_type": decision_type,
            "subject_id": subject,
            "outcome": "assigned",
            "explanation": {"summary": "Fills a gap in week 21"},
            "context": {"shifts": [new_shift_body(slot)]},
        }
    )


async def bench_backend(db: str, workers: int, pairs: int, batches: int) -> dict[str, Any]:
    settings = Settings(db=db, subject_key=SUBJECT_KEY, receipt_key="bench-receipt-key")
    rng = random.Random(6)
    async with Oversight.open(settings, policy=parse_policy(POLICY)) as oversight:
        subjects = await populate(oversight, workers)
        timings: dict[str, list[float]] = {"roster": [], "unchecked": []}
        findings = 0
        # warm up both paths (statement caches, plans)
        for i in range(20):
            for kind in ("roster", "unchecked"):
                await oversight.submit(decision(rng.choice(subjects), kind, i), submitted_by="b")
        for i in range(pairs):
            order = ("roster", "unchecked") if i % 2 == 0 else ("unchecked", "roster")
            for kind in order:
                item = decision(rng.choice(subjects), kind, i)
                began = time.perf_counter()
                recorded = await oversight.submit(item, submitted_by="b")
                timings[kind].append(time.perf_counter() - began)
                findings += kind == "roster" and bool(recorded.accepted.findings)
        batch_per_decision: dict[str, list[float]] = {"roster": [], "unchecked": []}
        for i in range(batches):
            for kind in ("roster", "unchecked") if i % 2 == 0 else ("unchecked", "roster"):
                batch = [
                    oversight.prepare(decision(rng.choice(subjects), kind, i), submitted_by="b")
                    for _ in range(100)
                ]
                began = time.perf_counter()
                await oversight.recorder.record_many(batch)
                batch_per_decision[kind].append((time.perf_counter() - began) / len(batch))
        scrapes = []
        for _ in range(5):
            began = time.perf_counter()
            await oversight.metrics.refresh(oversight.engine, ["planner"], datetime.now(UTC))
            scrapes.append(time.perf_counter() - began)
        workers_gauge = oversight.metrics.intensity_workers.labels(system="planner")._value.get()
    med = {k: statistics.median(v) for k, v in timings.items()}
    per = {k: statistics.median(v) for k, v in batch_per_decision.items()}
    return {
        "workers": workers,
        "shifts": workers * WEEKS * 5,
        "pairs": pairs,
        "checked_with_findings": findings,
        "single_ms_median": {k: round(v * 1000, 3) for k, v in med.items()},
        "single_ms_p90": {
            k: round(sorted(v)[int(len(v) * 0.9)] * 1000, 3) for k, v in timings.items()
        },
        "single_added_ms": round((med["roster"] - med["unchecked"]) * 1000, 3),
        "single_ratio": round(med["roster"] / med["unchecked"], 3),
        "batch100_ms_per_decision": {k: round(v * 1000, 3) for k, v in per.items()},
        "batch100_added_ms_per_decision": round((per["roster"] - per["unchecked"]) * 1000, 3),
        "scrape_ms_median": round(statistics.median(scrapes) * 1000, 1),
        "scrape_workers_in_last_7_days": workers_gauge,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--workers", type=int, default=10_000)
    parser.add_argument("--pairs", type=int, default=500)
    parser.add_argument("--batches", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", type=Path, default=None, help="Also write the results here")
    args = parser.parse_args()
    results: dict[str, Any] = {"machine": machine_facts(), "date": datetime.now(UTC).isoformat()}
    print("rules alone ...", flush=True)
    results["rules"] = bench_rules(args.repeats)
    print(json.dumps(results["rules"], indent=2), flush=True)
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    for backend in backends:
        print(f"{backend}: one decision at a time, then batches of 100 ...", flush=True)
        with tempfile.TemporaryDirectory() as tmp:
            db = (
                f"sqlite:///{Path(tmp) / 'intensity.db'}"
                if backend == "sqlite"
                else recreate_pg_database()
            )
            results[backend] = asyncio.run(
                bench_backend(db, args.workers, args.pairs, args.batches)
            )
        print(json.dumps(results[backend], indent=2), flush=True)
    results["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    print(f"peak RSS {results['peak_rss_mib']} MiB")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
