"""The ``oversight`` command: serve, kafka, keys, audit, fairness, intensity, webhooks, db.

Errors go to stderr with what to do, and exit 2 for configuration problems; results go
to stdout, as JSON with ``--format json`` when a program reads them.
"""

from __future__ import annotations

import asyncio
import gc
import json
import sys
from pathlib import Path

import click

from oversight import audit, server_secrets
from oversight.cli_options import (
    db_option,
    log_level_option,
    long_running,
    policy_option,
    run,
    settings_from,
)
from oversight.clock import utcnow
from oversight.database import create_engine, storage_errors, upgrade
from oversight.errors import ConfigurationError
from oversight.fairness_cli import fairness
from oversight.intensity_cli import intensity
from oversight.keys import ROLES, create_key, revoke_keys
from oversight.policy import load_policy
from oversight.service import prepare_schema
from oversight.settings import Settings


@click.group()
@click.version_option(package_name="oversight-sidecar")
def main() -> None:
    """Human oversight, a tamper-evident audit log and complaints around AI systems
    that manage people at work."""


@main.command()
@db_option
@policy_option
@click.option("--host", default=None, help="Address to listen on [default 127.0.0.1]")
@click.option("--port", type=int, default=None, help="Port to listen on [default 8080]")
@click.option(
    "--upstream",
    default=None,
    metavar="URL",
    help="Proxy other requests to this AI service [env OVERSIGHT_UPSTREAM]",
)
@click.option(
    "--routes",
    type=click.Path(path_type=Path),
    default=None,
    help="Which upstream requests are decisions [env OVERSIGHT_ROUTES]",
)
@log_level_option
def serve(
    db: str | None,
    policy: Path | None,
    host: str | None,
    port: int | None,
    upstream: str | None,
    routes: Path | None,
    log_level: str | None,
) -> None:
    """Run the sidecar's HTTP API (creates the schema of an empty database)."""
    import uvicorn

    from oversight.api import create_app

    settings = settings_from(
        db=db,
        policy=policy,
        host=host,
        port=port,
        upstream=upstream,
        routes=routes,
        log_level=log_level,
    )
    long_running(settings)
    assert settings.policy is not None
    try:
        loaded = load_policy(settings.policy)
        app = create_app(settings, policy=loaded)
    except ConfigurationError as exc:
        click.echo(f"error: {exc.message}", err=True)
        sys.exit(2)
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        proxy_headers=False,
        server_header=False,
    )


@main.command()
@db_option
@policy_option
@click.option(
    "--bootstrap",
    default=None,
    metavar="HOST:PORT",
    help="Kafka broker [env OVERSIGHT_KAFKA_BOOTSTRAP]",
)
@click.option("--group", default=None, help="Consumer group [default oversight]")
@click.option(
    "--metrics-port",
    type=int,
    default=None,
    help="Serve Prometheus metrics on this port [env OVERSIGHT_METRICS_PORT]",
)
@log_level_option
def kafka(
    db: str | None,
    policy: Path | None,
    bootstrap: str | None,
    group: str | None,
    metrics_port: int | None,
    log_level: str | None,
) -> None:
    """Consume decisions from Kafka: record, check, route; publish results and outcomes."""
    settings = settings_from(
        db=db,
        policy=policy,
        kafka_bootstrap=bootstrap,
        kafka_group=group,
        metrics_port=metrics_port,
        log_level=log_level,
    )
    if settings.kafka_bootstrap is None:
        raise click.UsageError(
            "Give the broker: --bootstrap HOST:PORT or OVERSIGHT_KAFKA_BOOTSTRAP."
        )
    long_running(settings)
    run(lambda: _consume(settings))


async def _consume(settings: Settings) -> None:
    import signal

    from prometheus_client import start_http_server

    from oversight import plugins
    from oversight.service import Oversight

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    topics = plugins.load(plugins.KAFKA_TOPICS)(
        decisions=settings.kafka_decisions_topic,
        routed=settings.kafka_routed_topic,
        outcomes=settings.kafka_outcomes_topic,
        dead_letters=settings.kafka_dlq_topic,
    )
    async with Oversight.open(settings) as oversight:
        if settings.metrics_port is not None:
            start_http_server(
                settings.metrics_port, addr=settings.host, registry=oversight.metrics.registry
            )
        worker = plugins.load(plugins.KAFKA_WORKER)(
            oversight,
            bootstrap=settings.kafka_bootstrap,
            group=settings.kafka_group,
            topics=topics,
            batch_size=settings.kafka_batch_size,
            flush_ms=settings.kafka_flush_ms,
        )
        await worker.run(stop)


@main.group()
def keys() -> None:
    """Manage API keys (stored hashed; a key is shown once)."""


@keys.command("create")
@db_option
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--name", required=True, help="For reviewers: the name listed in the policy")
def keys_create(db: str | None, role: str, name: str) -> None:
    """Create a key and print it alone on the last line."""
    settings = settings_from(db=db)

    async def create() -> str:
        engine = create_engine(settings.db)
        try:
            with storage_errors("creating the key"):
                await prepare_schema(engine)
                return await create_key(engine, role=role, name=name, now=utcnow())
        finally:
            await engine.dispose()

    key = run(create)
    click.echo(f"created {role} key for {name!r}; store it now, it is not shown again:", err=True)
    click.echo(key)


@keys.command("revoke")
@db_option
@click.option("--key", default=None, help="The key itself")
@click.option("--name", default=None, help="Revoke every key of this name")
def keys_revoke(db: str | None, key: str | None, name: str | None) -> None:
    """Revoke a key, or all keys of a name (for rotation: create the new key first)."""
    settings = settings_from(db=db)

    async def revoke() -> int:
        engine = create_engine(settings.db)
        try:
            with storage_errors("revoking the key"):
                await prepare_schema(engine)
                return await revoke_keys(engine, now=utcnow(), key=key, name=name)
        finally:
            await engine.dispose()

    click.echo(f"revoked {run(revoke)} key(s)")


@main.group("audit")
def audit_group() -> None:
    """Check the tamper-evident audit log."""


@audit_group.command("verify")
@db_option
@click.option("--format", "output", type=click.Choice(["text", "json"]), default="text")
def audit_verify(db: str | None, output: str) -> None:
    """Walk the hash chain; exit 0 when intact, 1 naming the first bad entry."""
    settings = settings_from(db=db)
    show_progress = output == "text" and sys.stderr.isatty()

    async def verify() -> audit.VerifyResult:
        gc.disable()  # the walk makes millions of short-lived rows and no cycles
        engine = create_engine(settings.db)
        try:
            with storage_errors("verifying the audit log"):
                if not show_progress:
                    return await audit.verify(engine)
                from rich.progress import Progress

                with Progress(transient=True) as progress:
                    task = progress.add_task("verifying", total=None)

                    def advance(done: int, total: int) -> None:
                        progress.update(task, completed=done, total=total)

                    return await audit.verify(engine, progress=advance)
        finally:
            await engine.dispose()

    result = run(verify)
    if output == "json":
        click.echo(
            json.dumps(
                {
                    "ok": result.ok,
                    "entries": result.entries,
                    "head": result.head,
                    "first_bad_entry": result.first_bad_entry,
                    "reason": result.reason,
                }
            )
        )
    elif result.ok:
        click.echo(f"audit chain intact: {result.entries} entries, head {result.head}")
    else:
        click.echo(
            f"audit chain BROKEN at entry {result.first_bad_entry}: {result.reason} "
            f"({result.entries} entries recorded)"
        )
    sys.exit(0 if result.ok else 1)


@main.group()
def webhooks() -> None:
    """Outcome webhooks."""


@webhooks.command("secret")
@db_option
def webhooks_secret(db: str | None) -> None:
    """Print the key that signs outcome webhooks (OVERSIGHT_WEBHOOK_SECRET when set)."""
    settings = settings_from(db=db)

    async def read() -> bytes:
        engine = create_engine(settings.db)
        try:
            with storage_errors("reading the webhook secret"):
                await prepare_schema(engine)
                return await server_secrets.webhook_secret(engine, settings.webhook_secret)
        finally:
            await engine.dispose()

    click.echo(run(read).decode())


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@db_option
def db_upgrade(db: str | None) -> None:
    """Migrate the schema to this version (safe with several processes)."""
    settings = settings_from(db=db)

    async def migrate() -> None:
        engine = create_engine(settings.db)
        try:
            with storage_errors("upgrading the schema"):
                await upgrade(engine)
        finally:
            await engine.dispose()

    run(migrate)
    click.echo("database schema is up to date")


main.add_command(fairness)
main.add_command(intensity)
