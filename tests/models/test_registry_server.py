"""The registry behind a tracking server: a server that does not answer is named at once, not retried."""

from __future__ import annotations

import pytest

from core.settings import Settings
from models.bundle import BundleError
from models.registry import load_champion, registered_challenger
from tests.servers import free_port


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings whose MLFLOW_TRACKING_URI names a port nothing listens on."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{free_port()}")
    return Settings()


def test_loading_the_champion_from_a_server_that_does_not_answer_says_so(settings: Settings) -> None:
    with pytest.raises(BundleError, match="does not answer") as raised:
        load_champion(settings)
    assert raised.value.public == "the model registry is unreachable"


def test_looking_up_the_challenger_on_a_server_that_does_not_answer_says_so(settings: Settings) -> None:
    with pytest.raises(BundleError, match="does not answer"):
        registered_challenger(settings)
