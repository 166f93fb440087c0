"""Evaluate, promote (gated) and roll back through the CLI, on a home of its own."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from mlflow import MlflowClient
from typer.testing import CliRunner

from core.settings import CHAMPION_ALIAS, REGISTERED_MODEL_NAME, get_settings
from partnermatch.commands.evaluate import evaluate
from partnermatch.commands.promote import promote, rollback
from tests.configs import loose_gate_training
from tests.integration.conftest import run_cli

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def two_versions(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    root = tmp_path_factory.mktemp("promotion")
    config = root / "train.toml"
    config.write_text(loose_gate_training())
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        mp.delenv("PM_DATABASE_URL", raising=False)
        mp.setenv("PM_HOME", str(root / "home"))
        mp.setenv("PM_EMBEDDER", "hashing")
        get_settings.cache_clear()
        export = root / "export"
        run_cli("generate", "--partners", "90", "--opportunities", "900", "--seed", "4", "--out", str(export))
        run_cli("ingest", str(export))
        # The export's truth makes the first model's gate read the true win probability (the loose
        # bounds above pass it); version 2 goes through `promote` below.
        run_cli("train", "--config", str(config), "--export", str(export))
        run_cli("train", "--config", str(config), "--export", str(export))
    # Outside the context: the module's tests set their environment themselves (`home`).
    get_settings.cache_clear()
    yield config, export


@pytest.fixture()
def home(two_versions: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, Path]]:
    config, export = two_versions
    monkeypatch.setenv("PM_HOME", str(config.parent / "home"))
    monkeypatch.setenv("PM_EMBEDDER", "hashing")
    get_settings.cache_clear()
    yield config, export
    get_settings.cache_clear()


def _invoke(command, *args: str) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    import typer

    app = typer.Typer()
    app.command()(command)
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def _champion() -> str:
    client = MlflowClient(tracking_uri=get_settings().mlflow_tracking_uri)
    return str(client.get_model_version_by_alias(REGISTERED_MODEL_NAME, CHAMPION_ALIAS).version)


def test_evaluate_writes_a_report_with_baselines_and_ground_truth(
    home: tuple[Path, Path], tmp_path: Path
) -> None:
    config, export = home
    code, output = _invoke(evaluate, "--config", str(config), "--export", str(export), "--out", str(tmp_path))
    assert code == 0, output
    report = json.loads((tmp_path / "evaluation.json").read_text())
    assert {"model", "random", "most_earlier_wins", "most_active", "prm_rules"} <= set(report["methods"])
    assert report["imitation_metrics"]["names"] == ["ndcg_at_5", "recall_at_5", "mrr"]
    assert report["replay"]["methods"]["model"]["matched"] >= 0
    assert report["truth"]["oracle_mean"] > 0
    assert (tmp_path / "reliability.png").is_file()


def test_promote_then_rollback_restores_the_first_champion(home: tuple[Path, Path]) -> None:
    config, export = home
    assert _champion() == "1"
    code, output = _invoke(promote, "--version", "2", "--config", str(config), "--export", str(export))
    assert code == 0, output
    assert _champion() == "2"
    code, output = _invoke(rollback)
    assert code == 0, output
    assert _champion() == "1"


def test_promote_refuses_a_candidate_below_the_gate(home: tuple[Path, Path], tmp_path: Path) -> None:
    config, export = home
    strict = tmp_path / "strict.toml"
    loose = "min_lift_true_win_probability = -1.0"
    strict.write_text(config.read_text().replace(loose, "min_lift_true_win_probability = 2.0"))
    before = _champion()
    code, output = _invoke(promote, "--version", "2", "--config", str(strict), "--export", str(export))
    assert code == 3, output
    assert _champion() == before
