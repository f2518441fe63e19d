"""A real AI service (tests/upstream_app.py) with the real sidecar in front of it."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import Keys, make_keys
from tests.servers import free_port, start_server, start_upstream, stop

ROUTES = """
routes:
  - match: {method: POST, path: /v1/score}
    system_id: cv-screening
    decision_type: response.decision
    subject_id: request.candidate_id
    outcome: response.decision
    score: response.score
    inputs: request.features
    protected: request.protected
    explanation: response.explanation
    mode: hold
  - match: {method: POST, path: /v1/advise}
    system_id: cv-screening
    decision_type: reject
    subject_id: request.candidate_id
    outcome: response.decision
    mode: advisory
  - match: {method: POST, path: /v1/maybe}
    system_id: cv-screening
    decision_type: response.decision
    subject_id: request.candidate_id
    outcome: response.decision
  - match: {method: POST, path: /v1/emotion}
    system_id: emotion-scan
    decision_type: score
    subject_id: request.candidate_id
    outcome: response.stress
  - match: {method: POST, path: /v1/roster}
    system_id: rostering
    decision_type: assign
    subject_id: request.employee_id
    outcome: response.decision
    context: response.plan
  - match: {method: POST, path: /v1/slow}
    system_id: cv-screening
    decision_type: shortlist
    subject_id: request.candidate_id
    outcome: response.decision
  - match: {method: POST, path: /v1/broken}
    system_id: cv-screening
    decision_type: shortlist
    subject_id: request.candidate_id
    outcome: response.decision
  - match: {method: POST, path: /v1/garbage}
    system_id: cv-screening
    decision_type: shortlist
    subject_id: request.candidate_id
    outcome: response.decision
"""

POLICY = """
systems:
  cv-screening:
    purpose: "Screens applications"
    risk_class: high
    reviewers: [alice, bob]
    callback_url: "http://127.0.0.1:{upstream}/callback"
    decision_types:
      shortlist: {{category: hiring, impact: low}}
      reject:    {{category: hiring, impact: high}}
  rostering:
    purpose: "Plans shifts"
    risk_class: high
    decision_types:
      assign: {{category: scheduling, impact: low}}
  emotion-scan:
    purpose: "Reads stress from interview video"
    risk_class: prohibited
    decision_types:
      score: {{category: hiring, impact: low}}
"""


@dataclass
class Stack:
    """The two processes; ``restart_sidecar`` starts a new one on the same database."""

    folder: Path
    db_url: str
    keys: Keys
    upstream_port: int
    sidecar_port: int
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def sidecar(self) -> str:
        return f"http://127.0.0.1:{self.sidecar_port}"

    @property
    def upstream(self) -> str:
        return f"http://127.0.0.1:{self.upstream_port}"

    def start_sidecar(self) -> None:
        self.processes["sidecar"] = start_server(
            self.db_url,
            self.folder / "policy.yaml",
            self.sidecar_port,
            self.folder / f"sidecar-{len(self.processes)}.log",
            "--upstream",
            self.upstream,
            "--routes",
            str(self.folder / "routes.yaml"),
            environment={"OVERSIGHT_UPSTREAM_TIMEOUT_SECONDS": "1"},
        )

    def kill_sidecar(self) -> None:
        """kill -9: no shutdown, nothing flushed."""
        process = self.processes.pop("sidecar")
        process.kill()
        process.wait()

    def stop_all(self) -> None:
        for process in self.processes.values():
            stop(process)


def make_stack(db_url: str, folder: Path, **upstream_env: str) -> Stack:
    up_port, side_port = free_port(), free_port()
    (folder / "routes.yaml").write_text(ROUTES)
    (folder / "policy.yaml").write_text(POLICY.format(upstream=up_port))
    stack = Stack(folder, db_url, make_keys(db_url), up_port, side_port)
    stack.processes["upstream"] = start_upstream(up_port, folder / "upstream.log", **upstream_env)
    try:
        stack.start_sidecar()
    except Exception:
        stack.stop_all()
        raise
    return stack


@pytest.fixture
def stack(db_url: str, tmp_path: Path) -> Iterator[Stack]:
    made = make_stack(db_url, tmp_path)
    try:
        yield made
    finally:
        made.stop_all()
