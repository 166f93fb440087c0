"""The team ranker estimator: LightGBM lambdarank over team feature vectors."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np

logger = logging.getLogger(__name__)


@dataclass
class RankerParams:
    """LightGBM hyperparameters for the lambdarank objective (seeded for reproducibility)."""

    num_boost_round: int = 200
    learning_rate: float = 0.05
    num_leaves: int = 31
    min_data_in_leaf: int = 20
    feature_fraction: float = 0.9
    bagging_fraction: float = 0.9
    bagging_freq: int = 1
    lambdarank_truncation_level: int = 20
    seed: int = 7
    extra: dict[str, Any] = field(default_factory=dict)

    def lightgbm_params(self) -> dict[str, Any]:
        params: dict[str, Any] = {
            "objective": "lambdarank",
            "metric": "ndcg",
            "eval_at": [1, 5],
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_data_in_leaf": self.min_data_in_leaf,
            "feature_fraction": self.feature_fraction,
            "bagging_fraction": self.bagging_fraction,
            "bagging_freq": self.bagging_freq,
            "lambdarank_truncation_level": self.lambdarank_truncation_level,
            "seed": self.seed,
            "deterministic": True,
            "force_row_wise": True,
            "num_threads": 2,
            "verbosity": -1,
        }
        params.update(self.extra)
        return params


class TeamRanker:
    """Scores candidate teams; `fit` learns from grouped, graded team examples.

    Follows the scikit-learn estimator shape: `__init__` stores parameters, learned state ends in `_`.
    """

    def __init__(self, params: RankerParams | None = None) -> None:
        self.params = params or RankerParams()

    def fit(
        self,
        features: np.ndarray,
        labels: np.ndarray,
        group_sizes: Sequence[int],
        feature_names: Sequence[str],
        *,
        valid: tuple[np.ndarray, np.ndarray, Sequence[int]] | None = None,
    ) -> TeamRanker:
        train_set = lgb.Dataset(
            features,
            label=labels,
            group=list(group_sizes),
            feature_name=list(feature_names),
            free_raw_data=False,
        )
        valid_sets = [train_set]
        valid_names = ["train"]
        if valid is not None:
            valid_sets.append(
                lgb.Dataset(valid[0], label=valid[1], group=list(valid[2]), reference=train_set)
            )
            valid_names.append("valid")
        evals: dict[str, Any] = {}
        self.booster_ = lgb.train(
            self.params.lightgbm_params(),
            train_set,
            num_boost_round=self.params.num_boost_round,
            valid_sets=valid_sets,
            valid_names=valid_names,
            callbacks=[lgb.record_evaluation(evals)],
        )
        self.feature_names_ = tuple(feature_names)
        self.evals_result_ = evals
        return self

    def score(self, features: np.ndarray) -> np.ndarray:
        """Ranker scores for a batch of teams, in one native call."""
        if features.shape[0] == 0:
            return np.zeros(0, dtype=np.float64)
        return np.asarray(self.booster_.predict(features, num_threads=1), dtype=np.float64)

    def save(self, path: Path) -> None:
        """Native LightGBM text model: readable, portable, never pickled."""
        self.booster_.save_model(str(path))

    @classmethod
    def load(cls, path: Path, feature_names: Sequence[str]) -> TeamRanker:
        ranker = cls()
        ranker.booster_ = lgb.Booster(model_file=str(path))
        model_names = tuple(ranker.booster_.feature_name())
        if model_names != tuple(feature_names):
            raise ValueError(
                f"model file {path} was trained on features {model_names}, "
                f"the bundle declares {tuple(feature_names)}"
            )
        ranker.feature_names_ = tuple(feature_names)
        ranker.evals_result_ = {}
        return ranker

    def feature_importance(self) -> Mapping[str, float]:
        gains = self.booster_.feature_importance(importance_type="gain")
        return dict(zip(self.feature_names_, (float(g) for g in gains), strict=True))
