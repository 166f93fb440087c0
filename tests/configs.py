"""The shipped configuration (training/default.toml) with a test's own overrides: tests never restate it."""

from __future__ import annotations

from typing import Any

from models.config import RankerParams, SearchConfig
from training.config import TrainConfig


def ranker_params(**overrides: Any) -> RankerParams:
    """The default ranker parameters with these fields replaced (e.g. fewer trees for a fast test)."""
    return TrainConfig.from_file().ranker.model_copy(update=overrides)


# The ranker the small model tests were written for (the code defaults before the shipped TOML): no fixed
# prior, no learned linear stage, and only the certificate count constrained (the shipped list constrains
# columns tests vary freely).
SMALL_RANKER: dict[str, Any] = {
    "min_data_in_leaf": 5,
    "learning_rate": 0.05,
    "num_leaves": 31,
    "monotone_increasing": ("valid_certifications",),
    "prior_weights": {},
    "linear_stage": False,
    "num_boost_round": 100,
}


def small_ranker_params(**overrides: Any) -> RankerParams:
    """SMALL_RANKER over the shipped parameters, with these fields replaced."""
    return ranker_params(**{**SMALL_RANKER, **overrides})


def search_config(**overrides: Any) -> SearchConfig:
    """The default search budget with these fields replaced."""
    return TrainConfig.from_file().search.model_copy(update=overrides)
