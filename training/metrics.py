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
