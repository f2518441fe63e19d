"""A real Prometheus (the Debian package) scrapes a running sidecar and loads the alert
rules: the target is up, the sidecar's metrics arrive, every rule evaluates cleanly."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.conftest import decision
from tests.dashboards.test_dashboards import RULES
from tests.dashboards.tools import tool
from tests.servers import free_port, serving


def poll(url: str, params: dict[str, str], ready: Any, seconds: float = 60) -> dict[str, Any]:
    """Ask until ``ready(answer)``; Prometheus needs a few seconds to scrape and evaluate."""
    deadline = time.monotonic() + seconds
    answer: dict[str, Any] = {}
    while time.monotonic() < deadline:
        try:
            answer = httpx.get(url, params=params, timeout=5).json()
            if ready(answer):
                return answer
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"{url} {params} never got ready; last answer: {answer}")


def test_prometheus_scrapes_the_sidecar_and_loads_the_rules(tmp_path: Path) -> None:
    prometheus = tool("prometheus", "apt-get install prometheus")
    with serving(tmp_path) as (sidecar, keys):
        httpx.post(f"{sidecar}/v1/decisions", json=decision(), headers=keys.header("ingest"))
        port = free_port()
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(RULES)],
            "scrape_configs": [
                {
                    "job_name": "oversight",
                    "static_configs": [{"targets": [sidecar.removeprefix("http://")]}],
                }
            ],
        }
        (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
        log = (tmp_path / "prometheus.log").open("wb")
        process = subprocess.Popen(
            [
                prometheus,
                f"--config.file={tmp_path / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp_path / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
        )
        try:
            api = f"http://127.0.0.1:{port}/api/v1"
            up = poll(
                f"{api}/query",
                {"query": 'up{job="oversight"}'},
                lambda a: (
                    a.get("data", {}).get("result") and a["data"]["result"][0]["value"][1] == "1"
                ),
            )
            assert up["status"] == "success"
            depth = poll(
                f"{api}/query",
                {"query": 'oversight_review_queue_depth{system="cv-screening"}'},
                lambda a: bool(a.get("data", {}).get("result")),
            )
            assert depth["data"]["result"][0]["value"][1] == "1"  # the held reject

            def evaluated(answer: dict[str, Any]) -> bool:
                rules = [r for g in answer.get("data", {}).get("groups", []) for r in g["rules"]]
                # an unevaluated rule reports the zero time, 0001-01-01
                return len(rules) == 7 and all(
                    not r.get("lastEvaluation", "0001").startswith("0001") for r in rules
                )

            rules = poll(f"{api}/rules", {}, evaluated)
            loaded = [r for g in rules["data"]["groups"] for r in g["rules"]]
            assert {r["health"] for r in loaded} == {"ok"}, [r.get("lastError") for r in loaded]
            assert not [r for r in loaded if r["name"] == "OversightSidecarDown" and r["alerts"]]
        finally:
            process.terminate()
            process.wait(timeout=20)
            log.close()
