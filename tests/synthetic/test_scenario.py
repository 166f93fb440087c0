"""Scenarios: bounded knobs, scenario files, and what each knob does to the hidden win model."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from pydantic import ValidationError

from synthetic import Scenario, ScenarioFileError, WinModel, load_scenarios
from synthetic.scenario import CAMP_RIVAL, CAMP_SAME, win_model

BENCH_SCENARIOS = Path(__file__).parents[2] / "bench" / "scenarios.toml"


def _file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "scenarios.toml"
    path.write_text(text)
    return path


def test_scenario_knobs_and_defaults_are_those_of_the_bench_file() -> None:
    defaults = tomllib.loads(BENCH_SCENARIOS.read_text())["defaults"]
    assert Scenario().model_dump() == defaults


def test_a_scenario_rejects_an_unknown_knob() -> None:
    with pytest.raises(ValidationError, match="temperature"):
        Scenario(temperature=3)  # type: ignore[call-arg]


def test_a_scenario_rejects_a_knob_out_of_bounds() -> None:
    with pytest.raises(ValidationError, match="tag_noise"):
        Scenario(tag_noise=1.5)


def test_a_scenario_rejects_an_unknown_team_shape() -> None:
    with pytest.raises(ValidationError, match="team_shape"):
        Scenario(team_shape="pairs")  # type: ignore[arg-type]


def test_a_scenario_cannot_be_changed_after_creation() -> None:
    with pytest.raises(ValidationError):
        Scenario().camps = 3  # type: ignore[misc]


def test_loading_bench_scenarios_yields_five_tuning_and_six_holdout_specs() -> None:
    specs = load_scenarios(BENCH_SCENARIOS)
    sets = [spec.set for spec in specs.values()]
    assert sets.count("tuning") == 5 and sets.count("holdout") == 6


def test_a_loaded_scenario_is_the_file_defaults_overlaid_by_its_entry() -> None:
    spec = load_scenarios(BENCH_SCENARIOS)["t-camps"]
    assert spec.seeds == (111, 112) and spec.description.startswith("partners in camps")
    assert spec.scenario == Scenario(camps=4, compatibility=2.0)


def test_file_defaults_apply_to_every_entry(tmp_path: Path) -> None:
    path = _file(tmp_path, "[defaults]\nnoise = 1.1\n[holdout.h]\nseeds = [1]\ncamps = 2\n")
    assert load_scenarios(path)["h"].scenario == Scenario(noise=1.1, camps=2)


def test_load_scenarios_names_the_entry_and_knob_that_are_wrong(tmp_path: Path) -> None:
    path = _file(tmp_path, "[defaults]\n[tuning.t-x]\nseeds = [1]\nrouting_bias = -1.0\n")
    with pytest.raises(ScenarioFileError, match=r"\[tuning.t-x\]: routing_bias"):
        load_scenarios(path)


def test_load_scenarios_rejects_a_file_that_is_not_toml(tmp_path: Path) -> None:
    with pytest.raises(ScenarioFileError, match="not valid TOML"):
        load_scenarios(_file(tmp_path, "camps = [\n"))


def test_load_scenarios_rejects_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ScenarioFileError, match="cannot read"):
        load_scenarios(tmp_path / "nope.toml")


def test_load_scenarios_rejects_an_entry_without_seeds(tmp_path: Path) -> None:
    with pytest.raises(ScenarioFileError, match="seeds"):
        load_scenarios(_file(tmp_path, "[tuning.t-x]\ncamps = 2\n"))


def test_load_scenarios_rejects_a_name_declared_in_both_sets(tmp_path: Path) -> None:
    path = _file(tmp_path, "[tuning.x]\nseeds = [1]\n[holdout.x]\nseeds = [2]\n")
    with pytest.raises(ScenarioFileError, match="declared twice"):
        load_scenarios(path)


def test_the_default_scenario_gives_todays_win_model() -> None:
    assert win_model(Scenario()) == WinModel()


def test_quality_strength_multiplies_the_execution_coefficient() -> None:
    assert win_model(Scenario(quality_strength=2.0)).execution == pytest.approx(2 * WinModel().execution)


def test_quality_strength_keeps_the_logit_of_an_average_partner() -> None:
    base, strong = WinModel(), win_model(Scenario(quality_strength=2.0))
    mean_execution_term = 0.5 * sum(base.execution_role_weights)  # Beta(2.5, 2.5) has mean 0.5
    before = base.intercept + base.execution * mean_execution_term
    assert strong.intercept + strong.execution * mean_execution_term == pytest.approx(before)


def test_influence_weight_multiplies_only_the_influence_role_weights() -> None:
    base, model = WinModel(), win_model(Scenario(influence_weight=2.0))
    assert model.execution_role_weights == (0.5, 0.5, 0.25)
    assert model.coverage_role_weights[1] == pytest.approx(2 * base.coverage_role_weights[1])
    assert model.region_role_weights[0] == base.region_role_weights[0]


def test_compatibility_multiplies_synergy_and_camp_effects() -> None:
    model = win_model(Scenario(compatibility=2.0, camps=3))
    assert model.synergy == pytest.approx(2 * WinModel().synergy)
    assert (model.camp_same, model.camp_rival) == pytest.approx((2 * CAMP_SAME, 2 * CAMP_RIVAL))


def test_without_camps_there_is_no_camp_effect() -> None:
    model = win_model(Scenario(compatibility=2.0))
    assert (model.camps, model.camp_same, model.camp_rival) == (0, 0.0, 0.0)


def test_a_solo_partner_carries_every_roles_share_of_execution_industry_region_and_size() -> None:
    base, solo = WinModel(), win_model(Scenario(team_shape="solo"))
    assert solo.execution_role_weights[0] == pytest.approx(sum(base.execution_role_weights))
    assert solo.industry_role_weights[0] == pytest.approx(sum(base.industry_role_weights))
    assert solo.region_role_weights[0] == pytest.approx(sum(base.region_role_weights))
    assert solo.size_role_weights[0] == pytest.approx(sum(base.size_role_weights))
