"""The promotion gate on hand-built reports: (a) against the best baseline, (b) against the champion."""

from __future__ import annotations

from typing import Any

from training.baselines import MOST_ACTIVE
from training.config import GateSection
from training.evaluation import (
    MODEL,
    PRECISION_AT_1,
    REPLAY_WIN_RATE,
    TOP1_TRUE_WIN,
    WITHIN_REQUEST_PRECISION,
    EvaluationReport,
)
from training.promotion import baseline_gate, champion_gate, gate, primary_measure

Interval = tuple[float, float, float]  # mean, ci_low, ci_high


def _ci(mean: float, low: float, high: float) -> dict[str, float]:
    return {"mean": mean, "ci_low": low, "ci_high": high}


def truth_report(
    values: dict[str, float],
    lifts: dict[str, Interval],
    *,
    deals: int = 100,
    log_loss: float = 0.6,
    model_ndcg: float = 0.3,
) -> EvaluationReport:
    """A report with a ground truth: each method's top-1 true win probability, the model's lifts."""
    methods = {m: {"ndcg_at_5": 0.3, TOP1_TRUE_WIN: v} for m, v in values.items()}
    methods[MODEL]["ndcg_at_5"] = model_ndcg
    return EvaluationReport(
        k=5,
        opportunities=deals,
        won_opportunities=deals // 2,
        methods=methods,
        lifts={TOP1_TRUE_WIN: {b: _ci(*ci) for b, ci in lifts.items()}},
        calibration={"log_loss": log_loss},
    )


def real_report(
    requests: int,
    precision: dict[str, float],
    lift: Interval,
    *,
    matched: dict[str, float] | None = None,
    win_rate: dict[str, float] | None = None,
) -> EvaluationReport:
    """A report without ground truth, with competing bids and a replay section."""
    support = matched or {}
    rates = win_rate or {}
    bids: dict[str, Any] = {
        "requests": requests,
        "bids": 2 * requests,
        "methods": {m: {PRECISION_AT_1: v} for m, v in precision.items()},
        "lift_over_baselines": {PRECISION_AT_1: {b: _ci(*lift) for b in precision if b != MODEL}},
    }
    replay: dict[str, Any] = {
        "methods": {m: {"win_rate": rates.get(m, 0.5), "matched": support.get(m, 60.0)} for m in precision},
        "lift_over_baselines": {b: _ci(*lift) for b in precision if b != MODEL},
    }
    methods = {m: {"ndcg_at_5": 0.3} for m in precision}
    return EvaluationReport(
        k=5,
        opportunities=200,
        won_opportunities=60,
        methods=methods,
        lifts={},
        calibration={},
        replay=replay,
        competing_bids=bids,
    )


def test_the_gate_refuses_a_first_model_that_loses_to_the_best_baseline() -> None:
    report = truth_report(
        {MODEL: 0.41, "random": 0.20, "most_earlier_wins": 0.44},
        {"random": (0.21, 0.19, 0.23), "most_earlier_wins": (-0.03, -0.05, -0.01)},
    )
    check = baseline_gate(report, GateSection())
    assert not check.passed and not check.too_small
    assert check.reasons == [
        "the model's top-1 true win probability 0.410 does not beat most_earlier_wins 0.440 "
        "(lift -0.030 [-0.050, -0.010])"
    ]


def test_the_gate_passes_a_model_whose_lift_over_the_best_baseline_is_clearly_positive() -> None:
    report = truth_report({MODEL: 0.50, "most_earlier_wins": 0.44}, {"most_earlier_wins": (0.06, 0.03, 0.09)})
    assert baseline_gate(report, GateSection()).passed


def test_a_lift_whose_interval_reaches_below_the_minimum_does_not_pass() -> None:
    lifts = {"most_earlier_wins": (0.02, -0.01, 0.05)}
    report = truth_report({MODEL: 0.46, "most_earlier_wins": 0.44}, lifts)
    assert not baseline_gate(report, GateSection()).passed


def test_the_gate_never_reads_ndcg() -> None:
    report = truth_report(
        {MODEL: 0.50, "most_earlier_wins": 0.44}, {"most_earlier_wins": (0.06, 0.03, 0.09)}, model_ndcg=0.0
    )
    assert baseline_gate(report, GateSection()).passed


def test_a_test_period_below_the_minimum_is_too_small_to_tell() -> None:
    report = truth_report(
        {MODEL: 0.50, "most_earlier_wins": 0.44}, {"most_earlier_wins": (0.06, 0.03, 0.09)}, deals=49
    )
    check = baseline_gate(report, GateSection(min_test_deals=50))
    assert not check.passed and check.too_small
    assert check.reasons[0].startswith("too small to tell: 49 test deals, at least 50 needed")


def test_with_a_ground_truth_the_primary_measure_is_the_top1_true_win_probability() -> None:
    report = truth_report({MODEL: 0.5, "random": 0.2}, {"random": (0.3, 0.2, 0.4)})
    assert primary_measure(report, GateSection()) == TOP1_TRUE_WIN


def test_without_truth_enough_competing_bid_requests_make_precision_at_1_the_primary_measure() -> None:
    report = real_report(30, {MODEL: 0.6, "most_earlier_wins": 0.5}, (0.1, 0.02, 0.2))
    assert primary_measure(report, GateSection(min_groups=30)) == WITHIN_REQUEST_PRECISION


def test_without_truth_too_few_requests_make_the_replay_the_primary_measure() -> None:
    report = real_report(29, {MODEL: 0.6, "most_earlier_wins": 0.5}, (0.1, 0.02, 0.2))
    assert primary_measure(report, GateSection(min_groups=30)) == REPLAY_WIN_RATE


def test_a_model_beaten_by_the_bidder_with_most_earlier_wins_is_refused() -> None:
    report = real_report(40, {MODEL: 0.45, "most_earlier_wins": 0.55}, (-0.10, -0.2, -0.01))
    check = baseline_gate(report, GateSection(min_groups=30))
    assert not check.passed
    assert "precision@1 of the winning bid 0.450 does not beat most_earlier_wins" in check.reasons[0]


def test_the_champion_gate_passes_a_candidate_that_beats_the_champion() -> None:
    candidate = truth_report({MODEL: 0.50}, {}, log_loss=0.60)
    champion = truth_report({MODEL: 0.48}, {}, log_loss=0.61)
    assert champion_gate(candidate, champion, GateSection()).passed


def test_the_champion_gate_refuses_a_lower_true_win_probability() -> None:
    candidate = truth_report({MODEL: 0.40}, {}, log_loss=0.60)
    champion = truth_report({MODEL: 0.48}, {}, log_loss=0.60)
    check = champion_gate(candidate, champion, GateSection())
    assert not check.passed and "FAIL" in check.reasons[0]


def test_the_champion_gate_refuses_a_log_loss_that_rises_beyond_the_allowance() -> None:
    candidate = truth_report({MODEL: 0.50}, {}, log_loss=0.62)
    champion = truth_report({MODEL: 0.48}, {}, log_loss=0.60)
    check = champion_gate(candidate, champion, GateSection(min_lift_log_loss=-0.005))
    assert not check.passed and "log loss" in check.reasons[1] and "FAIL" in check.reasons[1]


def test_promotion_needs_both_the_baseline_and_the_champion_gate() -> None:
    lifts = {"most_earlier_wins": (0.06, 0.03, 0.09)}
    candidate = truth_report({MODEL: 0.50, "most_earlier_wins": 0.44}, lifts)
    better_champion = truth_report({MODEL: 0.55, "most_earlier_wins": 0.44}, lifts)
    worse_champion = truth_report({MODEL: 0.45, "most_earlier_wins": 0.44}, lifts)
    assert not gate(candidate, better_champion, GateSection())[0]
    assert gate(candidate, worse_champion, GateSection())[0]


def test_the_replay_is_too_small_to_tell_when_the_models_top_k_rarely_holds_the_actual_team() -> None:
    report = real_report(0, {MODEL: 0.5, MOST_ACTIVE: 0.4}, (0.1, 0.05, 0.2), matched={MODEL: 1.0})
    check = baseline_gate(report, GateSection(min_matched_deals=30))
    assert not check.passed and check.too_small
    assert "held the actual team on 1.0 of 200 test deals, at least 30 needed" in check.reasons[0]


def test_a_baseline_with_few_matched_deals_is_no_bar_in_the_replay() -> None:
    report = real_report(
        0,
        {MODEL: 0.5, "random": 0.0, MOST_ACTIVE: 0.0},
        (0.1, 0.05, 0.2),
        matched={MODEL: 60.0, "random": 1.0, MOST_ACTIVE: 150.0},
        win_rate={MODEL: 0.45, "random": 1.0, MOST_ACTIVE: 0.42},
    )
    check = baseline_gate(report, GateSection(min_matched_deals=30))
    assert check.passed and "beats most_active 0.420" in check.reasons[0]
