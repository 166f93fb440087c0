"""The shipped configuration (training/default.toml) with a test's own overrides: tests never restate it."""

from __future__ import annotations

from typing import Any

from models.config import RankerParams, SearchConfig
from training.config import TrainConfig


def ranker_params(**overrides: Any) -> RankerParams:
    """The default ranker parameters with these fields replaced (e.g. fewer trees for a fast test)."""
    return TrainConfig.from_file().ranker.model_copy(update=overrides)


def search_config(**overrides: Any) -> SearchConfig:
    """The default search budget with these fields replaced."""
    return TrainConfig.from_file().search.model_copy(update=overrides)
