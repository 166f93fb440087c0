import numpy as np
import pytest

from training.metrics import (
    auc,
    brier_score,
    expected_reciprocal_rank,
    graded_ndcg,
    log_loss,
    ndcg_of_single_target,
    rank_of_target,
    recall_at_k,
    reciprocal_rank,
    top1_value,
    top_k_share,
    wilson_interval,
)


def test_graded_ndcg_is_zero_when_nothing_is_relevant() -> None:
    assert graded_ndcg([0.3, 0.2, 0.1], [0.0, 0.0, 0.0], k=3) == 0.0


def test_graded_ndcg_of_a_single_item_is_one_when_it_has_gain() -> None:
    assert graded_ndcg([0.3], [0.5], k=3) == 1.0


def test_ndcg_of_a_single_target_at_rank_two_is_one_over_log2_of_three() -> None:
    assert abs(ndcg_of_single_target(2, k=5) - 0.6309297535714575) < 1e-12


def test_ndcg_of_a_single_target_outside_the_cutoff_is_zero() -> None:
    assert ndcg_of_single_target(6, k=5) == 0.0


def test_rank_of_target_counts_ties_against_the_target() -> None:
    assert rank_of_target([0.5, 0.5, 0.1], target=0) == 2


def test_reciprocal_rank_of_the_first_item_is_one() -> None:
    assert reciprocal_rank(1) == 1.0


def test_recall_at_k_is_zero_beyond_k() -> None:
    assert recall_at_k(4, k=3) == 0.0


def test_graded_ndcg_is_one_when_the_scores_rank_by_the_gains() -> None:
    gains = [0.2, 0.7, 0.1, 0.5]
    assert graded_ndcg(gains, gains, k=2) == pytest.approx(1.0)


def test_graded_ndcg_is_below_one_for_the_reversed_ranking() -> None:
    gains = [0.2, 0.7, 0.1, 0.5]
    assert graded_ndcg([-g for g in gains], gains, k=2) < 1.0


def test_graded_ndcg_uses_linear_gains() -> None:
    # top-1 holds gain 0.2 where the ideal top-1 holds 0.8
    assert graded_ndcg([1.0, 0.0], [0.2, 0.8], k=1) == pytest.approx(0.25)


def test_graded_ndcg_gives_tied_items_the_mean_discount_of_their_positions() -> None:
    # both items share positions 1 and 2, whose discounts at k=1 are 1 and 0
    assert graded_ndcg([0.3, 0.3], [1.0, 0.0], k=1) == pytest.approx(0.5)


def test_graded_ndcg_is_zero_when_no_item_has_a_gain() -> None:
    assert graded_ndcg([0.3, 0.1], [0.0, 0.0], k=2) == 0.0


def test_top_k_share_is_one_for_the_sole_top_item() -> None:
    assert top_k_share([0.9, 0.5, 0.1], target=0, k=1) == 1.0


def test_top_k_share_is_zero_below_the_cutoff() -> None:
    assert top_k_share([0.1, 0.5, 0.9], target=0, k=2) == 0.0


def test_top_k_share_splits_a_tie_that_straddles_the_cutoff() -> None:
    # One item above, three tied for places 2-4: the target makes the top 2 in one order of three.
    assert top_k_share([0.5, 0.5, 0.5, 0.9], target=0, k=2) == pytest.approx(1 / 3)


def test_expected_reciprocal_rank_of_a_two_way_tie_at_the_top_is_three_quarters() -> None:
    assert expected_reciprocal_rank([0.5, 0.5, 0.1], target=0) == pytest.approx(0.75)


def test_top1_value_averages_the_items_tied_for_the_top() -> None:
    assert top1_value([2.0, 2.0, 1.0], [0.2, 0.4, 0.9]) == pytest.approx(0.3)


def test_log_loss_of_a_coin_flip_is_ln_two() -> None:
    won = np.array([True, False, True, False])
    assert log_loss(np.full(4, 0.5), won) == pytest.approx(0.6931471805599453)


def test_log_loss_of_a_certain_miss_stays_finite() -> None:
    assert np.isfinite(log_loss(np.array([0.0]), np.array([True])))


def test_brier_score_of_perfect_predictions_is_zero() -> None:
    assert brier_score(np.array([1.0, 0.0]), np.array([True, False])) == 0.0


def test_auc_is_undefined_with_a_single_outcome_class() -> None:
    assert np.isnan(auc(np.array([0.2, 0.7]), np.array([True, True])))


def test_wilson_interval_of_eight_wins_in_ten() -> None:
    low, high = wilson_interval(8, 10)
    assert low == pytest.approx(0.4902, abs=1e-4) and high == pytest.approx(0.9433, abs=1e-4)


def test_wilson_interval_without_trials_is_undefined() -> None:
    assert all(np.isnan(v) for v in wilson_interval(0, 0))
