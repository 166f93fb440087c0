"""One training run: features from the store, a time-split training set, the ranker, MLflow logging."""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from core.settings import Settings
from features import schema as s
from features.builds import save_feature_build
from features.embedder_factory import make_embedder
from features.embedding_cache import CachedEmbedder
from features.store import Store
from models.bundle import BUNDLE_ARTIFACT, FEATURES_ARTIFACT, BundleManifest, save_bundle
from training import tracking
from training.config import TrainConfig
from training.cycle_evaluation import cycle_time_report, fit_cycle_time
from training.data_window import training_data
from training.dataset import TeamExamples, group_offsets
from training.distributed import Cluster, describe, open_cluster
from training.evaluation import EvaluationReport, evaluate, load_truth
from training.metrics import ndcg_of_single_target, rank_of_target, recall_at_k, reciprocal_rank
from training.pipeline import Progress, fit_model, no_progress
from training.report_files import write_report

logger = logging.getLogger(__name__)


@dataclass
class TrainResult:
    version: str
    run_id: str
    feature_build_id: str
    metrics: dict[str, float]
    champion: bool
    params: dict[str, object] = field(default_factory=dict)
    report: EvaluationReport | None = None
    # Gate (a) of a first model (training/promotion.py): None when a champion already existed.
    gate_passed: bool | None = None
    gate_reasons: list[str] = field(default_factory=list)


def actual_team_metrics(scores: np.ndarray, examples: TeamExamples, k: int = 5) -> dict[str, float]:
    """How high the ranker puts the team that actually won, and how rarely it puts a losing team first."""
    offsets = group_offsets(examples.group_sizes)
    ranks_won: list[int] = []
    lost_on_top: list[float] = []
    for g, outcome in enumerate(examples.outcomes):
        group_scores = scores[offsets[g] : offsets[g + 1]]
        rank = rank_of_target(group_scores, 0)  # the actual team is the first row of its group
        if outcome == s.WON:
            ranks_won.append(rank)
        else:
            lost_on_top.append(1.0 if rank == 1 else 0.0)
    if not ranks_won:
        return {"won_groups": 0.0}
    return {
        "won_groups": float(len(ranks_won)),
        f"ndcg_at_{k}_won_team": float(np.mean([ndcg_of_single_target(r, k) for r in ranks_won])),
        f"recall_at_{k}_won_team": float(np.mean([recall_at_k(r, k) for r in ranks_won])),
        "mrr_won_team": float(np.mean([reciprocal_rank(r) for r in ranks_won])),
        "lost_team_ranked_first": float(np.mean(lost_on_top)) if lost_on_top else 0.0,
    }


def _example_frame(opportunities: pd.DataFrame) -> pd.DataFrame:
    """A small contract-shaped input example for the MLflow signature."""
    frame = opportunities[list(s.QUERY_FIELDS)].head(2).copy()
    frame[s.REQUIRED_SKILLS] = [s.LIST_SEPARATOR.join(tags) for tags in frame[s.REQUIRED_SKILLS]]
    frame[s.CREATED_AT] = frame[s.CREATED_AT].dt.strftime("%Y-%m-%d")
    frame[s.DEAL_SIZE] = frame[s.DEAL_SIZE].astype(float)
    for col in (s.OPPORTUNITY_ID, s.CUSTOMER_INDUSTRY, s.REGION, s.DESCRIPTION, s.REGISTERED_PARTNER_ID):
        frame[col] = frame[col].astype("string").fillna("").astype(object)
    return frame.reset_index(drop=True)


def find_truth_dir(settings: Settings, config: TrainConfig) -> Path | None:
    """The synthetic truth to evaluate against: the config's folder, else the demo export, else none."""
    for candidate in (config.evaluation.truth_dir, str(settings.demo_data_dir)):
        if candidate and load_truth_exists(Path(candidate)):
            return Path(candidate)
    return None


def load_truth_exists(path: Path) -> bool:
    return (path / "truth").is_dir() or (path / "truth.npz").is_file()


def train(
    settings: Settings,
    config: TrainConfig,
    progress: Progress = no_progress,
    truth_dir: Path | None = None,
) -> TrainResult:
    """Build features, fit the ranker on the earliest period, calibrate on the next, evaluate on the latest;
    log everything to one MLflow run and register the bundle."""
    started = time.perf_counter()
    store = Store(settings.store_url)
    store.migrate()
    # The store's own clock (naive local time, as its updated_at stamps): what changes after this is
    # replayed onto the model when it is served.
    snapshot_at = datetime.now().replace(microsecond=0)
    tables = store.load_tables()
    if tables.partners.empty:
        raise ValueError("the store is empty: ingest an export first (`partnermatch ingest DIR`)")
    # Recorded with the run so that `partnermatch retrain` can tell what a later store holds that this
    # model never saw.
    seen = training_data(store, tables, snapshot_at)
    embedder = CachedEmbedder(
        make_embedder(settings.embedder, cache_dir=settings.model_cache_dir), store.engine
    )
    # The cluster lives for the fit only: evaluation and logging stay here.
    with open_cluster(settings.dask_scheduler, settings.dask_workers) as dask_client:
        where = describe(dask_client) if dask_client is not None else "in process"
        fitted = fit_model(
            tables,
            embedder,
            config,
            roles=settings.roles,
            index_exact_max=settings.index_exact_max,
            progress=progress,
            show_progress=True,
            cluster=(
                Cluster(dask_client, settings.embedder, settings.model_cache_dir)
                if dask_client is not None
                else None
            ),
        )
    snapshot, ranker, split = fitted.snapshot, fitted.ranker, fitted.split
    metrics = dict(fitted.metrics)
    fit_seconds = metrics.pop("fit_seconds")
    # Days to close, after the calibrator: fitted on the training period's won deals, judged on the test's.
    cycle_time = fit_cycle_time(snapshot, split.train, tables.deal_partners)
    metrics.update(
        cycle_time_report(cycle_time, snapshot, split.test, tables.deal_partners, tables.opportunities)
    )
    features_root = settings.home / "features"
    build_id = save_feature_build(snapshot, features_root, snapshot_at=snapshot_at)
    recommender = fitted.recommender
    truth = load_truth(truth_dir or find_truth_dir(settings, config))
    report = evaluate(
        recommender,
        split.test,
        tables.deal_partners,
        config.evaluation_config(),
        truth=truth,
        progress=progress("evaluation (test opportunities)", len(split.test)),
    )
    metrics.update(report.flat_metrics())
    metrics.update(
        {
            "test_opportunities": float(report.opportunities),
            "fit_seconds": fit_seconds,
            "train_seconds": time.perf_counter() - started,
        }
    )
    params: dict[str, object] = {
        **{f"ranker.{k}": v for k, v in config.ranker.model_dump().items()},
        **{f"data.{k}": v for k, v in config.data.model_dump().items()},
        **{f"search.{k}": v for k, v in config.search.model_dump().items()},
        **{f"evaluation.{k}": v for k, v in config.evaluation.model_dump().items()},
        "seed": config.seed,
        "calibration_start": split.calibration_start.date().isoformat(),
        "test_start": split.test_start.date().isoformat(),
        "embedder": embedder.model_id,
        "feature_version": snapshot.feature_version,
        "feature_build_id": build_id,
        "calibrator": ranker.calibrator_.kind if ranker.calibrator_ else "none",
        # Where the training and calibration sets (and any trees) were built; the model is alike either way.
        "cluster": where,
        **seen.to_params(),
    }

    client = tracking.configure(settings)
    with tracking.start_run(run_name=f"train-{build_id}") as run, tempfile.TemporaryDirectory() as tmp:
        manifest = BundleManifest(
            feature_names=list(snapshot.feature_names),
            feature_version=snapshot.feature_version,
            feature_build_id=build_id,
            embedder_id=embedder.model_id,
            embedder_kind=settings.embedder,
            roles=list(snapshot.roles),
            trained_at=datetime.now(UTC).isoformat(),
            params={k: str(v) for k, v in params.items()},
            metrics={k: v for k, v in metrics.items() if np.isfinite(v)},
            search=config.search.model_dump(),
        )
        bundle_dir = save_bundle(Path(tmp) / BUNDLE_ARTIFACT, ranker, manifest, cycle_time)
        import mlflow

        mlflow.log_params(params)
        mlflow.log_metrics({k: v for k, v in metrics.items() if np.isfinite(v)})
        mlflow.log_dict(
            {
                "feature_names": list(snapshot.feature_names),
                "feature_version": snapshot.feature_version,
                "descriptions": dict(snapshot.feature_descriptions),
            },
            "feature_spec.json",
        )
        mlflow.log_dict(dict(ranker.feature_importance()), "feature_importance_gain.json")
        mlflow.log_dict(dict(ranker.prior_weights_), "linear_weights.json")
        report_dir = Path(tmp) / "evaluation"
        write_report(report, report_dir)
        mlflow.log_artifacts(str(report_dir), "evaluation")
        example = _example_frame(split.test)
        output = pd.DataFrame({s.OPPORTUNITY_ID: example[s.OPPORTUNITY_ID], "teams": ["[]"] * len(example)})
        # Logged under fixed names so a downloaded model always has artifacts/bundle and artifacts/features.
        features_copy = Path(tmp) / FEATURES_ARTIFACT
        shutil.copytree(features_root / build_id, features_copy)
        version = tracking.log_and_register(
            bundle_dir,
            features_copy,
            example,
            output,
            tags={"feature_build_id": build_id},
        )
        run_id = run.info.run_id
    champion = False
    gate_passed: bool | None = None
    gate_reasons: list[str] = []
    if tracking.champion_version(client) is None:
        from training.promotion import baseline_gate

        # No champion to beat, but the first model must still beat the best baseline (gate a); later
        # ones go through `partnermatch promote`, which applies both gates.
        check = baseline_gate(report, config.gate)
        gate_passed, gate_reasons = check.passed, check.reasons
        if check.passed:
            tracking.promote(client, version, reason="first model; " + "; ".join(check.reasons))
            champion = True
    logger.info("registered version %s (run %s), metrics %s", version, run_id, metrics)
    return TrainResult(
        version=version,
        run_id=run_id,
        feature_build_id=build_id,
        metrics=metrics,
        champion=champion,
        params=params,
        report=report,
        gate_passed=gate_passed,
        gate_reasons=gate_reasons,
    )
