"""A trained home shared by the end-to-end tests: generated export, ingested, trained, registered."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from core.settings import get_settings
from partnermatch.cli import app

SMALL_CONFIG = """
seed = 7
[ranker]
num_boost_round = 60
min_data_in_leaf = 10
[data]
max_train_opportunities = 400
max_valid_opportunities = 150
alternatives_per_opportunity = 20
[search]
max_candidates_per_role = 8
max_teams_scored = 300
"""


@dataclass(frozen=True)
class TrainedHome:
    home: Path
    export: Path
    env: dict[str, str]


def run_cli(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, (
        f"partnermatch {' '.join(args)} failed:\n{result.output}\n{result.exception!r}"
    )
    return result.output


def _trained_home(tmp_path_factory: pytest.TempPathFactory, embedder: str) -> TrainedHome:
    root = tmp_path_factory.mktemp(f"home-{embedder}")
    # The API's key checks have their own tests (tests/serving); these exercise the ranking path.
    env = {"PM_HOME": str(root / "home"), "PM_EMBEDDER": embedder, "PM_AUTH_DISABLED": "true"}
    # The environment is changed only while the home is built: a session fixture must not leak it into
    # the tests that run after it (they set it again per test through `in_home`).
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        mp.delenv("PM_DATABASE_URL", raising=False)
        for key, value in env.items():
            mp.setenv(key, value)
        get_settings.cache_clear()
        export = root / "export"
        config = root / "train.toml"
        config.write_text(SMALL_CONFIG)
        run_cli(
            "generate", "--partners", "240", "--opportunities", "2500", "--seed", "3", "--out", str(export)
        )
        run_cli("ingest", str(export))
        # --force: these tests need a served champion, whatever the small model scores against the baselines
        # (the gate has its own tests: tests/training/test_promotion.py, tests/integration/test_promotion.py).
        run_cli("train", "--config", str(config), "--force")
    get_settings.cache_clear()
    return TrainedHome(home=root / "home", export=export, env=env)


@pytest.fixture(scope="session")
def trained_home(tmp_path_factory: pytest.TempPathFactory) -> TrainedHome:
    """Trained with the fast hashing embedder."""
    return _trained_home(tmp_path_factory, "hashing")


@pytest.fixture(scope="session")
def trained_home_minilm(tmp_path_factory: pytest.TempPathFactory) -> TrainedHome:
    """Trained with the real all-MiniLM-L6-v2 embedder, as `make run` does."""
    return _trained_home(tmp_path_factory, "minilm")


@pytest.fixture()
def in_home(trained_home: TrainedHome, monkeypatch: pytest.MonkeyPatch) -> Iterator[TrainedHome]:
    """Point settings at the trained home for one test."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("PM_DATABASE_URL", raising=False)
    for key, value in trained_home.env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    yield trained_home
    get_settings.cache_clear()


def subprocess_env(home: TrainedHome) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "PM_DATABASE_URL")}
    env.update(home.env)
    return env
