"""Scheduled retraining on a real store and MLflow registry: first model, refusal, promotion, no-op, lock."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from mlflow import MlflowClient
from sqlalchemy import select

from core.settings import REGISTERED_MODEL_NAME, Settings
from features import job_lock
from features import tables as t
from features.store import Store
from tests.training.retrain_homes import (
    API_DEALS,
    FEEDBACK_ROWS,
    RetrainHome,
    build_home,
    receive_later_data,
)
from training import tracking
from training.config import TrainConfig
from training.data_window import TrainingData
from training.retrain import RETRAIN_LOCK, RetrainOutcome, RetrainStatus, retrain

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def clean_env() -> Iterator[None]:
    """Module fixtures run before the per-test PM_HOME fixture: keep an outer MLflow server out of them."""
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        yield


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory, clean_env: None) -> RetrainHome:
    return build_home(tmp_path_factory.mktemp("retrain"))


def _retrain(home: RetrainHome, config: Path, **kwargs: Any) -> RetrainOutcome:
    return retrain(home.settings, TrainConfig.from_file(config), truth_dir=home.export, **kwargs)


def _champion(settings: Settings) -> str | None:
    return tracking.champion_version(tracking.configure(settings))


@pytest.fixture(scope="module")
def first(home: RetrainHome) -> RetrainOutcome:
    """The first run: no champion yet, the early deals in the store."""
    return _retrain(home, home.config)


@pytest.fixture(scope="module")
def new_closed_deals(first: RetrainOutcome, home: RetrainHome) -> int:
    return receive_later_data(home)


@pytest.fixture(scope="module")
def refused(new_closed_deals: int, home: RetrainHome) -> tuple[RetrainOutcome, str | None]:
    """A run whose gate asks the impossible of the candidate; and the champion right after it."""
    return _retrain(home, home.refusing_config), _champion(home.settings)


@pytest.fixture(scope="module")
def promoted(
    refused: tuple[RetrainOutcome, str | None], home: RetrainHome
) -> tuple[RetrainOutcome, list[str], str | None]:
    """A run on the same new data with the loose gate; the versions it announced, the champion after it."""
    announced: list[str] = []
    outcome = _retrain(home, home.config, on_promoted=announced.append)
    return outcome, announced, _champion(home.settings)


@pytest.fixture(scope="module")
def unchanged(promoted: tuple[RetrainOutcome, list[str], str | None], home: RetrainHome) -> RetrainOutcome:
    """A run after the promotion, with nothing new in the store."""
    return _retrain(home, home.config)


def _row(store: Store, run_id: int | None) -> dict[str, Any]:
    with store.engine.connect() as conn:
        row = conn.execute(select(t.retrain_runs).where(t.retrain_runs.c.id == run_id)).mappings().one()
    return dict(row)


def test_the_first_retrain_promotes_a_candidate_that_beats_the_best_baseline(first: RetrainOutcome) -> None:
    assert first.status is RetrainStatus.PROMOTED
    assert first.candidate == "1" and first.champion is None
    assert first.reasons and all(r.startswith("vs best baseline: ") for r in first.reasons)
    assert first.report["metrics"]["champion"] == {}


def test_the_first_model_records_the_data_it_was_trained_on(first: RetrainOutcome, home: RetrainHome) -> None:
    client = tracking.configure(home.settings)
    run_id = client.get_model_version(REGISTERED_MODEL_NAME, "1").run_id
    assert run_id
    run = client.get_run(run_id)
    seen = TrainingData.from_params(run.data.params)
    assert seen is not None and seen.closed_deals > 0
    assert seen.opportunities >= seen.closed_deals
    assert seen.latest_created_at is not None and seen.first_created_at is not None


def test_retrain_keeps_the_champion_when_the_gate_refuses_the_candidate(
    refused: tuple[RetrainOutcome, str | None],
) -> None:
    outcome, champion_after = refused
    assert outcome.status is RetrainStatus.KEPT
    assert outcome.candidate == "2" and outcome.champion == "1" and champion_after == "1"
    assert any("vs champion" in r and "FAIL" in r for r in outcome.reasons)


def test_retrain_promotes_a_candidate_that_passes_both_gates_and_announces_it(
    promoted: tuple[RetrainOutcome, list[str], str | None],
) -> None:
    outcome, announced, champion_after = promoted
    assert outcome.status is RetrainStatus.PROMOTED
    assert outcome.candidate == "3" and outcome.champion == "1"
    assert champion_after == "3" and announced == ["3"]
    assert outcome.report["reload"] == "asked to reload version 3"


def test_the_report_sets_candidate_and_champion_measures_side_by_side(
    promoted: tuple[RetrainOutcome, list[str], str | None],
) -> None:
    metrics = promoted[0].report["metrics"]
    assert metrics["candidate"] and metrics["candidate"].keys() == metrics["champion"].keys()


def test_the_report_names_the_data_new_since_the_champion(
    promoted: tuple[RetrainOutcome, list[str], str | None], new_closed_deals: int
) -> None:
    data = promoted[0].report["data"]
    assert data["new"]["closed_deals"] == new_closed_deals > 0
    assert data["new"]["closed_deals_from_api"] == API_DEALS
    assert data["new"]["feedback_rows"] == FEEDBACK_ROWS
    assert data["candidate"]["closed_deals"] == data["champion"]["closed_deals"] + new_closed_deals


def test_the_report_is_written_as_json_and_markdown_under_the_home(
    promoted: tuple[RetrainOutcome, list[str], str | None], home: RetrainHome
) -> None:
    outcome = promoted[0]
    json_file, md_file = outcome.report_files
    assert json_file.parent == home.settings.home / "reports" and json_file.name.startswith("retrain-")
    assert json.loads(json_file.read_text())["candidate"] == "3"
    page = md_file.read_text()
    assert (
        f"{outcome.report['data']['new']['closed_deals']} closed deals (of which {API_DEALS} from the API)"
        in page
    )
    assert "| candidate | champion |" in page


def test_the_report_is_logged_on_the_candidates_mlflow_run(
    promoted: tuple[RetrainOutcome, list[str], str | None], home: RetrainHome
) -> None:
    outcome = promoted[0]
    client = MlflowClient(tracking_uri=home.settings.mlflow_tracking_uri)
    logged = {Path(f.path).name for f in client.list_artifacts(outcome.report["candidate_run_id"], "retrain")}
    assert logged == {path.name for path in outcome.report_files}


def test_every_run_leaves_a_finished_row_with_its_status_and_report(
    first: RetrainOutcome,
    refused: tuple[RetrainOutcome, str | None],
    promoted: tuple[RetrainOutcome, list[str], str | None],
    home: RetrainHome,
) -> None:
    rows = [_row(home.store, o.run_id) for o in (first, refused[0], promoted[0])]
    assert [r["status"] for r in rows] == ["promoted", "kept", "promoted"]
    assert [r["candidate_version"] for r in rows] == ["1", "2", "3"]
    assert [r["champion_version"] for r in rows] == [None, "1", "1"]
    assert all(r["finished_at"] is not None and r["report"]["status"] == r["status"] for r in rows)


def test_a_retrain_with_nothing_new_keeps_the_champion_without_training(
    unchanged: RetrainOutcome, home: RetrainHome
) -> None:
    assert unchanged.status is RetrainStatus.KEPT and unchanged.candidate is None
    assert "nothing new since the champion's data" in unchanged.reasons[0]
    client = tracking.configure(home.settings)
    assert len(client.search_model_versions(f"name='{REGISTERED_MODEL_NAME}'")) == 3


def test_retrain_releases_its_lock(unchanged: RetrainOutcome, home: RetrainHome) -> None:
    assert job_lock.current(home.store, RETRAIN_LOCK) is None


def _empty_home(pm_home: Path) -> tuple[Settings, Store]:
    settings = Settings(home=pm_home, embedder="hashing")
    store = Store(settings.store_url)
    store.migrate()
    return settings, store


def test_retrain_does_nothing_while_another_run_holds_the_lock(pm_home: Path) -> None:
    settings, store = _empty_home(pm_home)
    job_lock.try_acquire(store, RETRAIN_LOCK, "cron@other-host", timedelta(hours=1))
    held = job_lock.current(store, RETRAIN_LOCK)
    outcome = retrain(settings, TrainConfig.from_file())
    assert outcome.status is RetrainStatus.BUSY and "cron@other-host" in outcome.reasons[0]
    assert job_lock.current(store, RETRAIN_LOCK) == held
    with store.engine.connect() as conn:
        assert conn.execute(select(t.retrain_runs)).first() is None


def test_a_failed_retrain_marks_its_row_failed_and_releases_the_lock(pm_home: Path) -> None:
    settings, store = _empty_home(pm_home)
    outcome = retrain(settings, TrainConfig.from_file())
    assert outcome.status is RetrainStatus.FAILED
    assert outcome.error is not None and outcome.error.startswith("the store is empty")
    row = _row(store, outcome.run_id)
    assert row["status"] == "failed" and row["report"]["error"] == outcome.error
    assert job_lock.current(store, RETRAIN_LOCK) is None
    assert _champion(settings) is None
