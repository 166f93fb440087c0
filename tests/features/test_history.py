"""Point-in-time partner and pair statistics, checked against hand-computed values."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features import history as h
from features.history import PartnerHistory
from tests.features.snapshot_fixtures import T, tables, with_outcome


@pytest.fixture(scope="module")
def history() -> PartnerHistory:
    return PartnerHistory.build(tables())


def stats_of(history: PartnerHistory, partner_id: str, as_of: date = T) -> pd.Series:
    return history.stats([partner_id], as_of, industry="retail", region="emea").iloc[0]


def test_only_deals_closed_before_as_of_are_counted(history: PartnerHistory) -> None:
    # S1 closed O1 (won) and O2 (lost) before T; O5 closes after T.
    row = stats_of(history, "S1")
    assert (row[h.DEALS], row[h.WINS]) == (2, 1)


def test_a_deal_closing_on_as_of_is_not_yet_counted(history: PartnerHistory) -> None:
    assert stats_of(history, "S1", date(2023, 3, 1))[h.DEALS] == 0
    assert stats_of(history, "S1", date(2023, 3, 2))[h.DEALS] == 1


def test_win_rate_is_smoothed_towards_the_base_rate(history: PartnerHistory) -> None:
    # Base rate at T: O1 won, O2 lost -> 0.5. I1: 1 win of 1 -> (1 + 4 * 0.5) / (1 + 4).
    assert stats_of(history, "I1")[h.WIN_RATE] == pytest.approx(0.6)


def test_industry_and_region_records_count_only_matching_deals(history: PartnerHistory) -> None:
    row = stats_of(history, "S1")
    assert (row[h.INDUSTRY_DEALS], row[h.INDUSTRY_WINS]) == (1, 1)
    assert (row[h.REGION_DEALS], row[h.REGION_WINS]) == (1, 1)
    banking = history.stats(["S1"], T, industry="banking", region=None).loc["S1"]
    assert (banking[h.INDUSTRY_DEALS], banking[h.INDUSTRY_WINS], banking[h.REGION_DEALS]) == (1, 0, 0)


def test_median_days_to_close_uses_closed_deals_only(history: PartnerHistory) -> None:
    # O1: 59 days, O2: 89 days.
    assert stats_of(history, "S1")[h.MEDIAN_DAYS_TO_CLOSE] == pytest.approx(74.0)


def test_days_since_last_win_counts_from_the_last_won_close(history: PartnerHistory) -> None:
    assert stats_of(history, "S1")[h.DAYS_SINCE_LAST_WIN] == (T - date(2023, 3, 1)).days


def test_a_partner_without_history_gets_zero_deals_and_the_base_rate(history: PartnerHistory) -> None:
    row = stats_of(history, "R2", date(2023, 1, 1))
    assert row[h.DEALS] == 0
    assert row[h.WIN_RATE] == pytest.approx(h.DEFAULT_BASE_RATE)
    assert np.isnan(row[h.MEDIAN_DAYS_TO_CLOSE])
    assert np.isnan(row[h.DAYS_SINCE_LAST_WIN])


def test_sourced_deals_count_closed_deals_the_partner_brought(history: PartnerHistory) -> None:
    assert stats_of(history, "S1")[h.SOURCED_DEALS] == 1


def test_open_engagements_are_deals_created_before_and_not_closed_before_as_of(
    history: PartnerHistory,
) -> None:
    # S1: O5 (created 2023-03-01, closes 2023-09-15) is open at T; S3: O4 never closed.
    frame = history.stats(["S1", "S3", "I2"], T, industry=None, region=None)
    assert frame[h.OPEN_ENGAGEMENTS].tolist() == [1, 1, 0]


def test_pair_stats_count_deals_closed_together_in_either_order(history: PartnerHistory) -> None:
    frame = history.pair_stats([("S1", "I1"), ("I1", "S1"), ("S1", "I2"), ("S2", "R1")], T)
    assert frame[h.JOINT_DEALS].tolist() == [1, 1, 1, 0]
    assert frame[h.JOINT_WINS].tolist() == [1, 1, 0, 0]
    assert frame[h.JOINT_WIN_RATE].iloc[0] == pytest.approx(0.6)


def test_changing_an_outcome_closed_after_as_of_leaves_stats_unchanged() -> None:
    before = PartnerHistory.build(tables())
    after = PartnerHistory.build(with_outcome(tables(), "O5", "lost"))
    ids = ["S1", "S2", "S3", "I1", "I2", "R1", "R2"]
    pd.testing.assert_frame_equal(
        before.stats(ids, T, industry="retail", region="emea"),
        after.stats(ids, T, industry="retail", region="emea"),
    )
    pairs = [("S1", "I1"), ("S1", "R1")]
    pd.testing.assert_frame_equal(before.pair_stats(pairs, T), after.pair_stats(pairs, T))


def test_changing_an_outcome_closed_before_as_of_changes_stats() -> None:
    before = PartnerHistory.build(tables())
    after = PartnerHistory.build(with_outcome(tables(), "O1", "lost"))
    assert stats_of(before, "S1")[h.WINS] == 1
    assert stats_of(after, "S1")[h.WINS] == 0


def test_history_saved_and_loaded_gives_the_same_stats(history: PartnerHistory, tmp_path: Path) -> None:
    history.save(tmp_path / "history.npz")
    loaded = PartnerHistory.load(tmp_path / "history.npz")
    ids = ["S1", "I1", "R2"]
    pd.testing.assert_frame_equal(
        history.stats(ids, T, industry="retail", region="emea"),
        loaded.stats(ids, T, industry="retail", region="emea"),
    )
    pd.testing.assert_frame_equal(history.pair_stats([("S1", "I1")], T), loaded.pair_stats([("S1", "I1")], T))


def test_skill_record_counts_deals_that_required_the_skill(history: PartnerHistory) -> None:
    # S1 before T: O1 required aws (won), O2 required sap s/4hana (lost).
    aws = history.stats(["S1"], T, industry=None, region=None, skills=["aws"]).iloc[0]
    assert (aws[h.SKILL_DEALS], aws[h.SKILL_WINS]) == (1, 1)
    assert aws[h.SKILL_WIN_RATE] == pytest.approx(0.6)
    both = history.stats(["S1"], T, industry=None, region=None, skills=["aws", "sap s/4hana"]).iloc[0]
    assert both[h.SKILL_DEALS] == 2
    assert both[h.SKILL_WIN_RATE] == pytest.approx((0.6 + 0.4) / 2)


def test_skill_win_rate_is_the_base_rate_without_required_skills(history: PartnerHistory) -> None:
    assert stats_of(history, "S1")[h.SKILL_WIN_RATE] == pytest.approx(0.5)


def test_revenue_splits_won_deal_size_by_who_sourced_the_deal(history: PartnerHistory) -> None:
    frame = history.stats(["S1", "I1"], T, industry=None, region=None)
    assert frame[h.SOURCED_REVENUE].tolist() == [100_000.0, 0.0]
    assert frame[h.INFLUENCED_REVENUE].tolist() == [0.0, 100_000.0]
    assert frame[h.INFLUENCED_DEALS].tolist() == [1, 1]


def test_recency_win_rate_weighs_recent_deals_more(history: PartnerHistory) -> None:
    # S1: O1 won 122 days before T, O2 lost 61 days before T.
    won, lost = 2 ** (-122 / h.RECENCY_HALF_LIFE_DAYS), 2 ** (-61 / h.RECENCY_HALF_LIFE_DAYS)
    expected = (won + h.PRIOR_STRENGTH * 0.5) / (won + lost + h.PRIOR_STRENGTH)
    row = stats_of(history, "S1")
    assert row[h.RECENCY_WIN_RATE] == pytest.approx(expected)
    assert row[h.RECENCY_WIN_RATE] < row[h.WIN_RATE]


def test_deal_size_profile_averages_log_sizes_of_closed_and_won_deals(history: PartnerHistory) -> None:
    row = stats_of(history, "S1")
    assert row[h.MEAN_LOG_DEAL_SIZE] == pytest.approx((np.log1p(100_000) + np.log1p(50_000)) / 2)
    assert row[h.WON_MEAN_LOG_DEAL_SIZE] == pytest.approx(np.log1p(100_000))
