"""Real ``oversight serve`` processes for tests that need more than one, or a real socket."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.conftest import POLICY_YAML, Keys, make_keys

WEBHOOK_SECRET = "test-webhook-secret"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def write_policy(folder: Path) -> Path:
    path = folder / "policy.yaml"
    path.write_text(POLICY_YAML)
    return path


def oversight_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "oversight", *args]


def start_server(
    db_url: str,
    policy: Path,
    port: int,
    log: Path,
    *extra: str,
    environment: dict[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """``oversight serve`` on ``port``, ready when this returns; ``extra`` adds flags."""
    env = {
        **os.environ,
        **(environment or {}),
        "OVERSIGHT_SUBJECT_KEY": "k1",
        "OVERSIGHT_RECEIPT_KEY": "k2",
        "OVERSIGHT_WEBHOOK_SECRET": WEBHOOK_SECRET,
    }
    with log.open("wb") as output:  # the child keeps its own descriptor
        process = subprocess.Popen(
            oversight_command(
                "serve",
                "--db",
                db_url,
                "--policy",
                str(policy),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                *extra,
            ),
            stdout=output,
            stderr=subprocess.STDOUT,
            env=env,
        )
    return _wait_ready(process, f"http://127.0.0.1:{port}/readyz", log)


def start_upstream(port: int, log: Path, **env: str) -> subprocess.Popen[bytes]:
    """The test AI service (tests/upstream_app.py) under uvicorn on ``port``."""
    with log.open("wb") as output:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "tests.upstream_app:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--log-level",
                "warning",
            ],
            stdout=output,
            stderr=subprocess.STDOUT,
            env={**os.environ, **env},
            cwd=Path(__file__).resolve().parent.parent,
        )
    return _wait_ready(process, f"http://127.0.0.1:{port}/callbacks", log)


def _wait_ready(process: subprocess.Popen[bytes], url: str, log: Path) -> subprocess.Popen[bytes]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode}: {log.read_text()}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"{url} did not answer: {log.read_text()}")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def serving(folder: Path) -> Iterator[tuple[str, Keys]]:
    """A real sidecar on a fresh SQLite database in ``folder``: its URL and keys."""
    url = f"sqlite:///{folder / 'oversight.db'}"
    keys = make_keys(url)
    port = free_port()
    server = start_server(url, write_policy(folder), port, folder / "serve.log")
    try:
        yield f"http://127.0.0.1:{port}", keys
    finally:
        stop(server)
