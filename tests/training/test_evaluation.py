from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import pytest

from features import schema as s
from features.embeddings import make_embedder
from features.engine import FeatureEngine, PreparedOpportunity
from features.queries import queries_from_frame
from features.synthetic.ecosystem import generate_ecosystem
from models.recommender import RecommenderConfig, TeamRecommender
from models.teams import AssemblyPlan, assemble_teams, team_key
from training.config import GateSection, TrainConfig
from training.dataset import SplitConfig, time_split
from training.evaluation import (
    MODEL,
    EvaluationConfig,
    EvaluationReport,
    bootstrap_lift,
    evaluate,
    reliability,
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
    engine = FeatureEngine.build(tables, make_embedder("hashing"))
    train = time_split(tables.opportunities, config.split()).train
    probe = np.random.default_rng(0).normal(size=(20, len(engine.feature_names))).astype(np.float32)
    first, _ = fit_ranker(engine, train, tables.deal_partners, config)
    second, _ = fit_ranker(engine, train, tables.deal_partners, config)
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
def small_model(tmp_path_factory: pytest.TempPathFactory) -> SmallModel:
    """A briefly trained recommender, the test period and the deal rows."""
    path = tmp_path_factory.mktemp("eval") / "c.toml"
    path.write_text(SMALL_MODEL)
    config = TrainConfig.from_file(path)
    tables = generate_ecosystem(60, 400, seed=2).tables
    engine = FeatureEngine.build(tables, make_embedder("hashing"))
    split = time_split(tables.opportunities, config.split())
    ranker, _ = fit_ranker(engine, split.train, tables.deal_partners, config)
    recommender = TeamRecommender(engine, ranker, RecommenderConfig(max_candidates_per_role=4, beam_width=8))
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

    def oracle_team(self, opportunity_id: str) -> tuple[dict[str, str | None], float]:
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
    roles = recommender.engine.roles
    truth = _RecordingTruth(roles)
    evaluate(recommender, test, deal_partners, SMALL_POOL, truth=truth)
    evaluated = test[test[s.OPPORTUNITY_ID].astype(str).isin(truth.ids)]
    beam_only: set[tuple[str | None, ...]] = set()
    for opp in recommender.engine.prepare(queries_from_frame(evaluated)):
        plan, teams, scores, _ = recommender.search(opp, roles)
        best = team_key(teams[int(np.argmax(scores))], roles)
        if best not in {team_key(t, roles) for t in assemble_teams(plan, SMALL_POOL.pool_size)}:
            beam_only.add(best)
    assert beam_only and beam_only <= truth.teams
