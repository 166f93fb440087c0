"""The `challenger` alias in a real MLflow registry (a SQLite store in the test's PM_HOME)."""

from __future__ import annotations

from pathlib import Path

import pytest
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from core.settings import REGISTERED_MODEL_NAME, get_settings
from models.registry import registered_challenger
from training import tracking


@pytest.fixture()
def client(tmp_path: Path) -> MlflowClient:
    """A registry holding versions 1 and 2 (no training: only the registry entries matter here)."""
    client = tracking.configure(get_settings())
    client.create_registered_model(REGISTERED_MODEL_NAME)
    for _ in range(2):
        client.create_model_version(REGISTERED_MODEL_NAME, source=str(tmp_path))
    return client


def test_no_challenger_is_set_at_first(client: MlflowClient) -> None:
    assert tracking.challenger_version(client) is None


def test_a_set_challenger_is_read_back(client: MlflowClient) -> None:
    tracking.set_challenger(client, "2")
    assert tracking.challenger_version(client) == "2"


def test_setting_the_challenger_leaves_the_champion_alone(client: MlflowClient) -> None:
    tracking.set_champion(client, "1")
    tracking.set_challenger(client, "2")
    assert tracking.champion_version(client) == "1"


def test_an_unregistered_version_cannot_be_the_challenger(client: MlflowClient) -> None:
    tracking.set_challenger(client, "1")
    with pytest.raises(MlflowException):
        tracking.set_challenger(client, "9")
    assert tracking.challenger_version(client) == "1"


def test_clearing_returns_the_version_it_pointed_at_and_removes_the_alias(client: MlflowClient) -> None:
    tracking.set_challenger(client, "2")
    assert tracking.clear_challenger(client) == "2"
    assert tracking.challenger_version(client) is None


def test_clearing_without_a_challenger_returns_none(client: MlflowClient) -> None:
    assert tracking.clear_challenger(client) is None


def test_the_server_side_lookup_finds_the_challenger_the_tracking_side_set(client: MlflowClient) -> None:
    tracking.set_challenger(client, "2")
    assert registered_challenger(get_settings()) == "2"


def test_the_server_side_lookup_finds_none_in_an_empty_registry() -> None:
    tracking.configure(get_settings())
    assert registered_challenger(get_settings()) is None
