"""Settings: read once from ``OVERSIGHT_*`` environment variables and CLI flags.

Tests build a ``Settings`` directly and pass it to ``create_app``; nothing reads the
environment after start-up.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///oversight.db"


class Settings(BaseSettings):
    """Everything a running sidecar needs to know, with defaults for a first run."""

    model_config = SettingsConfigDict(env_prefix="OVERSIGHT_", extra="ignore")

    db: str = Field(
        default=DEFAULT_DATABASE_URL,
        description="Database URL: sqlite:///path.db or postgresql://user@host:5432/db",
    )
    policy: Path | None = Field(default=None, description="Path of the policy YAML file")
    subject_key: SecretStr | None = Field(
        default=None,
        description=(
            "Key for pseudonymising subject ids (HMAC-SHA256). When unset, a random key is "
            "made once and kept in the database, so that replicas agree."
        ),
    )
    receipt_key: SecretStr | None = Field(
        default=None,
        description="Key from which worker receipts are derived; kept in the database when unset",
    )
    session_key: SecretStr | None = Field(
        default=None,
        description="Signs the console's session cookies; made once and kept in the "
        "database when unset",
    )
    webhook_secret: SecretStr | None = Field(
        default=None,
        description=(
            "Key of the HMAC-SHA256 signature on outcome webhooks; kept in the database "
            "when unset (print it with `oversight webhooks secret`)"
        ),
    )
    upstream: str | None = Field(
        default=None, description="URL of the AI service to proxy, e.g. http://127.0.0.1:9000"
    )
    routes: Path | None = Field(default=None, description="Routes file for the HTTP proxy")
    upstream_timeout_seconds: float = Field(default=30.0, gt=0)
    kafka_bootstrap: str | None = Field(default=None, description="HOST:PORT of a broker")
    kafka_group: str = "oversight"
    kafka_decisions_topic: str = "oversight.decisions"
    kafka_routed_topic: str = "oversight.routed"
    kafka_outcomes_topic: str = "oversight.outcomes"
    kafka_dlq_topic: str = "oversight.decisions.dlq"
    kafka_batch_size: int = Field(default=500, ge=1, le=10_000)
    kafka_flush_ms: int = Field(default=50, ge=1, le=10_000)
    metrics_port: int | None = Field(
        default=None, ge=1, le=65535, description="Where the Kafka worker serves /metrics"
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    claim_minutes: int = Field(default=15, ge=1, le=24 * 60, description="Review claim lease")
    default_review_sla_hours: int = Field(default=72, ge=1)
    max_body_bytes: int = Field(default=256 * 1024, ge=1024)
    bias_refresh_seconds: float = Field(
        default=2.0,
        gt=0,
        le=3600,
        description="How often the bias checks take in new decisions and recompute",
    )
    batch_max_size: int = Field(
        default=256, ge=1, description="Most decisions written in one transaction"
    )
    batch_max_wait_ms: float = Field(
        default=0.0,
        ge=0,
        description=(
            "How long a batch waits for more decisions. 0: take what is queued; under load "
            "batches grow by themselves while the previous one commits"
        ),
    )
    key_cache_seconds: float = Field(
        default=30.0, ge=0, description="How long a checked API key is trusted without a lookup"
    )
    log_level: str = "info"
