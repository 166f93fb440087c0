from pathlib import Path

import numpy as np
import pytest

from models.bundle import MODEL_FILE, BundleError, BundleManifest, load_bundle, save_bundle
from models.ranker import TeamRanker
from tests.configs import search_config, small_ranker_params
from tests.models.manifests import bundle_manifest

FEATURES = ("f0", "f1", "f2")


def _fitted_ranker() -> TeamRanker:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 3))
    y = (x[:, 0] > 0).astype(int) + (x[:, 1] > 1).astype(int)
    # The ranker this test was written for: lambdarank over groups, without the shipped prior.
    params = small_ranker_params(num_boost_round=10, objective="lambdarank")
    return TeamRanker(params).fit(x, y, [10] * 20, FEATURES)


def _manifest() -> BundleManifest:
    return bundle_manifest(FEATURES, ["services"])


def test_a_saved_bundle_loads_and_scores_identically(tmp_path: Path) -> None:
    ranker = _fitted_ranker()
    save_bundle(tmp_path, ranker, _manifest())
    _, loaded = load_bundle(tmp_path)
    x = np.random.default_rng(1).normal(size=(50, 3))
    np.testing.assert_allclose(loaded.score(x), ranker.score(x))


def test_a_bundle_with_a_tampered_model_file_is_refused(tmp_path: Path) -> None:
    save_bundle(tmp_path, _fitted_ranker(), _manifest())
    with (tmp_path / MODEL_FILE).open("a") as handle:
        handle.write("\n# tampered\n")
    with pytest.raises(BundleError, match="checksum mismatch"):
        load_bundle(tmp_path)


def test_a_folder_without_a_manifest_is_not_a_bundle(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="manifest.json is missing"):
        load_bundle(tmp_path)


def test_ranker_training_is_reproducible_with_the_same_seed() -> None:
    x = np.random.default_rng(2).normal(size=(50, 3))
    np.testing.assert_array_equal(_fitted_ranker().score(x), _fitted_ranker().score(x))


def test_a_bundle_carries_the_search_settings_it_was_evaluated_with(tmp_path: Path) -> None:
    manifest = _manifest()
    manifest.search = search_config(
        max_candidates_per_role=7, prior_candidates_per_role=3, beam_width=4
    ).model_dump()
    save_bundle(tmp_path, _fitted_ranker(), manifest)
    loaded, _ = load_bundle(tmp_path)
    config = loaded.recommender_config()
    assert (config.max_candidates_per_role, config.prior_candidates_per_role, config.beam_width) == (7, 3, 4)


def test_a_bundle_without_search_settings_is_refused() -> None:
    with pytest.raises(BundleError, match="no search settings"):
        _manifest().recommender_config()
