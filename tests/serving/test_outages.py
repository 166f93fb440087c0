"""Dependency outages: PostgreSQL or Redis refused or unreachable answer 503 with Retry-After, not 500."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url

from core.settings import ServingSettings, Settings
from serving.app import create_app
from serving.auth import create_key
from serving.persistence import ApiStore
from tests.serving.conftest import ServedModel, fixed_loader, request_body
from tests.serving.faults import FaultProxy, Mode

pytestmark = [pytest.mark.integration, pytest.mark.postgres]

URL = "/v1/recommendations"
REDIS = ("127.0.0.1", 6379)


@dataclass
class OutageApi:
    client: TestClient
    headers: dict[str, str]
    database: FaultProxy
    redis: FaultProxy


@pytest.fixture()
def outage_api(served_model: ServedModel, postgres_url: str) -> Iterator[Any]:
    """`outage_api(**serving_settings)`: an API on PostgreSQL and Redis, each behind a switchable proxy."""
    real = make_url(postgres_url)
    database = FaultProxy(real.host or "127.0.0.1", real.port or 5432)
    redis = FaultProxy(*REDIS)
    clients: list[TestClient] = []

    def build(**config: Any) -> OutageApi:
        url = real.set(host="127.0.0.1", port=database.port).render_as_string(hide_password=False)
        store = ApiStore.open(url)
        _, key = create_key(store, "outage", ["read", "admin"])
        store.engine.dispose()
        settings = Settings(home=served_model.settings.home, embedder="hashing", database_url=url)
        serving = ServingSettings(
            key_cache_seconds=0, redis_url=f"redis://127.0.0.1:{redis.port}/15", **config
        )
        client = TestClient(create_app(settings, fixed_loader(served_model.model), serving))
        client.__enter__()
        clients.append(client)
        return OutageApi(client, {"X-API-Key": key}, database, redis)

    yield build
    for client in clients:
        client.__exit__(None, None, None)
    database.close()
    redis.close()


@pytest.mark.parametrize("mode", ["refused", "unreachable"])
def test_a_database_outage_answers_503_with_retry_after(outage_api: Any, mode: Mode) -> None:
    api = outage_api()
    api.database.set(mode)
    response = api.client.post(URL, json=request_body(), headers=api.headers)
    assert response.status_code == 503
    assert response.json()["code"] == "database_unavailable" and response.headers["Retry-After"] == "5"


@pytest.mark.parametrize("mode", ["refused", "unreachable"])
def test_readiness_is_false_while_the_database_is_down(outage_api: Any, mode: Mode) -> None:
    api = outage_api()
    assert api.client.get("/health/ready").status_code == 200
    api.database.set(mode)
    ready = api.client.get("/health/ready")
    assert ready.status_code == 503 and ready.json()["checks"]["database"] == "unavailable"


def test_the_api_answers_again_once_the_database_is_back(outage_api: Any) -> None:
    api = outage_api()
    api.database.set("refused")
    assert api.client.post(URL, json=request_body(), headers=api.headers).status_code == 503
    api.database.set("up")
    assert api.client.post(URL, json=request_body(), headers=api.headers).status_code == 200


@pytest.mark.parametrize("mode", ["refused", "unreachable"])
def test_without_redis_rate_limits_fall_back_to_the_process_by_default(outage_api: Any, mode: Mode) -> None:
    api = outage_api()
    api.redis.set(mode)
    assert api.client.post(URL, json=request_body(), headers=api.headers).status_code == 200
    ready = api.client.get("/health/ready")
    assert ready.status_code == 200 and ready.json()["checks"]["redis"].startswith("degraded")


def test_the_per_process_fallback_still_enforces_the_limit(outage_api: Any) -> None:
    api = outage_api(rate_limit_per_minute=2)
    api.redis.set("refused")
    statuses = [api.client.post(URL, json=request_body(), headers=api.headers).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]


@pytest.mark.parametrize("mode", ["refused", "unreachable"])
def test_without_redis_a_rejecting_limiter_answers_503(outage_api: Any, mode: Mode) -> None:
    api = outage_api(redis_outage="reject")
    api.redis.set(mode)
    response = api.client.post(URL, json=request_body(), headers=api.headers)
    assert response.status_code == 503 and response.headers["Retry-After"] == "5"


def test_readiness_is_false_without_redis_when_the_limiter_rejects(outage_api: Any) -> None:
    api = outage_api(redis_outage="reject")
    api.redis.set("refused")
    ready = api.client.get("/health/ready")
    assert ready.status_code == 503 and ready.json()["checks"]["redis"] == "unavailable"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_against_a_dead_database_exits_with_a_one_line_error(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PM_")}
    env.update(
        PM_HOME=str(tmp_path / "home"),
        PM_DATABASE_URL=f"postgresql+psycopg://postgres:hunter2@127.0.0.1:{_closed_port()}/test",
        COLUMNS="300",
    )
    done = subprocess.run(
        [sys.executable, "-m", "partnermatch.cli", "serve"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = (done.stdout + done.stderr).strip()
    assert done.returncode == 1
    assert output.startswith("error: cannot open the store at postgresql+psycopg://postgres:***@")
    assert len(output.splitlines()) == 1 and "hunter2" not in output
