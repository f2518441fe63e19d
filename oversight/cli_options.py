"""What every ``oversight`` command shares: the common options, settings from flags and
environment, and how errors end a command (stderr, exit 2)."""

from __future__ import annotations

import asyncio
import gc
import logging
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import click

from oversight.errors import OversightError
from oversight.settings import Settings

T = TypeVar("T")
db_option = click.option(
    "--db",
    "db",
    default=None,
    metavar="URL",
    help="sqlite:///path.db or postgresql://user@host:5432/db [env OVERSIGHT_DB]",
)


policy_option = click.option(
    "--policy",
    type=click.Path(path_type=Path),
    default=None,
    help="Policy YAML file [env OVERSIGHT_POLICY]",
)
log_level_option = click.option("--log-level", default=None, help="debug, info, warning, error")


def long_running(settings: Settings) -> None:
    """What a server or worker process needs before it starts: logging, a policy, and
    fewer young-generation collections (requests make many short-lived objects)."""
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(levelname)s %(name)s: %(message)s"
    )
    if settings.policy is None:
        raise click.UsageError("Give the policy file: --policy FILE or OVERSIGHT_POLICY.")
    gc.set_threshold(50_000, 20, 20)


def settings_from(**flags: Any) -> Settings:
    """Flags win over OVERSIGHT_* environment variables, which win over defaults."""
    try:
        return Settings(**{k: v for k, v in flags.items() if v is not None})
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc


def run(coroutine: Callable[[], Coroutine[Any, Any, T]]) -> T:
    try:
        return asyncio.run(coroutine())
    except OversightError as exc:
        click.echo(f"error: {exc.message}", err=True)
        sys.exit(2)
