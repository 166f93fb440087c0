"""The first end-to-end path: generate, ingest, train, recommend (batch and API) on one trained home."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from core.settings import get_settings
from features import schema as s
from serving.app import create_app
from tests.integration.conftest import TrainedHome, run_cli, subprocess_env

pytestmark = pytest.mark.integration

REQUEST = {
    "opportunity": {
        "customer_industry": "financial-services",
        "region": "emea-north",
        "deal_size": 250000,
        "required_skills": ["aws cloud migration"],
        "description": "Bank wants to exit its datacentre to AWS",
    },
    "k": 3,
}


def _open_opportunities_file(home: TrainedHome, tmp_path: Path) -> tuple[Path, int]:
    opps = pd.read_csv(home.export / "opportunities.csv", dtype=str, keep_default_na=False)
    subset = pd.concat([opps[opps[s.OUTCOME] == s.OPEN].head(5), opps[opps[s.OUTCOME] == s.WON].head(2)])
    path = tmp_path / "opportunities.csv"
    subset.to_csv(path, index=False)
    return path, int((subset[s.OUTCOME] == s.OPEN).sum())


def test_training_registers_a_champion_in_the_home_mlflow_store(in_home: TrainedHome) -> None:
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=get_settings().mlflow_tracking_uri)
    champion = client.get_model_version_by_alias("partner-team-ranker", "champion")
    assert str(champion.version) == "1"


def test_batch_recommend_writes_one_line_per_open_opportunity(in_home: TrainedHome, tmp_path: Path) -> None:
    source, n_open = _open_opportunities_file(in_home, tmp_path)
    out = tmp_path / "recs.jsonl"
    run_cli("recommend", "--opportunities", str(source), "--k", "3", "--output", str(out))
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(lines) == n_open
    assert all(len(line["teams"]) == 3 for line in lines)
    assert [t["rank"] for t in lines[0]["teams"]] == [1, 2, 3]


def test_each_recommended_team_has_one_partner_per_role(in_home: TrainedHome, tmp_path: Path) -> None:
    source, _ = _open_opportunities_file(in_home, tmp_path)
    out = tmp_path / "recs.jsonl"
    run_cli("recommend", "--opportunities", str(source), "--k", "2", "--output", str(out))
    team = json.loads(out.read_text().splitlines()[0])["teams"][0]
    roles = [m["role"] for m in team["members"]]
    assert sorted(roles) == sorted(set(roles)) and set(roles) <= set(s.DEFAULT_ROLES)


def test_the_api_and_the_batch_command_return_the_same_teams(in_home: TrainedHome, tmp_path: Path) -> None:
    source, _ = _open_opportunities_file(in_home, tmp_path)
    out = tmp_path / "recs.jsonl"
    run_cli("recommend", "--opportunities", str(source), "--k", "3", "--output", str(out))
    first = json.loads(out.read_text().splitlines()[0])
    row = pd.read_csv(source, dtype=str, keep_default_na=False).iloc[0]
    body = {
        "opportunity": {
            "opportunity_id": row[s.OPPORTUNITY_ID],
            "customer_industry": row[s.CUSTOMER_INDUSTRY] or None,
            "region": row[s.REGION] or None,
            "deal_size": float(row[s.DEAL_SIZE]) if row[s.DEAL_SIZE] else None,
            "required_skills": [t for t in row[s.REQUIRED_SKILLS].split(";") if t],
            "description": row[s.DESCRIPTION],
            "registered_partner_id": row[s.REGISTERED_PARTNER_ID] or None,
        },
        "k": 3,
    }
    with TestClient(create_app()) as client:
        api = client.post("/v1/recommendations", json=body).json()
    as_ids = lambda teams: [sorted(m["partner_id"] for m in t["members"]) for t in teams]  # noqa: E731
    assert as_ids(api["teams"]) == as_ids(first["teams"])


def test_the_api_answers_a_recommendation_request(in_home: TrainedHome) -> None:
    with TestClient(create_app()) as client:
        response = client.post("/v1/recommendations", json=REQUEST)
    assert response.status_code == 200
    body = response.json()
    assert body["model_version"] == "1" and len(body["teams"]) == 3


def test_the_api_rejects_k_above_the_limit(in_home: TrainedHome) -> None:
    with TestClient(create_app()) as client:
        response = client.post("/v1/recommendations", json={**REQUEST, "k": 51})
    assert response.status_code == 422
    assert "k" in response.json()["detail"][0]["loc"]


def test_readiness_fails_when_no_model_is_registered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PM_HOME", str(tmp_path / "empty-home"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    get_settings.cache_clear()
    with TestClient(create_app()) as client:
        assert client.get("/health/live").status_code == 200
        assert client.get("/health/ready").status_code == 503
        # Auth runs before the model check: an anonymous caller learns nothing about the model's state.
        assert client.post("/v1/recommendations", json=REQUEST).status_code == 401
    get_settings.cache_clear()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_real_uvicorn_server_answers_a_recommendation(in_home: TrainedHome, tmp_path: Path) -> None:
    port = _free_port()
    log_path = tmp_path / "server.log"
    # A file, not a pipe: an unread pipe fills up and blocks the server.
    log = log_path.open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "partnermatch.cli", "serve", "--port", str(port)],
        env=subprocess_env(in_home),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 180  # generous: a loaded CI machine starts slowly
        ready = False
        while not ready and time.monotonic() < deadline and proc.poll() is None:
            try:
                ready = httpx.get(f"{url}/health/ready", timeout=2).status_code == 200
            except httpx.TransportError:
                time.sleep(0.3)
        if not ready:
            proc.terminate()
            proc.wait(timeout=20)
            output = log_path.read_text(errors="replace")
            pytest.fail(f"server never became ready; its output:\n{output[-3000:]}")
        response = httpx.post(f"{url}/v1/recommendations", json=REQUEST, timeout=60)
        assert response.status_code == 200, response.text
        assert len(response.json()["teams"]) == 3
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()
