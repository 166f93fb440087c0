"""The ranker's learned linear stage: weights from outcomes, sign bounds, extrapolation, the bundle."""

from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from models.bundle import BundleManifest, load_bundle, save_bundle
from models.config import RankerParams
from models.ranker import TeamRanker, fit_linear_stage, within_requests
from tests.configs import small_ranker_params
from tests.models.manifests import bundle_manifest

FEATURES = ("services_skill_evidence", "services_capacity_load", "team_size")


def _data(seed: int = 0, n: int = 3000) -> tuple[np.ndarray, np.ndarray]:
    """Wins rise with skill evidence (observed only in [0, 1]) and fall with capacity load."""
    rng = np.random.default_rng(seed)
    x = np.column_stack([rng.random(n), rng.random(n), rng.integers(1, 4, n)]).astype(np.float64)
    logit = 2.0 * x[:, 0] - 1.5 * x[:, 1] - 0.2
    return x, (rng.random(n) < 1.0 / (1.0 + np.exp(-logit))).astype(int)


def _ranker(**overrides: object) -> TeamRanker:
    x, y = _data()
    settings: dict[str, object] = {
        "num_boost_round": 20,
        "objective": "binary",
        "linear_stage": True,
        "linear_l2": 1e-3,
        "monotone_increasing": ("skill_evidence",),
    }
    params = small_ranker_params(**{**settings, **overrides})
    return TeamRanker(params).fit(x, y, [], FEATURES)


def _manifest() -> BundleManifest:
    return bundle_manifest(FEATURES, ["services"])


def test_the_linear_stage_learns_the_direction_of_each_effect() -> None:
    x, y = _data()
    weights = fit_linear_stage(x, y, FEATURES, [1, 0, 0], l2=1e-3)
    assert weights["services_skill_evidence"] > 0 > weights["services_capacity_load"]


def test_a_monotone_feature_never_gets_a_negative_weight() -> None:
    x, y = _data()
    flipped = 1 - y  # outcomes now fall with skill evidence
    weights = fit_linear_stage(x, flipped, FEATURES, [1, 0, 0], l2=1e-3)
    assert weights.get("services_skill_evidence", 0.0) == 0.0


def test_the_score_keeps_rising_beyond_the_values_history_tried() -> None:
    ranker = _ranker()
    inside, beyond = np.array([[1.0, 0.5, 2.0]]), np.array([[2.0, 0.5, 2.0]])
    assert ranker.score(beyond)[0] > ranker.score(inside)[0]


def test_without_a_linear_stage_trees_stay_flat_beyond_history() -> None:
    ranker = _ranker(linear_stage=False)
    inside, beyond = np.array([[1.0, 0.5, 2.0]]), np.array([[2.0, 0.5, 2.0]])
    assert ranker.score(beyond)[0] == ranker.score(inside)[0]


def test_a_constant_column_gets_no_weight() -> None:
    x, y = _data()
    x[:, 2] = 3.0
    assert "team_size" not in fit_linear_stage(x, y, FEATURES, [1, 0, 0], l2=1e-3)


def test_a_bundle_scores_like_the_trained_ranker_with_its_learned_weights(tmp_path: Path) -> None:
    ranker = _ranker()
    save_bundle(tmp_path, ranker, _manifest())
    _, loaded = load_bundle(tmp_path)
    x = np.array([[0.3, 0.2, 1.0], [1.5, 0.0, 3.0]])
    np.testing.assert_allclose(loaded.score(x), ranker.score(x))


def test_competing_bids_are_centred_on_their_request_and_other_rows_are_not() -> None:
    values = np.array([[1.0], [3.0], [10.0], [5.0]])
    centred = within_requests(values, np.array([0, 0, -1, 1]))
    np.testing.assert_allclose(centred[:, 0], [-1.0, 1.0, 10.0, 0.0])


def test_a_pooled_weight_is_shared_by_every_role_column_of_the_feature() -> None:
    names = ("services_present", "influence_present", "services_skill_evidence", "influence_skill_evidence")
    rng = np.random.default_rng(3)
    x = rng.random((2000, 4))
    y = (rng.random(2000) < 1 / (1 + np.exp(-(x[:, 2] + x[:, 3])))).astype(int)
    params = small_ranker_params(
        num_boost_round=1, objective="binary", linear_stage=True, linear_l2=1e-3, linear_pooled=True
    )
    ranker = TeamRanker(params).fit(x, y, [], names)
    weights = ranker.linear_weights_
    assert weights["services_skill_evidence"] == weights["influence_skill_evidence"] > 0


def test_a_cross_validated_strength_still_learns_the_direction_of_each_effect() -> None:
    x, y = _data()
    weights = fit_linear_stage(x, y, FEATURES, [1, 0, 0], l2="cv")
    assert weights["services_skill_evidence"] > 0 > weights["services_capacity_load"]


def test_without_trees_the_score_is_the_linear_stage_alone() -> None:
    ranker = _ranker(num_boost_round=0)
    x, _ = _data(seed=1, n=50)
    assert np.allclose(ranker.score(x), x @ ranker.prior_vector())


def test_without_trees_the_contributions_are_the_linear_terms() -> None:
    ranker = _ranker(num_boost_round=0)
    x, _ = _data(seed=1, n=5)
    assert np.allclose(ranker.contributions(x)[:, :-1], x * ranker.prior_vector()[None, :])


def test_a_model_without_trees_scores_the_same_after_a_bundle_round_trip(tmp_path: Path) -> None:
    ranker = _ranker(num_boost_round=0)
    save_bundle(tmp_path, ranker, _manifest())
    _, loaded = load_bundle(tmp_path)
    x, _ = _data(seed=2, n=20)
    assert np.allclose(loaded.score(x), ranker.score(x))


def test_no_trees_without_a_linear_stage_is_refused() -> None:
    shipped = small_ranker_params().model_dump()
    with pytest.raises(ValidationError, match="num_boost_round = 0"):
        RankerParams(**{**shipped, "num_boost_round": 0, "linear_stage": False})
