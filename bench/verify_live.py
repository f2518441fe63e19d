"""``oversight.audit.verify`` while the server records decisions: does it answer right,
and what does it do to ingest?

A fresh database gets a chain of ``--entries`` (built as in bench/verify.py), then a
server; the client drives decisions for ``--seconds`` while a separate process runs
``audit.verify`` in a loop on its own engine. Reported: how many verifications said the
chain is broken (it is not: every run checks it again once ingest stops), and ingest
throughput and latency while verifying.

    .venv/bin/python bench/verify_live.py --backend postgres
    .venv/bin/python bench/verify_live.py --backend postgres --widen-ms 20
    .venv/bin/python bench/verify_live.py --backend sqlite

``--widen-ms`` makes the verifier pause that long right after it reads the chain head
(a SQLAlchemy event in the verifier process only; the server is untouched), to show a
race that otherwise needs many tries to hit.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import create_ingest_key, free_port, wait_quiet  # noqa: E402
from ingest import (  # noqa: E402
    Server,
    check_database,
    decision_bodies,
    drive,
    fresh_database,
    show_phase,
)


async def verifier(db_url: str, seconds: float, widen_ms: float, pause: float) -> None:
    """Verify in a loop for ``seconds``; one JSON line per verification."""
    from sqlalchemy import event

    from oversight import audit
    from oversight.database import create_engine

    engine = create_engine(db_url)
    if widen_ms > 0:

        @event.listens_for(engine.sync_engine, "after_cursor_execute")
        def pause(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
            if "FROM audit_head" in statement and "audit_entries" not in statement:
                time.sleep(widen_ms / 1000)

    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            started = time.perf_counter()
            result = await audit.verify(engine)
            print(
                json.dumps(
                    {
                        "ok": result.ok,
                        "entries": result.entries,
                        "seconds": round(time.perf_counter() - started, 3),
                        "first_bad_entry": result.first_bad_entry,
                        "reason": result.reason,
                    }
                ),
                flush=True,
            )
            await asyncio.sleep(pause)
    finally:
        await engine.dispose()


async def ingest_while_verifying(args: argparse.Namespace, server: Server, key: str) -> dict:
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    connector = aiohttp.TCPConnector(limit=args.concurrency)
    async with aiohttp.ClientSession(
        connector=connector, timeout=aiohttp.ClientTimeout(total=120)
    ) as session:
        url = server.base + "/v1/decisions"
        common = dict(concurrency=args.concurrency, server_pid=server.pid)
        warm = decision_bodies(300, "warm", seed=99, reject_share=0.1)
        await drive(
            session, "warmup", "POST", url, warm, headers, ok_status=201, max_seconds=60, **common
        )
        # Alone first, then with the verifier running beside it, for the same time each.
        bodies = decision_bodies(args.max_decisions, "alone", seed=1, reject_share=0.1)
        alone = await drive(
            session,
            "alone",
            "POST",
            url,
            bodies,
            headers,
            ok_status=201,
            max_seconds=args.seconds,
            **common,
        )
        process = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--verifier", server.db_url,
            "--seconds", str(args.seconds), "--widen-ms", str(args.widen_ms),
            "--pause", str(args.pause),
            stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        bodies = decision_bodies(args.max_decisions, "live", seed=2, reject_share=0.1)
        live = await drive(
            session,
            "verifying",
            "POST",
            url,
            bodies,
            headers,
            ok_status=201,
            max_seconds=args.seconds,
            **common,
        )
        out, _ = await asyncio.wait_for(process.communicate(), timeout=args.seconds + 120)
    verifications = [json.loads(line) for line in out.decode().splitlines() if line.strip()]
    return {"alone": alone, "verifying": live, "verifications": verifications}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="postgres")
    parser.add_argument(
        "--entries", type=int, default=100_000, help="chain built before the server starts"
    )
    parser.add_argument(
        "--seconds", type=float, default=20, help="ingest time, alone and while verifying"
    )
    parser.add_argument(
        "--max-decisions", type=int, default=60_000, help="cap on decisions per phase"
    )
    parser.add_argument("-c", "--concurrency", type=int, default=64)
    parser.add_argument("--widen-ms", type=float, default=0.0)
    parser.add_argument("--pause", type=float, default=0.0, help="seconds between verifications")
    parser.add_argument("--verifier", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.verifier:
        asyncio.run(verifier(args.verifier, args.seconds, args.widen_ms, args.pause))
        return

    from verify import build

    workdir = Path(tempfile.mkdtemp(prefix="oversight-live-"))
    db_url = fresh_database(args.backend, workdir)
    key = create_ingest_key(db_url)
    asyncio.run(build(db_url, args.entries, 20_000))
    wait_quiet(max_wait=120)
    server = Server(db_url, free_port(), workdir / "server.log", "warning", None)
    try:
        server.wait_ready()
        result = asyncio.run(ingest_while_verifying(args, server, key))
    finally:
        server.stop()
    stored, entries, chain_ok = asyncio.run(check_database(db_url))
    verifications = result["verifications"]
    broken = [v for v in verifications if not v["ok"]]
    print("command:", " ".join([Path(sys.executable).name, *sys.argv]))
    print(show_phase(result["alone"]))
    print(show_phase(result["verifying"]))
    seconds = sorted(v["seconds"] for v in verifications)
    typical = seconds[len(seconds) // 2] if seconds else float("nan")
    print(
        f"{len(verifications)} verifications while ingesting (median {typical} s): "
        f"{len(broken)} said BROKEN"
    )
    for v in broken[:5]:
        print("   ", json.dumps(v))
    print(
        f"afterwards, at rest: {entries} entries, "
        f"chain {'ok' if chain_ok else 'BROKEN'}, {stored} decisions"
    )
    import shutil

    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
