"""`partnermatch mlflow-server`: the exact `mlflow server` command; commands facing a server that is down."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from core.settings import get_settings
from partnermatch.commands.challenger import app as challenger
from partnermatch.commands.mlflow_server import mlflow_server
from partnermatch.commands.promote import promote, rollback
from tests.partnermatch.commands.cli import run_command
from tests.servers import free_port


def test_mlflow_server_runs_postgresql_through_the_installed_psycopg_driver() -> None:
    code, output = run_command(
        mlflow_server, "--database-url", "postgresql://mlflow@db/mlflow", "--artifacts", "/a", "--print-only"
    )
    assert code == 0, output
    assert "--backend-store-uri postgresql+psycopg://mlflow@db/mlflow" in output


def test_mlflow_server_serves_the_artifacts_from_an_absolute_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, output = run_command(
        mlflow_server, "--database-url", "postgresql://db/m", "--artifacts", "art", "--print-only"
    )
    assert code == 0, output
    assert f"--serve-artifacts --artifacts-destination {tmp_path / 'art'} " in output


def test_mlflow_server_never_prints_the_database_password() -> None:
    code, output = run_command(
        mlflow_server, "--database-url", "postgresql://u:s3cret@db/m", "--artifacts", "/a", "--print-only"
    )
    assert code == 0, output
    assert "s3cret" not in output


@pytest.fixture
def server_down(monkeypatch: pytest.MonkeyPatch) -> str:
    """MLFLOW_TRACKING_URI names a port nothing listens on."""
    uri = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    get_settings.cache_clear()
    return uri


def test_rollback_says_the_tracking_server_does_not_answer(server_down: str) -> None:
    code, output = run_command(rollback)
    assert code == 1
    assert f"the MLflow tracking server at {server_down} does not answer" in output


def test_promote_says_the_tracking_server_does_not_answer(server_down: str) -> None:
    code, output = run_command(promote, "--version", "2")
    assert code == 1
    assert f"the MLflow tracking server at {server_down} does not answer" in output


@pytest.mark.parametrize("args", [("set", "2"), ("clear",), ("show",)], ids=["set", "clear", "show"])
def test_challenger_says_the_tracking_server_does_not_answer(server_down: str, args: tuple[str, ...]) -> None:
    result = CliRunner().invoke(challenger, list(args), terminal_width=400)
    assert result.exit_code == 1
    assert f"the MLflow tracking server at {server_down} does not answer" in result.output
