"""Training configuration: every value in `default.toml`, overlaid by a run's own TOML, typed on load."""

from __future__ import annotations

import logging
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from models.config import RankerParams, SearchConfig
from training.dataset import SplitConfig
from training.evaluation import EvaluationConfig

logger = logging.getLogger(__name__)

DEFAULT_CONFIG_FILE = Path(__file__).with_name("default.toml")


class DataSection(BaseModel):
    model_config = ConfigDict(extra="forbid")
    calibration_fraction: float = Field(0.15, gt=0, lt=0.5)
    test_fraction: float = Field(0.15, gt=0, lt=0.5)
    max_train_opportunities: int = Field(4000, ge=10)
    max_calibration_opportunities: int = Field(1500, ge=10)
    max_test_opportunities: int = Field(1000, ge=1)
    alternatives_per_opportunity: int = Field(40, ge=1, le=2000)
    lost_groups: bool = True
    # Older names (one validation period): read as the test period.
    valid_fraction: float | None = Field(None, gt=0, lt=0.5)
    max_valid_opportunities: int | None = Field(None, ge=1)


class EvaluationSection(BaseModel):
    model_config = ConfigDict(extra="forbid")
    k: int = Field(5, ge=1, le=50)
    pool_size: int = Field(1000, ge=1, le=20000)
    bootstrap: int = Field(1000, ge=10, le=100000)
    # Export folder with a synthetic `truth/` (generated data only); empty = look in the demo export.
    truth_dir: str = ""


class GateSection(BaseModel):
    """The promotion gate (training/promotion.py), on the primary measure of the test period: the top-1
    true win probability with a ground truth, else the within-request precision@1 when there are at least
    `min_groups` competing-bid requests, else the replay win rate. NDCG imitates past routing: never gated.

    (a) every candidate, the first model too: the lift over the best baseline must have its 95% interval's
        low end above `min_lift_over_best_baseline`; fewer than `min_test_deals` deals is too small to tell,
        and so, for the replay, is a model whose top k held the actual team on fewer than
        `min_matched_deals` deals (a baseline below that is no bar either: its win rate is noise).
    (b) `partnermatch promote`, against the champion on the same period: the primary measure's lift must
        reach its `min_lift_*`, and log loss may rise by at most -`min_lift_log_loss`.
    """

    model_config = ConfigDict(extra="forbid")
    min_test_deals: int = Field(50, ge=1)
    min_groups: int = Field(30, ge=1)
    min_matched_deals: int = Field(30, ge=1)
    min_lift_over_best_baseline: float = 0.0
    min_lift_true_win_probability: float = 0.0
    min_lift_within_request_precision_at_1: float = 0.0
    min_lift_replay_win_rate: float = 0.0
    # Lift = champion's log loss minus the candidate's (a drop is a gain): -0.005 lets it rise by 0.005.
    min_lift_log_loss: float = -0.005

    @model_validator(mode="before")
    @classmethod
    def _drop_retired_keys(cls, values: Any) -> Any:
        # min_lift_ndcg gated on imitating past routing; older configs still name it, so it is ignored.
        if isinstance(values, dict) and "min_lift_ndcg" in values:
            logger.warning("[gate] min_lift_ndcg is no longer used (NDCG is an imitation measure); ignored")
            values = {k: v for k, v in values.items() if k != "min_lift_ndcg"}
        return values


class TrainConfig(BaseModel):
    """Everything that decides a training run, besides the data; `seed` makes it reproducible."""

    model_config = ConfigDict(extra="forbid")
    seed: int
    # The seed is the run's: `from_file` copies it into the ranker's parameters.
    ranker: RankerParams
    data: DataSection = DataSection()
    search: SearchConfig
    evaluation: EvaluationSection = EvaluationSection()
    gate: GateSection = GateSection()

    @classmethod
    def from_file(cls, path: Path | None = None) -> TrainConfig:
        """The built-in defaults (default.toml), with the sections and keys of `path` laid over them."""
        with DEFAULT_CONFIG_FILE.open("rb") as handle:
            values = tomllib.load(handle)
        if path is not None:
            with path.open("rb") as handle:
                override = tomllib.load(handle)
            for key, value in override.items():
                if isinstance(value, dict) and isinstance(values.get(key), dict):
                    values[key] = {**values[key], **value}
                else:
                    values[key] = value
        values["ranker"] = {"seed": values.get("seed"), **values.get("ranker", {})}
        return cls.model_validate(values)

    def ranker_params(self) -> RankerParams:
        return self.ranker

    def split(self) -> SplitConfig:
        data = self.data.model_dump(exclude={"valid_fraction", "max_valid_opportunities"})
        if self.data.valid_fraction is not None:
            data["test_fraction"] = self.data.valid_fraction
        if self.data.max_valid_opportunities is not None:
            data["max_test_opportunities"] = self.data.max_valid_opportunities
        return SplitConfig(seed=self.seed, **data)

    def evaluation_config(self) -> EvaluationConfig:
        return EvaluationConfig(
            k=self.evaluation.k,
            pool_size=self.evaluation.pool_size,
            bootstrap=self.evaluation.bootstrap,
            seed=self.seed,
        )

    def recommender(self) -> SearchConfig:
        return self.search
