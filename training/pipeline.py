"""The model-fitting path shared by `partnermatch train` and the benchmarks: features, ranker, calibrator."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from features import schema as s
from features.embeddings import Embedder
from features.parallel import IN_PROCESS
from features.records import EcosystemTables
from features.snapshot import FeatureSnapshot
from models.calibration import WinCalibrator
from models.ranker import TeamRanker
from models.recommender import TeamRecommender
from training.config import TrainConfig
from training.dataset import (
    ActualTeams,
    TeamExamples,
    TimeSplit,
    actual_team_examples,
    build_examples,
    checked,
    time_split,
)
from training.distributed import Cluster, SharedSnapshot

Progress = Callable[[str, int], Callable[[int], None]]  # (description, total) -> advance(n)


def no_progress(description: str, total: int) -> Callable[[int], None]:
    return lambda n: None


def request_groups(opportunities: pd.DataFrame, opportunity_ids: list[str]) -> np.ndarray | None:
    """Per training row, a code shared by the competing bids of one customer request (-1: no competition).

    None when the export has no `request_id`; a request counts only with two bids or more.
    """
    if s.REQUEST_ID not in opportunities.columns or opportunities[s.REQUEST_ID].isna().all():
        return None
    request_of = opportunities.set_index(s.OPPORTUNITY_ID)[s.REQUEST_ID]
    requests = request_of.reindex(opportunity_ids)
    codes, _ = pd.factorize(requests)  # NaN -> -1
    sizes = np.bincount(codes[codes >= 0]) if (codes >= 0).any() else np.zeros(0, np.int64)
    return np.where((codes >= 0) & (sizes[np.maximum(codes, 0)] >= 2), codes, -1)


def fit_ranker(
    snapshot: FeatureSnapshot,
    tables_train: pd.DataFrame,
    deal_partners: pd.DataFrame,
    config: TrainConfig,
    progress: Progress = no_progress,
    shared: SharedSnapshot | None = None,
) -> tuple[TeamRanker, dict[str, float]]:
    """The ranker on the training period: grouped graded teams (lambdarank) or actual teams (binary).

    With `shared` (the snapshot on a Dask cluster's workers) the training set is built there in time
    partitions and the trees, if any, are grown there by lightgbm.dask; the linear stage is fitted here.
    """
    params = config.ranker_params()
    advance = progress("training set (opportunities)", len(tables_train))
    started = time.perf_counter()
    if params.objective == "binary":
        if shared is None:
            actual = actual_team_examples(snapshot, tables_train, deal_partners, advance)
            trainer = None
        else:
            built = shared.actual_team_examples(tables_train, deal_partners, advance)
            actual, trainer = built.value, shared.booster_trainer(built, snapshot.feature_names)
        built_seconds = time.perf_counter() - started
        requests = request_groups(tables_train, actual.opportunity_ids)
        ranker = TeamRanker(params).fit(
            actual.features,
            actual.won.astype(np.int32),
            [],
            snapshot.feature_names,
            requests=requests,
            trainer=trainer,
        )
        return ranker, {
            "training_set_seconds": built_seconds,
            "train_opportunities": float(len(actual.won)),
            "train_rows": float(len(actual.won)),
            "train_competing_bids": float(np.count_nonzero(requests >= 0)) if requests is not None else 0.0,
        }
    examples: TeamExamples
    if shared is None:
        examples = build_examples(
            snapshot, tables_train, deal_partners, config.recommender(), config.split(), advance
        )
        trainer = None
    else:
        grouped = shared.build_examples(
            tables_train, deal_partners, config.recommender(), config.split(), advance
        )
        examples, trainer = checked(grouped.value), shared.booster_trainer(grouped, snapshot.feature_names)
    built_seconds = time.perf_counter() - started
    ranker = TeamRanker(params).fit(
        examples.features, examples.labels, examples.group_sizes, snapshot.feature_names, trainer=trainer
    )
    return ranker, {
        "training_set_seconds": built_seconds,
        "train_opportunities": float(len(examples.group_sizes)),
        "train_rows": float(examples.features.shape[0]),
    }


@dataclass
class FittedModel:
    """A calibrated recommender over a snapshot of `tables`, and the time split it was fitted on."""

    snapshot: FeatureSnapshot
    ranker: TeamRanker
    recommender: TeamRecommender
    split: TimeSplit
    calibration: ActualTeams
    metrics: dict[str, float] = field(default_factory=dict)


def fit_model(
    tables: EcosystemTables,
    embedder: Embedder,
    config: TrainConfig,
    *,
    roles: tuple[str, ...],
    index_exact_max: int | None = None,
    progress: Progress = no_progress,
    show_progress: bool = False,
    cluster: Cluster | None = None,
) -> FittedModel:
    """Features from every table, the ranker on the earliest period, the calibrator on the next one.

    The test period is left untouched for `training.evaluation.evaluate`. Features learned from outcomes
    (tag associations, partner compatibility) only see deals created before the calibration period.
    With a `cluster`, the snapshot is built here and the training and calibration sets and the trees are
    built on its workers (training/distributed.py); the model is the same kind and format either way.
    """
    started = time.perf_counter()
    split = time_split(tables.opportunities, config.split())
    snapshot = FeatureSnapshot.build(
        tables,
        embedder,
        roles=roles,
        show_progress=show_progress,
        associations_until=split.calibration_start.date(),
        index_exact_max=index_exact_max,
        mapper=cluster.mapper() if cluster is not None else IN_PROCESS,
    )
    # On a cluster, the features are ready once every worker has the snapshot's files.
    shared = cluster.share(snapshot) if cluster is not None else None
    features_seconds = time.perf_counter() - started
    started = time.perf_counter()
    try:
        ranker, metrics = fit_ranker(snapshot, split.train, tables.deal_partners, config, progress, shared)
        metrics["fit_seconds"] = time.perf_counter() - started
        started = time.perf_counter()
        advance = progress("calibration set (opportunities)", len(split.calibration))
        if shared is None:
            calibration = actual_team_examples(snapshot, split.calibration, tables.deal_partners, advance)
        else:
            calibration = shared.actual_team_examples(split.calibration, tables.deal_partners, advance).value
    finally:
        if shared is not None:
            shared.release()
    metrics["calibration_set_seconds"] = time.perf_counter() - started
    metrics["features_seconds"] = features_seconds
    ranker.calibrate(WinCalibrator.fit(ranker.score(calibration.features), calibration.won))
    metrics["calibration_opportunities"] = float(len(calibration.won))
    recommender = TeamRecommender(snapshot, ranker, config.recommender())
    return FittedModel(snapshot, ranker, recommender, split, calibration, metrics)
