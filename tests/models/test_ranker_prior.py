"""The fixed domain prior added to the learned margin: score, explanations and the bundle round-trip."""

from pathlib import Path

import numpy as np

from models.bundle import PRIOR_FILE, BundleManifest, load_bundle, save_bundle
from models.candidates import _interleave
from models.ranker import TeamRanker
from tests.configs import small_ranker_params
from tests.models.manifests import bundle_manifest

FEATURES = ("services_region_match", "influence_region_match", "team_size")


def _ranker(prior: dict[str, float]) -> TeamRanker:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 3))
    y = (x[:, 2] > 0).astype(int)
    params = small_ranker_params(num_boost_round=10, objective="binary", prior_weights=prior)
    return TeamRanker(params).fit(x, y, [200], FEATURES)


def _manifest() -> BundleManifest:
    return bundle_manifest(FEATURES, ["services", "influence"])


def test_the_prior_adds_its_weight_for_every_role_column_of_the_suffix() -> None:
    plain, with_prior = _ranker({}), _ranker({"region_match": 0.5})
    x = np.array([[1.0, 1.0, 0.3], [0.0, 0.0, 0.3]])
    np.testing.assert_allclose(with_prior.score(x) - plain.score(x), [1.0, 0.0])


def test_contributions_with_a_prior_still_sum_to_the_score() -> None:
    ranker = _ranker({"region_match": 0.5})
    x = np.array([[1.0, 0.0, -0.2], [0.0, 1.0, 0.7]])
    np.testing.assert_allclose(ranker.contributions(x).sum(axis=1), ranker.score(x), rtol=1e-6)


def test_a_bundle_keeps_the_prior_weights(tmp_path: Path) -> None:
    ranker = _ranker({"region_match": 0.5})
    save_bundle(tmp_path, ranker, _manifest())
    _, loaded = load_bundle(tmp_path)
    assert (tmp_path / PRIOR_FILE).is_file()
    x = np.array([[1.0, 1.0, 0.3]])
    np.testing.assert_allclose(loaded.score(x), ranker.score(x))


def test_interleaving_alternates_the_lists_without_duplicates() -> None:
    assert _interleave(["a", "b", "c"], ["x", "a", "y"], 5) == ["a", "x", "b", "c", "y"]


def test_a_prior_named_after_a_whole_feature_applies_to_that_column_only() -> None:
    plain, with_prior = _ranker({}), _ranker({"team_size": 2.0})
    x = np.array([[1.0, 1.0, 0.5]])
    np.testing.assert_allclose(with_prior.score(x) - plain.score(x), [1.0])
