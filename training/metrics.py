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
