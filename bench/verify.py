"""Speed of ``oversight.audit.verify`` over a long chain, on SQLite and PostgreSQL.

The chain is built fast, straight through ``oversight.audit.ChainHead`` in big
transactions (not over HTTP), with the entry kinds and payload sizes the recorder
writes for real decisions: per decision a ``decision_recorded`` entry (the decision and
its explanation) and a ``decision_routed`` entry, and now and then a ``finding``.
Then ``verify`` runs ``--repeats`` times on one engine and the median is reported.

    .venv/bin/python bench/verify.py                       # both backends, 300,000 entries
    .venv/bin/python bench/verify.py --backend postgres --reuse   # top up the 'bench'
                                                           # database left by ingest.py

By default the PostgreSQL database ``bench`` is dropped and recreated and the SQLite file
is made in a temporary folder; ``--reuse`` keeps what is there (e.g. after ingest.py) and
only appends entries until the chain has ``--entries``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    PG_DATABASE,
    machine_facts,
    median,
    oversight_cli,
    pg_url,
    psql,
    recreate_pg_database,
    wait_quiet,
)
from sqlalchemy import select  # noqa: E402

from oversight import audit  # noqa: E402
from oversight.database import create_engine  # noqa: E402
from oversight.service import prepare_schema  # noqa: E402
from oversight.tables import audit_head  # noqa: E402


def decision_payloads(rng: random.Random, i: int) -> list[tuple[str, dict[str, Any]]]:
    """The entries the recorder chains for one decision (see oversight/recorder.py)."""
    decision_id = f"verify-{i:08d}"
    reject = rng.random() < 0.10
    years = rng.randint(0, 20)
    entries: list[tuple[str, dict[str, Any]]] = [
        (
            "decision_recorded",
            {
                "decision_id": decision_id,
                "subject_ref": f"{rng.getrandbits(256):064x}",
                "submitted_by": "bench",
                "system_id": "cv-screening",
                "decision_type": "reject" if reject else "shortlist",
                "outcome": "no" if reject else "yes",
                "score": round(rng.random(), 4),
                "model_version": "cv-ranker-2026.11",
                "inputs": {},
                "protected": None,
                "explanation": {
                    "method": "shap",
                    "summary": "Years of relevant experience and certificates weighed most.",
                    "factors": [
                        {"feature": "years", "contribution": years / 40, "value": years},
                        {"feature": "forklift_cert", "contribution": 0.12, "value": True},
                        {"feature": "distance_km", "contribution": -0.04, "value": 12.5},
                    ],
                },
                "context": None,
                "occurred_at": None,
            },
        )
    ]
    if rng.random() < 0.02:
        entries.append(
            (
                "finding",
                {
                    "decision_id": decision_id,
                    "check": "missing_explanation",
                    "severity": "warning",
                    "message": "The decision came without an explanation; the worker cannot "
                    "be told why (AI Act Art 86, GDPR Art 15(1)(h)).",
                },
            )
        )
    held = reject or rng.random() < 0.05
    entries.append(
        (
            "decision_routed",
            {
                "decision_id": decision_id,
                "route": "pending_review" if held else "released",
                "reason": ("high_impact" if reject else "qa_sample") if held else "low_impact",
                "review_id": f"{rng.getrandbits(128):032x}" if held else None,
            },
        )
    )
    return entries


async def chain_length(engine: Any) -> int:
    async with engine.connect() as connection:
        return int((await connection.execute(select(audit_head.c.seq))).scalar_one())


async def build(db_url: str, entries: int, per_transaction: int) -> tuple[int, float]:
    """Append entries until the chain has at least ``entries``; (appended, seconds)."""
    engine = create_engine(db_url)
    try:
        await prepare_schema(engine)
        have = await chain_length(engine)
        rng = random.Random(have)
        at = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
        started = time.perf_counter()
        decision = have
        while have < entries:
            async with engine.begin() as connection:
                head = await audit.ChainHead.lock(connection)
                added = 0
                while added < per_transaction and have + added < entries:
                    decision += 1
                    at += timedelta(milliseconds=7)
                    for kind, payload in decision_payloads(rng, decision):
                        head.add(kind, payload, at=at, subject_ref=payload["decision_id"])
                        added += 1
                have += await head.write(connection)
            print(f"\r  built {have:,} entries", end="", flush=True)
        print()
        return have, time.perf_counter() - started
    finally:
        await engine.dispose()


async def time_verify(db_url: str, repeats: int) -> tuple[list[float], audit.VerifyResult]:
    engine = create_engine(db_url)
    try:
        times = []
        result = None
        for _ in range(repeats):
            started = time.perf_counter()
            result = await audit.verify(engine)
            times.append(time.perf_counter() - started)
            if not result.ok:
                raise RuntimeError(f"the chain does not verify: {result}")
        assert result is not None
        return times, result
    finally:
        await engine.dispose()


def storage_size(backend: str, db_url: str) -> str:
    if backend == "sqlite":
        path = Path(db_url.removeprefix("sqlite:///"))
        size = sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))
        return f"{size / 2**20:.0f} MiB (file + WAL)"
    return psql("SELECT pg_size_pretty(pg_total_relation_size('audit_entries'))", PG_DATABASE)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--entries", type=int, default=300_000, help="chain length to reach")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--per-transaction", type=int, default=20_000, help="entries per build txn")
    parser.add_argument(
        "--sqlite", type=Path, default=None, help="SQLite file (default: a temp one)"
    )
    parser.add_argument(
        "--reuse", action="store_true", help="keep the existing database and top it up"
    )
    parser.add_argument(
        "--cli", action="store_true", help="also time `oversight audit verify` once"
    )
    parser.add_argument(
        "--quiet-wait", type=float, default=180, help="wait this long for an idle machine"
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args()

    facts = machine_facts()
    print("machine:", json.dumps(facts))
    print("command:", " ".join([Path(sys.executable).name, *sys.argv]))
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    tmp = Path(tempfile.mkdtemp(prefix="oversight-verify-"))
    results = []
    for backend in backends:
        if backend == "sqlite":
            path = args.sqlite or tmp / "verify.db"
            if not args.reuse:
                for suffix in ("", "-wal", "-shm", "-journal"):
                    Path(f"{path}{suffix}").unlink(missing_ok=True)
            db_url = f"sqlite:///{path}"
        else:
            db_url = pg_url() if args.reuse else recreate_pg_database()
        have, build_seconds = asyncio.run(build(db_url, args.entries, args.per_transaction))
        if backend == "postgres":
            psql("VACUUM ANALYZE audit_entries", PG_DATABASE)  # as autovacuum would, soon
        background = wait_quiet(max_wait=args.quiet_wait) if args.quiet_wait > 0 else float("nan")
        times, result = asyncio.run(time_verify(db_url, args.repeats))
        row = {
            "backend": backend,
            "entries": result.entries,
            "build_seconds": round(build_seconds, 1),
            "verify_seconds": [round(t, 2) for t in times],
            "median_seconds": round(median(times), 2),
            "entries_per_second": round(result.entries / median(times)),
            "size": storage_size(backend, db_url),
            "background_cpu": round(background, 2),
        }
        if args.cli:
            started = time.perf_counter()
            out = oversight_cli("audit", "verify", "--db", db_url, "--format", "json", timeout=180)
            row["cli_seconds"] = round(time.perf_counter() - started, 2)
            row["cli_ok"] = json.loads(out.splitlines()[-1])["ok"]
        results.append(row)
        print(
            f"[{backend}] {result.entries:,} entries ({row['size']}); "
            f"built in {build_seconds:.1f} s; verify {', '.join(f'{t:.2f}' for t in times)} s "
            f"-> median {row['median_seconds']} s = "
            f"{row['entries_per_second']:,} entries/s; background load {background:.2f} cores"
            + (f"; CLI {row['cli_seconds']} s" if args.cli else "")
        )
    print("\n| backend | entries | verify median s | entries/s | runs s |")
    print("|---|---:|---:|---:|---|")
    for r in results:
        print(
            f"| {r['backend']} | {r['entries']:,} | {r['median_seconds']} | "
            f"{r['entries_per_second']:,} | {', '.join(map(str, r['verify_seconds']))} |"
        )
    if args.json:
        args.json.write_text(json.dumps({"machine": facts, "results": results}, indent=2))
    if args.sqlite is None:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
