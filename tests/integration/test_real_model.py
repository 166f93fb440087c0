"""The end-to-end path with the real embedding model (all-MiniLM-L6-v2, offline), as `make run` uses it."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from core.settings import get_settings
from serving.app import create_app
from tests.integration.conftest import TrainedHome

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture()
def in_minilm_home(trained_home_minilm: TrainedHome, monkeypatch: pytest.MonkeyPatch) -> TrainedHome:
    for key, value in trained_home_minilm.env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    return trained_home_minilm


def test_a_model_trained_with_the_real_embedder_serves_teams(in_minilm_home: TrainedHome) -> None:
    request = {
        "opportunity": {
            "region": "north-america",
            "description": "Retailer wants to move its on-premise datacentre to AWS and modernise its apps",
        },
        "k": 5,
    }
    with TestClient(create_app()) as client:
        model = client.get("/v1/model").json()
        response = client.post("/v1/recommendations", json=request)
    assert "MiniLM" in model["embedder_id"]
    assert response.status_code == 200
    assert len(response.json()["teams"]) == 5
