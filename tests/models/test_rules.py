"""Rules of engagement on the tiny hand-written ecosystem (tests/features/snapshot_fixtures.py)."""

from __future__ import annotations

import numpy as np
import pytest

from features import schema as s
from features.embedder_factory import make_embedder
from features.records import OpportunityQuery
from features.snapshot import FeatureSnapshot
from models.ranker import TeamRanker
from models.recommender import Recommendation, TeamRecommender
from models.rules import (
    RULE_CERTIFICATION,
    RULE_CONFLICT,
    RULE_EXCLUDED,
    RULE_MIN_TIER,
    TeamConstraints,
)
from tests.configs import search_config, small_ranker_params
from tests.features.snapshot_fixtures import T, tables


@pytest.fixture(scope="module")
def recommender() -> TeamRecommender:
    snapshot = FeatureSnapshot.build(tables(), make_embedder("hashing"))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, len(snapshot.feature_names)))
    # The ranker these tests were written for: lambdarank over groups, uncalibrated, without the prior.
    params = small_ranker_params(num_boost_round=5, objective="lambdarank")
    ranker = TeamRanker(params).fit(x, (x[:, 0] > 0).astype(int), [10] * 20, snapshot.feature_names)
    return TeamRecommender(snapshot, ranker, search_config(max_candidates_per_role=5))


def _query(registered: str | None = "S1") -> OpportunityQuery:
    return OpportunityQuery(
        as_of=T,
        opportunity_id="Q",
        customer_industry="retail",
        region="emea",
        deal_size=100_000.0,
        required_skills=("aws",),
        description="AWS cloud migration",
        registered_partner_id=registered,
    )


def _teams(
    recommender: TeamRecommender, constraints: TeamConstraints | None = None, registered: str | None = "S1"
) -> Recommendation:
    return recommender.recommend([_query(registered)], k=50, constraints=constraints)[0]


def test_the_registered_partner_stays_on_every_team(recommender: TeamRecommender) -> None:
    result = _teams(recommender)
    assert result.teams and {t.members[s.SERVICES] for t in result.teams} == {"S1"}


def test_ignore_registration_lets_other_services_partners_in(recommender: TeamRecommender) -> None:
    result = _teams(recommender, TeamConstraints(ignore_registration=True))
    assert {t.members[s.SERVICES] for t in result.teams} - {"S1"}


def test_an_excluded_partner_is_on_no_team_and_reported(recommender: TeamRecommender) -> None:
    result = _teams(recommender, TeamConstraints(exclude=frozenset({"I1"})))
    assert all(t.members[s.INFLUENCE] != "I1" for t in result.teams)
    assert any(d.partner_id == "I1" and d.rule == RULE_EXCLUDED for d in result.dropped)


def test_conflicting_partners_never_share_a_team(recommender: TeamRecommender) -> None:
    rules = TeamConstraints(ignore_registration=True, conflicting_pairs=TeamConstraints.pairs([("S2", "R1")]))
    result = _teams(recommender, rules)
    assert not any(t.members[s.SERVICES] == "S2" and t.members[s.RESELLER] == "R1" for t in result.teams)


def test_a_partner_conflicting_with_the_registered_one_is_dropped(recommender: TeamRecommender) -> None:
    result = _teams(recommender, TeamConstraints(conflicting_pairs=TeamConstraints.pairs([("S1", "R1")])))
    assert all(t.members[s.RESELLER] != "R1" for t in result.teams)
    assert any(d.partner_id == "R1" and d.rule == RULE_CONFLICT for d in result.dropped)


def test_partners_below_the_minimum_tier_are_dropped(recommender: TeamRecommender) -> None:
    result = _teams(recommender, TeamConstraints(min_tier="silver"))
    members = {p for t in result.teams for p in t.members.values()}
    assert "R2" not in members and "I2" not in members
    assert {d.partner_id for d in result.dropped if d.rule == RULE_MIN_TIER} >= {"R2"}


def test_a_certification_issued_after_the_opportunity_date_does_not_count(
    recommender: TeamRecommender,
) -> None:
    rules = TeamConstraints(ignore_registration=True, required_certifications=("aws-migration",))
    result = _teams(recommender, rules)
    assert all(t.members[s.SERVICES] is None for t in result.teams)
    assert any(d.partner_id == "S1" and d.rule == RULE_CERTIFICATION for d in result.dropped)


def test_a_valid_certification_keeps_its_holder(recommender: TeamRecommender) -> None:
    rules = TeamConstraints(ignore_registration=True, required_certifications=("aws-sa",))
    assert {t.members[s.SERVICES] for t in _teams(recommender, rules).teams} == {"S1"}


def test_region_must_match_drops_partners_outside_the_region(recommender: TeamRecommender) -> None:
    result = _teams(recommender, TeamConstraints(region_must_match=True), registered=None)
    members = {p for t in result.teams for p in t.members.values()}
    assert members.isdisjoint({"S2", "I2", "R2"})


def test_every_team_gets_a_win_probability_only_with_a_calibrator(recommender: TeamRecommender) -> None:
    assert all(t.win_probability is None for t in _teams(recommender).teams)


def test_credit_shares_of_a_team_sum_to_one(recommender: TeamRecommender) -> None:
    team = _teams(recommender).teams[0]
    assert abs(sum(team.credit_shares.values()) - 1.0) < 1e-9


def test_including_and_excluding_the_same_partner_is_rejected() -> None:
    with pytest.raises(ValueError, match="both included and excluded"):
        TeamConstraints(include=frozenset({"S1"}), exclude=frozenset({"S1"}))
