"""``make demo`` end to end: the example HR AI behind the sidecar, as a newcomer runs it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_demo_runs_and_reports_every_route(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "examples/demo.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        env={**os.environ, "CI": "1", "OVERSIGHT_DEMO_DIR": str(tmp_path / "demo")},
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    counts = {label: int(n) for n, label in re.findall(r"^\s+(\d+)\s+(\w[\w ]+)$", out, re.M)}
    assert counts["released"] > 0 and counts["held for a human"] > 0
    assert counts["blocked"] == 3
    assert sum(counts.values()) == 203
    receipt = re.search(r"/v1/explanations/(rcpt_\S+)", out)
    assert receipt is not None
    assert "/v1/reviews/" in out and "/claim" in out and "/metrics" in out
