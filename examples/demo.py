"""``make demo``: an example HR AI with the oversight sidecar in front of it.

Starts the example CV screen (examples/hr_ai.py) and the sidecar (SQLite, in
demo-data/), creates demo keys, sends a stream of applications through the sidecar,
and prints what happened and how to look further. On a terminal it keeps both running
until Ctrl+C; otherwise (CI, a pipe) it stops them and exits.
"""

from __future__ import annotations

import collections
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("OVERSIGHT_DEMO_DIR", ROOT / "demo-data"))
APPLICATIONS = 200


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def oversight(*args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "oversight", *args], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        sys.exit(f"oversight {' '.join(args)} failed:\n{result.stderr}")
    return result.stdout.strip().splitlines()[-1]


def start(command: list[str], log: Path, ready_url: str) -> subprocess.Popen[bytes]:
    with log.open("wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, cwd=ROOT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"{command[2]} stopped at start-up; its log ({log}):\n{log.read_text()}")
        try:
            if httpx.get(ready_url, timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.2)
    process.kill()
    sys.exit(f"{ready_url} did not answer within a minute; see {log}")


def application(rng: random.Random, i: int) -> dict[str, object]:
    return {
        "candidate_id": f"applicant-{i:04d}",
        "features": {
            "years_experience": round(rng.gammavariate(2.0, 2.5), 1),
            "certificates": rng.choice([0, 0, 1, 1, 2, 3]),
            "distance_km": round(rng.expovariate(1 / 15), 1),
            "shift_flexibility": round(rng.random(), 2),
        },
        "protected": {
            "gender": rng.choice(["female", "male"]),
            "age_band": rng.choice(["18-24", "25-34", "35-49", "50+"]),
        },
    }


def main() -> None:
    shutil.rmtree(DATA, ignore_errors=True)
    DATA.mkdir()
    db = f"sqlite:///{DATA / 'oversight.db'}"
    oversight("db", "upgrade", "--db", db)
    keys = {
        name: oversight("keys", "create", "--db", db, "--role", role, "--name", name)
        for role, name in [("admin", "admin"), ("reviewer", "alice"), ("reviewer", "bob")]
    }
    ai_port, sidecar_port = free_port(), free_port()
    ai_url, sidecar = f"http://127.0.0.1:{ai_port}", f"http://127.0.0.1:{sidecar_port}"
    print(f"starting the example HR AI on {ai_url} (training a logistic regression) ...")
    ai = start(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "examples.hr_ai:app",
            "--port",
            str(ai_port),
            "--log-level",
            "warning",
        ],
        DATA / "hr_ai.log",
        f"{ai_url}/docs",
    )
    print(f"starting the oversight sidecar on {sidecar} in front of it ...")
    side = start(
        [
            sys.executable,
            "-m",
            "oversight",
            "serve",
            "--db",
            db,
            "--policy",
            "examples/policy.yaml",
            "--routes",
            "examples/routes.yaml",
            "--upstream",
            ai_url,
            "--port",
            str(sidecar_port),
            "--log-level",
            "warning",
        ],
        DATA / "sidecar.log",
        f"{sidecar}/readyz",
    )
    try:
        run(sidecar, keys)
        if sys.stdin.isatty() and os.environ.get("CI") is None:
            print("\nBoth are running: try the lines above. Ctrl+C stops them.")
            signal.sigwait({signal.SIGINT, signal.SIGTERM})
    except KeyboardInterrupt:
        pass
    finally:
        for process in (side, ai):
            process.terminate()
            process.wait(timeout=10)


def plan_rosters(client: httpx.Client, admin: str, employees: int = 20) -> dict[str, Any]:
    """A week of shifts for each employee, five weeks ahead (past the 28 days' notice)."""
    today = date.today()
    monday = today + timedelta(days=35 - today.weekday())
    result: dict[str, Any] = {"released": 0, "held": 0, "examples": []}
    for i in range(employees):
        body = {"employee_id": f"employee-{i:03d}", "week_start": monday.isoformat()}
        response = client.post("/v1/roster", json=body)
        if response.status_code == 202:
            result["held"] += 1
            record = client.get(
                f"/v1/decisions/{response.json()['decision_id']}",
                headers={"Authorization": f"Bearer {admin}"},
            ).json()
            messages = [f["message"] for f in record["findings"] if f["check"] == "intensity"]
            if messages and len(result["examples"]) < 2:
                result["examples"].append(messages[0])
        elif response.status_code == 200:
            result["released"] += 1
        else:
            sys.exit(f"/v1/roster answered HTTP {response.status_code}: {response.text}")
    return result


def run(sidecar: str, keys: dict[str, str]) -> None:
    rng = random.Random(42)
    counts: collections.Counter[str] = collections.Counter()
    held_example = released_example = None
    with httpx.Client(base_url=sidecar, timeout=10) as client:
        for i in range(APPLICATIONS):
            response = client.post("/v1/score", json=application(rng, i))
            if response.status_code == 202:
                counts["held for a human"] += 1
                held_example = held_example or response.json()
            elif response.status_code == 200:
                counts["released"] += 1
                released_example = released_example or response.headers
            else:
                counts[f"HTTP {response.status_code}"] += 1
        for i in range(3):
            response = client.post("/v1/mood", json=application(rng, APPLICATIONS + i))
            counts[
                "blocked" if response.status_code == 403 else f"HTTP {response.status_code}"
            ] += 1
        rosters = plan_rosters(client, keys["admin"])
    total = sum(counts.values())
    print(f"\nSent {total} requests through the sidecar:")
    for label, count in counts.most_common():
        print(f"  {count:4d}  {label}")
    print(
        "  (rejections wait for a person; 5% of shortlists are drawn for quality review;"
        "\n   the mood reader is an AI practice the AI Act forbids at work, so it is blocked)"
    )
    if released_example is not None:
        receipt = released_example["x-oversight-receipt"]
        print("\nA worker's receipt, and where they read their explanation:")
        print(f"  {receipt}\n  {sidecar}/v1/explanations/{receipt}")
    if held_example is not None:
        review = held_example["review_id"]
        print("\nA reviewer (alice) claims and decides a held rejection:")
        print(
            f"  curl -s -X POST {sidecar}/v1/reviews/{review}/claim "
            f"-H 'Authorization: Bearer {keys['alice']}'"
        )
        print(
            f"  curl -s -X POST {sidecar}/v1/reviews/{review}/decide "
            f"-H 'Authorization: Bearer {keys['alice']}' -H 'Content-Type: application/json' "
            '-d \'{"action": "override", "outcome": "shortlist", '
            '"rationale": "Seasonal warehouse work was not counted as experience."}\''
        )
    print("\nThe review queue, the audit check and the metrics:")
    print(f"  curl -s {sidecar}/v1/reviews -H 'Authorization: Bearer {keys['alice']}'")
    print(f"  curl -s {sidecar}/v1/audit/verify -H 'Authorization: Bearer {keys['admin']}'")
    print(f"  {sidecar}/metrics    (API docs: {sidecar}/docs)")
    print("\nThe reviewer console and the worker's page, in a browser:")
    print(f"  {sidecar}/console    (sign in with alice's key: {keys['alice']})")
    print(f"  {sidecar}/worker     (enter a receipt)")
    print(
        f"\nShift planner: {rosters['released']} weekly rosters released, {rosters['held']} held "
        "for a person by the working-time checks (Arbeidstijdenwet), e.g.:"
    )
    for message in rosters["examples"]:
        print(f"  {message}")
    print(f"  oversight intensity report --db {DATA / 'oversight.db'} --system shift-planner")
    print(f"\nLogs and the database are in {DATA}.")


if __name__ == "__main__":
    main()
