"""The hidden win model: win probabilities, oracle teams, persistence, and learnability of history."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from features import schema as s
from synthetic import GroundTruth, Scenario, SyntheticEcosystem, generate_ecosystem, write
from synthetic.truth import ARRAYS_FILE
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


@pytest.mark.parametrize(
    "scenario",
    [
        Scenario(),
        Scenario(camps=3, compatibility=2.0, size_interaction=0.8, influence_weight=1.5),
        Scenario(camps=5, compatibility=2.5, size_interaction=0.5),
    ],
    ids=["today", "camps-and-sizes", "five-rival-camps"],
)
def test_the_oracle_team_is_within_one_percent_of_the_best_team_by_brute_force(scenario: Scenario) -> None:
    # 120 partners (~50k teams) is small enough to enumerate and large enough that a shortlist without
    # synergy pairs or camp leaders missed the best team by ~2% here.
    truth = generate_ecosystem(120, 300, seed=21, scenario=scenario).truth
    pools = [[*np.flatnonzero((truth.partner_role == r) & truth.active), -1] for r in range(3)]
    every_team = np.array(list(itertools.product(*pools)), np.int64)
    for o in np.random.default_rng(3).choice(truth.opportunity_ids.size, 12, replace=False):
        best = truth.probabilities(np.full(len(every_team), o), every_team).max()
        _, oracle = truth.oracle_team(str(truth.opportunity_ids[o]))
        assert oracle >= 0.99 * best


def test_a_solo_oracle_team_has_only_a_services_partner() -> None:
    truth = generate_ecosystem(60, 200, seed=4, scenario=Scenario(team_shape="solo")).truth
    team, _ = truth.oracle_team(str(truth.opportunity_ids[0]))
    assert team[s.SERVICES] is not None and team[s.INFLUENCE] is None and team[s.RESELLER] is None


def test_truth_loaded_from_disk_keeps_camps_scales_requests_and_the_model(tmp_path: Path) -> None:
    scenario = Scenario(camps=3, size_interaction=0.5, bidders=3, influence_weight=2.0)
    eco = generate_ecosystem(60, 300, seed=4, scenario=scenario)
    write(eco, tmp_path, "csv")
    loaded = GroundTruth.load(tmp_path)
    np.testing.assert_array_equal(loaded.camp, eco.truth.camp)
    np.testing.assert_array_equal(loaded.scale, eco.truth.scale)
    np.testing.assert_array_equal(loaded.opp_request, eco.truth.opp_request)
    assert loaded.model == eco.truth.model


def test_truth_saved_before_scenarios_loads_without_camps_scales_or_requests(
    eco: SyntheticEcosystem, tmp_path: Path
) -> None:
    folder = eco.truth.save(tmp_path)
    with np.load(folder / ARRAYS_FILE) as data:
        old = {k: data[k] for k in data.files if k not in ("camp", "scale", "opp_request")}
    np.savez(folder / ARRAYS_FILE, **old)  # type: ignore[arg-type]
    loaded = GroundTruth.load(tmp_path)
    assert (loaded.camp == -1).all() and (loaded.opp_request == -1).all()
    opp_ids, teams = historical_teams(eco)
    expected = eco.truth.win_probability(opp_ids, teams)
    np.testing.assert_array_equal(loaded.win_probability(opp_ids, teams), expected)


def test_the_oracle_scores_a_grid_of_teams_exactly_like_the_win_model() -> None:
    scenario = Scenario(camps=3, compatibility=2.0, size_interaction=0.8, influence_weight=1.5)
    truth = generate_ecosystem(80, 200, seed=2, scenario=scenario).truth
    options = [np.array([*np.flatnonzero(truth.partner_role == r)[:12], -1]) for r in range(3)]
    teams = np.array(list(itertools.product(*options)), np.int64)
    grid = truth._grid_logits(5, options)
    np.testing.assert_allclose(grid.ravel(), truth.logits(np.full(len(teams), 5), teams), atol=1e-5)
