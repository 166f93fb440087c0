"""Two API replicas (separate `serve` processes) on one PostgreSQL store stay consistent: partner changes
and reloads made through one reach the other through the store's serving-events table."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.settings import get_settings
from serving.auth import create_key
from serving.persistence import ApiStore
from tests.conftest import _admin_connection
from tests.integration.conftest import SMALL_CONFIG, run_cli
from tests.servers import free_port, wait_until_ready
from tests.serving.conftest import OPPORTUNITY

pytestmark = [pytest.mark.integration, pytest.mark.postgres]

POLL_SECONDS = 0.5  # each replica replays the other's events this often
SYNC_SECONDS = 60.0  # how long a change may take to reach the other replica here (a loaded machine)
READY_SECONDS = 180.0
# Roles of the small home are above this, so both replicas serve memory-mapped approximate indexes and
# partner sync goes through their in-memory delta.
INDEX_EXACT_MAX = 20


def partner(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "partner_type": "services",
        "tier": "gold",
        "regions": ["emea-north"],
        "industries": ["financial-services"],
        "skills": ["aws cloud migration"],
        "capacity": 5,
    }


@dataclass(frozen=True)
class Replica:
    name: str
    url: str
    headers: dict[str, str]
    pid: int

    def get(self, path: str) -> httpx.Response:
        return httpx.get(f"{self.url}{path}", headers=self.headers, timeout=60)

    def send(self, method: str, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
        return httpx.request(method, f"{self.url}{path}", json=body, headers=self.headers, timeout=60)

    def serves(self, partner_id: str) -> bool:
        """Whether this replica's loaded model can rank the partner now (GET /v1/partners/{id})."""
        response = self.get(f"/v1/partners/{partner_id}")
        return response.status_code == 200 and bool(response.json()["served"])

    def version(self) -> str:
        return str(self.get("/v1/model").json()["version"])


def eventually(check: Callable[[], bool], seconds: float = SYNC_SECONDS) -> bool:
    """Whether `check` holds within `seconds` (asked every POLL_SECONDS)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(POLL_SECONDS)
    return check()


@pytest.fixture(scope="module")
def database() -> Iterator[str]:
    """A fresh PostgreSQL database of its own, dropped after the module."""
    admin = _admin_connection()
    if admin is None:
        pytest.skip("PostgreSQL not reachable on 127.0.0.1:5432")
    conn, user = admin
    name = f"pm_two_servers_{uuid.uuid4().hex[:12]}"
    conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://{user}@127.0.0.1:5432/{name}"
    finally:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.close()


@dataclass(frozen=True)
class TrainedStore:
    """A small export ingested into the database and version 1 trained on it, the champion."""

    root: Path
    env: dict[str, str]

    def cli(self, *args: str) -> str:
        with pytest.MonkeyPatch.context() as mp:
            for key in [k for k in os.environ if k.startswith("PM_") or k == "MLFLOW_TRACKING_URI"]:
                mp.delenv(key)
            for key, value in self.env.items():
                mp.setenv(key, value)
            get_settings.cache_clear()
            try:
                return run_cli(*args)
            finally:
                get_settings.cache_clear()

    def promote_new_version(self) -> str:
        """Register the champion's model again as a new version and make that the champion."""
        from mlflow import MlflowClient

        from core.settings import REGISTERED_MODEL_NAME
        from training import tracking

        # Named explicitly: MLflow's process-wide URIs may still point at another test's home.
        uri = self.env["MLFLOW_TRACKING_URI"]
        client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        champion = client.get_model_version(REGISTERED_MODEL_NAME, str(tracking.champion_version(client)))
        copy = client.create_model_version(REGISTERED_MODEL_NAME, champion.source, champion.run_id)
        tracking.promote(client, str(copy.version), "two-servers test: a new champion")
        return str(copy.version)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, database: str) -> TrainedStore:
    root = tmp_path_factory.mktemp("two-servers")
    home = root / "training-home"
    store = TrainedStore(
        root,
        {
            "PM_HOME": str(home),
            "PM_EMBEDDER": "hashing",
            "PM_DATABASE_URL": database,
            "PM_INDEX_EXACT_MAX": str(INDEX_EXACT_MAX),
            # The replicas have homes of their own; the registry is the training home's.
            "MLFLOW_TRACKING_URI": f"sqlite:///{home / 'mlflow.db'}",
        },
    )
    export, config = root / "export", root / "train.toml"
    config.write_text(SMALL_CONFIG)
    store.cli("generate", "--partners", "240", "--opportunities", "2500", "--seed", "3", "--out", str(export))
    store.cli("ingest", str(export))
    # --force: these tests need a served version whatever the small model scores (the gate has its tests).
    store.cli("train", "--config", str(config), "--force")
    return store


@pytest.fixture(scope="module")
def replicas(trained: TrainedStore, database: str) -> Iterator[tuple[Replica, Replica]]:
    """Two `partnermatch serve` processes, each with its own home and port, on the same database."""
    api_store = ApiStore.open(database)
    _, key = create_key(api_store, "two-servers", ["read", "write", "admin"])
    api_store.engine.dispose()
    procs: list[subprocess.Popen[bytes]] = []
    out: list[Replica] = []
    try:
        for name in ("a", "b"):
            port = free_port()
            env = {k: v for k, v in os.environ.items() if not k.startswith("PM_")}
            env.update(
                trained.env,
                PM_HOME=str(trained.root / f"replica-{name}"),
                PM_EVENT_POLL_SECONDS=str(POLL_SECONDS),
                PM_SHADOW_ENABLED="false",
            )
            log = trained.root / f"replica-{name}.log"
            with log.open("wb") as handle:  # a file, not a pipe: an unread pipe blocks the server
                proc = subprocess.Popen(
                    [sys.executable, "-m", "partnermatch.cli", "serve", "--port", str(port)],
                    env=env,
                    stdout=handle,
                    stderr=subprocess.STDOUT,
                )
            procs.append(proc)
            url = f"http://127.0.0.1:{port}"
            wait_until_ready(url, proc, READY_SECONDS, log=log)
            out.append(Replica(name, url, {"X-API-Key": key}, proc.pid))
        yield out[0], out[1]
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=30)


def test_both_replicas_start_on_the_champion(replicas: tuple[Replica, Replica]) -> None:
    assert [r.version() for r in replicas] == ["1", "1"]


def test_each_replica_maps_the_approximate_index_files_of_its_own_bundle(
    replicas: tuple[Replica, Replica],
) -> None:
    maps = [Path(f"/proc/{r.pid}/maps") for r in replicas]
    if not all(m.exists() for m in maps):
        pytest.skip("no /proc/<pid>/maps here")
    for replica, mapped in zip(replicas, maps, strict=True):
        lines = mapped.read_text().splitlines()
        faiss_files = {line.split()[-1] for line in lines if line.endswith(".faiss")}
        assert len(faiss_files) == 3 and all(f"replica-{replica.name}" in f for f in faiss_files)


def test_a_partner_put_through_one_replica_is_served_by_the_other(replicas: tuple[Replica, Replica]) -> None:
    a, b = replicas
    assert a.send("PUT", "/v1/partners/TWO-PUT", partner("Fjord Integrators")).status_code in (200, 201)
    assert eventually(lambda: b.serves("TWO-PUT"))
    body = {"opportunity": OPPORTUNITY, "k": 3, "constraints": {"include": ["TWO-PUT"]}}
    response = b.send("POST", "/v1/recommendations", body)
    assert response.status_code == 200, response.text
    teams = response.json()["teams"]
    assert teams and all("TWO-PUT" in [m["partner_id"] for m in t["members"]] for t in teams)


def test_a_partner_deleted_through_one_replica_is_no_longer_served_by_the_other(
    replicas: tuple[Replica, Replica],
) -> None:
    a, b = replicas
    assert b.send("PUT", "/v1/partners/TWO-DEL", partner("Soon Gone")).status_code in (200, 201)
    assert eventually(lambda: a.serves("TWO-DEL"))
    assert a.send("DELETE", "/v1/partners/TWO-DEL").status_code == 200
    assert eventually(lambda: not b.serves("TWO-DEL"))
    teams = b.send("POST", "/v1/recommendations", {"opportunity": OPPORTUNITY, "k": 5}).json()["teams"]
    assert all(m["partner_id"] != "TWO-DEL" for t in teams for m in t["members"])


@pytest.fixture(scope="module")
def reloaded(trained: TrainedStore, replicas: tuple[Replica, Replica]) -> tuple[Replica, Replica]:
    """A partner synced through replica b, then version 2 made the champion and reloaded through replica a
    only (version 2 registers version 1's model again: a reload test needs a new version, not a new fit)."""
    a, b = replicas
    assert b.send("PUT", "/v1/partners/TWO-KEPT", partner("Kept Across Reloads")).status_code in (200, 201)
    assert eventually(lambda: a.serves("TWO-KEPT"))
    assert trained.promote_new_version() == "2"
    response = a.send("POST", "/v1/admin/reload")
    assert response.status_code == 200, response.text
    return a, b


def test_a_reload_through_one_replica_reaches_the_other(reloaded: tuple[Replica, Replica]) -> None:
    a, b = reloaded
    assert a.version() == "2"
    assert eventually(lambda: b.version() == "2")


def test_partners_synced_before_a_reload_are_served_by_both_replicas_after_it(
    reloaded: tuple[Replica, Replica],
) -> None:
    a, b = reloaded
    assert eventually(lambda: b.version() == "2")
    assert a.serves("TWO-KEPT") and b.serves("TWO-KEPT")
