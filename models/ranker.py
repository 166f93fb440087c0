"""The team ranker estimator: LightGBM lambdarank over team feature vectors."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np

from models.calibration import WinCalibrator
from models.config import RankerParams

logger = logging.getLogger(__name__)


class TeamRanker:
    """Scores candidate teams; `fit` learns from grouped, graded team examples.

    Follows the scikit-learn estimator shape: `__init__` stores parameters, learned state ends in `_`.
    """

    def __init__(self, params: RankerParams | None = None) -> None:
        # None for a ranker that is only loaded to score (its booster and prior come from the bundle).
        self.params = params
        self.calibrator_: WinCalibrator | None = None
        self.prior_weights_: dict[str, float] = dict(params.prior_weights) if params is not None else {}
        self._prior_cache: tuple[tuple[Any, ...], np.ndarray] | None = None

    def fit(
        self,
        features: np.ndarray,
        labels: np.ndarray,
        group_sizes: Sequence[int],
        feature_names: Sequence[str],
        *,
        valid: tuple[np.ndarray, np.ndarray, Sequence[int]] | None = None,
    ) -> TeamRanker:
        if self.params is None:
            raise ValueError("a ranker needs RankerParams to be fitted")
        grouped = self.params.objective == "lambdarank"
        params = self.params.lightgbm_params()
        monotone = [
            1 if any(name.endswith(suffix) for suffix in self.params.monotone_increasing) else 0
            for name in feature_names
        ]
        if any(monotone):
            params["monotone_constraints"] = monotone
        train_set = lgb.Dataset(
            features,
            label=labels,
            group=list(group_sizes) if grouped else None,
            feature_name=list(feature_names),
            free_raw_data=False,
        )
        valid_sets = [train_set]
        valid_names = ["train"]
        if valid is not None:
            valid_sets.append(
                lgb.Dataset(
                    valid[0], label=valid[1], group=list(valid[2]) if grouped else None, reference=train_set
                )
            )
            valid_names.append("valid")
        evals: dict[str, Any] = {}
        self.booster_ = lgb.train(
            params,
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
        # Raw margins for both objectives: the calibrator owns the mapping to probabilities.
        margin = np.asarray(self.booster_.predict(features, raw_score=True, num_threads=1), dtype=np.float64)
        return margin + features.astype(np.float64) @ self.prior_vector()

    def prior_vector(self) -> np.ndarray:
        """Per-feature weight of the fixed prior (zeros where no prior applies), in feature order."""
        # Memoised per (weights, features): it is read on every scoring call of every request.
        key = (tuple(sorted(self.prior_weights_.items())), tuple(self.feature_names_))
        cached = self._prior_cache
        if cached is not None and cached[0] == key:
            return cached[1]
        vector = self._build_prior_vector()
        self._prior_cache = (key, vector)
        return vector

    def _build_prior_vector(self) -> np.ndarray:
        return np.array(
            [
                sum(
                    w
                    for suffix, w in self.prior_weights_.items()
                    if name == suffix or name.endswith(f"_{suffix}")
                )
                for name in self.feature_names_
            ],
            dtype=np.float64,
        )

    def calibrate(self, calibrator: WinCalibrator) -> TeamRanker:
        self.calibrator_ = calibrator
        return self

    def win_probability(self, scores: np.ndarray) -> np.ndarray | None:
        """Calibrated P(win) of scored teams; None when the model carries no calibrator."""
        if self.calibrator_ is None:
            return None
        return self.calibrator_.predict(scores)

    def contributions(self, features: np.ndarray) -> np.ndarray:
        """(teams, features + 1) signed SHAP contributions (last column: the expected value)."""
        if features.shape[0] == 0:
            return np.zeros((0, len(self.feature_names_) + 1))
        contrib = np.asarray(
            self.booster_.predict(features, pred_contrib=True, num_threads=1), dtype=np.float64
        )
        # The prior is linear, so its exact share of the score is weight x feature on the same column.
        contrib[:, :-1] += features.astype(np.float64) * self.prior_vector()[None, :]
        return contrib

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
