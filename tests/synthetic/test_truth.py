"""The hidden win model: win probabilities, oracle teams, persistence, and learnability of history."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from features import schema as s
from synthetic import GroundTruth, SyntheticEcosystem, write
from tests.synthetic.helpers import active_team_rows, historical_teams


def test_oracle_team_wins_at_least_as_often_as_the_historical_team(eco: SyntheticEcosystem) -> None:
    opp_ids, teams = historical_teams(eco)
    rows = active_team_rows(eco, teams)[:40]
    historical = eco.truth.win_probability([opp_ids[i] for i in rows], [teams[i] for i in rows])
    oracle = np.array([eco.truth.oracle_team(opp_ids[i])[1] for i in rows])
    assert (oracle >= historical - 1e-9).all()


def test_oracle_teams_leave_clear_room_above_historical_teams(eco: SyntheticEcosystem) -> None:
    opp_ids, teams = historical_teams(eco)
    rows = active_team_rows(eco, teams)[:40]
    historical = eco.truth.win_probability([opp_ids[i] for i in rows], [teams[i] for i in rows])
    oracle = np.array([eco.truth.oracle_team(opp_ids[i])[1] for i in rows])
    assert oracle.mean() - historical.mean() > 0.2


def test_the_oracle_probability_is_the_win_probability_of_its_team(eco: SyntheticEcosystem) -> None:
    opp = eco.tables.opportunities[s.OPPORTUNITY_ID].iloc[7]
    team, probability = eco.truth.oracle_team(opp)
    assert eco.truth.win_probability([opp], [team])[0] == pytest.approx(probability)


def test_won_deals_had_higher_true_win_probability_than_lost_ones(eco: SyntheticEcosystem) -> None:
    opp_ids, teams = historical_teams(eco)
    p = eco.truth.win_probability(opp_ids, teams)
    outcome = eco.tables.opportunities[s.OUTCOME].to_numpy()
    assert p[outcome == s.WON].mean() > p[outcome == s.LOST].mean() + 0.05


def test_an_empty_team_has_a_lower_win_probability_than_a_staffed_one(eco: SyntheticEcosystem) -> None:
    opp = eco.tables.opportunities[s.OPPORTUNITY_ID].iloc[0]
    team, _ = eco.truth.oracle_team(opp)
    empty, staffed = eco.truth.win_probability([opp, opp], [{}, team])
    assert empty < staffed


def test_oracle_team_staffs_only_the_requested_roles(eco: SyntheticEcosystem) -> None:
    opp = eco.tables.opportunities[s.OPPORTUNITY_ID].iloc[3]
    team, _ = eco.truth.oracle_team(opp, roles=[s.SERVICES])
    assert list(team) == [s.SERVICES] and team[s.SERVICES] is not None


def test_oracle_team_respects_the_eligibility_filter(eco: SyntheticEcosystem) -> None:
    opp = eco.tables.opportunities[s.OPPORTUNITY_ID].iloc[3]
    best, _ = eco.truth.oracle_team(opp)
    excluded = {p for p in best.values() if p}
    team, _ = eco.truth.oracle_team(opp, eligible=lambda pid: pid not in excluded)
    assert not set(team.values()) & excluded


def test_oracle_team_uses_only_active_partners(eco: SyntheticEcosystem) -> None:
    partners = eco.tables.partners
    inactive = set(partners.loc[partners[s.STATUS] == "inactive", s.PARTNER_ID])
    opps = eco.tables.opportunities[s.OPPORTUNITY_ID].iloc[:25]
    chosen = {p for o in opps for p in eco.truth.oracle_team(o)[0].values()}
    assert inactive and not chosen & inactive


def test_win_probability_rejects_an_unknown_partner(eco: SyntheticEcosystem) -> None:
    opp = eco.tables.opportunities[s.OPPORTUNITY_ID].iloc[0]
    with pytest.raises(KeyError, match="P999999"):
        eco.truth.win_probability([opp], [{s.SERVICES: "P999999"}])


def test_win_probability_rejects_an_unknown_role(eco: SyntheticEcosystem) -> None:
    opp = eco.tables.opportunities[s.OPPORTUNITY_ID].iloc[0]
    with pytest.raises(KeyError, match="architect"):
        eco.truth.win_probability([opp], [{"architect": None}])


def test_truth_loaded_from_disk_gives_the_same_probabilities(eco: SyntheticEcosystem, tmp_path: Path) -> None:
    write(eco, tmp_path, "csv")
    opp_ids, teams = historical_teams(eco)
    loaded = GroundTruth.load(tmp_path)
    assert not list(tmp_path.rglob("*.pkl")) and not list(tmp_path.rglob("*.pickle"))
    expected = eco.truth.win_probability(opp_ids, teams)
    np.testing.assert_array_equal(loaded.win_probability(opp_ids, teams), expected)
    assert GroundTruth.load(tmp_path / "truth").roles == s.DEFAULT_ROLES
