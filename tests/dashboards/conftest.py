"""The sidecar application the pages' tests use: its /metrics is the scrape the
dashboards' expressions are checked against."""

from tests.pages.conftest import app_client

__all__ = ["app_client"]
