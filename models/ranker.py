"""The team ranker estimator: LightGBM lambdarank over team feature vectors."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final, Literal

import lightgbm as lgb
import numpy as np

from models.boosters import load_booster
from models.calibration import WinCalibrator
from models.config import RankerParams

logger = logging.getLogger(__name__)


# The ridge strengths time-ordered cross-validation chooses from (`linear_l2 = "cv"`), and its folds.
CV_ALPHAS: Final = (1.0, 0.3, 0.1, 0.03, 0.01, 0.003, 0.001, 0.0003, 0.0001)
CV_FOLDS: Final = 3

# Trains the trees somewhere else (a Dask cluster: training/distributed.py) on the same rows `fit` was given:
# (LightGBM parameters, the linear stage's weights whose margin the trees start from or None, rounds).
BoosterTrainer = Callable[[dict[str, Any], np.ndarray | None, int], lgb.Booster]


def fit_linear_stage(
    features: np.ndarray,
    labels: np.ndarray,
    feature_names: Sequence[str],
    monotone: Sequence[int],
    l2: float | Literal["cv"],
    *,
    offset: np.ndarray | None = None,
    floor: np.ndarray | None = None,
) -> dict[str, float]:
    """Per-feature weights of a ridge-penalised binomial GLM (glum) on the win/loss labels.

    Features marked monotone (1 / -1) get a lower / upper bound of 0, so the stage never learns "more
    certifications, fewer wins" from the quirks of the old routing, and it extrapolates linearly beyond the
    teams history
    tried, where trees stay flat. Predictors are standardised inside the fit; the weights returned are on
    the original scale (the intercept is left to the calibrator). Constant columns get no weight.
    """
    from glum import GeneralizedLinearRegressor

    x = np.asarray(features, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    if x.shape[0] == 0 or np.unique(y).size < 2:
        return {}
    varying = x.std(axis=0) > 1e-12
    signs = np.asarray(monotone)[varying]
    # With an offset, a weight is a correction of the prior's: the sum must keep the monotone sign.
    base = np.zeros(x.shape[1]) if floor is None else np.asarray(floor, dtype=np.float64)
    lower = np.where(signs > 0, -base[varying], -np.inf)
    upper = np.where(signs < 0, -base[varying], np.inf)
    common: dict[str, Any] = {
        "family": "binomial",
        "l1_ratio": 0.0,
        "lower_bounds": lower,
        "upper_bounds": upper,
        "scale_predictors": True,
        "fit_intercept": True,
    }
    if l2 == "cv":
        from glum import GeneralizedLinearRegressorCV
        from sklearn.model_selection import TimeSeriesSplit

        # Rows are in creation order: each fold validates on deals later than the ones it fitted, so a
        # tiny history gets a strong penalty and a large one a light one, without anyone choosing it.
        glm = GeneralizedLinearRegressorCV(
            alphas=CV_ALPHAS, cv=TimeSeriesSplit(n_splits=CV_FOLDS), **common
        ).fit(x[:, varying], y, offset=offset)
    else:
        glm = GeneralizedLinearRegressor(alpha=l2, **common).fit(x[:, varying], y, offset=offset)
    names = [n for n, keep in zip(feature_names, varying, strict=True) if keep]
    return {n: float(w) for n, w in zip(names, glm.coef_, strict=True) if w != 0.0}


def _zero_leaves(booster: lgb.Booster) -> None:
    """Set every leaf of every tree to 0: the booster then adds nothing (`num_boost_round = 0`)."""
    for tree_id, tree in enumerate(booster.dump_model()["tree_info"]):
        for leaf_id in range(int(tree["num_leaves"])):
            booster.set_leaf_output(tree_id, leaf_id, 0.0)


def within_requests(values: np.ndarray, requests: np.ndarray) -> np.ndarray:
    """Rows of competing bids (request code >= 0) minus their request's mean; other rows unchanged."""
    out = np.asarray(values, dtype=np.float64).copy()
    grouped = requests >= 0
    if not grouped.any():
        return out
    codes = requests[grouped]
    counts = np.bincount(codes).astype(np.float64)
    for j in range(out.shape[1]):
        means = np.bincount(codes, weights=out[grouped, j]) / np.maximum(counts, 1)
        out[grouped, j] -= means[codes]
    return out


def member_suffix(name: str, feature_names: Sequence[str]) -> str:
    """`win_rate` for `services_win_rate` (roles are the prefixes of the `<role>_present` columns)."""
    for other in feature_names:
        if other.endswith("_present"):
            role = other[: -len("present")]
            if name.startswith(role):
                return name[len(role) :]
    return name


def _matches(name: str, suffixes: Sequence[str]) -> bool:
    return any(name == suffix or name.endswith(f"_{suffix}") for suffix in suffixes)


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
        self.linear_weights_: dict[str, float] = {}

    def fit(
        self,
        features: np.ndarray,
        labels: np.ndarray,
        group_sizes: Sequence[int],
        feature_names: Sequence[str],
        *,
        valid: tuple[np.ndarray, np.ndarray, Sequence[int]] | None = None,
        requests: np.ndarray | None = None,
        trainer: BoosterTrainer | None = None,
    ) -> TeamRanker:
        """Fit on team rows. `requests` (binary objective): per row, a code shared by competing bids of
        one customer request, -1 for a deal without competitors; the linear stage then learns within each
        request (its rows centred on the request's mean, as a conditional logit's fixed effect would), so
        what separates the winner from its rivals, not what makes a request easy, sets the weights.
        `trainer` grows the trees (when there are any) elsewhere, from the same starting margin."""
        if self.params is None:
            raise ValueError("a ranker needs RankerParams to be fitted")
        grouped = self.params.objective == "lambdarank"
        params = self.params.lightgbm_params()
        monotone = [
            1
            if _matches(name, self.params.monotone_increasing)
            else -1
            if _matches(name, self.params.monotone_decreasing)
            else 0
            for name in feature_names
        ]
        if any(monotone):
            params["monotone_constraints"] = monotone
        self.feature_names_ = tuple(feature_names)
        self.prior_weights_ = dict(self.params.prior_weights)
        init_score = None
        if self.params.linear_stage and not grouped:
            chosen = self.params.linear_features
            columns = [i for i, n in enumerate(feature_names) if not chosen or _matches(n, chosen)]
            keys = [
                member_suffix(feature_names[i], feature_names)
                if self.params.linear_pooled
                else feature_names[i]
                for i in columns
            ]
            pooled = sorted(set(keys), key=keys.index)
            design = np.column_stack(
                [
                    features[:, [c for c, k in zip(columns, keys, strict=True) if k == key]].sum(axis=1)
                    for key in pooled
                ]
            )
            signs = [monotone[columns[keys.index(key)]] for key in pooled]
            # The fixed prior is the GLM's starting point (an offset): the learned part corrects it where
            # outcomes say otherwise and leaves it where history never varied (e.g. region coverage).
            prior = self.prior_vector()
            prior_of_key = np.array([prior[columns[keys.index(key)]] for key in pooled])
            offset = features.astype(np.float64) @ prior
            if requests is not None:
                design, offset = (
                    within_requests(design, requests),
                    within_requests(offset[:, None], requests)[:, 0],
                )
            by_key = fit_linear_stage(
                design,
                labels,
                pooled,
                signs,
                self.params.linear_l2,
                offset=offset,
                floor=prior_of_key,
            )
            # Back to full column names: a pooled weight applies to that suffix's column in every role.
            learned = {feature_names[c]: by_key[k] for c, k in zip(columns, keys, strict=True) if k in by_key}
            self.linear_weights_ = learned
            for name, weight in learned.items():
                self.prior_weights_[name] = self.prior_weights_.get(name, 0.0) + weight
            self._prior_cache = None
            # The trees learn what the linear stage misses: boosting starts from its margin.
            init_score = features.astype(np.float64) @ self.prior_vector()
        train_set = lgb.Dataset(
            features,
            label=labels,
            group=list(group_sizes) if grouped else None,
            feature_name=list(feature_names),
            init_score=init_score,
            free_raw_data=False,
        )
        linear = self.prior_vector() if init_score is not None else None
        if trainer is not None and self.params.num_boost_round > 0:
            self.booster_ = trainer(params, linear, self.params.num_boost_round)
            self.evals_result_ = {}
            return self
        valid_sets = [train_set]
        valid_names = ["train"]
        if valid is not None:
            valid_sets.append(
                lgb.Dataset(
                    valid[0],
                    label=valid[1],
                    group=list(valid[2]) if grouped else None,
                    init_score=None if linear is None else valid[0].astype(np.float64) @ linear,
                    reference=train_set,
                )
            )
            valid_names.append("valid")
        rounds = self.params.num_boost_round
        evals: dict[str, Any] = {}
        self.booster_ = lgb.train(
            params,
            train_set,
            num_boost_round=max(rounds, 1),
            valid_sets=valid_sets,
            valid_names=valid_names,
            callbacks=[lgb.record_evaluation(evals)],
        )
        if rounds == 0:
            _zero_leaves(self.booster_)
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
        # A key that is a feature's full name weighs that column only; any other key is a suffix
        # (`win_rate` weighs every `<role>_win_rate`).
        names = set(self.feature_names_)
        return np.array(
            [
                sum(
                    w
                    for key, w in self.prior_weights_.items()
                    if name == key or (key not in names and name.endswith(f"_{key}"))
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
        ranker.booster_ = load_booster(path, feature_names, "model file")
        ranker.feature_names_ = tuple(feature_names)
        ranker.evals_result_ = {}
        return ranker

    def feature_importance(self) -> Mapping[str, float]:
        """Split gain per feature (all 0 without trees: the linear weights are `prior_weights_`)."""
        if self.params is not None and self.params.num_boost_round == 0:
            return dict.fromkeys(self.feature_names_, 0.0)
        gains = self.booster_.feature_importance(importance_type="gain")
        return dict(zip(self.feature_names_, (float(g) for g in gains), strict=True))
