"""Training configuration: hyperparameters and split choices, read from a TOML file with defaults."""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from models.ranker import RankerParams
from models.recommender import RecommenderConfig
from training.dataset import SplitConfig

DEFAULT_CONFIG_FILE = Path(__file__).with_name("default.toml")


class RankerSection(BaseModel):
    model_config = ConfigDict(extra="forbid")
    num_boost_round: int = Field(200, ge=1, le=10000)
    learning_rate: float = Field(0.05, gt=0, le=1)
    num_leaves: int = Field(31, ge=2, le=4096)
    min_data_in_leaf: int = Field(20, ge=1)
    feature_fraction: float = Field(0.9, gt=0, le=1)
    bagging_fraction: float = Field(0.9, gt=0, le=1)
    bagging_freq: int = Field(1, ge=0)
    lambdarank_truncation_level: int = Field(20, ge=1)


class DataSection(BaseModel):
    model_config = ConfigDict(extra="forbid")
    valid_fraction: float = Field(0.2, gt=0, lt=1)
    max_train_opportunities: int = Field(4000, ge=10)
    max_valid_opportunities: int = Field(1000, ge=1)
    alternatives_per_opportunity: int = Field(40, ge=1, le=2000)


class SearchSection(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_candidates_per_role: int = Field(30, ge=1, le=1000)
    max_teams_scored: int = Field(2000, ge=1, le=20000)


class TrainConfig(BaseModel):
    """Everything that decides a training run, besides the data; `seed` makes it reproducible."""

    model_config = ConfigDict(extra="forbid")
    seed: int = 7
    ranker: RankerSection = RankerSection()
    data: DataSection = DataSection()
    search: SearchSection = SearchSection()

    @classmethod
    def from_file(cls, path: Path | None = None) -> TrainConfig:
        source = path or DEFAULT_CONFIG_FILE
        with source.open("rb") as handle:
            return cls.model_validate(tomllib.load(handle))

    def ranker_params(self) -> RankerParams:
        return RankerParams(seed=self.seed, **self.ranker.model_dump())

    def split(self) -> SplitConfig:
        return SplitConfig(seed=self.seed, **self.data.model_dump())

    def recommender(self) -> RecommenderConfig:
        return RecommenderConfig(**self.search.model_dump())
