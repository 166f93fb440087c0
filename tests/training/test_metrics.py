import pytest

from training.metrics import (
    graded_ndcg,
    ndcg_of_single_target,
    rank_of_target,
    recall_at_k,
    reciprocal_rank,
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
