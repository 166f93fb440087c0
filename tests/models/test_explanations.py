"""Why a team is suggested: credit shares, the top score terms and the cold-start flag."""

from __future__ import annotations

import numpy as np

from features.co_selling import Teammate
from models.explanations import credit_shares, is_cold_start, partnership_reasons, top_contributions


def test_credit_shares_follow_each_members_own_positive_feature_contributions() -> None:
    names = ["services_skill_match", "services_win_rate", "influence_skill_match", "team_coverage"]
    contrib = np.array([1.0, 2.0, -0.5, 10.0, 0.3])  # last: the bias, never attributed
    shares = credit_shares({"services": "S1", "influence": "I1", "reseller": None}, names, contrib)
    assert shares == {"S1": 1.0, "I1": 0.0}


def test_credit_is_split_evenly_when_no_member_contributes_positively() -> None:
    names = ["services_skill_match", "influence_skill_match"]
    shares = credit_shares({"services": "S1", "influence": "I1"}, names, np.array([-1.0, -2.0, 0.0]))
    assert shares == {"S1": 0.5, "I1": 0.5}


def test_a_team_without_members_has_no_credit_shares() -> None:
    assert credit_shares({"services": None}, ["services_skill_match"], np.array([1.0, 0.0])) == {}


def test_top_contributions_are_the_largest_terms_by_size_without_the_zero_ones() -> None:
    names = ["a", "b", "c", "d"]
    contrib = np.array([0.1, -3.0, 0.0, 2.0, 9.0])  # last: the bias, never listed
    terms = top_contributions(names, {"b": "B described"}, np.array([1.0, 2.0, 3.0, 4.0]), contrib)
    assert [(t.feature, t.description, t.value) for t in terms] == [
        ("b", "B described", 2.0),
        ("d", "d", 4.0),
        ("a", "a", 1.0),
    ]


def test_a_member_is_a_cold_start_when_its_role_cold_start_feature_is_set() -> None:
    names = {"services_cold_start": 0, "influence_cold_start": 1}
    row = np.array([1.0, 0.0])
    assert is_cold_start(names, row, "services")
    assert not is_cold_start(names, row, "influence")


def _mate(**overrides: object) -> Teammate:
    values: dict[str, object] = {
        "partner_id": "I1",
        "name": "Compass",
        "role": "influence",
        "joint_deals": 4.0,
        "joint_wins": 3.0,
        "expected_rate": 0.4,
        "affinity": 0.0,
    }
    return Teammate(**{**values, **overrides})  # type: ignore[arg-type]


def test_a_member_that_won_more_with_a_teammate_than_expected_wins_often_with_it() -> None:
    assert partnership_reasons("S1", [_mate()]) == [
        "Wins often with Compass (influence): won 3 of 4 deals together."
    ]


def test_partners_that_never_met_are_called_compatible_only_when_the_learned_affinity_is_notable() -> None:
    assert partnership_reasons("S1", [_mate(joint_deals=0.0, joint_wins=0.0, affinity=0.001)]) == []
    assert (
        "Likely to work well with Compass"
        in partnership_reasons("S1", [_mate(joint_deals=0.0, joint_wins=0.0, affinity=0.05)])[0]
    )
