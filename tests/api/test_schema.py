"""schemathesis against the service's own OpenAPI schema, over a real socket:
no response is a 5xx, and every response matches the schema (status, body, type)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import Keys
from tests.servers import serving

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Keys]]:
    with serving(tmp_path_factory.mktemp("schema")) as server:
        yield server


def _key_for(method: str, path: str, keys: Keys) -> str:
    if method == "POST" and path == "/v1/decisions":
        return keys.ingest
    if path.startswith("/v1/reviews") and method == "POST" or path.endswith("/answer"):
        return keys.alice
    return keys.admin


def _fuzz(operation: Any, base_url: str, token: str, calls: dict[str, int]) -> None:
    valid_or_not = operation.as_strategy(generation_mode=GenerationMode.POSITIVE) | (
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE)
    )

    @given(case=valid_or_not)
    @settings(
        max_examples=30, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    def exercise(case: Any) -> None:
        calls[operation.label] = calls.get(operation.label, 0) + 1
        case.call_and_validate(
            base_url=base_url, headers={"Authorization": f"Bearer {token}"}, checks=CHECKS
        )

    exercise()


def test_api_conforms_to_its_schema(live: tuple[str, Keys]) -> None:
    base_url, keys = live
    api = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    operations = [result.ok() for result in api.get_all_operations()]
    assert len(operations) >= 15
    calls: dict[str, int] = {}
    for operation in operations:
        _fuzz(operation, base_url, _key_for(operation.method.upper(), operation.path, keys), calls)
    assert len(calls) == len(operations)
    assert sum(calls.values()) > 10 * len(operations), calls
