"""Two server processes on one PostgreSQL: the chain stays whole, nothing is duplicated."""

from __future__ import annotations

import asyncio
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from oversight.api import create_app
from oversight.policy import parse_policy
from oversight.settings import Settings
from tests.conftest import POLICY_YAML, decision, make_keys
from tests.servers import free_port, oversight_command, start_server, stop, write_policy

pytestmark = pytest.mark.postgres
DECISIONS = 400


def test_two_servers_share_one_chain(postgres_url: str, tmp_path: Path) -> None:
    keys = make_keys(postgres_url)
    policy = write_policy(tmp_path)
    ports = [free_port(), free_port()]
    servers = [
        start_server(postgres_url, policy, port, tmp_path / f"serve-{port}.log") for port in ports
    ]
    try:
        headers = keys.header("ingest")

        def send(i: int) -> int:
            port = ports[i % 2]
            n = i % (DECISIONS // 2)
            body = decision(decision_id=f"mp-{n}", decision_type="shortlist" if n % 3 else "reject")
            response = httpx.post(
                f"http://127.0.0.1:{port}/v1/decisions", json=body, headers=headers, timeout=30
            )
            return response.status_code

        # Every id is sent twice, to different servers at about the same time.
        with ThreadPoolExecutor(16) as pool:
            statuses = list(pool.map(send, range(DECISIONS)))
        assert sorted(set(statuses)) == [200, 201]
        assert statuses.count(201) == DECISIONS // 2
        report = httpx.get(
            f"http://127.0.0.1:{ports[0]}/v1/audit/verify", headers=keys.header("admin")
        ).json()
    finally:
        for server in servers:
            stop(server)
    assert report["ok"] is True, report
    # two policy_loaded entries, then recorded + routed per decision (all have explanations)
    assert report["entries"] == 2 + (DECISIONS // 2) * 2
    verify = subprocess.run(
        oversight_command("audit", "verify", "--db", postgres_url),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert verify.returncode == 0, verify.stdout


class _Relay:
    """A TCP relay in front of PostgreSQL, on a thread of its own, that the test can cut."""

    def __init__(self, listen_port: int, target_port: int) -> None:
        self.listen_port = listen_port
        self.target_port = target_port
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server: asyncio.Server | None = None
        self.links: list[asyncio.StreamWriter] = []

    def _call(self, coroutine: Any) -> None:
        asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=10)

    def start(self) -> None:
        async def start() -> None:
            self.server = await asyncio.start_server(self._link, "127.0.0.1", self.listen_port)

        self._call(start())

    def cut(self) -> None:
        async def cut() -> None:
            assert self.server is not None
            self.server.close()
            for writer in self.links:
                writer.close()
            self.links.clear()
            await self.server.wait_closed()

        self._call(cut())

    def close(self) -> None:
        if self.server is not None and self.server.is_serving():
            self.cut()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()

    async def _link(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self.links += [writer, up_writer]

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


def test_database_outage_gives_503_and_writes_nothing(postgres_url: str, tmp_path: Path) -> None:
    keys = make_keys(postgres_url)
    relay_port = free_port()
    relay = _Relay(relay_port, 5432)
    relay.start()
    app = create_app(
        Settings(
            db=postgres_url.replace(":5432/", f":{relay_port}/"), subject_key="s", receipt_key="r"
        ),
        policy=parse_policy(POLICY_YAML),
    )
    try:
        with TestClient(app) as client:
            headers = keys.header("ingest")
            ok = client.post("/v1/decisions", json=decision(decision_id="before"), headers=headers)
            assert ok.status_code == 201
            relay.cut()
            down = client.post(
                "/v1/decisions", json=decision(decision_id="during"), headers=headers
            )
            assert down.status_code == 503
            assert "Retry when /readyz answers 200" in down.json()["detail"]
            assert client.get("/readyz").status_code == 503
            relay.start()
            again = client.post(
                "/v1/decisions", json=decision(decision_id="during"), headers=headers
            )
            assert again.status_code == 201
            report = client.get("/v1/audit/verify", headers=keys.header("admin")).json()
    finally:
        relay.close()
    assert report["ok"] is True
    assert report["entries"] == 1 + 2 * 2


def test_proxied_decision_during_an_outage_is_503_and_not_released(
    postgres_url: str, tmp_path: Path
) -> None:
    from tests.adapters.conftest import POLICY, ROUTES
    from tests.servers import start_upstream

    upstream_port, relay_port = free_port(), free_port()
    routes = tmp_path / "routes.yaml"
    routes.write_text(ROUTES)
    upstream = start_upstream(upstream_port, tmp_path / "upstream.log")
    relay = _Relay(relay_port, 5432)
    relay.start()
    app = create_app(
        Settings(
            db=postgres_url.replace(":5432/", f":{relay_port}/"),
            subject_key="s",
            receipt_key="r",
            upstream=f"http://127.0.0.1:{upstream_port}",
            routes=routes,
        ),
        policy=parse_policy(POLICY.format(upstream=upstream_port)),
    )
    body = {"candidate_id": "c-1", "features": {"years_experience": 9}}
    try:
        with TestClient(app) as client:
            assert client.post("/v1/score", json=body).status_code == 200
            relay.cut()
            down = client.post("/v1/score", json=body)
            assert down.status_code == 503
            assert down.json()["error"] == "storage_unavailable"
            assert "x-oversight-decision-id" not in down.headers
            assert "shortlist" not in down.text  # the upstream's answer is not released
            relay.start()
            assert client.post("/v1/score", json=body).status_code == 200
    finally:
        relay.close()
        stop(upstream)
