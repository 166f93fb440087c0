"""The promotion gate: a model becomes champion only if it beats the best baseline and the champion."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

from core.settings import Settings
from features.store import Store
from models.registry import load_champion
from training import tracking
from training.config import GateSection, TrainConfig
from training.dataset import time_split
from training.evaluation import (
    MODEL,
    REPLAY_WIN_RATE,
    TOP1_TRUE_WIN,
    WITHIN_REQUEST_PRECISION,
    EvaluationReport,
    evaluate,
    load_truth,
)

logger = logging.getLogger(__name__)

LOG_LOSS = "log_loss"
LABELS = {
    TOP1_TRUE_WIN: "top-1 true win probability",
    WITHIN_REQUEST_PRECISION: "within-request precision@1 of the winning bid",
    REPLAY_WIN_RATE: "replay win rate",
}


@dataclass(frozen=True)
class GateCheck:
    """One gate's verdict on a candidate: pass or not, why, and whether the test period was too small."""

    passed: bool
    measure: str
    reasons: list[str]
    too_small: bool = False


@dataclass(frozen=True)
class GateDecision:
    candidate: str
    champion: str | None
    passed: bool
    reasons: list[str]
    candidate_metrics: dict[str, float]
    champion_metrics: dict[str, float]
    too_small: bool = False
    checks: list[GateCheck] = field(default_factory=list)


def primary_measure(report: EvaluationReport, rules: GateSection) -> str:
    """The measure the gates read: true win probability when known, else competing bids, else replay."""
    if TOP1_TRUE_WIN in report.methods.get(MODEL, {}):
        return TOP1_TRUE_WIN
    if report.competing_bids.get("requests", 0) >= rules.min_groups:
        return WITHIN_REQUEST_PRECISION
    return REPLAY_WIN_RATE


def _matched(report: EvaluationReport) -> dict[str, float]:
    """Per method, the (expected) test deals whose actual team it ranks in its top k: the replay's support."""
    return {m: float(v["matched"]) for m, v in report.replay.get("methods", {}).items()}


def _too_small(report: EvaluationReport, measure: str, rules: GateSection) -> str | None:
    if report.opportunities < rules.min_test_deals:
        return f"{report.opportunities} test deals, at least {rules.min_test_deals} needed"
    requests = int(report.competing_bids.get("requests", 0))
    if measure == WITHIN_REQUEST_PRECISION and requests < rules.min_groups:
        return f"{requests} competing-bid requests, at least {rules.min_groups} needed"
    matched = _matched(report).get(MODEL, 0.0)
    if measure == REPLAY_WIN_RATE and matched < rules.min_matched_deals:
        return (
            f"the model's top {report.k} held the actual team on {matched:.1f} of {report.opportunities} "
            f"test deals, at least {rules.min_matched_deals} needed"
        )
    return None


def baseline_gate(report: EvaluationReport, rules: GateSection) -> GateCheck:
    """Gate (a): the model's lift over the best baseline on the primary measure, 95% interval's low end
    above `min_lift_over_best_baseline`. Applies to every candidate, the very first model included."""
    measure = primary_measure(report, rules)
    label = LABELS[measure]
    small = _too_small(report, measure, rules)
    if small is not None:
        return GateCheck(False, measure, [f"too small to tell: {small} to compare the model's {label}"], True)
    values = report.measure_values(measure)
    lifts = report.measure_lifts(measure)
    baselines = {b: v for b, v in values.items() if b != MODEL and b in lifts and math.isfinite(v)}
    if measure == REPLAY_WIN_RATE:  # a baseline's win rate over a handful of matched deals is no bar
        support = _matched(report)
        baselines = {b: v for b, v in baselines.items() if support.get(b, 0.0) >= rules.min_matched_deals}
    model = values.get(MODEL, float("nan"))
    if measure == REPLAY_WIN_RATE and not baselines:
        reason = f"too small to tell: no baseline's top {report.k} held the actual team on "
        reason += f"{rules.min_matched_deals} test deals"
        return GateCheck(False, measure, [reason], True)
    if not baselines or not math.isfinite(model):
        return GateCheck(False, measure, [f"cannot tell: no {label} for the model and a baseline"])
    best = max(baselines, key=lambda b: baselines[b])
    ci = lifts[best]
    floor = rules.min_lift_over_best_baseline
    passed = math.isfinite(ci["ci_low"]) and ci["ci_low"] > floor
    verdict = "beats" if passed else "does not beat"
    interval = f"lift {ci['mean']:+.3f} [{ci['ci_low']:+.3f}, {ci['ci_high']:+.3f}]"
    if floor != 0.0:
        interval += f", low end must exceed {floor:+.3f}"
    if measure == REPLAY_WIN_RATE:
        support = _matched(report)
        interval += f"; over {support[MODEL]:.1f} and {support[best]:.1f} matched deals"
    reason = f"the model's {label} {model:.3f} {verdict} {best} {baselines[best]:.3f} ({interval})"
    return GateCheck(passed, measure, [reason])


def champion_gate(candidate: EvaluationReport, champion: EvaluationReport, rules: GateSection) -> GateCheck:
    """Gate (b): candidate minus champion on the same test period, on the primary measure and log loss."""
    measure = primary_measure(candidate, rules)
    label = LABELS[measure]
    minimum = {
        TOP1_TRUE_WIN: rules.min_lift_true_win_probability,
        WITHIN_REQUEST_PRECISION: rules.min_lift_within_request_precision_at_1,
        REPLAY_WIN_RATE: rules.min_lift_replay_win_rate,
    }[measure]
    ours = candidate.measure_values(measure).get(MODEL, float("nan"))
    theirs = champion.measure_values(measure).get(MODEL, float("nan"))
    lift = ours - theirs
    passed = math.isfinite(lift) and lift >= minimum
    reasons = [
        f"{label} {ours:.3f} vs champion {theirs:.3f}: lift {lift:+.4f} (minimum {minimum:+.4f}): "
        f"{'pass' if passed else 'FAIL'}"
    ]
    ours_ll, theirs_ll = candidate.calibration.get(LOG_LOSS), champion.calibration.get(LOG_LOSS)
    if isinstance(ours_ll, float) and isinstance(theirs_ll, float):
        drop = theirs_ll - ours_ll
        ll_ok = drop >= rules.min_lift_log_loss
        reasons.append(
            f"log loss {ours_ll:.4f} vs champion {theirs_ll:.4f}: lift {drop:+.4f} "
            f"(minimum {rules.min_lift_log_loss:+.4f}): {'pass' if ll_ok else 'FAIL'}"
        )
        passed = passed and ll_ok
    else:
        reasons.append("log loss not compared: a model without calibrated win probabilities")
    return GateCheck(passed, measure, reasons)


def gate(
    candidate: EvaluationReport, champion: EvaluationReport, rules: GateSection
) -> tuple[bool, list[str]]:
    """Both gates for a candidate against a champion on the same test period."""
    checks = [baseline_gate(candidate, rules), champion_gate(candidate, champion, rules)]
    return all(c.passed for c in checks), _reasons(checks)


def _reasons(checks: list[GateCheck]) -> list[str]:
    names = ("vs best baseline", "vs champion")
    return [f"{name}: {why}" for name, check in zip(names, checks, strict=False) for why in check.reasons]


def evaluate_version(
    settings: Settings, version: str | None, config: TrainConfig, truth_dir: Path | None
) -> tuple[str, EvaluationReport]:
    """Evaluate a registered version (default: champion) on the store's latest test period."""
    model = load_champion(settings, version)
    tables = Store(settings.store_url).load_tables()
    split = time_split(tables.opportunities, config.split())
    report = evaluate(
        model.recommender,
        split.test,
        tables.deal_partners,
        config.evaluation_config(),
        truth=load_truth(truth_dir),
    )
    return model.version, report


def decide(settings: Settings, candidate: str, config: TrainConfig, truth_dir: Path | None) -> GateDecision:
    """Gate (a) for every candidate, and gate (b) when there is another champion to beat."""
    client = tracking.configure(settings)
    champion = tracking.champion_version(client)
    if champion == candidate:
        reason = f"version {candidate} is already the champion"
        return GateDecision(candidate, champion, True, [reason], {}, {})
    _, cand_report = evaluate_version(settings, candidate, config, truth_dir)
    checks = [baseline_gate(cand_report, config.gate)]
    champion_metrics: dict[str, float] = {}
    if champion is not None:
        _, champ_report = evaluate_version(settings, champion, config, truth_dir)
        checks.append(champion_gate(cand_report, champ_report, config.gate))
        champion_metrics = champ_report.flat_metrics()
    return GateDecision(
        candidate,
        champion,
        all(c.passed for c in checks),
        _reasons(checks),
        cand_report.flat_metrics(),
        champion_metrics,
        too_small=any(c.too_small for c in checks),
        checks=checks,
    )


def latest_version(settings: Settings) -> str | None:
    client = tracking.configure(settings)
    versions = client.search_model_versions(f"name='{tracking.REGISTERED_MODEL_NAME}'")
    return max((str(v.version) for v in versions), key=int, default=None)
