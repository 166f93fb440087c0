"""Property-based checks over the OpenAPI schema: no valid input makes the API answer 5xx."""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.core.result import Ok

from core.settings import Settings
from serving.app import create_app
from serving.auth import create_key
from core.settings import ServingSettings
from serving.persistence import ApiStore
from tests.serving.conftest import ServedModel, fixed_loader

pytestmark = pytest.mark.integration

EXAMPLES_PER_OPERATION = 8
# Reload downloads from MLflow and a batch ranks up to 100 opportunities: covered by their own tests.
SKIPPED = r"^/v1/(admin/reload|recommendations:batch)$"


def test_no_valid_request_gets_a_server_error(served_model: ServedModel, tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'api.db'}"
    store = ApiStore.open(database)
    _, key = create_key(store, "schemathesis", ["read", "write", "admin"])
    app = create_app(
        Settings(home=served_model.settings.home, embedder="hashing", database_url=database),
        fixed_loader(served_model.model),
        ServingSettings(rate_limit_per_minute=1_000_000),
    )
    failures: list[str] = []
    statuses: list[int] = []
    with TestClient(app):  # runs the lifespan once; schemathesis then calls the started app
        schema = schemathesis.openapi.from_asgi("/openapi.json", app).exclude(path_regex=SKIPPED)
        for result in schema.get_all_operations():
            assert isinstance(result, Ok), result
            operation = result.ok()

            @given(case=operation.as_strategy())
            @settings(
                max_examples=EXAMPLES_PER_OPERATION,
                deadline=None,
                suppress_health_check=list(HealthCheck),
                database=None,
            )
            def call(case: schemathesis.Case) -> None:
                response = case.call(headers={"X-API-Key": key})
                statuses.append(response.status_code)
                if response.status_code >= 500:
                    failures.append(f"{case.method} {case.formatted_path}: {response.text[:300]}")

            call()
    store.engine.dispose()
    assert failures == []
    assert 200 in statuses and len(statuses) > 20, statuses
