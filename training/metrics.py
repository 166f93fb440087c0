"""Ranking metrics as plain functions over relevance lists and ranks (hand-checked in tests)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def dcg_at_k(relevances: Sequence[float], k: int) -> float:
    rel = np.asarray(relevances, dtype=np.float64)[:k]
    if rel.size == 0:
        return 0.0
    discounts = 1.0 / np.log2(np.arange(2, rel.size + 2))
    return float(np.sum((2.0**rel - 1.0) * discounts))


def ndcg_at_k(relevances: Sequence[float], k: int) -> float:
    """NDCG@k of a ranked list of graded relevances; 0 when nothing is relevant."""
    ideal = dcg_at_k(sorted(relevances, reverse=True), k)
    if ideal == 0.0:
        return 0.0
    return dcg_at_k(relevances, k) / ideal


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
    """NDCG@k with linear gains of items ranked by descending score; 1.0 when the top k hold the k largest
    gains, 0 when every gain is 0.

    Tied scores share the mean discount of the positions they span (the expected DCG over every order of
    the tie), so a coarse scorer neither profits from nor pays for the order its ties happen to come in.
    """
    score = np.asarray(scores, dtype=np.float64)
    gain = np.asarray(gains, dtype=np.float64)
    if score.shape != gain.shape or score.ndim != 1:
        raise ValueError("scores and gains must be 1-d and of the same length")
    discounts = np.zeros(score.size)
    top = min(k, score.size)
    discounts[:top] = 1.0 / np.log2(np.arange(2, top + 2))
    ideal = float(np.sort(gain)[::-1] @ discounts)
    if ideal <= 0.0:
        return 0.0
    order = np.argsort(-score, kind="stable")
    ranked = score[order]
    group = np.cumsum(np.r_[True, ranked[1:] != ranked[:-1]]) - 1  # tie-group id along the ranking
    shared = (np.bincount(group, weights=discounts) / np.bincount(group))[group]
    return float(gain[order] @ shared) / ideal
