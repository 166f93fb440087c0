"""Bootstrap 95% intervals of the evaluation: paired lifts, any statistic, win-rate differences."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np


def bootstrap_lift(diff: np.ndarray, n: int, seed: int) -> dict[str, float]:
    """Mean paired difference over opportunities with a percentile 95% interval."""
    if diff.size == 0:
        return {"mean": float("nan"), "ci_low": float("nan"), "ci_high": float("nan")}
    rng = np.random.default_rng(seed)
    means = diff[rng.integers(0, diff.size, size=(n, diff.size))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return {"mean": float(diff.mean()), "ci_low": float(low), "ci_high": float(high)}


def _resamples(size: int, n: int, seed: int) -> np.ndarray:
    """(n, size) row indices of `n` bootstrap resamples of `size` items."""
    return np.random.default_rng(seed).integers(0, size, size=(n, size))


def bootstrap_interval(
    statistic: Callable[[np.ndarray], float], size: int, n: int, seed: int
) -> dict[str, float]:
    """Percentile 95% interval of a statistic of `size` items, `statistic(rows)` computed per resample.

    A resample where the statistic is undefined (NaN, e.g. an AUC of one outcome class) is left out.
    """
    if size == 0:
        return {"ci_low": float("nan"), "ci_high": float("nan")}
    values = np.array([statistic(rows) for rows in _resamples(size, n, seed)])
    if not np.isfinite(values).any():
        return {"ci_low": float("nan"), "ci_high": float("nan")}
    low, high = np.nanpercentile(values, [2.5, 97.5])
    return {"ci_low": float(low), "ci_high": float(high)}


def weighted_rate(weights: np.ndarray, won: np.ndarray, axis: int | None = None) -> Any:
    """Win rate of deals weighted by `weights` (NaN where they weigh nothing)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.sum(weights * won, axis=axis) / np.sum(weights, axis=axis)


def bootstrap_rate_lift(
    weights: np.ndarray, other: np.ndarray, won: np.ndarray, n: int, seed: int
) -> dict[str, float]:
    """Win rate of the deals weighted by `weights` minus that of `other`, paired over resampled deals."""
    if won.size == 0:
        return {"mean": float("nan"), "ci_low": float("nan"), "ci_high": float("nan")}
    rows = _resamples(won.size, n, seed)
    diffs = weighted_rate(weights[rows], won[rows], axis=1) - weighted_rate(other[rows], won[rows], axis=1)
    mean = float(weighted_rate(weights, won) - weighted_rate(other, won))
    if not np.isfinite(diffs).any():
        return {"mean": mean, "ci_low": float("nan"), "ci_high": float("nan")}
    low, high = np.nanpercentile(diffs, [2.5, 97.5])
    return {"mean": mean, "ci_low": float(low), "ci_high": float(high)}
