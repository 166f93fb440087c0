from pathlib import Path

import numpy as np
import pytest

from models.bundle import CALIBRATOR_FILE, BundleError, BundleManifest, load_bundle, save_bundle
from models.calibration import WinCalibrator
from models.ranker import TeamRanker
from tests.configs import small_ranker_params

FEATURES = ("f0", "f1")


def _calibrated_bundle(directory: Path) -> Path:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 2))
    params = small_ranker_params(num_boost_round=5, objective="binary")
    ranker = TeamRanker(params)
    ranker.fit(x, (x[:, 0] > 0).astype(int), [], FEATURES)
    ranker.calibrate(WinCalibrator.fit(ranker.score(x), x[:, 0] > 0))
    manifest = BundleManifest(
        feature_names=list(FEATURES),
        feature_version=1,
        feature_build_id="b1",
        embedder_id="hashing-256",
        embedder_kind="hashing",
        roles=["services"],
        trained_at="2026-01-01T00:00:00",
    )
    return save_bundle(directory, ranker, manifest)


def test_a_loaded_bundle_gives_the_same_win_probabilities(tmp_path: Path) -> None:
    bundle = _calibrated_bundle(tmp_path)
    _, ranker = load_bundle(bundle)
    scores = np.linspace(-2, 2, 9)
    assert ranker.calibrator_ is not None
    assert np.allclose(
        ranker.win_probability(scores), WinCalibrator.load(bundle / CALIBRATOR_FILE).predict(scores)
    )


def test_a_tampered_calibrator_is_refused(tmp_path: Path) -> None:
    bundle = _calibrated_bundle(tmp_path)
    (bundle / CALIBRATOR_FILE).write_text((bundle / CALIBRATOR_FILE).read_text().replace("pchip", "platt"))
    with pytest.raises(BundleError, match="checksum"):
        load_bundle(bundle)
