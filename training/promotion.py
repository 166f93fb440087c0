"""The promotion gate: a candidate replaces the champion only if it does as well on the same test period."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from core.settings import Settings
from features.store import Store
from models.registry import load_champion
from training import tracking
from training.config import GateSection, TrainConfig
from training.dataset import time_split
from training.evaluation import MODEL, EvaluationReport, evaluate, load_truth

logger = logging.getLogger(__name__)

TRUE_WIN = "top1_true_win_probability"


@dataclass(frozen=True)
class GateDecision:
    candidate: str
    champion: str | None
    passed: bool
    reasons: list[str]
    candidate_metrics: dict[str, float]
    champion_metrics: dict[str, float]


def gate(
    candidate: EvaluationReport, champion: EvaluationReport, rules: GateSection
) -> tuple[bool, list[str]]:
    """Compare two reports of the same test period against the configured minimum lifts."""
    reasons: list[str] = []
    ndcg = f"ndcg_at_{candidate.k}"
    lift = candidate.methods[MODEL][ndcg] - champion.methods[MODEL][ndcg]
    ok = lift >= rules.min_lift_ndcg
    reasons.append(
        f"{ndcg} lift {lift:+.4f} (minimum {rules.min_lift_ndcg:+.4f}): {'pass' if ok else 'FAIL'}"
    )
    if TRUE_WIN in candidate.methods[MODEL] and TRUE_WIN in champion.methods[MODEL]:
        truth_lift = candidate.methods[MODEL][TRUE_WIN] - champion.methods[MODEL][TRUE_WIN]
        truth_ok = truth_lift >= rules.min_lift_true_win_probability
        reasons.append(
            f"{TRUE_WIN} lift {truth_lift:+.4f} (minimum {rules.min_lift_true_win_probability:+.4f}): "
            f"{'pass' if truth_ok else 'FAIL'}"
        )
        ok = ok and truth_ok
    return ok, reasons


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
    client = tracking.configure(settings)
    champion = tracking.champion_version(client)
    if champion is None or champion == candidate:
        return GateDecision(candidate, champion, True, ["no other champion to beat"], {}, {})
    _, cand_report = evaluate_version(settings, candidate, config, truth_dir)
    _, champ_report = evaluate_version(settings, champion, config, truth_dir)
    passed, reasons = gate(cand_report, champ_report, config.gate)
    return GateDecision(
        candidate, champion, passed, reasons, cand_report.methods[MODEL], champ_report.methods[MODEL]
    )


def latest_version(settings: Settings) -> str | None:
    client = tracking.configure(settings)
    versions = client.search_model_versions(f"name='{tracking.REGISTERED_MODEL_NAME}'")
    return max((str(v.version) for v in versions), key=int, default=None)
