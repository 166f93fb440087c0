"""Deal velocity of suggested teams: expected value per day and the order it gives."""

from __future__ import annotations

import math
from typing import Final, Literal

import numpy as np

RankBy = Literal["score", "expected_value_per_day"]
RANK_BY: Final[tuple[RankBy, ...]] = ("score", "expected_value_per_day")
DEFAULT_RANK_BY: Final[RankBy] = "score"


def expected_value_per_day(
    probability: float | None, deal_size: float | None, days: float | None
) -> float | None:
    """P(win) x deal size / expected days to close; None when any of them is unknown (or no positive size)."""
    if probability is None or days is None or deal_size is None:
        return None
    if not (math.isfinite(deal_size) and deal_size > 0 and math.isfinite(days) and days > 0):
        return None
    return probability * deal_size / days


def value_per_day_order(scores: np.ndarray, probabilities: np.ndarray, days: np.ndarray) -> np.ndarray:
    """Team positions by descending P(win) per expected day, ties by descending score, then given order.

    Within one opportunity the deal size is the same positive number for every team, so this is the order
    of expected value per day, and it stays defined when the size is unknown.
    """
    per_day = np.asarray(probabilities, dtype=np.float64) / np.maximum(np.asarray(days, np.float64), 1e-9)
    # lexsort: the last key sorts first; the position key keeps equal teams in the order they came.
    return np.lexsort((np.arange(per_day.size), -np.asarray(scores, dtype=np.float64), -per_day))
