"""`partnermatch retrain`: its exit codes, the reload it asks for, its report and its row, on a real home."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from core.settings import get_settings
from features import job_lock
from features import tables as t
from features.store import Store
from partnermatch.commands.retrain import retrain
from serving.persistence import ApiStore
from serving.sync import RELOAD
from tests.partnermatch.commands.cli import run_command
from tests.training.retrain_homes import RetrainHome, build_home, receive_later_data
from training import tracking
from training.retrain import RETRAIN_LOCK

pytestmark = pytest.mark.slow


def _in_home(mp: pytest.MonkeyPatch, home: Path) -> None:
    mp.setenv("PM_HOME", str(home))
    mp.setenv("PM_EMBEDDER", "hashing")
    for name in ("PM_DATABASE_URL", "MLFLOW_TRACKING_URI"):
        mp.delenv(name, raising=False)
    get_settings.cache_clear()


def _invoke_in(home: Path, *args: str) -> tuple[int, str]:
    """Run `partnermatch retrain ARGS` with PM_HOME at `home`, from a module fixture (no monkeypatch)."""
    with pytest.MonkeyPatch.context() as mp:
        _in_home(mp, home)
        try:
            return run_command(retrain, *args)
        finally:
            get_settings.cache_clear()


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> RetrainHome:
    return build_home(tmp_path_factory.mktemp("retrain-cli"))


@pytest.fixture(scope="module")
def first_run(home: RetrainHome) -> tuple[int, str]:
    """The first retrain: no champion yet; its candidate beats the baselines under the loose gate."""
    return _invoke_in(home.settings.home, "--config", str(home.config), "--export", str(home.export))


@pytest.fixture(scope="module")
def refused_run(first_run: tuple[int, str], home: RetrainHome) -> tuple[int, str]:
    """After later deals arrive, a retrain whose gate refuses every candidate."""
    receive_later_data(home)
    return _invoke_in(home.settings.home, "--config", str(home.refusing_config), "--export", str(home.export))


def _reload_events(store: Store) -> list[dict[str, object]]:
    return [e.payload for e in ApiStore(store).events_after(0) if e.kind == RELOAD]


def _champion(home: RetrainHome) -> str | None:
    return tracking.champion_version(tracking.configure(home.settings))


def test_retrain_exits_zero_and_asks_the_servers_to_reload_when_it_promotes(
    first_run: tuple[int, str], home: RetrainHome
) -> None:
    code, output = first_run
    assert code == 0, output
    assert "promoted: version 1 is the champion" in output
    assert _reload_events(home.store) == [{"version": "1"}]


def test_retrain_exits_3_and_keeps_the_champion_when_the_gate_refuses(
    refused_run: tuple[int, str], home: RetrainHome
) -> None:
    code, output = refused_run
    assert code == 3, output
    assert "not promoted: version 2 registered, the gate refused it; champion stays 1" in output
    assert _champion(home) == "1"
    assert _reload_events(home.store) == [{"version": "1"}]  # only the first run's


def test_retrain_prints_and_writes_a_report_naming_the_new_data(
    refused_run: tuple[int, str], home: RetrainHome
) -> None:
    _, output = refused_run
    assert "closed deals (of which 3 from the API), 2 feedback rows" in output
    pages = [
        Path(line.removeprefix("report: ")) for line in output.splitlines() if line.startswith("report: ")
    ]
    assert [p.suffix for p in pages] == [".json", ".md"]
    assert all(p.parent == home.settings.home / "reports" and p.is_file() for p in pages)
    assert "of which 3 from the API" in pages[1].read_text()


@pytest.fixture
def empty_home(pm_home: Path, monkeypatch: pytest.MonkeyPatch) -> Store:
    _in_home(monkeypatch, pm_home)
    store = Store(get_settings().store_url)
    store.migrate()
    return store


def test_retrain_exits_4_and_leaves_the_lock_alone_while_another_run_holds_it(empty_home: Store) -> None:
    job_lock.try_acquire(empty_home, RETRAIN_LOCK, "cron@other-host", timedelta(hours=1))
    held = job_lock.current(empty_home, RETRAIN_LOCK)
    code, output = run_command(retrain)
    assert code == 4, output
    assert "another retrain is running" in output and "cron@other-host" in output
    assert job_lock.current(empty_home, RETRAIN_LOCK) == held


def test_a_failed_retrain_exits_1_with_one_line_marks_its_row_failed_and_releases_the_lock(
    empty_home: Store,
) -> None:
    code, output = run_command(retrain)
    assert code == 1, output
    assert "failed: the store is empty" in output and "Traceback" not in output
    with empty_home.engine.connect() as conn:
        statuses = conn.execute(select(t.retrain_runs.c.status)).scalars().all()
    assert statuses == ["failed"]
    assert job_lock.current(empty_home, RETRAIN_LOCK) is None


def test_retrain_exits_2_on_an_invalid_config(empty_home: Store, tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("[gate]\nmin_test_deals = 0\n")
    code, output = run_command(retrain, "--config", str(config))
    assert code == 2 and "invalid training config" in output
