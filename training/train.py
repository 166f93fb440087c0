"""One training run: features from the store, a time-split training set, the ranker, MLflow logging."""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from collections.abc import Callable
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
from features.snapshot import FeatureSnapshot
from features.store import Store
from models.bundle import BUNDLE_ARTIFACT, FEATURES_ARTIFACT, BundleManifest, save_bundle
from models.calibration import WinCalibrator
from models.ranker import TeamRanker
from models.recommender import TeamRecommender
from training import tracking
from training.config import TrainConfig
from training.dataset import TeamExamples, actual_team_examples, build_examples, group_offsets, time_split
from training.evaluation import EvaluationReport, evaluate, load_truth, write_report
from training.metrics import ndcg_of_single_target, rank_of_target, recall_at_k, reciprocal_rank

logger = logging.getLogger(__name__)

Progress = Callable[[str, int], Callable[[int], None]]  # (description, total) -> advance(n)


@dataclass
class TrainResult:
    version: str
    run_id: str
    feature_build_id: str
    metrics: dict[str, float]
    champion: bool
    params: dict[str, object] = field(default_factory=dict)
    report: EvaluationReport | None = None


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
    cols = [
        s.OPPORTUNITY_ID,
        s.CUSTOMER_INDUSTRY,
        s.REGION,
        s.DEAL_SIZE,
        s.REQUIRED_SKILLS,
        s.DESCRIPTION,
        s.CREATED_AT,
        s.REGISTERED_PARTNER_ID,
    ]
    frame = opportunities[cols].head(2).copy()
    frame[s.REQUIRED_SKILLS] = [s.LIST_SEPARATOR.join(tags) for tags in frame[s.REQUIRED_SKILLS]]
    frame[s.CREATED_AT] = frame[s.CREATED_AT].dt.strftime("%Y-%m-%d")
    frame[s.DEAL_SIZE] = frame[s.DEAL_SIZE].astype(float)
    for col in (s.OPPORTUNITY_ID, s.CUSTOMER_INDUSTRY, s.REGION, s.DESCRIPTION, s.REGISTERED_PARTNER_ID):
        frame[col] = frame[col].astype("string").fillna("").astype(object)
    return frame.reset_index(drop=True)


def _no_progress(description: str, total: int) -> Callable[[int], None]:
    return lambda n: None


def fit_ranker(
    snapshot: FeatureSnapshot,
    tables_train: pd.DataFrame,
    deal_partners: pd.DataFrame,
    config: TrainConfig,
    progress: Progress = _no_progress,
) -> tuple[TeamRanker, dict[str, float]]:
    """The ranker on the training period: grouped graded teams (lambdarank) or actual teams (binary)."""
    params = config.ranker_params()
    if params.objective == "binary":
        actual = actual_team_examples(
            snapshot, tables_train, deal_partners, progress("training set (opportunities)", len(tables_train))
        )
        ranker = TeamRanker(params).fit(
            actual.features, actual.won.astype(np.int32), [], snapshot.feature_names
        )
        return ranker, {"train_opportunities": float(len(actual.won)), "train_rows": float(len(actual.won))}
    examples = build_examples(
        snapshot,
        tables_train,
        deal_partners,
        config.recommender(),
        config.split(),
        progress("training set (opportunities)", len(tables_train)),
    )
    ranker = TeamRanker(params).fit(
        examples.features, examples.labels, examples.group_sizes, snapshot.feature_names
    )
    return ranker, {
        "train_opportunities": float(len(examples.group_sizes)),
        "train_rows": float(examples.features.shape[0]),
    }


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
    progress: Progress = _no_progress,
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
    embedder = CachedEmbedder(
        make_embedder(settings.embedder, cache_dir=settings.model_cache_dir), store.engine
    )
    split = time_split(tables.opportunities, config.split())
    snapshot = FeatureSnapshot.build(
        tables,
        embedder,
        roles=settings.roles,
        show_progress=True,
        associations_until=split.calibration_start.date(),
        index_exact_max=settings.index_exact_max,
    )
    features_root = settings.home / "features"
    build_id = save_feature_build(snapshot, features_root, snapshot_at=snapshot_at)

    fit_started = time.perf_counter()
    ranker, metrics = fit_ranker(snapshot, split.train, tables.deal_partners, config, progress)
    fit_seconds = time.perf_counter() - fit_started
    calibration = actual_team_examples(
        snapshot,
        split.calibration,
        tables.deal_partners,
        progress("calibration set (opportunities)", len(split.calibration)),
    )
    ranker.calibrate(WinCalibrator.fit(ranker.score(calibration.features), calibration.won))
    recommender = TeamRecommender(snapshot, ranker, config.recommender())
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
            "calibration_opportunities": float(len(calibration.won)),
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
        bundle_dir = save_bundle(Path(tmp) / BUNDLE_ARTIFACT, ranker, manifest)
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
    if tracking.champion_version(client) is None:
        # The very first model has nothing to beat; later ones go through `partnermatch promote`.
        tracking.promote(client, version, reason="first model")
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
    )
