"""The CLI forms that operators and acceptance checks use, run as real processes."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path

import httpx

from tests.conftest import decision
from tests.servers import free_port, oversight_command, start_server, stop, write_policy


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(oversight_command(*args), capture_output=True, text=True, timeout=120)


def test_keys_create_prints_the_key_alone_on_the_last_line(sqlite_url: str) -> None:
    result = run("keys", "create", "--db", sqlite_url, "--role", "ingest", "--name", "hr-ai")
    assert result.returncode == 0, result.stderr
    key = result.stdout.strip().splitlines()[-1]
    assert key.startswith("ovs_ingest_") and " " not in key


def test_keys_revoke_by_key_or_by_name(sqlite_url: str) -> None:
    def create(name: str) -> str:
        made = run("keys", "create", "--db", sqlite_url, "--role", "reviewer", "--name", name)
        return made.stdout.strip().splitlines()[-1]

    old, new, other = create("alice"), create("alice"), create("bob")
    revoked = run("keys", "revoke", "--db", sqlite_url, "--key", old)
    assert revoked.returncode == 0 and "revoked 1 key(s)" in revoked.stdout
    rows = (
        sqlite3.connect(sqlite_url.removeprefix("sqlite:///"))
        .execute("SELECT name, revoked_at IS NOT NULL FROM api_keys ORDER BY created_at")
        .fetchall()
    )
    assert rows == [("alice", 1), ("alice", 0), ("bob", 0)]
    assert "revoked 1 key(s)" in run("keys", "revoke", "--db", sqlite_url, "--name", "alice").stdout
    assert new and other
    neither = run("keys", "revoke", "--db", sqlite_url)
    assert neither.returncode == 2 and "give the key, or the name" in neither.stderr


def test_keys_create_refuses_an_unknown_role(sqlite_url: str) -> None:
    result = run("keys", "create", "--db", sqlite_url, "--role", "boss", "--name", "x")
    assert result.returncode == 2
    assert "admin" in result.stderr


def test_db_upgrade_then_verify_then_tamper(sqlite_url: str, tmp_path: Path) -> None:
    assert run("db", "upgrade", "--db", sqlite_url).returncode == 0
    assert run("db", "upgrade", "--db", sqlite_url).returncode == 0  # idempotent
    policy = write_policy(tmp_path)
    key = run("keys", "create", "--db", sqlite_url, "--role", "ingest", "--name", "hr-ai")
    port = free_port()
    server = start_server(sqlite_url, policy, port, tmp_path / "serve.log")
    try:
        headers = {"Authorization": f"Bearer {key.stdout.strip().splitlines()[-1]}"}
        for i in range(3):
            response = httpx.post(
                f"http://127.0.0.1:{port}/v1/decisions",
                json=decision(decision_id=f"cli-{i}"),
                headers=headers,
            )
            assert response.status_code == 201
    finally:
        stop(server)
    intact = run("audit", "verify", "--db", sqlite_url)
    assert intact.returncode == 0, intact.stdout + intact.stderr
    assert "intact" in intact.stdout
    as_json = json.loads(run("audit", "verify", "--db", sqlite_url, "--format", "json").stdout)
    assert as_json["ok"] is True and as_json["entries"] == 1 + 3 * 2

    with sqlite3.connect(sqlite_url.removeprefix("sqlite:///")) as connection:
        connection.execute(
            "UPDATE audit_entries SET payload = replace(payload, 'reject', 'hire') WHERE seq = 4"
        )
    broken = run("audit", "verify", "--db", sqlite_url)
    assert broken.returncode == 1
    assert "entry 4" in broken.stdout


def test_serve_names_the_line_of_a_policy_error(sqlite_url: str, tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "systems:\n  cv:\n    purpose: x\n    risk_class: extreme\n"
        "    decision_types:\n      a: {category: hiring}\n"
    )
    result = run("serve", "--db", sqlite_url, "--policy", str(policy), "--port", "1")
    assert result.returncode == 2
    assert "line 4" in result.stderr
    assert "risk_class" in result.stderr


def test_bad_database_url_is_explained(tmp_path: Path) -> None:
    result = run("db", "upgrade", "--db", "mysql://root@localhost/x")
    assert result.returncode == 2
    assert "postgresql://" in result.stderr
