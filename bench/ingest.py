"""Durable ingest throughput of one oversight server process.

For each backend and each repetition: a fresh database (a SQLite file in a temporary
folder, or the PostgreSQL database ``bench`` dropped and recreated), ``oversight db
upgrade``, an ingest key, and ``oversight serve`` as a subprocess (uvicorn, one process,
one worker). The client warms up, measures ``GET /healthz`` (no database: the HTTP
ceiling of this server and client), then ``POST /v1/decisions`` (each 201 means the
decision is committed). After the run it checks that every decision is in the database
and that the audit chain verifies.

    .venv/bin/python bench/ingest.py --backend postgres
    .venv/bin/python bench/ingest.py --backend sqlite -n 20000 -c 64 --repeats 3

Every measured phase stops by itself after ``--max-seconds``. Traffic goes to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    OVERSIGHT,
    POLICY,
    cpu_calibration,
    create_ingest_key,
    free_port,
    machine_busy_seconds,
    machine_facts,
    median,
    percentile,
    proc_cpu_seconds,
    recreate_pg_database,
    self_cpu_seconds,
    wait_quiet,
    wait_until,
)

SYSTEM = "cv-screening"


# --- what is sent ----------------------------------------------------------------------


def decision_bodies(n: int, prefix: str, seed: int, reject_share: float) -> list[bytes]:
    """``n`` distinct decisions, ~``reject_share`` of them 'reject' (high impact)."""
    rng = random.Random(seed)
    bodies = []
    for i in range(n):
        reject = rng.random() < reject_share
        years = rng.randint(0, 20)
        score = round(rng.random(), 4)
        body = {
            "decision_id": f"{prefix}-{i:07d}",
            "system_id": SYSTEM,
            "decision_type": "reject" if reject else "shortlist",
            "subject_id": f"cand-{rng.randint(1, 1_000_000)}",
            "outcome": "no" if reject else "yes",
            "score": score,
            "model_version": "cv-ranker-2026.11",
            "explanation": {
                "method": "shap",
                "summary": "Years of relevant experience and certificates weighed most.",
                "factors": [
                    {"feature": "years", "contribution": round(years / 40, 3), "value": years},
                    {"feature": "forklift_cert", "contribution": 0.12, "value": True},
                    {"feature": "distance_km", "contribution": -0.04, "value": 12.5},
                ],
            },
        }
        bodies.append(json.dumps(body, separators=(",", ":")).encode())
    return bodies


# --- the server ------------------------------------------------------------------------


class Server:
    """``oversight serve`` in a subprocess of its own session."""

    def __init__(
        self, db_url: str, port: int, log_path: Path, log_level: str, cpus: str | None,
        variant: str | None = None,
    ):  # fmt: skip
        self.db_url = db_url
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        self.log_path = log_path
        command = [
            OVERSIGHT, "serve", "--db", db_url, "--policy", str(POLICY),
            "--host", "127.0.0.1", "--port", str(port), "--log-level", log_level,
        ]  # fmt: skip
        if variant:
            serve_variant = str(Path(__file__).resolve().parent / "serve_variant.py")
            command = [sys.executable, serve_variant, variant, *command[1:]]
        if cpus:
            command = ["taskset", "-c", cpus, *command]
        self._log = open(log_path, "wb")  # noqa: SIM115
        self.process = subprocess.Popen(
            command, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait_ready(self, timeout: float = 60) -> None:
        import urllib.request

        def up() -> bool:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited {self.process.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(self.base + "/healthz", timeout=1) as resp:
                    return bool(resp.status == 200)
            except OSError:
                return False

        wait_until(up, timeout, "the server to answer /healthz")

    def log_tail(self, chars: int = 3000) -> str:
        self._log.flush()
        return self.log_path.read_bytes()[-chars:].decode(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self._log.close()


# --- the client ------------------------------------------------------------------------


@dataclass
class Phase:
    name: str
    sent: int = 0
    ok: int = 0
    errors: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    per_second: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0
    capped: bool = False
    client_cpu: float = 0.0  # cores used by this client process during the phase
    server_cpu: float = 0.0  # cores used by the server process
    other_cpu: float = 0.0  # cores used by everything else (PostgreSQL, kernel, ...)


async def drive(
    session: aiohttp.ClientSession,
    name: str,
    method: str,
    url: str,
    bodies: list[bytes] | int,
    headers: dict[str, str],
    concurrency: int,
    max_seconds: float,
    ok_status: int,
    server_pid: int,
) -> Phase:
    """Send every request of ``bodies`` (or that many bodiless ones) from ``concurrency``
    coroutines that each wait for their answer before sending the next."""
    count = bodies if isinstance(bodies, int) else len(bodies)
    payloads = None if isinstance(bodies, int) else bodies
    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    indexes = iter(range(count))
    perf = time.perf_counter
    deadline = perf() + max_seconds
    capped = False

    async def worker() -> None:
        nonlocal capped
        for i in indexes:
            started = perf()
            if started > deadline:
                capped = True
                return
            try:
                async with session.request(
                    method, url, data=None if payloads is None else payloads[i], headers=headers
                ) as response:
                    await response.read()
                    status = str(response.status)
            except (TimeoutError, aiohttp.ClientError) as exc:
                status = type(exc).__name__
            latencies.append(perf() - started)
            statuses[status] += 1

    cpu0, srv0, busy0 = self_cpu_seconds(), proc_cpu_seconds(server_pid), machine_busy_seconds()
    began = perf()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = perf() - began
    cpu1, srv1, busy1 = self_cpu_seconds(), proc_cpu_seconds(server_pid), machine_busy_seconds()
    latencies.sort()
    ok = statuses.get(str(ok_status), 0)
    client_cpu, server_cpu = (cpu1 - cpu0) / elapsed, (srv1 - srv0) / elapsed
    return Phase(
        name=name,
        sent=len(latencies),
        ok=ok,
        errors=len(latencies) - ok,
        statuses=dict(statuses),
        seconds=elapsed,
        per_second=ok / elapsed,
        p50_ms=percentile(latencies, 50) * 1000,
        p99_ms=percentile(latencies, 99) * 1000,
        max_ms=latencies[-1] * 1000 if latencies else float("nan"),
        capped=capped,
        client_cpu=client_cpu,
        server_cpu=server_cpu,
        other_cpu=max(0.0, (busy1 - busy0) / elapsed - client_cpu - server_cpu),
    )


async def scrape_batches(session: aiohttp.ClientSession, base: str) -> tuple[float, float]:
    """(sum, count) of the server's decision batch-size histogram."""
    async with session.get(base + "/metrics") as response:
        text = await response.text()
    values = {}
    for name in ("sum", "count"):
        match = re.search(rf"^oversight_decision_batch_size_{name} (\S+)$", text, re.M)
        values[name] = float(match.group(1)) if match else 0.0
    return values["sum"], values["count"]


# --- one repetition --------------------------------------------------------------------


@dataclass
class Run:
    backend: str
    variant: str
    repetition: int
    healthz: Phase
    decisions: Phase
    mean_batch: float
    decisions_in_db: int
    audit_entries: int
    chain_ok: bool
    background_cpu: float  # cores busy with other work just before the run
    calibration_ms: float  # a fixed piece of CPU work timed just before the run


def fresh_database(backend: str, workdir: Path) -> str:
    if backend == "sqlite":
        path = workdir / "bench.db"
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return f"sqlite:///{path}"
    return recreate_pg_database()


async def check_database(db_url: str) -> tuple[int, int, bool]:
    """(decisions stored, audit entries, chain verifies)."""
    from sqlalchemy import func, select

    from oversight import audit
    from oversight.database import create_engine
    from oversight.tables import decisions

    engine = create_engine(db_url)
    try:
        async with engine.connect() as connection:
            stored = (
                await connection.execute(select(func.count()).select_from(decisions))
            ).scalar_one()
        result = await audit.verify(engine)
        return int(stored), result.entries, result.ok
    finally:
        await engine.dispose()


async def client_phases(
    args: argparse.Namespace, server: Server, key: str, rep: int
) -> tuple[Phase, Phase, float]:
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    warm = decision_bodies(
        args.warmup, f"warm{rep}", seed=1000 + rep, reject_share=args.reject_share
    )
    measured = decision_bodies(args.n, f"run{rep}", seed=rep, reject_share=args.reject_share)
    connector = aiohttp.TCPConnector(limit=args.concurrency, limit_per_host=args.concurrency)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        common = dict(
            concurrency=args.concurrency, max_seconds=args.max_seconds, server_pid=server.pid
        )
        decisions_url, health_url = server.base + "/v1/decisions", server.base + "/healthz"
        # Warm up: connections, code paths, the key cache, the database's caches.
        await drive(session, "warmup", "GET", health_url, args.warmup, {}, ok_status=200, **common)
        warmup = await drive(
            session, "warmup", "POST", decisions_url, warm, headers, ok_status=201, **common
        )
        if warmup.errors:
            raise RuntimeError(f"warm-up failed: {warmup.statuses}\n{server.log_tail()}")
        healthz = await drive(
            session, "healthz", "GET", health_url, args.healthz_n, {}, ok_status=200, **common
        )
        sum0, count0 = await scrape_batches(session, server.base)
        profiler = start_profiler(args, server, rep)
        try:
            decisions = await drive(
                session,
                "decisions",
                "POST",
                decisions_url,
                measured,
                headers,
                ok_status=201,
                **common,
            )
        finally:
            stop_profiler(profiler)
        sum1, count1 = await scrape_batches(session, server.base)
    mean_batch = (sum1 - sum0) / (count1 - count0) if count1 > count0 else float("nan")
    return healthz, decisions, mean_batch


def start_profiler(
    args: argparse.Namespace, server: Server, rep: int
) -> subprocess.Popen[bytes] | None:
    """py-spy on the server during the measured decisions (``--profile DIR``). It costs
    CPU on this machine too: read the profile, not the throughput, of such a run."""
    if args.profile is None:
        return None
    args.profile.mkdir(parents=True, exist_ok=True)
    out = args.profile / f"{server.log_path.stem}.txt"
    command = [
        str(Path(sys.executable).parent / "py-spy"), "record", "--pid", str(server.pid),
        "--rate", "100", "--format", "raw", "--output", str(out),
    ]  # fmt: skip
    # Blocking sampling pauses the server for each sample: whole stacks, slower run.
    if args.profile_native:
        command.append("--native")
    profiler = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)  # let it attach
    return profiler


def stop_profiler(profiler: subprocess.Popen[bytes] | None) -> None:
    if profiler is None:
        return
    profiler.send_signal(signal.SIGINT)
    try:
        profiler.wait(timeout=30)
    except subprocess.TimeoutExpired:
        profiler.kill()
        profiler.wait(timeout=10)


def one_run(args: argparse.Namespace, backend: str, variant: str, rep: int, workdir: Path) -> Run:
    db_url = fresh_database(backend, workdir)
    key = create_ingest_key(db_url)
    background = wait_quiet(max_wait=args.quiet_wait) if args.quiet_wait > 0 else float("nan")
    calibration = cpu_calibration()
    log = workdir / f"server-{backend}-{variant}-{rep}.log"
    server = Server(
        db_url, free_port(), log, args.server_log_level, args.server_cpus,
        None if variant == "none" else variant,
    )  # fmt: skip
    try:
        server.wait_ready()
        healthz, decisions, mean_batch = new_loop_run(
            client_phases(args, server, key, rep), args.uvloop
        )
    finally:
        server.stop()
    stored, entries, chain_ok = asyncio.run(check_database(db_url))
    return Run(
        backend, variant, rep, healthz, decisions, mean_batch, stored, entries, chain_ok,
        background, calibration,
    )  # fmt: skip


def new_loop_run(coroutine: Any, use_uvloop: bool) -> Any:
    if use_uvloop:
        import uvloop

        return uvloop.run(coroutine)
    return asyncio.run(coroutine)


# --- reporting -------------------------------------------------------------------------


def show_phase(p: Phase) -> str:
    flag = " CAPPED" if p.capped else ""
    return (
        f"{p.name:<9} {p.per_second:8.0f}/s  p50 {p.p50_ms:7.1f} ms  p99 {p.p99_ms:7.1f} ms  "
        f"max {p.max_ms:7.1f} ms  ok {p.ok:6d}  errors {p.errors:4d}  "
        f"cpu: client {p.client_cpu:.2f} server {p.server_cpu:.2f} other {p.other_cpu:.2f}{flag}"
    )


def summarise(backend: str, variant: str, runs: list[Run]) -> dict[str, Any]:
    def med(phase: str, attr: str) -> float:
        return median([getattr(getattr(r, phase), attr) for r in runs])

    out: dict[str, Any] = {"backend": backend, "variant": variant, "repetitions": len(runs)}
    for phase in ("healthz", "decisions"):
        out[phase] = {
            attr: med(phase, attr)
            for attr in (
                "per_second",
                "p50_ms",
                "p99_ms",
                "max_ms",
                "client_cpu",
                "server_cpu",
                "other_cpu",
            )
        }
        out[phase]["errors_total"] = sum(getattr(r, phase).errors for r in runs)
        out[phase]["capped_runs"] = sum(getattr(r, phase).capped for r in runs)
    out["mean_batch"] = median([r.mean_batch for r in runs])
    out["max_background_cpu"] = max(r.background_cpu for r in runs)
    out["calibration_ms"] = [round(r.calibration_ms, 1) for r in runs]
    out["ratio_decisions_to_healthz"] = (
        out["decisions"]["per_second"] / out["healthz"]["per_second"]
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument(
        "-n", "--decisions", dest="n", type=int, default=20_000, help="measured decisions per run"
    )
    parser.add_argument("-c", "--concurrency", type=int, default=64, help="concurrent clients")
    parser.add_argument(
        "--warmup", type=int, default=500, help="uncounted requests of each kind first"
    )
    parser.add_argument(
        "--healthz-n", type=int, default=None, help="measured /healthz requests (default: -n)"
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--reject-share", type=float, default=0.10)
    parser.add_argument("--max-seconds", type=float, default=120, help="cap on each measured phase")
    parser.add_argument(
        "--quiet-wait", type=float, default=180,
        help="before each run, wait up to this many seconds for other work on the machine "
        "to stop (0: don't)",
    )  # fmt: skip
    parser.add_argument(
        "--server-log-level", default="warning", help="'info' adds uvicorn's access log"
    )
    parser.add_argument(
        "--server-cpus", default=None, help="taskset CPU list for the server, e.g. 0"
    )
    parser.add_argument("--client-cpus", default=None, help="CPU list for this client, e.g. 1")
    parser.add_argument(
        "--no-uvloop", dest="uvloop", action="store_false", help="client on asyncio's loop"
    )
    parser.add_argument(
        "--variants", nargs="+", default=["none"], metavar="VARIANT",
        help="server variants to compare, run interleaved in each repetition: 'none' is "
        "`oversight serve` as is, others go through bench/serve_variant.py (e.g. async-dep, "
        "gc-freeze,gc-threshold)",
    )  # fmt: skip
    parser.add_argument(
        "--profile", type=Path, default=None, help="py-spy the server into this folder"
    )
    parser.add_argument(
        "--profile-native", action="store_true", help="with --profile: native frames too"
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument(
        "--keep", action="store_true", help="keep the temporary folder (logs, SQLite file)"
    )
    args = parser.parse_args()
    if args.healthz_n is None:
        args.healthz_n = args.n
    if args.client_cpus:
        os.sched_setaffinity(0, {int(c) for c in args.client_cpus.split(",")})

    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    workdir = Path(tempfile.mkdtemp(prefix="oversight-bench-"))
    facts = machine_facts()
    print("machine:", json.dumps(facts))
    print("command:", " ".join([Path(sys.executable).name, *sys.argv]))
    runs: dict[tuple[str, str], list[Run]] = {}
    for backend in backends:
        for rep in range(args.repeats):
            for variant in args.variants:
                run = one_run(args, backend, variant, rep, workdir)
                runs.setdefault((backend, variant), []).append(run)
                expected = args.warmup + run.decisions.ok
                tag = f"[{backend}{'' if variant == 'none' else ' ' + variant} #{rep + 1}]"
                print(f"{tag} {show_phase(run.healthz)}")
                print(f"{tag} {show_phase(run.decisions)}")
                print(
                    f"{tag} mean batch {run.mean_batch:.1f} decisions/txn; "
                    f"{run.decisions_in_db} decisions stored (expected {expected}); "
                    f"{run.audit_entries} audit entries; "
                    f"chain {'ok' if run.chain_ok else 'BROKEN'}; "
                    f"background load before the run {run.background_cpu:.2f} cores; "
                    f"calibration {run.calibration_ms:.0f} ms",
                    flush=True,
                )
                if run.decisions_in_db != expected or not run.chain_ok:
                    print(f"{tag} CHECK FAILED", file=sys.stderr)
    summaries, all_runs = [], []
    for (backend, variant), group in runs.items():
        summary = summarise(backend, variant, group)
        summary["all_stored_and_chain_ok"] = all(
            r.chain_ok and r.decisions_in_db == args.warmup + r.decisions.ok for r in group
        )
        summaries.append(summary)
        all_runs.extend(group)

    print(f"\nmedians of {args.repeats} runs, {args.n} decisions, {args.concurrency} clients:")
    print(
        "| backend | variant | healthz/s | decisions/s | ratio | p50 ms | p99 ms | max ms "
        "| errors | batch | client cpu | server cpu | other cpu |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for s in summaries:
        d, h = s["decisions"], s["healthz"]
        print(
            f"| {s['backend']} | {s['variant']} | {h['per_second']:.0f} | {d['per_second']:.0f} | "
            f"{s['ratio_decisions_to_healthz']:.2f} | {d['p50_ms']:.1f} | {d['p99_ms']:.1f} | "
            f"{d['max_ms']:.1f} | {d['errors_total']} | {s['mean_batch']:.1f} | "
            f"{d['client_cpu']:.2f} | {d['server_cpu']:.2f} | {d['other_cpu']:.2f} |"
        )
    for s in summaries:
        h = s["healthz"]
        print(
            f"healthz on {s['backend']} {s['variant']} server: p50 {h['p50_ms']:.1f} ms "
            f"p99 {h['p99_ms']:.1f} ms max {h['max_ms']:.1f} ms errors {h['errors_total']}; "
            f"cpu client {h['client_cpu']:.2f} "
            f"server {h['server_cpu']:.2f} other {h['other_cpu']:.2f}"
        )
    if args.json:
        args.json.write_text(
            json.dumps(
                {"machine": facts, "args": {k: str(v) for k, v in vars(args).items()},
                 "summaries": summaries, "runs": [asdict(r) for r in all_runs]},
                indent=2,
            )
        )  # fmt: skip
    if args.keep:
        print("kept", workdir)
    else:
        import shutil

        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
