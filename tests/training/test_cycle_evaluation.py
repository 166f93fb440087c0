import numpy as np
import pandas as pd
import pytest

from features import schema as s
from features.embedder_factory import make_embedder
from features.snapshot import FeatureSnapshot
from synthetic.ecosystem import generate_ecosystem
from training.config import TrainConfig
from training.cycle_evaluation import (
    MIN_TRAIN_DEALS,
    cycle_time_report,
    days_to_close,
    fit_cycle_time,
    segment_median_baseline,
)
from training.dataset import time_split

START = pd.Timestamp("2024-01-01")


def _deals(rows: list[tuple[str, str, float, int]]) -> pd.DataFrame:
    """(outcome, industry, deal size, days to close) -> contract-shaped opportunities created on START."""
    return pd.DataFrame(
        {
            s.OPPORTUNITY_ID: [f"O{i}" for i in range(len(rows))],
            s.OUTCOME: [r[0] for r in rows],
            s.CUSTOMER_INDUSTRY: [r[1] for r in rows],
            s.DEAL_SIZE: [r[2] for r in rows],
            s.CREATED_AT: [START] * len(rows),
            s.CLOSED_AT: [START + pd.Timedelta(days=r[3]) for r in rows],
        }
    )


# Earlier won deals: retail small (median 35), retail big (median 95), banking small (median 330); all 100.
HISTORY = _deals(
    [(s.WON, "retail", 1e3, d) for d in (10, 20, 30, 40, 50, 60)]
    + [(s.WON, "retail", 1e6, d) for d in (70, 80, 90, 100, 110, 120)]
    + [(s.WON, "banking", 1e3, d) for d in (300, 310, 320, 330, 340, 350, 360)]
)


def test_days_to_close_count_days_from_creation_to_close_of_won_deals_only() -> None:
    deals = _deals([(s.WON, "retail", 1e3, 12), (s.LOST, "retail", 1e3, 30), (s.WON, "retail", 1e3, 0)])
    assert days_to_close(deals).to_dict() == {"O0": 12.0, "O2": 1.0}


def test_the_baseline_is_the_median_of_earlier_won_deals_of_the_same_industry_and_size_band() -> None:
    later = _deals([(s.WON, "retail", 1e3, 1), (s.WON, "retail", 1e6, 1)])
    baseline, _ = segment_median_baseline(HISTORY, later)
    assert baseline.tolist() == [35.0, 95.0]


def test_a_segment_without_enough_earlier_deals_uses_the_overall_median() -> None:
    later = _deals([(s.WON, "banking", 1e6, 1), (s.WON, "energy", 1e3, 1)])
    baseline, counts = segment_median_baseline(HISTORY, later)
    assert baseline.tolist() == [100.0, 100.0]
    assert counts["cycle_baseline_fallback_share"] == 1.0


def test_lost_deals_do_not_move_the_baseline() -> None:
    with_lost = pd.concat([HISTORY, _deals([(s.LOST, "retail", 1e3, 500)] * 5)], ignore_index=True)
    with_lost[s.OPPORTUNITY_ID] = [f"O{i}" for i in range(len(with_lost))]
    later = _deals([(s.WON, "retail", 1e3, 1)])
    assert segment_median_baseline(with_lost, later)[0].tolist() == [35.0]


def test_no_cycle_time_model_is_fitted_from_too_few_won_deals() -> None:
    tables = generate_ecosystem(40, 200, seed=3).tables
    opps = tables.opportunities
    few = opps[opps[s.OUTCOME] == s.WON].head(MIN_TRAIN_DEALS - 1)
    snapshot = FeatureSnapshot.build(tables, make_embedder("hashing"))
    assert fit_cycle_time(snapshot, few, tables.deal_partners) is None


@pytest.mark.slow
def test_the_report_compares_model_and_baseline_on_the_test_periods_won_deals() -> None:
    tables = generate_ecosystem(120, 900, seed=5).tables
    split = time_split(tables.opportunities, TrainConfig.from_file().split())
    snapshot = FeatureSnapshot.build(tables, make_embedder("hashing"))
    model = fit_cycle_time(snapshot, split.train, tables.deal_partners)
    report = cycle_time_report(model, snapshot, split.test, tables.deal_partners, tables.opportunities)
    won_test = int((split.test[s.OUTCOME] == s.WON).sum())
    assert 0 < report["cycle_test_deals"] <= won_test
    assert report["cycle_mae_improvement_days"] == pytest.approx(
        report["cycle_mae_days_baseline"] - report["cycle_mae_days"]
    )
    assert report["cycle_mae_improvement_ci_low"] <= report["cycle_mae_improvement_days"]
    assert report["cycle_mae_improvement_days"] <= report["cycle_mae_improvement_ci_high"]
    assert all(k.startswith("cycle_") and np.isfinite(v) for k, v in report.items())
