"""Adapters are looked up by name, so that ``oversight`` never imports ``adapters`` at
module level and each adapter can be read and replaced alone (DESIGN.md, 'Layout')."""

from __future__ import annotations

import importlib
from typing import Any, Protocol

WEBHOOK_DELIVERY = "adapters.webhooks:WebhookDelivery"
HTTP_PROXY = "adapters.http_proxy:HttpProxy"
LOAD_ROUTES = "adapters.routes:load_routes"
KAFKA_WORKER = "adapters.kafka:KafkaWorker"
KAFKA_TOPICS = "adapters.kafka:KafkaTopics"


class BackgroundService(Protocol):
    """Something the application starts after the database opens and stops before it
    closes (a delivery worker, a proxy's connection pool)."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


def load(reference: str) -> Any:
    """``"package.module:attribute"`` → the attribute."""
    module_name, _, attribute = reference.partition(":")
    return getattr(importlib.import_module(module_name), attribute)
