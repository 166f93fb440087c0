import numpy as np

from models.velocity import expected_value_per_day, value_per_day_order


def test_expected_value_per_day_is_win_probability_times_size_over_days() -> None:
    assert expected_value_per_day(0.5, 100_000.0, 50.0) == 1000.0


def test_expected_value_per_day_is_unknown_without_a_positive_deal_size() -> None:
    assert expected_value_per_day(0.5, None, 50.0) is None
    assert expected_value_per_day(0.5, 0.0, 50.0) is None


def test_expected_value_per_day_is_unknown_without_days_to_close() -> None:
    assert expected_value_per_day(0.5, 100_000.0, None) is None


def test_ranking_by_value_per_day_puts_a_fast_team_above_a_likelier_slow_one() -> None:
    # P(win) / days: 0.6/120 = 0.005, 0.5/40 = 0.0125, 0.3/60 = 0.005 (a tie, broken by score)
    scores = np.array([3.0, 2.0, 1.0])
    order = value_per_day_order(scores, np.array([0.6, 0.5, 0.3]), np.array([120.0, 40.0, 60.0]))
    assert order.tolist() == [1, 0, 2]


def test_equal_teams_keep_the_order_they_came_in() -> None:
    order = value_per_day_order(np.ones(3), np.full(3, 0.4), np.full(3, 30.0))
    assert order.tolist() == [0, 1, 2]
