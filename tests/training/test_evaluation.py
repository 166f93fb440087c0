import numpy as np
import pytest

from features.embeddings import make_embedder
from features.engine import FeatureEngine
from features.synthetic.ecosystem import generate_ecosystem
from training.config import GateSection, TrainConfig
from training.dataset import SplitConfig, time_split
from training.evaluation import MODEL, EvaluationReport, bootstrap_lift, reliability
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
