"""The model's configuration family: ranker hyperparameters and the search budget per request.

Typed and bounded here; their values live in one place, `training/default.toml` (read by
`training.config.TrainConfig`), and a trained bundle records the ones it was evaluated with.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from features import schema as s


class RankerParams(BaseModel):
    """LightGBM hyperparameters (seeded for reproducibility) and the fixed scoring prior."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # 0: no trees, the learned linear stage alone scores (the booster is one tree with every leaf at 0, so a
    # bundle keeps one format).
    num_boost_round: int = Field(ge=0, le=10000)
    learning_rate: float = Field(gt=0, le=1)
    num_leaves: int = Field(ge=2, le=4096)
    min_data_in_leaf: int = Field(ge=1)
    feature_fraction: float = Field(gt=0, le=1)
    bagging_fraction: float = Field(gt=0, le=1)
    bagging_freq: int = Field(ge=0)
    lambdarank_truncation_level: int = Field(ge=1)
    # "lambdarank": grouped graded teams; "binary": win/loss of the teams that actually worked deals.
    objective: Literal["lambdarank", "binary"]
    seed: int
    # Feature-name suffixes the score may only increase with (e.g. more valid certifications never hurts):
    # a directional guarantee the behaviour tests rely on, enforced by LightGBM's monotone constraints.
    monotone_increasing: tuple[str, ...]
    # Feature-name suffixes the score may only decrease with (e.g. a partner's load against capacity).
    monotone_decreasing: tuple[str, ...] = ()
    # Optional fixed weights added to the learned margin: feature name or suffix -> weight, so
    # score = margin + sum of weight x feature over the columns named `<suffix>` or `<role>_<suffix>`.
    # Empty by default: weights are learned (`linear_l2`); kept for experiments and old bundles.
    prior_weights: dict[str, float] = Field(default_factory=dict)
    # The learned linear stage: a binomial GLM (L2 strength `linear_l2`) whose margin the trees then
    # correct. Its coefficients are learned from outcomes, with the `monotone_increasing` features bounded
    # to non-negative weights, so it extrapolates in the right direction beyond what the old routing
    # tried. Binary objective only.
    linear_stage: bool
    # A fixed ridge strength, or "cv": chosen per training run by time-ordered cross-validation.
    linear_l2: Annotated[float, Field(ge=0)] | Literal["cv"]
    # Feature-name suffixes the linear stage reads (empty = every feature): the evidence a person would
    # weigh (skill fit, coverage, track record, compatibility), not every by-product of the history, so
    # its few weights are not spread over collinear or confounded columns.
    linear_features: tuple[str, ...] = ()
    # One weight per member-feature suffix shared by every role (summed over the roles' columns) instead
    # of one per role: a third of the weights to learn from the same outcomes.
    linear_pooled: bool = False
    # Any other LightGBM parameter, passed through as is.
    extra: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def trees_or_linear_stage(self) -> RankerParams:
        if self.num_boost_round == 0 and not (self.linear_stage and self.objective == "binary"):
            raise ValueError("num_boost_round = 0 needs the linear stage (linear_stage, binary objective)")
        return self

    def lightgbm_params(self) -> dict[str, Any]:
        ranking = self.objective == "lambdarank"
        params: dict[str, Any] = {
            "objective": self.objective,
            "metric": "ndcg" if ranking else "binary_logloss",
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_data_in_leaf": self.min_data_in_leaf,
            "feature_fraction": self.feature_fraction,
            "bagging_fraction": self.bagging_fraction,
            "bagging_freq": self.bagging_freq,
            "seed": self.seed,
            "deterministic": True,
            "force_row_wise": True,
            "num_threads": 2,
            "verbosity": -1,
        }
        if ranking:
            params["eval_at"] = [1, 5]
            params["lambdarank_truncation_level"] = self.lambdarank_truncation_level
        params.update(self.extra)
        return params


class SearchConfig(BaseModel):
    """Search budget per request; `required_roles` are never left empty when a candidate exists."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_candidates_per_role: int = Field(ge=1, le=1000)
    # Of those, up to this many come from the quality prior (region, skill fit, PSAT, tier), interleaved
    # with the text-similarity ones, so the pool holds teams text retrieval alone misses.
    prior_candidates_per_role: int = Field(ge=0, le=1000)
    max_teams_scored: int = Field(ge=1, le=20000)
    beam_width: int = Field(ge=1, le=2000)
    # Per member already on a partial team: partners of the next role that win with it (learned
    # compatibility and lift together), added to that role's candidates. 0 (bundles older than this
    # setting) = candidates come from the opportunity alone.
    companions_per_member: int = Field(0, ge=0, le=50)
    # Not tuned, so not in default.toml: rules of the programme rather than budget.
    keep_registered_partner: bool = True
    required_roles: tuple[str, ...] = (s.SERVICES,)
