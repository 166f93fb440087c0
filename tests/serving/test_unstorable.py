"""A value the store refuses (PostgreSQL keeps no NUL in text) is the request's fault: 422, none written."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from core.settings import ServingSettings, Settings
from serving.app import create_app
from serving.auth import create_key
from serving.persistence import ApiStore
from tests.conftest import _reset_postgres
from tests.serving.conftest import ServedModel, fixed_loader
from tests.serving.test_partners_and_feedback import PARTNER

pytestmark = pytest.mark.postgres


def test_a_partner_name_with_a_nul_character_is_422_on_postgresql(
    postgres_url: str, served_model: ServedModel
) -> None:
    _reset_postgres(postgres_url)
    settings = Settings(home=served_model.settings.home, embedder="hashing", database_url=postgres_url)
    store = ApiStore.open(postgres_url)
    _, key = create_key(store, "nul", ["read", "write"])
    app = create_app(settings, fixed_loader(served_model.model), ServingSettings(key_cache_seconds=0))
    with TestClient(app) as client:
        headers = {"X-API-Key": key}
        response = client.put(
            "/v1/partners/NUL-1", json={**PARTNER, "name": "North\x00wind"}, headers=headers
        )
        assert response.status_code == 422 and response.json()["code"] == "unstorable_value"
        assert client.get("/v1/partners/NUL-1", headers=headers).status_code == 404
    store.engine.dispose()
