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


# A quick training run end to end (generate, ingest, train, gate) on a small export: its 40-deal test period
# is small enough that only these loose gate bounds let it through.
_LOOSE_GATE_TRAINING = """
seed = 7
[ranker]
objective = "binary"
num_boost_round = 30
num_leaves = 7
[data]
max_train_opportunities = 600
max_calibration_opportunities = 200
max_test_opportunities = 40
[search]
max_candidates_per_role = 5
max_teams_scored = 150
beam_width = 8
[evaluation]
pool_size = 100
bootstrap = 50
[gate]
min_test_deals = 10
min_lift_over_best_baseline = -1.0
min_lift_true_win_probability = {min_lift}
min_lift_log_loss = -1.0
"""


def loose_gate_training(min_lift_true_win_probability: float = -1.0) -> str:
    """The TOML of a quick end-to-end training with loose gate bounds (this one bound may be set)."""
    return _LOOSE_GATE_TRAINING.format(min_lift=min_lift_true_win_probability)
