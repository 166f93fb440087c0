"""The model-fitting path shared by `partnermatch train` and the benchmarks: features, ranker, calibrator."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from features import schema as s
from features.embeddings import Embedder
from features.records import EcosystemTables
from features.snapshot import FeatureSnapshot
from models.calibration import WinCalibrator
from models.ranker import TeamRanker
from models.recommender import TeamRecommender
from training.config import TrainConfig
from training.dataset import ActualTeams, TimeSplit, actual_team_examples, build_examples, time_split

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
) -> tuple[TeamRanker, dict[str, float]]:
    """The ranker on the training period: grouped graded teams (lambdarank) or actual teams (binary)."""
    params = config.ranker_params()
    if params.objective == "binary":
        actual = actual_team_examples(
            snapshot, tables_train, deal_partners, progress("training set (opportunities)", len(tables_train))
        )
        requests = request_groups(tables_train, actual.opportunity_ids)
        ranker = TeamRanker(params).fit(
            actual.features, actual.won.astype(np.int32), [], snapshot.feature_names, requests=requests
        )
        return ranker, {
            "train_opportunities": float(len(actual.won)),
            "train_rows": float(len(actual.won)),
            "train_competing_bids": float(np.count_nonzero(requests >= 0)) if requests is not None else 0.0,
        }
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
) -> FittedModel:
    """Features from every table, the ranker on the earliest period, the calibrator on the next one.

    The test period is left untouched for `training.evaluation.evaluate`. Features learned from outcomes
    (tag associations, partner compatibility) only see deals created before the calibration period.
    """
    split = time_split(tables.opportunities, config.split())
    snapshot = FeatureSnapshot.build(
        tables,
        embedder,
        roles=roles,
        show_progress=show_progress,
        associations_until=split.calibration_start.date(),
        index_exact_max=index_exact_max,
    )
    started = time.perf_counter()
    ranker, metrics = fit_ranker(snapshot, split.train, tables.deal_partners, config, progress)
    metrics["fit_seconds"] = time.perf_counter() - started
    calibration = actual_team_examples(
        snapshot,
        split.calibration,
        tables.deal_partners,
        progress("calibration set (opportunities)", len(split.calibration)),
    )
    ranker.calibrate(WinCalibrator.fit(ranker.score(calibration.features), calibration.won))
    metrics["calibration_opportunities"] = float(len(calibration.won))
    recommender = TeamRecommender(snapshot, ranker, config.recommender())
    return FittedModel(snapshot, ranker, recommender, split, calibration, metrics)
