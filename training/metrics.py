"""Ranking metrics as plain functions over relevance lists and ranks (hand-checked in tests)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.metrics import ndcg_score


def rank_of_target(scores: Sequence[float] | np.ndarray, target: int) -> int:
    """1-based rank of item `target` when items are sorted by descending score (ties count against it)."""
    values = np.asarray(scores, dtype=np.float64)
    return int(np.sum(values >= values[target]))


def reciprocal_rank(rank: int) -> float:
    return 1.0 / rank if rank >= 1 else 0.0


def recall_at_k(rank: int, k: int) -> float:
    return 1.0 if 1 <= rank <= k else 0.0


def ndcg_of_single_target(rank: int, k: int) -> float:
    """NDCG@k when exactly one item is relevant: 1/log2(rank+1) if it is within the top k."""
    return float(1.0 / np.log2(rank + 1)) if 1 <= rank <= k else 0.0


def graded_ndcg(scores: Sequence[float] | np.ndarray, gains: Sequence[float] | np.ndarray, k: int) -> float:
    """NDCG@k with linear gains of items ranked by descending score (scikit-learn's `ndcg_score`); 1.0 when
    the top k hold the k largest gains, 0 when every gain is 0.

    Tied scores share the mean discount of the positions they span (`ignore_ties=False`: the expected DCG
    over every order of the tie), so a coarse scorer neither profits from nor pays for the order its ties
    happen to come in.
    """
    score = np.asarray(scores, dtype=np.float64)
    gain = np.asarray(gains, dtype=np.float64)
    if score.shape != gain.shape or score.ndim != 1:
        raise ValueError("scores and gains must be 1-d and of the same length")
    if score.size < 2:  # scikit-learn refuses a list of one; its NDCG is 1 when it holds any gain
        return float(gain.size == 1 and gain[0] > 0)
    return float(ndcg_score(gain[None, :], score[None, :], k=k, ignore_ties=False))


# Tie-aware measures: a coarse scorer (counts of wins, a rule score) ties often, and the order its ties
# happen to come in is no skill of its own, so each is the expectation over a uniformly random tie order.


def _above_and_tied(scores: Sequence[float] | np.ndarray, target: int) -> tuple[int, int]:
    values = np.asarray(scores, dtype=np.float64)
    return int(np.sum(values > values[target])), int(np.sum(values == values[target]))


def top_k_share(scores: Sequence[float] | np.ndarray, target: int, k: int) -> float:
    """Chance that item `target` is among the top k when ties are broken at random (1 or 0 without ties)."""
    above, tied = _above_and_tied(scores, target)
    return float(np.clip((k - above) / tied, 0.0, 1.0))


def expected_reciprocal_rank(scores: Sequence[float] | np.ndarray, target: int) -> float:
    """Mean of 1/rank of item `target` over the positions its tie spans."""
    above, tied = _above_and_tied(scores, target)
    return float(np.mean(1.0 / np.arange(above + 1, above + tied + 1)))


def top1_value(scores: Sequence[float] | np.ndarray, values: Sequence[float] | np.ndarray) -> float:
    """The value of the top-scored item; the mean over the items tied for the top."""
    score = np.asarray(scores, dtype=np.float64)
    return float(np.mean(np.asarray(values, dtype=np.float64)[score == score.max()]))


# Probability measures of a win probability `p` against observed outcomes `won` (bool).

LOG_LOSS_EPS = 1e-6  # a calibrator may say exactly 0 or 1; one such miss would make the log loss infinite


def log_loss(p: np.ndarray, won: np.ndarray) -> float:
    q = np.clip(np.asarray(p, dtype=np.float64), LOG_LOSS_EPS, 1.0 - LOG_LOSS_EPS)
    y = np.asarray(won, dtype=np.float64)
    return float(-np.mean(y * np.log(q) + (1.0 - y) * np.log(1.0 - q)))


def brier_score(p: np.ndarray, won: np.ndarray) -> float:
    return float(np.mean((np.asarray(p, dtype=np.float64) - np.asarray(won, dtype=np.float64)) ** 2))


def auc(p: np.ndarray, won: np.ndarray) -> float:
    """Area under the ROC curve; NaN when the outcomes hold a single class."""
    y = np.asarray(won, dtype=bool)
    if y.all() or not y.any():
        return float("nan")
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, np.asarray(p, dtype=np.float64)))


def wilson_interval(successes: float, n: float, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval of a rate (NaN without trials); `n` may be fractional (expected counts)."""
    if n <= 0:
        return float("nan"), float("nan")
    rate = successes / n
    denominator = 1.0 + z * z / n
    centre = (rate + z * z / (2.0 * n)) / denominator
    half = z * np.sqrt(rate * (1.0 - rate) / n + z * z / (4.0 * n * n)) / denominator
    return float(max(centre - half, 0.0)), float(min(centre + half, 1.0))
