"""The learning loop with real processes: serve, recommend, post outcomes and feedback, retrain, reload."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pandas as pd
import pytest

from features import schema as s
from features.store import Store
from partnermatch.commands.train import train
from tests.partnermatch.commands.cli import run_command
from tests.servers import free_port, wait_until_ready
from tests.training.retrain_homes import RetrainHome, build_home

pytestmark = pytest.mark.integration

# Later deals of the export the served model never saw: recommended, then reported through the API.
LATER_DEALS = 12
READY_SECONDS = 120.0
RELOAD_SECONDS = 60.0


@dataclass(frozen=True)
class Server:
    url: str
    env: dict[str, str]


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> RetrainHome:
    """The early deals ingested and a first model trained and promoted (as `make run` would)."""
    home = build_home(tmp_path_factory.mktemp("loop"))
    env = _env(home)
    with pytest.MonkeyPatch.context() as mp:
        for key in [k for k in os.environ if k.startswith("PM_") or k == "MLFLOW_TRACKING_URI"]:
            mp.delenv(key)
        for key, value in env.items():
            mp.setenv(key, value)
        from core.settings import get_settings

        get_settings.cache_clear()
        code, output = run_command(
            train, "--config", str(home.config), "--export", str(home.export), "--force"
        )
        get_settings.cache_clear()
    assert code == 0, output
    return home


def _env(home: RetrainHome) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PM_") and k != "MLFLOW_TRACKING_URI"}
    env.update(
        PM_HOME=str(home.settings.home),
        PM_EMBEDDER="hashing",
        PM_AUTH_DISABLED="true",
        PM_EVENT_POLL_SECONDS="0.5",
        PM_SHADOW_SAMPLE_RATE="1.0",
    )
    return env


@pytest.fixture(scope="module")
def server(home: RetrainHome) -> Iterator[Server]:
    env = _env(home)
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "partnermatch.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(url, proc, READY_SECONDS)
        yield Server(url, env)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _later_deals(home: RetrainHome) -> pd.DataFrame:
    """Closed partner deals of the export the store does not hold yet: the future, for the served model."""
    opps = pd.read_csv(home.export / "opportunities.csv", dtype=str, keep_default_na=False)
    _, known = home.store.known_ids()
    worked = pd.read_csv(home.export / "deal_partners.csv", dtype=str)[s.OPPORTUNITY_ID]
    later = opps[
        ~opps[s.OPPORTUNITY_ID].isin(known)
        & opps[s.OUTCOME].isin([s.WON, s.LOST])
        & opps[s.OPPORTUNITY_ID].isin(worked)
    ]
    return later.sort_values(s.CREATED_AT).head(LATER_DEALS)


def _team(home: RetrainHome, opportunity_id: str) -> list[dict[str, Any]]:
    deals = pd.read_csv(home.export / "deal_partners.csv", dtype=str, keep_default_na=False)
    rows = deals[deals[s.OPPORTUNITY_ID] == opportunity_id]
    return [
        {"partner_id": r[s.PARTNER_ID], "role": r[s.ROLE], "sourced": r[s.SOURCED].lower() == "true"}
        for _, r in rows.iterrows()
    ]


def _model_version(url: str) -> str:
    return str(httpx.get(f"{url}/v1/model", timeout=10).json()["version"])


def _recommend(url: str, deal: pd.Series) -> dict[str, Any]:
    opportunity = {
        "opportunity_id": deal[s.OPPORTUNITY_ID],
        "customer_industry": deal[s.CUSTOMER_INDUSTRY] or None,
        "region": deal[s.REGION] or None,
        "deal_size": float(deal[s.DEAL_SIZE]) if deal[s.DEAL_SIZE] else None,
        "required_skills": [x for x in deal[s.REQUIRED_SKILLS].split(";") if x],
        "description": deal[s.DESCRIPTION],
        "created_at": deal[s.CREATED_AT],
    }
    response = httpx.post(f"{url}/v1/recommendations", json={"opportunity": opportunity, "k": 3}, timeout=60)
    assert response.status_code == 200, response.text
    return dict(response.json())


def _run_loop(home: RetrainHome, server: Server) -> dict[str, Any]:
    """Recommend for the later deals, report their outcomes and rep feedback, retrain in its own process."""
    first_version = _model_version(server.url)
    deals = _later_deals(home)
    for _, deal in deals.iterrows():
        answer = _recommend(server.url, deal)
        outcome = {
            "outcome": deal[s.OUTCOME],
            "closed_at": deal[s.CLOSED_AT],
            "team": _team(home, deal[s.OPPORTUNITY_ID]),
        }
        posted = httpx.post(
            f"{server.url}/v1/opportunities/{deal[s.OPPORTUNITY_ID]}/outcome", json=outcome, timeout=30
        )
        assert posted.status_code == 201, posted.text
        top = answer["teams"][0]
        feedback = {
            "request_id": answer["request_id"],
            "opportunity_id": deal[s.OPPORTUNITY_ID],
            "team": {m["role"]: m["partner_id"] for m in top["members"]},
            "action": "accepted" if deal[s.OUTCOME] == s.WON else "rejected",
            "reason_code": "good_fit" if deal[s.OUTCOME] == s.WON else "customer_preference",
        }
        assert httpx.post(f"{server.url}/v1/feedback", json=feedback, timeout=30).status_code == 201
    retrain = subprocess.run(
        [
            sys.executable,
            "-m",
            "partnermatch.cli",
            "retrain",
            "--config",
            str(home.config),
            "--export",
            str(home.export),
        ],
        env=server.env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    return {"first_version": first_version, "retrain": retrain, "deals": deals}


@pytest.fixture(scope="module")
def loop(home: RetrainHome, server: Server) -> dict[str, Any]:
    return _run_loop(home, server)


def test_outcomes_posted_to_the_api_are_in_the_store_as_closed_deals(
    home: RetrainHome, loop: dict[str, Any]
) -> None:
    deals = loop["deals"].set_index(s.OPPORTUNITY_ID)
    stored = Store(home.settings.store_url).load_tables().opportunities.set_index(s.OPPORTUNITY_ID)
    assert (stored.loc[deals.index, s.OUTCOME] == deals[s.OUTCOME]).all()


def test_retrain_promotes_a_new_version_from_the_reported_deals(loop: dict[str, Any]) -> None:
    retrain = loop["retrain"]
    assert retrain.returncode == 0, retrain.stdout[-3000:] + retrain.stderr[-3000:]
    assert "promoted" in retrain.stdout


def test_the_running_server_reloads_the_promoted_version(server: Server, loop: dict[str, Any]) -> None:
    deadline = time.monotonic() + RELOAD_SECONDS
    while _model_version(server.url) == loop["first_version"] and time.monotonic() < deadline:
        time.sleep(0.5)
    assert _model_version(server.url) != loop["first_version"]


def test_the_performance_report_shows_both_versions(server: Server, loop: dict[str, Any]) -> None:
    test_the_running_server_reloads_the_promoted_version(server, loop)
    _recommend(server.url, loop["deals"].iloc[0])
    report = httpx.get(f"{server.url}/v1/model/performance", timeout=30).json()
    by_version = {v["model_version"]: v for v in report["versions"]}
    first, now = by_version[loop["first_version"]], by_version[_model_version(server.url)]
    assert first["requests"] == LATER_DEALS and now["requests"] == 1
    assert first["feedback_accepted"] + first["feedback_rejected"] == LATER_DEALS
    assert first["outcomes"]["opportunities"] == LATER_DEALS
