"""The API in a real uvicorn process: keys from the store, a recommendation, a hot reload."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from serving.auth import create_key
from serving.persistence import ApiStore
from tests.servers import free_port, wait_until_ready
from tests.serving.conftest import ServedModel, request_body

pytestmark = pytest.mark.integration

READY_SECONDS = 90.0


@pytest.fixture()
def server(served_model: ServedModel, tmp_path: Path) -> Iterator[tuple[str, str]]:
    database = f"sqlite:///{tmp_path / 'api.db'}"
    store = ApiStore.open(database)
    _, key = create_key(store, "uvicorn-test", ["read", "admin"])
    store.engine.dispose()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PM_") and k != "MLFLOW_TRACKING_URI"}
    env.update(PM_HOME=str(served_model.settings.home), PM_EMBEDDER="hashing", PM_DATABASE_URL=database)
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "serving.main:app", "--port", str(port), "--log-level", "warning"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        # Generous: on a busy 2-core machine the model load alone can take tens of seconds.
        wait_until_ready(url, proc, READY_SECONDS)
        yield url, key
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_a_real_server_checks_keys_answers_and_reloads(server: tuple[str, str]) -> None:
    url, key = server
    headers = {"X-API-Key": key}
    assert httpx.post(f"{url}/v1/recommendations", json=request_body(), timeout=30).status_code == 401
    answer = httpx.post(f"{url}/v1/recommendations", json=request_body(), headers=headers, timeout=30)
    assert answer.status_code == 200 and len(answer.json()["teams"]) == 3
    reload = httpx.post(f"{url}/v1/admin/reload", headers=headers, timeout=60)
    assert reload.status_code == 200 and reload.json()["model_version"] == "1"
