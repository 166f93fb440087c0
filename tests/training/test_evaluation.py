from collections.abc import Callable, Mapping, Sequence
from datetime import date

import numpy as np
import pandas as pd
import pytest

from features import schema as s
from features.embedder_factory import make_embedder
from features.queries import actual_teams, queries_from_frame
from features.records import OpportunityQuery
from features.snapshot import FeatureSnapshot, PreparedOpportunity
from models.assembly import AssemblyPlan, assemble_teams, team_key
from models.recommender import TeamRecommender
from synthetic.ecosystem import SyntheticEcosystem, generate_ecosystem
from tests.configs import search_config
from tests.features.snapshot_fixtures import T, with_open_deals, with_status_and_capacity
from tests.features.snapshot_fixtures import tables as tiny_tables
from training.baselines import BASELINES, MOST_ACTIVE, MOST_EARLIER_WINS, baseline_scorers
from training.config import TrainConfig
from training.dataset import SplitConfig, time_split
from training.evaluation import (
    MODEL,
    MRR,
    PRECISION_AT_1,
    TRUTH_REFERENCE,
    EvaluationConfig,
    EvaluationReport,
    availability,
    calibration_section,
    competing_bids_section,
    evaluate,
    reliability,
    replay_section,
    true_ndcg_name,
)
from training.intervals import bootstrap_lift
from training.pipeline import fit_ranker
from training.report_files import summary_lines


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


# Real-data sections on hand-built inputs ---------------------------------------------------------------

METHODS = (MODEL, *BASELINES)
# Requests A (two bids, the first won), B (three bids, the second won), C (a single bid) and D (two won
# bids: not a usable comparison): only A and B are ranked.
REQUESTS = ["A", "A", "B", "B", "B", "C", "D", "D"]
BIDS_WON = np.array([1, 0, 0, 1, 0, 1, 1, 1], dtype=bool)


def test_a_scorer_that_knows_the_winning_bid_has_precision_at_1_of_one() -> None:
    scores = {m: BIDS_WON.astype(float) for m in METHODS}
    bids = competing_bids_section(REQUESTS, BIDS_WON, scores, n=50, seed=1)
    assert bids["methods"][MODEL] == {PRECISION_AT_1: 1.0, MRR: 1.0}


def test_only_requests_with_several_bids_and_one_won_bid_are_ranked() -> None:
    scores = {m: BIDS_WON.astype(float) for m in METHODS}
    bids = competing_bids_section(REQUESTS, BIDS_WON, scores, n=50, seed=1)
    assert (bids["requests"], bids["bids"], bids["requests_seen"]) == (2, 5, 4)


def test_a_scorer_that_ties_every_bid_is_credited_as_a_random_pick() -> None:
    scores = {m: np.zeros(len(REQUESTS)) for m in METHODS}
    bids = competing_bids_section(REQUESTS, BIDS_WON, scores, n=50, seed=1)
    assert bids["methods"][MODEL][PRECISION_AT_1] == pytest.approx((1 / 2 + 1 / 3) / 2)


def test_the_lift_over_a_baseline_that_always_picks_a_loser_is_one() -> None:
    scores = {m: BIDS_WON.astype(float) for m in METHODS}
    scores[MOST_EARLIER_WINS] = 1.0 - BIDS_WON
    bids = competing_bids_section(REQUESTS, BIDS_WON, scores, n=50, seed=1)
    assert bids["lift_over_baselines"][PRECISION_AT_1][MOST_EARLIER_WINS] == {
        "mean": 1.0,
        "ci_low": 1.0,
        "ci_high": 1.0,
    }


def test_replay_counts_the_deals_whose_actual_team_a_method_ranks_in_its_top_k() -> None:
    won = np.array([1, 1, 0, 0, 1], dtype=bool)
    shares = {m: np.array([1.0, 0.0, 1.0, 0.0, 0.0]) for m in METHODS}
    row = replay_section(shares, won, k=5, n=50, seed=1)["methods"][MODEL]
    assert (row["matched"], row["matched_won"], row["win_rate"]) == (2.0, 1.0, 0.5)
    assert row["other_win_rate"] == pytest.approx(2 / 3)
    assert row["lift_over_base_rate"] == pytest.approx(0.5 - 0.6)
    assert row["ci_low"] < 0.5 < row["ci_high"]


def test_replay_lifts_compare_the_models_matched_win_rate_with_each_baseline() -> None:
    won = np.array([1, 1, 0, 0], dtype=bool)
    shares = {m: np.array([0.0, 0.0, 1.0, 1.0]) for m in METHODS}
    shares[MODEL] = np.array([1.0, 1.0, 0.0, 0.0])
    replay = replay_section(shares, won, k=5, n=50, seed=1)
    assert replay["lift_over_baselines"]["random"]["mean"] == 1.0


def test_the_log_loss_interval_contains_the_point_estimate() -> None:
    rng = np.random.default_rng(0)
    p = rng.uniform(0.05, 0.95, size=300)
    won = rng.random(300) < p
    calibration = calibration_section(p, won, n=200, seed=1)
    ci = calibration["intervals"]["log_loss"]
    assert ci["ci_low"] < calibration["log_loss"] < ci["ci_high"]


def test_there_is_no_calibration_section_without_calibrated_probabilities() -> None:
    assert calibration_section(np.full(3, np.nan), np.array([True, False, True]), n=20, seed=1) == {}


def _baseline_scores(name: str) -> np.ndarray:
    """A baseline's scores, on T in the tiny ecosystem, of team S1+I1+R1 (O1 won, O2 lost before T)
    and team S2+I2+R2 (S2's only deal closes after T, I2 and R2 lost O2)."""
    snapshot = FeatureSnapshot.build(tiny_tables(), make_embedder("hashing"))
    [opp] = snapshot.prepare([OpportunityQuery(as_of=T)])
    teams: list[dict[str, str | None]] = [
        {s.SERVICES: "S1", s.INFLUENCE: "I1", s.RESELLER: "R1"},
        {s.SERVICES: "S2", s.INFLUENCE: "I2", s.RESELLER: "R2"},
    ]
    features = snapshot.team_features(opp, teams)
    return baseline_scorers(snapshot, seed=0)[name](opp, teams, features)


def test_most_earlier_wins_sums_the_members_wins_closed_before_the_deal() -> None:
    assert _baseline_scores(MOST_EARLIER_WINS).tolist() == [3.0, 0.0]


def test_most_active_sums_the_members_deals_closed_before_the_deal() -> None:
    assert _baseline_scores(MOST_ACTIVE).tolist() == [4.0, 2.0]


# Real-data sections on the small model ----------------------------------------------------------------


def test_the_baselines_are_what_a_programme_manager_would_use() -> None:
    assert set(BASELINES) == {
        "random",
        MOST_EARLIER_WINS,
        MOST_ACTIVE,
        "prm_rules",
        "embedding_similarity",
        "win_rate_heuristic",
    }


def test_an_export_without_request_id_evaluates_as_before(small_model: SmallModel) -> None:
    recommender, test, deal_partners = small_model
    no_column = test.drop(columns=[s.REQUEST_ID], errors="ignore")
    without = evaluate(recommender, no_column, deal_partners, SMALL_POOL)
    empty = evaluate(recommender, test.assign(**{s.REQUEST_ID: None}), deal_partners, SMALL_POOL)
    assert without.competing_bids == {} and empty.competing_bids == {}
    assert without.methods == empty.methods and without.replay == empty.replay


def test_competing_bids_rank_the_actual_teams_of_each_requests_bids(small_model: SmallModel) -> None:
    recommender, test, deal_partners = small_model
    known = recommender.snapshot.known_partner_ids()
    teams = actual_teams(deal_partners, recommender.snapshot.roles)
    usable = test[
        [
            all(p in known for p in teams.get(str(o), {None: None}).values() if p is not None)
            and str(o) in teams
            for o in test[s.OPPORTUNITY_ID]
        ]
    ]
    won = usable[usable[s.OUTCOME] == s.WON][s.OPPORTUNITY_ID].tolist()
    lost = usable[usable[s.OUTCOME] != s.WON][s.OPPORTUNITY_ID].tolist()
    pairs = min(len(won), len(lost))
    request = {oid: f"R{i}" for i, oid in enumerate(won[:pairs])}
    request.update({oid: f"R{i}" for i, oid in enumerate(lost[:pairs])})
    bids = test.assign(**{s.REQUEST_ID: test[s.OPPORTUNITY_ID].map(request)})
    report = evaluate(recommender, bids, deal_partners, SMALL_POOL)
    assert pairs > 0 and report.competing_bids["requests"] == pairs
    assert all(0.0 <= v[PRECISION_AT_1] <= 1.0 for v in report.competing_bids["methods"].values())
    assert set(report.competing_bids["methods"]) == {MODEL, *BASELINES}


def test_the_replay_base_rate_is_the_test_periods_win_rate(truth_report: EvaluationReport) -> None:
    replay = truth_report.replay
    assert replay["base_rate"] == pytest.approx(truth_report.won_opportunities / truth_report.opportunities)
    assert all(0.0 <= r["matched"] <= truth_report.opportunities for r in replay["methods"].values())


def test_the_flat_metrics_carry_the_replay(truth_report: EvaluationReport) -> None:
    flat = truth_report.flat_metrics()
    assert {"test_replay_model_win_rate", "test_replay_lift_vs_most_earlier_wins_ci_low"} <= set(flat)


def test_the_flat_metrics_carry_the_log_loss_and_its_interval() -> None:
    won = np.array([True, False, True, False, True])
    calibration = calibration_section(np.array([0.8, 0.3, 0.6, 0.4, 0.7]), won, n=20, seed=1)
    report = EvaluationReport(
        k=5, opportunities=5, won_opportunities=3, methods={}, lifts={}, calibration=calibration
    )
    wanted = {"test_log_loss", "test_log_loss_ci_low", "test_auc_ci_high", "test_brier"}
    assert wanted <= set(report.flat_metrics())


def test_the_summary_marks_ndcg_as_an_imitation_metric(truth_report: EvaluationReport) -> None:
    model_line = next(line for line in summary_lines(truth_report) if line.strip().startswith(MODEL))
    assert "[imitation] ndcg_at_5=" in model_line


def test_the_json_report_names_the_imitation_metrics(truth_report: EvaluationReport) -> None:
    report = truth_report.to_dict()
    assert report["imitation_metrics"]["names"] == ["ndcg_at_5", "recall_at_5", "mrr"]
    assert {"replay", "competing_bids", "calibration"} <= set(report)
