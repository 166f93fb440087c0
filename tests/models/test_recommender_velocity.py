"""Days to close and value per day of recommended teams, on the tiny hand-written ecosystem."""

from __future__ import annotations

import numpy as np
import pytest

from features.embedder_factory import make_embedder
from features.records import OpportunityQuery
from features.snapshot import FeatureSnapshot
from models.calibration import WinCalibrator
from models.cycle_time import CycleTimeModel
from models.ranker import TeamRanker
from models.recommender import TeamRecommender
from tests.configs import search_config, small_ranker_params
from tests.features.snapshot_fixtures import T, tables

Parts = tuple[FeatureSnapshot, TeamRanker, CycleTimeModel]
QUERY = OpportunityQuery(
    as_of=T,
    opportunity_id="Q",
    customer_industry="retail",
    region="emea",
    deal_size=100_000.0,
    required_skills=("aws",),
    description="AWS cloud migration",
)


@pytest.fixture(scope="module")
def parts() -> Parts:
    snapshot = FeatureSnapshot.build(tables(), make_embedder("hashing"))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, len(snapshot.feature_names)))
    ranker = TeamRanker(small_ranker_params(num_boost_round=5, objective="binary"))
    ranker.fit(x, (x[:, 0] > 0).astype(int), [], snapshot.feature_names)
    ranker.calibrate(WinCalibrator.fit(ranker.score(x), x[:, 0] > 0))
    # Days that depend on a column teams differ in (the services partner's text match), so the order changes.
    column = snapshot.feature_positions["services_text_similarity"]
    cycle = CycleTimeModel().fit(x, np.exp(3.5 + 0.8 * x[:, column]), snapshot.feature_names)
    return snapshot, ranker, cycle


def _recommender(parts: Parts, with_cycle: bool) -> TeamRecommender:
    snapshot, ranker, cycle = parts
    config = search_config(max_candidates_per_role=5)
    return TeamRecommender(snapshot, ranker, config, cycle if with_cycle else None)


def test_every_team_carries_its_days_to_close_and_value_per_day(parts: Parts) -> None:
    teams = _recommender(parts, True).recommend([QUERY], k=10)[0].teams
    assert teams
    for t in teams:
        assert t.win_probability is not None and t.expected_days_to_close is not None
        expected = t.win_probability * 100_000.0 / t.expected_days_to_close
        assert t.expected_value_per_day == pytest.approx(expected)


def test_ranking_by_expected_value_per_day_orders_teams_by_it(parts: Parts) -> None:
    teams = _recommender(parts, True).recommend([QUERY], k=10, rank_by="expected_value_per_day")[0].teams
    values = [t.expected_value_per_day for t in teams]
    assert all(v is not None for v in values)
    assert values == sorted(values, reverse=True)  # type: ignore[type-var]
    assert [t.rank for t in teams] == list(range(1, len(teams) + 1))


def test_the_best_team_by_value_per_day_comes_from_all_final_teams(parts: Parts) -> None:
    recommender = _recommender(parts, True)
    everyone = recommender.recommend([QUERY], k=50, rank_by="score")[0].teams
    [best] = recommender.recommend([QUERY], k=1, rank_by="expected_value_per_day")[0].teams
    assert best.expected_value_per_day == max(t.expected_value_per_day or 0.0 for t in everyone)


def test_ranking_by_score_keeps_the_score_order(parts: Parts) -> None:
    teams = _recommender(parts, True).recommend([QUERY], k=10)[0].teams
    scores = [t.score for t in teams]
    assert scores == sorted(scores, reverse=True)


def test_without_a_cycle_time_model_days_and_value_per_day_are_none(parts: Parts) -> None:
    teams = _recommender(parts, False).recommend([QUERY], k=5)[0].teams
    assert teams and all(t.expected_days_to_close is None and t.expected_value_per_day is None for t in teams)


def test_without_a_cycle_time_model_ranking_by_value_per_day_is_refused(parts: Parts) -> None:
    with pytest.raises(ValueError, match="cycle-time model"):
        _recommender(parts, False).recommend([QUERY], k=5, rank_by="expected_value_per_day")
