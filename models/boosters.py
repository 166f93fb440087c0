"""Native LightGBM model files: loaded only when they were trained on the features the bundle declares."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import lightgbm as lgb


def load_booster(path: Path, feature_names: Sequence[str], what: str) -> lgb.Booster:
    """The booster in `path`; a ValueError naming `what` when its features differ from the bundle's."""
    booster = lgb.Booster(model_file=str(path))
    found = tuple(booster.feature_name())
    if found != tuple(feature_names):
        raise ValueError(
            f"{what} {path} was trained on features {found}, the bundle declares {tuple(feature_names)}"
        )
    return booster
