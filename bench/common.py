"""Helpers shared by the benchmarks: fresh databases, the oversight CLI, the machine."""

from __future__ import annotations

import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
POLICY = HERE / "policy.yaml"
#: The ``oversight`` console script of the interpreter running the benchmark.
OVERSIGHT = str(Path(sys.executable).parent / "oversight")
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432"
PG_DATABASE = "bench"


def pg_url(database: str = PG_DATABASE) -> str:
    return f"{PG_ADMIN}/{database}"


def psql(sql: str, database: str = "postgres") -> str:
    """Run one SQL statement with psql (trust auth) and return its unaligned output."""
    done = subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", database, "-XAtqc", sql],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done.stdout.strip()


def recreate_pg_database(database: str = PG_DATABASE) -> str:
    """Drop and recreate the benchmark database; returns its URL."""
    psql(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    psql(f'CREATE DATABASE "{database}"')
    return pg_url(database)


def oversight_cli(*args: str, timeout: float = 120) -> str:
    """Run ``oversight ARGS`` and return its stdout (raise with its stderr on failure)."""
    done = subprocess.run(
        [OVERSIGHT, *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"oversight {' '.join(args)} exited {done.returncode}:\n{done.stderr[-2000:]}"
        )
    return done.stdout


def create_ingest_key(db_url: str) -> str:
    oversight_cli("db", "upgrade", "--db", db_url)
    out = oversight_cli("keys", "create", "--db", db_url, "--role", "ingest", "--name", "bench")
    return out.strip().splitlines()[-1]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted list (q in 0..100)."""
    if not sorted_values:
        return float("nan")
    rank = max(1, int(-(-q * len(sorted_values) // 100)))  # ceil(q/100 * n)
    return sorted_values[min(rank, len(sorted_values)) - 1]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


# --- CPU accounting --------------------------------------------------------------------

_TICK = os.sysconf("SC_CLK_TCK")


def proc_cpu_seconds(pid: int) -> float:
    """user+system CPU seconds of one process, from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # fields[0] is field 3 (state); utime and stime are fields 14 and 15
    return (int(fields[11]) + int(fields[12])) / _TICK


def self_cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system


def machine_busy_seconds() -> float:
    """CPU seconds spent not idle by all cores together, from /proc/stat."""
    with open("/proc/stat") as f:
        parts = [int(x) for x in f.readline().split()[1:]]
    idle = parts[3] + parts[4]  # idle + iowait
    return (sum(parts[:8]) - idle) / _TICK


# --- the machine -----------------------------------------------------------------------


def machine_facts() -> dict[str, str]:
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_kib = int(f.readline().split()[1])
    facts = {
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "memory": f"{mem_kib / 1024 / 1024:.1f} GiB",
        "python": platform.python_version(),
        "kernel": platform.release(),
    }
    if shutil.which("psql"):
        try:
            facts["postgresql"] = psql("SHOW server_version")
            facts["pg_settings"] = psql(
                "SELECT string_agg(name || '=' || setting, ' ' ORDER BY name) FROM pg_settings "
                "WHERE name IN ('fsync','synchronous_commit','wal_sync_method','shared_buffers',"
                "'full_page_writes','commit_delay')"
            )
        except (subprocess.SubprocessError, OSError) as exc:
            facts["postgresql"] = f"unavailable ({exc})"
    import sqlite3

    facts["sqlite"] = sqlite3.sqlite_version
    return facts


def wait_until(predicate, timeout: float, what: str, interval: float = 0.05) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")


def busy_cores(window: float = 1.0) -> float:
    """How many cores were busy, on average, over the next ``window`` seconds."""
    before = machine_busy_seconds()
    time.sleep(window)
    return (machine_busy_seconds() - before) / window


def wait_quiet(threshold: float = 0.15, max_wait: float = 180.0) -> float:
    """Wait (at most ``max_wait`` s) until the machine idles: two 1-second windows in a row
    with fewer than ``threshold`` cores busy. Other work on this 2-core machine (a test
    suite, a build) skews every figure. Returns the last background load seen."""
    deadline = time.monotonic() + max_wait
    quiet_windows, load = 0, busy_cores()
    while time.monotonic() < deadline:
        quiet_windows = quiet_windows + 1 if load < threshold else 0
        if quiet_windows >= 2:
            return load
        load = busy_cores()
    print(
        f"warning: the machine did not go quiet within {max_wait:.0f} s "
        f"({load:.2f} cores busy by others); figures of this run are skewed",
        file=sys.stderr,
    )
    return load


def cpu_calibration() -> float:
    """Milliseconds for a fixed piece of pure-Python work (hashing, JSON, dicts): the same
    on an idle, unshared machine; when it moves between runs, so does the CPU we get."""
    import hashlib
    import json

    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        for i in range(20_000):
            text = json.dumps({"i": i, "s": "x" * 40, "f": [1.5, 2, None]}, sort_keys=True)
            hashlib.sha256(text.encode()).hexdigest()
        best = min(best, time.perf_counter() - started)
    return best * 1000
