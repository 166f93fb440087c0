"""The local bundle cache heals: a corrupt cached version is fetched again, failed downloads leave nothing."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from core.settings import Settings
from models.bundle import BundleError, verify_bundle
from models.registry import download_version, load_champion
from tests.integration.conftest import TrainedHome, trained_home  # noqa: F401

pytestmark = pytest.mark.integration


@pytest.fixture()
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """A home of its own (empty bundle cache) on the trained registry; PM_API_TEST_HOME may name one."""
    prepared = os.environ.get("PM_API_TEST_HOME")
    trained: TrainedHome | None = None if prepared else request.getfixturevalue("trained_home")
    source = Path(prepared) if prepared else trained.home  # type: ignore[union-attr]
    home = tmp_path / "home"
    home.mkdir()
    # The registry's rows point at the trained home's artifacts, which are only read.
    shutil.copy(source / "mlflow.db", home / "mlflow.db")
    return Settings(home=home, embedder="hashing")


def _bundle(settings: Settings) -> Path:
    return settings.bundle_cache_dir / "v1" / "artifacts" / "bundle"


def test_a_corrupt_cached_bundle_is_downloaded_again(settings: Settings) -> None:
    download_version(settings)
    with (_bundle(settings) / "model.txt").open("a") as fh:
        fh.write("\ntampered\n")
    assert load_champion(settings).version == "1"
    verify_bundle(_bundle(settings))  # the cache holds a good copy again


def test_a_failed_download_leaves_no_staging_folder(settings: Settings) -> None:
    with pytest.raises(BundleError) as refused:
        load_champion(settings, "99")
    assert list(settings.bundle_cache_dir.iterdir()) == []
    assert str(settings.home) not in refused.value.public


def test_a_staging_folder_left_by_a_crash_is_removed(settings: Settings) -> None:
    stale = settings.bundle_cache_dir / ".v7.tmp"
    stale.mkdir(parents=True)
    an_hour_ago = time.time() - 7200
    os.utime(stale, (an_hour_ago, an_hour_ago))
    load_champion(settings)
    assert not stale.exists()
