"""What the sidecar's HTTP reverse proxy adds: the same upstream called directly and
through the sidecar, in one run, for released decisions.

For each backend: a fresh database, the upstream (bench/upstream.py, uvicorn, one
process), a fresh ``oversight serve --upstream ... --routes bench/proxy_routes.yaml`` in
front of it (bench/proxy_policy.yaml: every decision is low impact, so released), a
warm-up, then

1. fixed rate: ``--rate`` requests/s for ``--seconds`` s from an open-loop generator
   (each request is sent on its schedule, whether or not earlier ones have answered), to
   the upstream directly and through the sidecar, alternating (direct, sidecar | sidecar,
   direct | direct, sidecar ...), ``--repeats`` times: p50/p99 of each and the latency
   the sidecar adds (sidecar minus direct, per repetition);
2. max throughput: ``-c`` closed-loop clients send ``--tp-requests`` requests, directly
   and through the sidecar, ``--repeats`` times: requests/s and the ratio.

Afterwards every 200 through the sidecar must be one row in ``decisions`` (status
released) and ``oversight audit verify`` must exit 0.

    .venv/bin/python bench/proxy.py --backend sqlite
    .venv/bin/python bench/proxy.py --backend postgres --json bench/results/proxy-postgres.json

Traffic goes to 127.0.0.1 only; every phase stops by itself (a request count, a time cap).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    OVERSIGHT,
    cpu_calibration,
    free_port,
    machine_busy_seconds,
    machine_facts,
    median,
    oversight_cli,
    percentile,
    proc_cpu_seconds,
    psql,
    recreate_pg_database,
    self_cpu_seconds,
    wait_quiet,
    wait_until,
)

HERE = Path(__file__).resolve().parent
POLICY = HERE / "proxy_policy.yaml"
ROUTES = HERE / "proxy_routes.yaml"
ROUTED_PATH = "/v1/score"  # a decision (proxy_routes.yaml)
UNROUTED_PATH = "/v1/score-unrouted"  # the same answer, passed through unrecorded
JSON_HEADERS = {"Content-Type": "application/json"}


# --- what is sent ----------------------------------------------------------------------


def score_bodies(n: int, prefix: str) -> list[bytes]:
    """``n`` distinct scoring requests (about 110 bytes), deterministic."""
    bodies = []
    for i in range(n):
        features = {
            "years_experience": i % 21,
            "forklift_cert": i % 3 == 0,
            "distance_km": round((i * 7.3) % 60, 1),
        }
        body = {"candidate_id": f"{prefix}-{i:07d}", "features": features}
        bodies.append(json.dumps(body, separators=(",", ":")).encode())
    return bodies


# --- the processes ---------------------------------------------------------------------


class Process:
    """A server subprocess in a session of its own, logging to a file."""

    def __init__(
        self, name: str, command: list[str], log_path: Path, health_url: str,
        env: dict[str, str] | None = None,
    ):  # fmt: skip
        self.name = name
        self.health_url = health_url
        self.log_path = log_path
        self._log = open(log_path, "wb")  # noqa: SIM115
        self.process = subprocess.Popen(
            command,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, **(env or {})},
            cwd=HERE.parent,
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait_ready(self, timeout: float = 60) -> None:
        def up() -> bool:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited {self.process.returncode}:\n{self.log_tail()}"
                )
            try:
                with urllib.request.urlopen(self.health_url, timeout=1) as resp:
                    return bool(resp.status == 200)
            except OSError:
                return False

        wait_until(up, timeout, f"{self.name} to answer {self.health_url}")

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


def start_upstream(port: int, workdir: Path, cpus: str | None, work_ms: float) -> Process:
    command = [
        sys.executable, "-m", "uvicorn", "--app-dir", str(HERE), "upstream:app",
        "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
    ]  # fmt: skip
    if cpus:
        command = ["taskset", "-c", cpus, *command]
    return Process(
        "upstream",
        command,
        workdir / "upstream.log",
        f"http://127.0.0.1:{port}/healthz",
        env={"UPSTREAM_WORK_MS": str(work_ms)},
    )


def start_sidecar(
    db_url: str, port: int, upstream_port: int, log_path: Path, cpus: str | None,
    env: dict[str, str], trace: Path | None = None,
) -> Process:  # fmt: skip
    command = [
        OVERSIGHT, "serve", "--db", db_url, "--policy", str(POLICY),
        "--host", "127.0.0.1", "--port", str(port),
        "--upstream", f"http://127.0.0.1:{upstream_port}", "--routes", str(ROUTES),
        "--log-level", "warning",
    ]  # fmt: skip
    if trace is not None:  # the same server, with timers around each step (proxy_trace.py)
        command = [sys.executable, str(HERE / "proxy_trace.py"), *command[1:]]
        env = {**env, "PROXY_TRACE_OUT": str(trace)}
    if cpus:
        command = ["taskset", "-c", cpus, *command]
    return Process("sidecar", command, log_path, f"http://127.0.0.1:{port}/healthz", env=env)


def fresh_database(backend: str, workdir: Path, pg_settings: list[str]) -> str:
    if backend == "sqlite":
        path = workdir / "proxy.db"
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        url = f"sqlite:///{path}"
    else:
        url = recreate_pg_database()
        for setting in pg_settings:  # diagnostics only, e.g. synchronous_commit=off
            name, _, value = setting.partition("=")
            psql(f"ALTER DATABASE bench SET {name} = '{value}'")
    oversight_cli("db", "upgrade", "--db", url)
    return url


# --- measuring -------------------------------------------------------------------------


@dataclass
class Segment:
    """One measured stretch of traffic to one target."""

    phase: str  # "fixed" or "throughput"
    target: str  # "direct", "sidecar" or "passthrough"
    repetition: int
    sent: int = 0
    ok: int = 0
    errors: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    per_second: float = 0.0  # answered with 200, per second
    p50_ms: float = 0.0
    p90_ms: float = 0.0
    p99_ms: float = 0.0
    p999_ms: float = 0.0
    max_ms: float = 0.0
    lag_p99_ms: float = 0.0  # fixed rate: how late the generator sent (schedule -> send)
    lag_max_ms: float = 0.0
    capped: bool = False
    client_cpu: float = 0.0  # cores used by this process during the segment
    upstream_cpu: float = 0.0
    sidecar_cpu: float = 0.0
    other_cpu: float = 0.0  # everything else: PostgreSQL, the kernel, other work
    background_cpu: float = float("nan")  # cores busy just before the segment
    mean_batch: float = float("nan")  # decisions per transaction (routed segments)
    decision_ids: list[str] = field(default_factory=list, repr=False)


class Meter:
    """CPU of this process, the upstream, the sidecar and the machine over a segment."""

    def __init__(self, upstream: Process, sidecar: Process) -> None:
        self.pids = (upstream.pid, sidecar.pid)

    def __enter__(self) -> Meter:
        self.t0 = time.perf_counter()
        self.c0 = (self_cpu_seconds(), *map(proc_cpu_seconds, self.pids), machine_busy_seconds())
        return self

    def __exit__(self, *exc: Any) -> None:
        elapsed = time.perf_counter() - self.t0
        c1 = (self_cpu_seconds(), *map(proc_cpu_seconds, self.pids), machine_busy_seconds())
        used = [(b - a) / elapsed for a, b in zip(self.c0, c1, strict=True)]
        self.client, self.upstream, self.sidecar, busy = used
        self.other = max(0.0, busy - self.client - self.upstream - self.sidecar)

    def fill(self, segment: Segment) -> None:
        segment.client_cpu, segment.upstream_cpu = self.client, self.upstream
        segment.sidecar_cpu, segment.other_cpu = self.sidecar, self.other


def _latencies_into(segment: Segment, latencies: list[float]) -> None:
    latencies.sort()
    segment.p50_ms = percentile(latencies, 50) * 1000
    segment.p90_ms = percentile(latencies, 90) * 1000
    segment.p99_ms = percentile(latencies, 99) * 1000
    segment.p999_ms = percentile(latencies, 99.9) * 1000
    segment.max_ms = latencies[-1] * 1000 if latencies else float("nan")


async def _post(
    session: aiohttp.ClientSession, url: str, body: bytes
) -> tuple[str, bytes, str | None]:
    try:
        async with session.post(url, data=body, headers=JSON_HEADERS) as response:
            answer = await response.read()
            return str(response.status), answer, response.headers.get("X-Oversight-Decision-Id")
    except (TimeoutError, aiohttp.ClientError) as exc:
        return type(exc).__name__, b"", None


async def fixed_rate(
    session: aiohttp.ClientSession, url: str, bodies: list[bytes], rate: float, segment: Segment,
    meter: Meter, grace: float,
) -> None:  # fmt: skip
    """Open loop: request i is sent at t0 + i/rate, in a task of its own, whatever the
    state of the others. Latency runs from the send to the last byte of the answer."""
    perf = time.perf_counter
    n = len(bodies)
    latencies: list[float] = []
    lags: list[float] = []
    statuses: Counter[str] = Counter()
    tasks: set[asyncio.Task[None]] = set()

    async def one(i: int, scheduled: float) -> None:
        started = perf()
        lags.append(started - scheduled)
        status, _, decision_id = await _post(session, url, bodies[i])
        latencies.append(perf() - started)
        statuses[status] += 1
        if decision_id:
            segment.decision_ids.append(decision_id)

    with meter:
        t0 = perf() + 0.01
        for i in range(n):
            scheduled = t0 + i / rate
            delay = scheduled - perf()
            if delay > 0:
                await asyncio.sleep(delay)
            task = asyncio.create_task(one(i, scheduled))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if tasks:
            _, pending = await asyncio.wait(set(tasks), timeout=grace)
            for task in pending:
                segment.capped = True
                task.cancel()
        elapsed = perf() - t0
    meter.fill(segment)
    segment.sent, segment.statuses = n, dict(statuses)
    segment.ok = statuses.get("200", 0)
    segment.errors = n - segment.ok
    segment.seconds = elapsed
    segment.per_second = segment.ok / elapsed
    _latencies_into(segment, latencies)
    lags.sort()
    segment.lag_p99_ms = percentile(lags, 99) * 1000
    segment.lag_max_ms = lags[-1] * 1000 if lags else float("nan")


async def closed_loop(
    session: aiohttp.ClientSession, url: str, bodies: list[bytes], concurrency: int,
    max_seconds: float, segment: Segment | None, meter: Meter | None,
) -> Segment:  # fmt: skip
    """``concurrency`` clients, each sending its next request when its answer is in."""
    perf = time.perf_counter
    segment = segment or Segment("warmup", "?", -1)
    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    indexes = iter(range(len(bodies)))
    deadline = perf() + max_seconds

    async def worker() -> None:
        for i in indexes:
            started = perf()
            if started > deadline:
                segment.capped = True
                return
            status, _, decision_id = await _post(session, url, bodies[i])
            latencies.append(perf() - started)
            statuses[status] += 1
            if decision_id:
                segment.decision_ids.append(decision_id)

    began = perf()
    if meter is not None:
        with meter:
            await asyncio.gather(*(worker() for _ in range(concurrency)))
        meter.fill(segment)
    else:
        await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = perf() - began
    segment.sent, segment.statuses = len(latencies), dict(statuses)
    segment.ok = statuses.get("200", 0)
    segment.errors = segment.sent - segment.ok
    segment.seconds = elapsed
    segment.per_second = segment.ok / elapsed
    _latencies_into(segment, latencies)
    return segment


async def scrape(session: aiohttp.ClientSession, base: str) -> dict[str, float]:
    """Counters of the sidecar's /metrics: decision batches, proxy results."""
    async with session.get(base + "/metrics") as response:
        text = await response.text()
    out = {}
    for name in ("sum", "count"):
        match = re.search(rf"^oversight_decision_batch_size_{name} (\S+)$", text, re.M)
        out[f"batch_{name}"] = float(match.group(1)) if match else 0.0
    for match in re.finditer(
        r'^oversight_proxy_requests_total\{result="(\w+)",route="([^"]+)"\} (\S+)$', text, re.M
    ):
        out[f"proxy_{match.group(2)}_{match.group(1)}"] = float(match.group(3))
    for match in re.finditer(
        r'^oversight_proxy_requests_total\{route="([^"]+)",result="(\w+)"\} (\S+)$', text, re.M
    ):
        out[f"proxy_{match.group(1)}_{match.group(2)}"] = float(match.group(3))
    return out


# --- one backend -----------------------------------------------------------------------


@dataclass
class BackendRun:
    backend: str
    db_url: str
    sidecar_env: dict[str, str]
    calibration_ms: float
    background_cpu: float
    byte_for_byte: bool
    segments: list[Segment]
    warmup_decisions: int
    decisions_expected: int = 0  # 200s through the sidecar on the routed path
    distinct_decision_ids: int = 0
    decisions_in_db: int = 0
    decisions_by_status: dict[str, int] = field(default_factory=dict)
    audit_verify_exit: int = -1
    audit_verify_output: str = ""
    metrics: dict[str, float] = field(default_factory=dict)

    @property
    def checks_ok(self) -> bool:
        return (
            self.byte_for_byte
            and self.decisions_in_db == self.decisions_expected == self.distinct_decision_ids
            and set(self.decisions_by_status) == {"released"}
            and self.audit_verify_exit == 0
        )


def start_profiler(args: argparse.Namespace, sidecar: Process, name: str) -> Any:
    """py-spy on the sidecar (``--profile DIR``). Blocking sampling pauses the sidecar for
    each sample, so read the profile of such a run, not its latencies."""
    if args.profile is None:
        return None
    args.profile.mkdir(parents=True, exist_ok=True)
    command = [
        str(Path(sys.executable).parent / "py-spy"), "record", "--pid", str(sidecar.pid),
        "--rate", str(args.profile_rate), "--format", "raw",
        "--output", str(args.profile / f"{name}.txt"),
    ]  # fmt: skip
    if args.profile_idle:
        command.append("--idle")
    profiler = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)  # let it attach
    return profiler


def stop_profiler(profiler: Any) -> None:
    if profiler is None:
        return
    profiler.send_signal(signal.SIGINT)
    try:
        profiler.wait(timeout=30)
    except subprocess.TimeoutExpired:
        profiler.kill()
        profiler.wait(timeout=10)


async def drive_backend(
    args: argparse.Namespace, backend: str, upstream: Process, sidecar: Process,
    upstream_base: str, sidecar_base: str,
) -> tuple[list[Segment], bool, int, dict[str, float]]:  # fmt: skip
    urls = {
        "direct": upstream_base + ROUTED_PATH,
        "sidecar": sidecar_base + ROUTED_PATH,
        "passthrough": sidecar_base + UNROUTED_PATH,
    }
    timeout = aiohttp.ClientTimeout(total=30)
    sessions = {
        target: aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=256), timeout=timeout)
        for target in args.targets
    }
    meter = Meter(upstream, sidecar)
    segments: list[Segment] = []
    warm_ids: list[str] = []
    serial = iter(range(1_000_000))

    def bodies(n: int, tag: str) -> list[bytes]:
        return score_bodies(n, f"{backend[:2]}{next(serial):03d}{tag}")

    async def warm(target: str, n: int) -> None:
        """Uncounted: opens connections (client -> sidecar -> upstream) and warms caches.
        Also runs before every segment: uvicorn closes idle connections after 5 s."""
        seg = await closed_loop(sessions[target], urls[target], bodies(n, "w"), 4, 30, None, None)
        if seg.errors:
            raise RuntimeError(f"warm-up of {target} failed: {seg.statuses}\n{sidecar.log_tail()}")
        if target == "sidecar":
            warm_ids.extend(seg.decision_ids)

    try:
        # The released answer must be the upstream's, byte for byte.
        probe = score_bodies(1, f"{backend[:2]}probe")[0]
        direct_answer = (await _post(sessions["direct"], urls["direct"], probe))[1]
        status, sidecar_answer, decision_id = await _post(
            sessions["sidecar"], urls["sidecar"], probe
        )
        byte_for_byte = (
            status == "200" and decision_id is not None and (sidecar_answer == direct_answer)
        )
        if decision_id:
            warm_ids.append(decision_id)
        for target in args.targets:
            seg = await closed_loop(
                sessions[target], urls[target], bodies(args.warmup, "w"), args.concurrency,
                60, None, None,
            )  # fmt: skip
            if seg.errors:
                raise RuntimeError(f"warm-up of {target} failed: {seg.statuses}")
            if target == "sidecar":
                warm_ids.extend(seg.decision_ids)

        async def measured(phase: str, target: str, rep: int) -> None:
            background = (
                wait_quiet(max_wait=args.quiet_wait) if args.quiet_wait > 0 else float("nan")
            )
            await warm(target, args.segment_warmup)
            segment = Segment(phase, target, rep, background_cpu=background)
            before = await scrape(sessions.get("sidecar") or sessions[target], sidecar_base)
            profiler = start_profiler(args, sidecar, f"{backend}-{phase}-{target}-{rep}")
            try:
                if phase == "fixed":
                    n = int(args.rate * args.seconds)
                    await fixed_rate(
                        sessions[target], urls[target], bodies(n, "f"), args.rate, segment,
                        meter, grace=30,
                    )  # fmt: skip
                else:
                    await closed_loop(
                        sessions[target], urls[target], bodies(args.tp_requests, "t"),
                        args.concurrency, args.max_seconds, segment, meter,
                    )  # fmt: skip
            finally:
                stop_profiler(profiler)
            after = await scrape(sessions.get("sidecar") or sessions[target], sidecar_base)
            batches = after["batch_count"] - before["batch_count"]
            if batches:
                segment.mean_batch = (after["batch_sum"] - before["batch_sum"]) / batches
            segments.append(segment)
            print(f"[{backend}] {show_segment(segment)}", flush=True)

        for phase in args.phases:
            for rep in range(args.repeats):
                # direct, sidecar | sidecar, direct | ...: neither always goes first
                order = list(args.targets) if rep % 2 == 0 else list(reversed(args.targets))
                for target in order:
                    await measured(phase, target, rep)
        metrics = await scrape(sessions.get("sidecar") or sessions["direct"], sidecar_base)
    finally:
        for session in sessions.values():
            await session.close()
    # the warm-ups before each segment are recorded decisions too
    return segments, byte_for_byte, len(warm_ids), metrics


def count_decisions(db_url: str) -> dict[str, int]:
    sql = "SELECT status, count(*) FROM decisions GROUP BY status"
    if db_url.startswith("sqlite"):
        with sqlite3.connect(db_url.removeprefix("sqlite:///")) as connection:
            return {status: int(n) for status, n in connection.execute(sql)}
    out = psql(sql, database="bench")
    return {line.split("|")[0]: int(line.split("|")[1]) for line in out.splitlines() if line}


def run_backend(args: argparse.Namespace, backend: str, workdir: Path) -> BackendRun:
    db_url = fresh_database(backend, workdir, args.pg_setting if backend == "postgres" else [])
    env = dict(kv.split("=", 1) for kv in args.sidecar_env)
    upstream_port, sidecar_port = free_port(), free_port()
    upstream = start_upstream(upstream_port, workdir, args.upstream_cpus, args.upstream_work_ms)
    sidecar = None
    try:
        upstream.wait_ready()
        sidecar = start_sidecar(
            db_url, sidecar_port, upstream_port, workdir / f"sidecar-{backend}.log",
            args.sidecar_cpus, env,
            None if args.trace is None else args.trace.with_suffix(f".{backend}.json"),
        )  # fmt: skip
        sidecar.wait_ready()
        background = wait_quiet(max_wait=args.quiet_wait) if args.quiet_wait > 0 else float("nan")
        calibration = cpu_calibration()
        segments, byte_for_byte, warm_decisions, metrics = new_loop_run(
            drive_backend(
                args,
                backend,
                upstream,
                sidecar,
                f"http://127.0.0.1:{upstream_port}",
                f"http://127.0.0.1:{sidecar_port}",
            )  # fmt: skip
        )
    finally:
        if sidecar is not None:
            sidecar.stop()
        upstream.stop()
    run = BackendRun(
        backend, db_url, env, calibration, background, byte_for_byte, segments, warm_decisions
    )
    run.metrics = metrics
    routed = [s for s in segments if s.target == "sidecar"]
    ids = [i for s in routed for i in s.decision_ids]
    run.decisions_expected = warm_decisions + sum(s.ok for s in routed)
    run.distinct_decision_ids = warm_decisions + len(set(ids))
    run.decisions_by_status = count_decisions(db_url)
    run.decisions_in_db = sum(run.decisions_by_status.values())
    done = subprocess.run(
        [OVERSIGHT, "audit", "verify", "--db", db_url],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    run.audit_verify_exit = done.returncode
    run.audit_verify_output = (done.stdout + done.stderr).strip()[-500:]
    for segment in segments:
        segment.decision_ids = []  # not worth keeping in the JSON
    if args.trace is not None:
        from proxy_trace import summary

        trace = args.trace.with_suffix(f".{backend}.json")
        print(f"[{backend}] sidecar step timings (ms; whole run, warm-ups included), {trace}:")
        print(summary(str(trace)), flush=True)
    return run


def new_loop_run(coroutine: Any) -> Any:
    import uvloop

    return uvloop.run(coroutine)


# --- reporting -------------------------------------------------------------------------


def show_segment(s: Segment) -> str:
    flag = " CAPPED" if s.capped else ""
    lag = f" lag p99 {s.lag_p99_ms:5.2f} ms" if s.phase == "fixed" else ""
    batch = f" batch {s.mean_batch:5.1f}" if s.mean_batch == s.mean_batch else ""
    return (
        f"{s.phase:<10} #{s.repetition + 1} {s.target:<11} {s.per_second:7.0f}/s "
        f"p50 {s.p50_ms:6.2f} p90 {s.p90_ms:6.2f} p99 {s.p99_ms:6.2f} p99.9 {s.p999_ms:6.2f} "
        f"max {s.max_ms:7.2f} ms  ok {s.ok:5d} err {s.errors:3d}{lag}{batch}  cpu: client "
        f"{s.client_cpu:.2f} upstream {s.upstream_cpu:.2f} sidecar {s.sidecar_cpu:.2f} "
        f"other {s.other_cpu:.2f} (before {s.background_cpu:.2f}){flag}"
    )


def summarise(run: BackendRun, targets: list[str]) -> dict[str, Any]:
    def pick(phase: str, target: str) -> list[Segment]:
        return sorted(
            (s for s in run.segments if s.phase == phase and s.target == target),
            key=lambda s: s.repetition,
        )

    out: dict[str, Any] = {"backend": run.backend, "sidecar_env": run.sidecar_env}
    for phase in ("fixed", "throughput"):
        per_target: dict[str, Any] = {}
        for target in targets:
            segs = pick(phase, target)
            if not segs:
                continue
            per_target[target] = {
                attr: median([getattr(s, attr) for s in segs])
                for attr in (
                    "per_second", "p50_ms", "p90_ms", "p99_ms", "p999_ms", "max_ms",
                    "lag_p99_ms", "client_cpu", "upstream_cpu", "sidecar_cpu", "other_cpu",
                    "mean_batch",
                )
            }  # fmt: skip
            per_target[target]["errors_total"] = sum(s.errors for s in segs)
            per_target[target]["capped"] = sum(s.capped for s in segs)
            per_target[target]["runs_per_second"] = [round(s.per_second, 1) for s in segs]
            per_target[target]["runs_p50_ms"] = [round(s.p50_ms, 3) for s in segs]
            per_target[target]["runs_p99_ms"] = [round(s.p99_ms, 3) for s in segs]
        if not per_target:
            continue
        direct = pick(phase, "direct")
        for target in targets:
            if target == "direct" or target not in per_target:
                continue
            via = pick(phase, target)
            pairs = list(zip(direct, via, strict=False))
            if phase == "fixed":
                added50 = [v.p50_ms - d.p50_ms for d, v in pairs]
                added99 = [v.p99_ms - d.p99_ms for d, v in pairs]
                per_target[target]["added_p50_ms"] = median(added50)
                per_target[target]["added_p99_ms"] = median(added99)
                per_target[target]["runs_added_p50_ms"] = [round(x, 3) for x in added50]
                per_target[target]["runs_added_p99_ms"] = [round(x, 3) for x in added99]
            else:
                ratios = [v.per_second / d.per_second for d, v in pairs]
                per_target[target]["ratio_to_direct"] = median(ratios)
                per_target[target]["runs_ratio_to_direct"] = [round(x, 3) for x in ratios]
        out[phase] = per_target
    out["checks"] = {
        "byte_for_byte": run.byte_for_byte,
        "decisions_expected": run.decisions_expected,
        "distinct_decision_ids": run.distinct_decision_ids,
        "decisions_in_db": run.decisions_in_db,
        "decisions_by_status": run.decisions_by_status,
        "audit_verify_exit": run.audit_verify_exit,
        "audit_verify_output": run.audit_verify_output,
        "ok": run.checks_ok,
    }
    out["calibration_ms"] = round(run.calibration_ms, 1)
    out["background_cpu"] = round(run.background_cpu, 2)
    out["max_background_before_segments"] = max(
        (s.background_cpu for s in run.segments), default=float("nan")
    )
    return out


def print_summary(s: dict[str, Any], args: argparse.Namespace) -> None:
    print(f"\n== {s['backend']}: medians of {args.repeats} ==")
    fixed = s.get("fixed", {})
    if fixed:
        print(f"fixed rate {args.rate:g}/s for {args.seconds:g} s each:")
        print("| target | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | added p50 ms | "
              "added p99 ms | errors | batch | sidecar cpu | other cpu |")  # fmt: skip
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for target, f in fixed.items():
            print(
                f"| {target} | {f['p50_ms']:.2f} | {f['p90_ms']:.2f} | {f['p99_ms']:.2f} | "
                f"{f['p999_ms']:.2f} | {f['max_ms']:.2f} | {f.get('added_p50_ms', 0):.2f} | "
                f"{f.get('added_p99_ms', 0):.2f} | {f['errors_total']} | {f['mean_batch']:.2f} | "
                f"{f['sidecar_cpu']:.3f} | {f['other_cpu']:.3f} |"
            )
            if "runs_added_p50_ms" in f:
                print(f"    runs: added p50 {f['runs_added_p50_ms']}, added p99 "
                      f"{f['runs_added_p99_ms']}")  # fmt: skip
    tp = s.get("throughput", {})
    if tp:
        print(f"max throughput, {args.concurrency} clients, {args.tp_requests} requests each:")
        print("| target | requests/s | ratio to direct | p50 ms | p99 ms | errors | batch | "
              "client cpu | upstream cpu | sidecar cpu | other cpu |")  # fmt: skip
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for target, t in tp.items():
            print(
                f"| {target} | {t['per_second']:.0f} | {t.get('ratio_to_direct', 1):.3f} | "
                f"{t['p50_ms']:.2f} | {t['p99_ms']:.2f} | {t['errors_total']} | "
                f"{t['mean_batch']:.1f} | {t['client_cpu']:.2f} | {t['upstream_cpu']:.2f} | "
                f"{t['sidecar_cpu']:.2f} | {t['other_cpu']:.2f} |"
            )
            print(f"    runs: {t['runs_per_second']} /s"
                  + (f", ratios {t['runs_ratio_to_direct']}" if "runs_ratio_to_direct" in t
                     else ""))  # fmt: skip
    c = s["checks"]
    print(
        f"checks: byte for byte {c['byte_for_byte']}; decisions stored {c['decisions_in_db']} "
        f"{c['decisions_by_status']} (expected {c['decisions_expected']}, distinct ids "
        f"{c['distinct_decision_ids']}); oversight audit verify exit {c['audit_verify_exit']}: "
        f"{c['audit_verify_output']!r} -> {'OK' if c['ok'] else 'FAILED'}"
    )
    print(f"calibration {s['calibration_ms']} ms; background before the run "
          f"{s['background_cpu']} cores, before segments at most "
          f"{s['max_background_before_segments']:.2f}")  # fmt: skip
    if fixed.get("sidecar") and tp.get("sidecar"):
        f, t = fixed["sidecar"], tp["sidecar"]
        verdicts = (
            ("added median <= 1 ms", f["added_p50_ms"] <= 1.0, f"{f['added_p50_ms']:.2f} ms"),
            ("added p99 <= 5 ms", f["added_p99_ms"] <= 5.0, f"{f['added_p99_ms']:.2f} ms"),
            ("throughput >= 0.5 x direct", t["ratio_to_direct"] >= 0.5,
             f"{t['ratio_to_direct']:.3f}"),
        )  # fmt: skip
        for name, met, value in verdicts:
            print(f"target {name}: {value} -> {'met' if met else 'MISSED'}")


def code_state() -> dict[str, str]:
    """The commit measured, and files of the package changed but not committed."""

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=HERE.parent, capture_output=True, text=True)
        return done.stdout.rstrip()

    return {
        "commit": git("rev-parse", "--short", "HEAD").strip(),
        "uncommitted": " ".join(
            line[3:] for line in git("status", "--porcelain", "--", "oversight", "adapters")
            .splitlines()
        ),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--rate", type=float, default=200, help="fixed-rate requests/s")
    parser.add_argument("--seconds", type=float, default=30, help="length of a fixed-rate segment")
    parser.add_argument("-c", "--concurrency", type=int, default=32,
                        help="closed-loop clients, throughput phase and warm-up")  # fmt: skip
    parser.add_argument("--tp-requests", type=int, default=10000,
                        help="requests per throughput segment")  # fmt: skip
    parser.add_argument("--max-seconds", type=float, default=60,
                        help="cap on each throughput segment")  # fmt: skip
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1000,
                        help="uncounted requests per target before the first segment")  # fmt: skip
    parser.add_argument("--segment-warmup", type=int, default=50,
                        help="uncounted requests right before each segment")  # fmt: skip
    parser.add_argument("--phases", nargs="+", choices=["fixed", "throughput"],
                        default=["fixed", "throughput"])  # fmt: skip
    parser.add_argument(
        "--targets", nargs="+", choices=["direct", "sidecar", "passthrough"],
        default=["direct", "sidecar"],
        help="'passthrough' adds the sidecar on a path no route matches (the proxy hop "
        "without a decision)",
    )  # fmt: skip
    parser.add_argument(
        "--sidecar-env", action="append", default=[], metavar="NAME=VALUE",
        help="environment of the sidecar, e.g. OVERSIGHT_BATCH_MAX_WAIT_MS=0 (diagnostics)",
    )  # fmt: skip
    parser.add_argument(
        "--pg-setting", action="append", default=[], metavar="NAME=VALUE",
        help="ALTER DATABASE bench SET NAME = VALUE before the sidecar starts, e.g. "
        "synchronous_commit=off (diagnostics: not durable)",
    )  # fmt: skip
    parser.add_argument("--quiet-wait", type=float, default=60,
                        help="before the run and each segment, wait up to this long for other "
                        "work on the machine to stop (0: don't)")  # fmt: skip
    parser.add_argument("--upstream-work-ms", type=float, default=0,
                        help="CPU work the upstream does per answer (a model)")  # fmt: skip
    parser.add_argument("--sidecar-cpus", default=None, help="taskset CPU list for the sidecar")
    parser.add_argument("--upstream-cpus", default=None, help="taskset CPU list, upstream")
    parser.add_argument("--client-cpus", default=None, help="CPU list for this client")
    parser.add_argument("--profile", type=Path, default=None,
                        help="py-spy the sidecar during each measured segment into this folder "
                        "(the figures of such a run are perturbed)")  # fmt: skip
    parser.add_argument("--profile-rate", type=int, default=250)
    parser.add_argument("--profile-idle", action="store_true", help="py-spy --idle")
    parser.add_argument("--trace", type=Path, default=None,
                        help="run the sidecar under bench/proxy_trace.py (timers around each "
                        "step), write FILE.BACKEND.json; adds a little time per step")  # fmt: skip
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()
    if "direct" not in args.targets:
        args.targets.insert(0, "direct")
    if args.client_cpus:
        os.sched_setaffinity(0, {int(c) for c in args.client_cpus.split(",")})

    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    workdir = Path(tempfile.mkdtemp(prefix="oversight-proxy-bench-"))
    facts = machine_facts()
    facts.update(code_state())
    print("machine:", json.dumps(facts))
    print("command:", " ".join([Path(sys.executable).name, *sys.argv]))
    print("started:", time.strftime("%Y-%m-%d %H:%M:%S"), flush=True)
    runs, summaries = [], []
    for backend in backends:
        run = run_backend(args, backend, workdir)
        runs.append(run)
        summary = summarise(run, args.targets)
        summaries.append(summary)
        print_summary(summary, args)
        if not run.checks_ok:
            print(f"[{backend}] CHECK FAILED", file=sys.stderr)
    print("finished:", time.strftime("%Y-%m-%d %H:%M:%S"))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps(
                {"machine": facts, "args": {k: str(v) for k, v in vars(args).items()},
                 "summaries": summaries, "runs": [asdict(r) for r in runs]},
                indent=2,
            )
        )  # fmt: skip
    if args.keep:
        print("kept", workdir)
    else:
        import shutil

        shutil.rmtree(workdir, ignore_errors=True)
    if not all(r.checks_ok for r in runs):
        sys.exit(1)


if __name__ == "__main__":
    main()
