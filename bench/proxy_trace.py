"""``oversight serve`` with timers around the steps of a proxied decision, to see where
the latency the sidecar adds goes (bench/proxy.py --trace FILE). Nothing in oversight/
changes: the steps are wrapped at run time, and the timings are written as JSON to
``$PROXY_TRACE_OUT`` when the server stops.

    PROXY_TRACE_OUT=/tmp/trace.json .venv/bin/python bench/proxy_trace.py serve --db URL ...
    .venv/bin/python bench/proxy_trace.py summary /tmp/trace.json

Steps (wall time, per call):

- ``request``      ``HttpProxy.__call__``: from the ASGI call to the last byte sent
- ``forward``      ``HttpProxy._forward``: the upstream round trip through aiohttp
- ``build``        ``Route.decision``: JSON bodies -> ``DecisionIn``
- ``submit``       ``Oversight.submit``: checks, digest, pseudonym, then the recorder
- ``queued``       from ``DecisionRecorder.record`` to the batch's write starting
- ``write``        ``DecisionRecorder.record_many`` (``_write`` before 7ba030e): one
                   transaction, commit included
- ``checkout``     taking a pooled connection (with ``pool_pre_ping`` on PostgreSQL)
- ``commit``       the COMMIT (``AsyncTransaction.__aexit__`` of ``engine.begin``)
- ``release``      giving the connection back to the pool (its reset included)
- ``statement``    each ``AsyncConnection.execute`` inside the write
- ``loop_lag``     how late a 1 ms ``asyncio.sleep`` ticker wakes: event-loop stalls
- ``gc genN``      each collection of the cyclic garbage collector, by generation

Diagnostics, each a change suggested for oversight/ measured before anyone makes it:

- ``PROXY_TRACE_SQLITE_SYNCHRONOUS=NORMAL`` replaces ``synchronous=FULL`` on SQLite (not
  durable against power loss: shows what the fsync per commit costs);
- ``PROXY_TRACE_GC_THRESHOLD=700,10,10`` replaces the ``gc.set_threshold(50_000, 20, 20)``
  that ``oversight serve`` makes (young collections: more often, each shorter);
- ``PROXY_TRACE_VARIANTS`` (comma-separated):
  ``no-existing``  ``DecisionRecorder._existing`` skipped (no idempotency look-up: right
                   only because every decision id here is a fresh uuid4 from the sidecar);
  ``no-halted``    ``DecisionRecorder._halted`` answered from memory (nothing is halted);
  ``no-pre-ping``  the PostgreSQL engine without ``pool_pre_ping``.
"""

from __future__ import annotations

import asyncio
import atexit
import json
import os
import sys
import time
from collections import defaultdict
from typing import Any

TIMES: dict[str, list[float]] = defaultdict(list)
_perf = time.perf_counter


def _timed_async(owner: Any, name: str, step: str) -> None:
    original = getattr(owner, name)

    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = _perf()
        try:
            return await original(*args, **kwargs)
        finally:
            TIMES[step].append(_perf() - started)

    wrapper.__wrapped__ = original  # type: ignore[attr-defined]
    setattr(owner, name, wrapper)


def _timed_sync(owner: Any, name: str, step: str) -> None:
    original = getattr(owner, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = _perf()
        try:
            return original(*args, **kwargs)
        finally:
            TIMES[step].append(_perf() - started)

    setattr(owner, name, wrapper)


def patch() -> None:
    variants = set(filter(None, os.environ.get("PROXY_TRACE_VARIANTS", "").split(",")))
    unknown = variants - {"no-existing", "no-halted", "no-pre-ping"}
    if unknown:
        raise SystemExit(f"unknown PROXY_TRACE_VARIANTS: {', '.join(sorted(unknown))}")
    if "no-pre-ping" in variants:
        import oversight.database
        import oversight.service

        original_create = oversight.database.create_engine

        def create_engine(url: str, **options: Any) -> Any:
            if not url.startswith("sqlite"):
                options["pool_pre_ping"] = False
            return original_create(url, **options)

        oversight.database.create_engine = create_engine
        oversight.service.create_engine = create_engine  # type: ignore[attr-defined]
    threshold = os.environ.get("PROXY_TRACE_GC_THRESHOLD")
    if threshold:
        import gc

        wanted = tuple(int(x) for x in threshold.split(","))
        original_set_threshold = gc.set_threshold

        def set_threshold(*_ignored: int) -> None:
            original_set_threshold(*wanted)

        gc.set_threshold = set_threshold  # serve calls it after building the app
    synchronous = os.environ.get("PROXY_TRACE_SQLITE_SYNCHRONOUS")
    if synchronous:
        import oversight.database as database

        original_make = database._make_sqlite_durable_and_serial

        def make(engine: Any) -> None:
            original_make(engine)
            from sqlalchemy import event

            @event.listens_for(engine.sync_engine, "connect")
            def _after(dbapi_connection: Any, _record: Any) -> None:
                dbapi_connection.execute(f"PRAGMA synchronous={synchronous}")

        database._make_sqlite_durable_and_serial = make

    from sqlalchemy.ext.asyncio import AsyncConnection

    from adapters.http_proxy import HttpProxy
    from adapters.routes import Route
    from oversight.recorder import DecisionRecorder
    from oversight.service import Oversight

    if "no-existing" in variants:

        async def no_existing(connection: Any, decision_ids: list[str]) -> dict[str, Any]:
            return {}

        DecisionRecorder._existing = staticmethod(no_existing)  # type: ignore[method-assign]
    if "no-halted" in variants:

        async def no_halted(connection: Any, system_ids: set[str]) -> set[str]:
            return set()

        DecisionRecorder._halted = staticmethod(no_halted)  # type: ignore[method-assign]

    _timed_async(HttpProxy, "__call__", "request")
    _timed_async(HttpProxy, "_forward", "forward")
    _timed_sync(Route, "decision", "build")
    _timed_async(Oversight, "submit", "submit")

    in_write = {"active": False}
    enqueued: dict[int, float] = {}

    original_record = DecisionRecorder.record

    async def record(self: Any, submission: Any) -> Any:
        enqueued[id(submission)] = _perf()
        return await original_record(self, submission)

    DecisionRecorder.record = record  # type: ignore[method-assign]

    # the batch writer: record_many since 7ba030e, _write before
    write_name = "record_many" if hasattr(DecisionRecorder, "record_many") else "_write"
    original_write = getattr(DecisionRecorder, write_name)

    async def write(self: Any, batch: Any) -> Any:
        started = _perf()
        for submission in batch:
            queued_at = enqueued.pop(id(submission), None)
            if queued_at is not None:
                TIMES["queued"].append(started - queued_at)
        TIMES["batch_size"].append(len(batch))
        in_write["active"] = True
        try:
            return await original_write(self, batch)
        finally:
            in_write["active"] = False
            TIMES["write"].append(_perf() - started)

    setattr(DecisionRecorder, write_name, write)

    original_execute = AsyncConnection.execute

    async def execute(self: Any, statement: Any, *args: Any, **kwargs: Any) -> Any:
        if not in_write["active"]:
            return await original_execute(self, statement, *args, **kwargs)
        started = _perf()
        try:
            return await original_execute(self, statement, *args, **kwargs)
        finally:
            kind = type(statement).__name__
            table = getattr(getattr(statement, "table", None), "name", None)
            TIMES[f"statement {kind} {table or ''}".strip()].append(_perf() - started)

    AsyncConnection.execute = execute  # type: ignore[method-assign]

    # engine.begin() commits in AsyncTransaction.__aexit__ and gives the connection back
    # to the pool (a reset, i.e. a ROLLBACK, on return) in AsyncConnection.__aexit__.
    from sqlalchemy.ext.asyncio import AsyncTransaction

    original_tx_exit = AsyncTransaction.__aexit__

    async def tx_exit(self: Any, *exc: Any) -> Any:
        started = _perf()
        try:
            return await original_tx_exit(self, *exc)
        finally:
            if in_write["active"]:
                TIMES["commit"].append(_perf() - started)

    AsyncTransaction.__aexit__ = tx_exit  # type: ignore[method-assign]

    original_conn_exit = AsyncConnection.__aexit__

    async def conn_exit(self: Any, *exc: Any) -> Any:
        started = _perf()
        try:
            return await original_conn_exit(self, *exc)
        finally:
            if in_write["active"]:
                TIMES["release"].append(_perf() - started)

    AsyncConnection.__aexit__ = conn_exit  # type: ignore[method-assign]

    # The engine's pool checkout (pool_pre_ping runs here on PostgreSQL)
    original_connect = AsyncConnection.start

    async def start(self: Any, *args: Any, **kwargs: Any) -> Any:
        started = _perf()
        try:
            return await original_connect(self, *args, **kwargs)
        finally:
            if in_write["active"]:
                TIMES["checkout"].append(_perf() - started)

    AsyncConnection.start = start  # type: ignore[method-assign]

    # An event-loop lag ticker, started with the app's lifespan.
    import oversight.api

    build = oversight.api.create_app

    def create_app(*args: Any, **kwargs: Any) -> Any:
        app = build(*args, **kwargs)
        original_lifespan = app.router.lifespan_context

        def lifespan(application: Any) -> Any:
            class Wrapped:
                async def __aenter__(self) -> Any:
                    self.inner = original_lifespan(application)
                    state = await self.inner.__aenter__()
                    self.ticker = asyncio.create_task(_ticker())
                    import gc

                    gc.callbacks.append(_gc_callback)
                    return state

                async def __aexit__(self, *exc: Any) -> Any:
                    self.ticker.cancel()
                    return await self.inner.__aexit__(*exc)

            return Wrapped()

        app.router.lifespan_context = lifespan
        return app

    oversight.api.create_app = create_app  # serve imports it from oversight.api when it runs


_gc_started = [0.0]


def _gc_callback(phase: str, info: dict[str, int]) -> None:
    if phase == "start":
        _gc_started[0] = _perf()
    else:
        TIMES[f"gc gen{info['generation']}"].append(_perf() - _gc_started[0])


async def _ticker() -> None:
    while True:
        started = _perf()
        await asyncio.sleep(0.001)
        TIMES["loop_lag"].append(_perf() - started - 0.001)


def dump() -> None:
    out = os.environ.get("PROXY_TRACE_OUT")
    if not out:
        return
    with open(out, "w") as f:
        json.dump(TIMES, f)


def summary(path: str) -> str:
    """The trace of ``path`` as a table: calls, mean, p50, p90, p99, max in ms."""
    with open(path) as f:
        times = json.load(f)
    lines = [f"{'step':<34} {'calls':>7} {'mean':>7} {'p50':>7} {'p90':>7} {'p99':>7} {'max':>8}"]
    for step, values in sorted(times.items()):
        values = sorted(values)
        if not values:
            continue
        n = len(values)
        scale = 1 if step == "batch_size" else 1000

        def q(p: float, values: list[float] = values, n: int = n, scale: int = scale) -> float:
            return values[min(n - 1, max(0, -(-int(p * n) // 100) - 1))] * scale

        lines.append(
            f"{step:<34} {n:7d} {sum(values) / n * scale:7.3f} {q(50):7.3f} {q(90):7.3f} "
            f"{q(99):7.3f} {values[-1] * scale:8.3f}"
        )
    return "\n".join(lines)


def main() -> None:
    if sys.argv[1:2] == ["summary"]:
        print(summary(sys.argv[2]))
        return
    patch()
    atexit.register(dump)
    from oversight.cli import main as oversight_main

    sys.argv = ["oversight", *sys.argv[1:]]
    oversight_main()


if __name__ == "__main__":
    main()
