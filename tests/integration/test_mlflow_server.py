"""A shared MLflow tracking server on PostgreSQL: train, retrain, rollback, promote and serve against it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
from mlflow import MlflowClient

from core.settings import CHAMPION_ALIAS, REGISTERED_MODEL_NAME
from features import schema as s
from partnermatch.commands.generate import generate
from tests.configs import loose_gate_training
from tests.conftest import POSTGRES_HOST, _admin_connection
from tests.partnermatch.commands.cli import run_command
from tests.servers import free_port, wait_until_ready
from training.tracking import EXPERIMENT_NAME, PREVIOUS_ALIAS

pytestmark = [pytest.mark.integration, pytest.mark.postgres]

SERVER_SECONDS = 120.0
RELOAD_SECONDS = 60.0
COMMAND_SECONDS = 600


@dataclass(frozen=True)
class Team:
    """One tracking server and one store shared by a data scientist's machine and a serving machine."""

    tracking_uri: str
    artifacts: Path
    export: Path
    config: Path
    scientist: dict[str, str]  # environment of the machine that trains, promotes and rolls back
    serving: dict[str, str]  # environment of the machine that serves: its own home and bundle cache


@pytest.fixture(scope="module")
def databases() -> Iterator[tuple[str, str]]:
    """Two fresh PostgreSQL databases (MLflow's backend store, partnermatch's store), dropped after."""
    admin = _admin_connection()
    if admin is None:
        pytest.skip(f"PostgreSQL not reachable on {POSTGRES_HOST}")
    conn, user = admin
    names = [f"pm_test_{kind}_{uuid.uuid4().hex[:12]}" for kind in ("mlflow", "store")]
    for name in names:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield (
            f"postgresql://{user}@{POSTGRES_HOST}/{names[0]}",
            f"postgresql+psycopg://{user}@{POSTGRES_HOST}/{names[1]}",
        )
    finally:
        for name in names:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.close()


@pytest.fixture(scope="module")
def team(tmp_path_factory: pytest.TempPathFactory, databases: tuple[str, str]) -> Iterator[Team]:
    """`partnermatch mlflow-server` running on a free port; the export generated and ingested."""
    root = tmp_path_factory.mktemp("mlflow-team")
    mlflow_db, store_url = databases
    port = free_port()
    log = root / "mlflow-server.log"
    with log.open("wb") as out:
        # Its own process group: `mlflow server` runs uvicorn as a child, and both are stopped together.
        proc = subprocess.Popen(
            [sys.executable, "-m", "partnermatch.cli", "mlflow-server", "--database-url", mlflow_db,
             "--artifacts", str(root / "artifacts"), "--port", str(port), "--workers", "1"],
            env=_clean_env(),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        export, config = root / "export", root / "train.toml"
        # Generated while the server starts.
        code, output = run_command(
            generate, "--partners", "60", "--opportunities", "600", "--seed", "4", "--out", str(export)
        )
        assert code == 0, output
        config.write_text(loose_gate_training())
        url = f"http://127.0.0.1:{port}"
        wait_until_ready(url, proc, SERVER_SECONDS, log=log, path="/health")
        shared = {
            "PM_EMBEDDER": "hashing",
            "PM_DATABASE_URL": store_url,
            "MLFLOW_TRACKING_URI": url,
            "PM_AUTH_DISABLED": "true",
            "PM_EVENT_POLL_SECONDS": "0.5",
        }
        found = Team(
            tracking_uri=url,
            artifacts=root / "artifacts",
            export=export,
            config=config,
            scientist=_clean_env(PM_HOME=str(root / "scientist"), **shared),
            serving=_clean_env(PM_HOME=str(root / "serving"), **shared),
        )
        _succeeds(_partnermatch(found.scientist, "ingest", str(export)))
        yield found
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)


def _clean_env(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PM_", "MLFLOW_"))}
    env.update(values)
    return env


def _partnermatch(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "partnermatch.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=COMMAND_SECONDS,
    )


def _succeeds(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, f"{' '.join(done.args[3:])}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def _model_version(url: str) -> str:
    return str(httpx.get(f"{url}/v1/model", timeout=10).json()["version"])


def _wait_for_version(url: str, old: str) -> str:
    deadline = time.monotonic() + RELOAD_SECONDS
    while _model_version(url) == old and time.monotonic() < deadline:
        time.sleep(0.5)
    return _model_version(url)


def _recommend(url: str, export: Path) -> dict[str, Any]:
    deal = pd.read_csv(export / "opportunities.csv", dtype=str, keep_default_na=False).iloc[-1]
    opportunity = {
        "customer_industry": deal[s.CUSTOMER_INDUSTRY] or None,
        "region": deal[s.REGION] or None,
        "required_skills": [x for x in deal[s.REQUIRED_SKILLS].split(";") if x],
        "description": deal[s.DESCRIPTION],
    }
    response = httpx.post(f"{url}/v1/recommendations", json={"opportunity": opportunity, "k": 3}, timeout=60)
    assert response.status_code == 200, response.text
    return dict(response.json())


@pytest.fixture(scope="module")
def loop(team: Team) -> dict[str, Any]:
    """The team's loop: train v1 on one machine, serve it on another, retrain (v2, promoted, reloaded),
    recommend, roll back (reload: v1), promote v2 again through the gate."""
    seen: dict[str, Any] = {}
    config = ("--config", str(team.config), "--export", str(team.export))
    _succeeds(_partnermatch(team.scientist, "train", *config, "--force"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "partnermatch.cli", "serve", "--port", str(port)],
        env=team.serving,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_until_ready(url, server, SERVER_SECONDS)
        seen["served_first"] = _model_version(url)
        seen["retrain"] = _partnermatch(team.scientist, "retrain", *config, "--always-train")
        seen["reloaded"] = _wait_for_version(url, seen["served_first"])
        seen["answer"] = _recommend(url, team.export)
        seen["rollback"] = _partnermatch(team.scientist, "rollback")
        seen["after_rollback"] = httpx.post(f"{url}/v1/admin/reload", timeout=120).json()
    finally:
        server.terminate()
        server.wait(timeout=30)
    seen["promote"] = _partnermatch(team.scientist, "promote", "--version", seen["reloaded"], *config)
    client = MlflowClient(tracking_uri=team.tracking_uri)
    seen["aliases"] = dict(client.get_registered_model(REGISTERED_MODEL_NAME).aliases)
    experiment = client.get_experiment_by_name(EXPERIMENT_NAME)
    seen["artifact_location"] = experiment.artifact_location if experiment else None
    return seen


def test_training_stores_the_model_files_on_the_server_not_on_the_training_machine(
    team: Team, loop: dict[str, Any]
) -> None:
    assert str(loop["artifact_location"]).startswith("mlflow-artifacts:")
    assert list(team.artifacts.rglob("MLmodel"))
    assert not (Path(team.scientist["PM_HOME"]) / "mlartifacts").exists()


def test_a_serving_machine_downloads_the_champion_through_the_server(
    team: Team, loop: dict[str, Any]
) -> None:
    assert loop["served_first"] == "1"
    assert (Path(team.serving["PM_HOME"]) / "bundles" / "v1" / "artifacts").is_dir()


def test_retrain_promotes_a_new_version_and_the_running_server_reloads_it(loop: dict[str, Any]) -> None:
    _succeeds(loop["retrain"])
    assert loop["reloaded"] == "2"


def test_the_promoted_model_answers_a_recommendation(loop: dict[str, Any]) -> None:
    assert loop["answer"]["model_version"] == "2"
    assert loop["answer"]["teams"]


def test_rollback_moves_the_champion_back_and_a_reload_serves_it(loop: dict[str, Any]) -> None:
    assert "from version 2 to version 1" in _succeeds(loop["rollback"])
    assert loop["after_rollback"]["model_version"] == "1"


def test_promote_through_the_gate_makes_the_newer_version_champion_again(loop: dict[str, Any]) -> None:
    assert "version 2 is the champion" in _succeeds(loop["promote"])
    assert loop["aliases"] == {CHAMPION_ALIAS: "2", PREVIOUS_ALIAS: "1"}
