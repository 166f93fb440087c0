from pathlib import Path

import numpy as np
import pytest

from models.bundle import CYCLE_TIME_FILE, BundleError, BundleManifest, open_bundle, save_bundle
from models.cycle_time import CycleTimeModel
from models.ranker import TeamRanker
from tests.configs import small_ranker_params
from tests.models.manifests import bundle_manifest

FEATURES = ("f0", "f1", "f2")


def _fitted() -> tuple[np.ndarray, TeamRanker, CycleTimeModel]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 3))
    params = small_ranker_params(num_boost_round=5, objective="binary")
    ranker = TeamRanker(params).fit(x, (x[:, 0] > 0).astype(int), [], FEATURES)
    cycle = CycleTimeModel().fit(x, np.exp(3.5 + 0.3 * x[:, 1]), FEATURES)
    return x, ranker, cycle


def _manifest() -> BundleManifest:
    return bundle_manifest(FEATURES, ["services"])


def test_a_bundle_with_a_cycle_time_model_loads_it_back_unchanged(tmp_path: Path) -> None:
    x, ranker, cycle = _fitted()
    bundle = open_bundle(save_bundle(tmp_path, ranker, _manifest(), cycle))
    assert bundle.cycle_time is not None
    np.testing.assert_array_equal(bundle.cycle_time.predict(x), cycle.predict(x))


def test_the_cycle_time_file_is_listed_with_its_checksum(tmp_path: Path) -> None:
    _, ranker, cycle = _fitted()
    save_bundle(tmp_path, ranker, _manifest(), cycle)
    assert CYCLE_TIME_FILE in open_bundle(tmp_path).manifest.checksums


def test_a_bundle_without_a_cycle_time_model_loads_with_none(tmp_path: Path) -> None:
    x, ranker, _ = _fitted()
    bundle = open_bundle(save_bundle(tmp_path, ranker, _manifest()))
    assert bundle.cycle_time is None
    np.testing.assert_allclose(bundle.ranker.score(x), ranker.score(x))


def test_a_tampered_cycle_time_file_is_refused(tmp_path: Path) -> None:
    _, ranker, cycle = _fitted()
    save_bundle(tmp_path, ranker, _manifest(), cycle)
    with (tmp_path / CYCLE_TIME_FILE).open("a") as handle:
        handle.write("\n# tampered\n")
    with pytest.raises(BundleError, match="checksum mismatch"):
        open_bundle(tmp_path)
