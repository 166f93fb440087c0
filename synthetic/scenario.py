"""The scenario space of the generator: one bounded knob per way the world can differ, and scenario files."""

from __future__ import annotations

import tomllib
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from synthetic.truth import WinModel

ScenarioSet = Literal["tuning", "holdout"]
SCENARIO_SETS: tuple[ScenarioSet, ...] = ("tuning", "holdout")
# Pair effects of camps before `compatibility`: per pair of members, so a full same-camp team gains three.
CAMP_SAME = 0.25
CAMP_RIVAL = -0.35
MEAN_EXECUTION = 0.5  # mean of the latent execution (Beta(2.5, 2.5)), see _win_model


class Scenario(BaseModel):
    """Knobs of one synthetic world; every default reproduces the generator as it was before scenarios.

    - tag_noise: fades the tagging of real skills and adds over-claimers and fake tags (signals.py).
    - cert_signal: below 1, certifications and their levels drift towards chance (signals.py).
    - no_tiers_or_certs: every tier "registered" (to the desk too) and no certification rows.
    - vocabulary_distance: share of opportunity tags and description phrases worded in customer
      phrasings no partner tag uses (vocabulary.CUSTOMER_PHRASINGS); partner wording is untouched.
    - quality_strength: multiplies the execution coefficient; the intercept keeps the average partner's
      logit, so quality spreads outcomes rather than raising every win rate.
    - compatibility: multiplies the alliance synergy and the camp pair effects.
    - camps: hidden camp per partner (20% independents); same-camp pairs add CAMP_SAME, rival pairs
      (camps c and c + 1 mod camps) add CAMP_RIVAL < 0, both times `compatibility`; the desk partly keeps
      teams in camp, so history holds the camps while the export never shows them.
    - influence_weight: multiplies the influence role's coverage, execution, industry and region weights.
    - size_interaction: each member loses this times (its role's size weight) times the log deal size
      above its hidden scale (latent.partner_scale: tier, popularity and an unseen part).
    - routing_bias: 0 = the desk picks uniformly among partners covering the region; above 1 it leans
      harder on popularity, tier, tags, allies and camp habits.
    - noise: sd of the per-deal difficulty no one sees.
    - team_shape: "solo" makes every partner a services partner and every deal a one-member team.
    - bidders: n > 0 groups opportunities into customer requests of 1..n competing bids (`request_id`);
      at most one bid of a request wins, drawn from the bids' true logits against buying from nobody.
    """

    # Strict: a TOML `true` is a bool and `3` an int; no string or number quietly becomes something else.
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    partners: int = Field(1500, ge=3, le=1_000_000)
    opportunities: int = Field(12_000, ge=1, le=10_000_000)
    years: int = Field(4, ge=1, le=30)
    tag_noise: float = Field(0.0, ge=0.0, le=1.0, description="0 = tags follow skills; 1 = uninformative")
    cert_signal: float = Field(1.0, ge=0.0, le=1.0, description="1 = certs on strengths; 0 = unrelated")
    no_tiers_or_certs: bool = Field(False, description="the PRM records no tiers and no certifications")
    vocabulary_distance: float = Field(0.0, ge=0.0, le=1.0, description="share of far customer wording")
    quality_strength: float = Field(1.0, ge=0.0, le=10.0, description="multiplier of execution quality")
    compatibility: float = Field(1.0, ge=0.0, le=10.0, description="multiplier of pair effects")
    camps: int = Field(0, ge=0, le=20, description="0 = none; else hidden camps that win together")
    influence_weight: float = Field(1.0, ge=0.0, le=10.0, description="multiplier of the influence role")
    size_interaction: float = Field(0.0, ge=0.0, le=10.0, description="penalty per log-size a member lacks")
    routing_bias: float = Field(1.0, ge=0.0, le=5.0, description="0 = uniform routing; 1 = today's")
    noise: float = Field(0.9, ge=0.0, le=5.0, description="sd of the unseen per-deal difficulty")
    team_shape: Literal["full", "solo"] = Field("full", description="one partner per role, or one partner")
    bidders: int = Field(0, ge=0, le=20, description="0 = one team per deal; n = 1..n bids per request")

    @property
    def solo(self) -> bool:
        return self.team_shape == "solo"


DEFAULT_SCENARIO = Scenario()


class ScenarioSpec(BaseModel):
    """One named entry of a scenario file: its set, what it is for, its seeds and its knobs."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=64)
    set: ScenarioSet
    description: str = Field("", max_length=500)
    seeds: tuple[int, ...] = Field(min_length=1, max_length=100)
    scenario: Scenario


class ScenarioFileError(ValueError):
    """A scenario file that cannot be read or does not follow the format of bench/scenarios.toml."""


def _errors(err: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in err.errors())


def load_scenarios(path: Path) -> dict[str, ScenarioSpec]:
    """Specs by name from a TOML file with `[defaults]` and `[tuning.NAME]` / `[holdout.NAME]` tables.

    Each scenario is the file's defaults overlaid by its entry (`description` and `seeds` aside).
    Raises ScenarioFileError with a one-line reason for a missing or malformed file.
    """
    try:
        raw = tomllib.loads(Path(path).read_text())
    except OSError as err:
        raise ScenarioFileError(f"cannot read {path}: {err.strerror or err}") from err
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ScenarioFileError(f"{path} is not valid TOML: {err}") from err
    unknown = set(raw) - {"defaults", *SCENARIO_SETS}
    if unknown:
        raise ScenarioFileError(f"{path}: unknown top-level table(s) {sorted(unknown)}")
    defaults: Any = raw.get("defaults", {})
    if not isinstance(defaults, dict):
        raise ScenarioFileError(f"{path}: [defaults] must be a table")
    try:
        Scenario(**defaults)
    except ValidationError as err:
        raise ScenarioFileError(f"{path} [defaults]: {_errors(err)}") from None
    specs: dict[str, ScenarioSpec] = {}
    for set_name in SCENARIO_SETS:
        entries: Any = raw.get(set_name, {})
        if not isinstance(entries, dict):
            raise ScenarioFileError(f"{path}: [{set_name}] must hold tables")
        for name, entry in entries.items():
            if not isinstance(entry, dict):
                raise ScenarioFileError(f"{path}: [{set_name}.{name}] must be a table")
            if name in specs:
                raise ScenarioFileError(f"{path}: scenario {name!r} is declared twice")
            knobs = {k: v for k, v in entry.items() if k not in ("description", "seeds")}
            try:
                specs[name] = ScenarioSpec(
                    name=name, set=set_name, description=entry.get("description", ""),
                    seeds=entry.get("seeds", ()), scenario=Scenario(**{**defaults, **knobs}),
                )
            except ValidationError as err:
                raise ScenarioFileError(f"{path} [{set_name}.{name}]: {_errors(err)}") from None
    return specs


def _scaled(weights: tuple[float, ...], role: int, factor: float) -> tuple[float, ...]:
    return tuple(w * factor if r == role else w for r, w in enumerate(weights))


def _solo(weights: tuple[float, ...]) -> tuple[float, ...]:
    """A lone partner carries every role's share of a team-level term."""
    return (sum(weights), *weights[1:])


def win_model(scenario: Scenario) -> WinModel:
    """The hidden win model of a scenario; WinModel() exactly for the default scenario."""
    base = WinModel()
    execution = base.execution * scenario.quality_strength
    # Quality scales the spread between partners, not the average win rate: the intercept absorbs the
    # shift at the mean execution (0 at the default, so today's model is unchanged).
    shift = (execution - base.execution) * MEAN_EXECUTION * sum(base.execution_role_weights)
    influence = 1  # index of the influence role in DEFAULT_ROLES
    w = scenario.influence_weight
    model = replace(
        base,
        intercept=base.intercept - shift,
        execution=execution,
        synergy=base.synergy * scenario.compatibility,
        camps=scenario.camps,
        camp_same=CAMP_SAME * scenario.compatibility if scenario.camps else 0.0,
        camp_rival=CAMP_RIVAL * scenario.compatibility if scenario.camps else 0.0,
        size_interaction=scenario.size_interaction,
        coverage_role_weights=_scaled(base.coverage_role_weights, influence, w),
        execution_role_weights=_scaled(base.execution_role_weights, influence, w),
        industry_role_weights=_scaled(base.industry_role_weights, influence, w),
        region_role_weights=_scaled(base.region_role_weights, influence, w),
    )
    if not scenario.solo:
        return model
    return replace(
        model,
        execution_role_weights=_solo(model.execution_role_weights),
        industry_role_weights=_solo(model.industry_role_weights),
        region_role_weights=_solo(model.region_role_weights),
        size_role_weights=_solo(model.size_role_weights),
    )
