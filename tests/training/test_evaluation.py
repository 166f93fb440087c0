from collections.abc import Callable, Mapping, Sequence
from datetime import date

import numpy as np
import pandas as pd
import pytest

from features import schema as s
from features.embedder_factory import make_embedder
from features.queries import queries_from_frame
from features.snapshot import FeatureSnapshot, PreparedOpportunity
from models.assembly import AssemblyPlan, assemble_teams, team_key
from models.recommender import TeamRecommender
from synthetic.ecosystem import SyntheticEcosystem, generate_ecosystem
from tests.configs import search_config
from tests.features.snapshot_fixtures import tables as tiny_tables
from tests.features.snapshot_fixtures import with_open_deals, with_status_and_capacity
from training.config import GateSection, TrainConfig
from training.dataset import SplitConfig, time_split
from training.evaluation import (
    BASELINES,
    MODEL,
    TRUTH_REFERENCE,
    EvaluationConfig,
    EvaluationReport,
    availability,
    bootstrap_lift,
    evaluate,
    reliability,
    true_ndcg_name,
)
from training.promotion import gate
from training.train import fit_ranker


def _report(ndcg: float, true_win: float) -> EvaluationReport:
    methods = {MODEL: {"ndcg_at_5": ndcg, "top1_true_win_probability": true_win}}
    return EvaluationReport(
        k=5, opportunities=1, won_opportunities=1, methods=methods, lifts={}, calibration={}
    )


def test_the_bootstrap_interval_of_a_constant_lift_is_that_constant() -> None:
    ci = bootstrap_lift(np.full(50, 0.1), n=200, seed=1)
    assert ci["ci_low"] == pytest.approx(0.1) and ci["ci_high"] == pytest.approx(0.1)


def test_the_bootstrap_interval_contains_the_mean_lift() -> None:
    diff = np.random.default_rng(0).normal(0.05, 0.2, size=400)
    ci = bootstrap_lift(diff, n=500, seed=1)
    assert ci["ci_low"] < ci["mean"] < ci["ci_high"]


def test_a_perfectly_calibrated_bin_reads_its_own_rate() -> None:
    (bin_,) = reliability(np.full(10, 0.35), np.arange(10) < 4)
    assert bin_["bin_low"] == pytest.approx(0.3) and bin_["bin_high"] == pytest.approx(0.4)
    assert bin_["observed_win_rate"] == pytest.approx(0.4) and bin_["count"] == 10


def test_the_gate_passes_a_candidate_that_beats_the_champion() -> None:
    passed, _ = gate(_report(0.30, 0.50), _report(0.28, 0.48), GateSection())
    assert passed


def test_the_gate_refuses_a_candidate_with_a_lower_true_win_probability() -> None:
    passed, reasons = gate(_report(0.30, 0.40), _report(0.30, 0.48), GateSection())
    assert not passed and any("FAIL" in r for r in reasons)


def test_the_time_split_keeps_the_periods_in_date_order() -> None:
    tables = generate_ecosystem(30, 300, seed=2).tables
    split = time_split(tables.opportunities, SplitConfig())
    assert split.train["created_at"].max() < split.calibration["created_at"].min()
    assert split.calibration["created_at"].max() < split.test["created_at"].min()


@pytest.mark.parametrize("objective", ["lambdarank", "binary"])
def test_the_same_data_and_seed_give_the_same_model(objective: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "c.toml").write_text(
        f'seed = 3\n[ranker]\nobjective = "{objective}"\nnum_boost_round = 15\nmin_data_in_leaf = 5\n'
        "[data]\nmax_train_opportunities = 80\nalternatives_per_opportunity = 8\n"
        "[search]\nmax_candidates_per_role = 4\nmax_teams_scored = 64\n"
    )
    config = TrainConfig.from_file(tmp_path / "c.toml")
    tables = generate_ecosystem(60, 400, seed=2).tables
    snapshot = FeatureSnapshot.build(tables, make_embedder("hashing"))
    train = time_split(tables.opportunities, config.split()).train
    probe = np.random.default_rng(0).normal(size=(20, len(snapshot.feature_names))).astype(np.float32)
    first, _ = fit_ranker(snapshot, train, tables.deal_partners, config)
    second, _ = fit_ranker(snapshot, train, tables.deal_partners, config)
    assert np.array_equal(first.score(probe), second.score(probe))


SMALL_MODEL = (
    'seed = 3\n[ranker]\nobjective = "binary"\nnum_boost_round = 15\nmin_data_in_leaf = 5\n'
    "[data]\nmax_train_opportunities = 80\nalternatives_per_opportunity = 8\n"
)
# A pool this small leaves most of the model's beam teams outside the retrieval-ordered teams.
SMALL_POOL = EvaluationConfig(k=5, pool_size=3, bootstrap=10)
RANKING_METRICS = ("ndcg_at_5", "recall_at_5", "mrr")

Beam = tuple[AssemblyPlan, list[dict[str, str | None]], np.ndarray, int]
SmallModel = tuple[TeamRecommender, pd.DataFrame, pd.DataFrame]


@pytest.fixture(scope="module")
def ecosystem() -> SyntheticEcosystem:
    return generate_ecosystem(60, 400, seed=2)


@pytest.fixture(scope="module")
def small_model(tmp_path_factory: pytest.TempPathFactory, ecosystem: SyntheticEcosystem) -> SmallModel:
    """A briefly trained recommender, the test period and the deal rows."""
    path = tmp_path_factory.mktemp("eval") / "c.toml"
    path.write_text(SMALL_MODEL)
    config = TrainConfig.from_file(path)
    tables = ecosystem.tables
    snapshot = FeatureSnapshot.build(tables, make_embedder("hashing"))
    split = time_split(tables.opportunities, config.split())
    ranker, _ = fit_ranker(snapshot, split.train, tables.deal_partners, config)
    recommender = TeamRecommender(snapshot, ranker, search_config(max_candidates_per_role=4, beam_width=8))
    return recommender, split.test, tables.deal_partners


class _RecordingTruth:
    """A stand-in ground truth that records every team it is asked about."""

    def __init__(self, roles: Sequence[str]) -> None:
        self.roles = roles
        self.ids: set[str] = set()
        self.teams: set[tuple[str | None, ...]] = set()

    def win_probability(self, ids: Sequence[str], teams: Sequence[Mapping[str, str | None]]) -> np.ndarray:
        self.ids.update(ids)
        self.teams.update(team_key(team, self.roles) for team in teams)
        return np.full(len(teams), 0.5)

    def oracle_team(
        self, opportunity_id: str, *, eligible: Callable[[str], bool] | None = None
    ) -> tuple[dict[str, str | None], float]:
        return {}, 0.5


def test_the_models_ranking_metrics_leave_out_its_own_beam_teams(
    small_model: SmallModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    recommender, test, deal_partners = small_model
    with_beam = evaluate(recommender, test, deal_partners, SMALL_POOL)
    search = recommender.search

    def no_beam(opp: PreparedOpportunity, roles: Sequence[str]) -> Beam:
        plan, _, _, scored = search(opp, roles)
        return plan, [], np.zeros(0), scored

    monkeypatch.setattr(recommender, "search", no_beam)
    without_beam = evaluate(recommender, test, deal_partners, SMALL_POOL)
    assert with_beam.won_opportunities > 0
    for metric in RANKING_METRICS:
        assert with_beam.methods[MODEL][metric] == without_beam.methods[MODEL][metric]


def test_the_true_win_comparison_still_sees_the_models_beam_teams(small_model: SmallModel) -> None:
    recommender, test, deal_partners = small_model
    roles = recommender.snapshot.roles
    truth = _RecordingTruth(roles)
    evaluate(recommender, test, deal_partners, SMALL_POOL, truth=truth)
    evaluated = test[test[s.OPPORTUNITY_ID].astype(str).isin(truth.ids)]
    beam_only: set[tuple[str | None, ...]] = set()
    for opp in recommender.snapshot.prepare(queries_from_frame(evaluated)):
        plan, teams, scores, _ = recommender.search(opp, roles)
        best = team_key(teams[int(np.argmax(scores))], roles)
        if best not in {team_key(t, roles) for t in assemble_teams(plan, SMALL_POOL.pool_size)}:
            beam_only.add(best)
    assert beam_only and beam_only <= truth.teams


@pytest.fixture(scope="module")
def truth_report(small_model: SmallModel, ecosystem: SyntheticEcosystem) -> EvaluationReport:
    recommender, test, deal_partners = small_model
    return evaluate(recommender, test, deal_partners, SMALL_POOL, truth=ecosystem.truth)


def test_the_ground_truth_reference_row_has_the_won_team_ranking_metrics(
    truth_report: EvaluationReport,
) -> None:
    assert set(truth_report.methods[TRUTH_REFERENCE]) == set(RANKING_METRICS)


def test_there_is_no_ground_truth_reference_row_without_a_ground_truth(small_model: SmallModel) -> None:
    recommender, test, deal_partners = small_model
    assert TRUTH_REFERENCE not in evaluate(recommender, test, deal_partners, SMALL_POOL).methods


def test_no_lift_is_computed_over_the_ground_truth_reference(truth_report: EvaluationReport) -> None:
    assert all(set(per) == set(BASELINES) for per in truth_report.lifts.values())


def test_the_true_ndcg_has_a_bootstrap_lift_over_every_baseline(truth_report: EvaluationReport) -> None:
    assert set(truth_report.lifts[true_ndcg_name(5)]) == set(BASELINES)


def test_every_method_has_a_true_ndcg_within_zero_and_one(truth_report: EvaluationReport) -> None:
    values = [truth_report.methods[m][true_ndcg_name(5)] for m in (MODEL, *BASELINES)]
    assert all(0.0 < v <= 1.0 for v in values)


def test_the_oracle_of_available_partners_wins_no_more_often_than_the_unconstrained_oracle(
    truth_report: EvaluationReport,
) -> None:
    assert truth_report.truth["oracle_available_mean"] <= truth_report.truth["oracle_mean"] + 1e-12


def _availability(status: str, capacity: float | None, open_deals: int) -> bool:
    """Whether the evaluation counts services partner S2 available on 2024-01-01 (no other open deals)."""
    eco = with_status_and_capacity(tiny_tables(), "S2", status, capacity)
    eco = with_open_deals(eco, "S2", open_deals, created="2023-12-01")
    snapshot = FeatureSnapshot.build(eco, make_embedder("hashing"))
    return availability(snapshot)(date(2024, 1, 1))("S2")


def test_a_partner_with_as_many_open_deals_as_its_capacity_is_unavailable() -> None:
    assert not _availability(s.DEFAULT_PARTNER_STATUS, 3.0, 3)


def test_a_partner_below_its_capacity_is_available() -> None:
    assert _availability(s.DEFAULT_PARTNER_STATUS, 3.0, 2)


def test_a_partner_without_a_capacity_is_available_however_busy() -> None:
    assert _availability(s.DEFAULT_PARTNER_STATUS, None, 50)


def test_an_inactive_partner_is_unavailable() -> None:
    assert not _availability("inactive", None, 0)


def test_a_partner_the_snapshot_does_not_know_is_unavailable() -> None:
    snapshot = FeatureSnapshot.build(tiny_tables(), make_embedder("hashing"))
    assert not availability(snapshot)(date(2024, 1, 1))("p9")
