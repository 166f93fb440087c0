"""`partnermatch generate --scenario-file FILE --scenario NAME`: sizes and knobs from a scenario file."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from features import schema as s
from partnermatch.commands.generate import generate
from synthetic import GroundTruth

SCENARIOS = """
[defaults]
partners = 40
opportunities = 150
years = 2

[tuning.t-bids]
description = "one-member teams bidding for requests"
seeds = [1]
team_shape = "solo"
bidders = 3

[holdout.h-plain]
seeds = [2]
"""


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command()(generate)
    return app


@pytest.fixture
def scenario_file(tmp_path: Path) -> Path:
    path = tmp_path / "scenarios.toml"
    path.write_text(SCENARIOS)
    return path


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(_app(), list(args))
    return result.exit_code, result.output


def test_generate_takes_sizes_and_knobs_from_the_named_scenario(scenario_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, output = _run("--scenario-file", str(scenario_file), "--scenario", "t-bids", "--out", str(out))
    assert code == 0, output
    opps = pd.read_csv(out / "opportunities.csv")
    assert len(opps) == 150 and opps[s.REQUEST_ID].notna().all()
    assert len(pd.read_csv(out / "partners.csv")) == 40
    assert len(pd.read_csv(out / "deal_partners.csv")) == 150  # solo: one partner per bid


def test_explicit_sizes_override_the_scenario(scenario_file: Path, tmp_path: Path) -> None:
    args = ["--scenario-file", str(scenario_file), "--scenario", "h-plain", "--out", str(tmp_path / "out")]
    code, output = _run(*args, "--partners", "30", "--opportunities", "90")
    assert code == 0, output
    assert GroundTruth.load(tmp_path / "out").opportunity_ids.size == 90
    assert s.REQUEST_ID not in pd.read_csv(tmp_path / "out" / "opportunities.csv").columns


def test_generate_rejects_an_unknown_scenario_and_lists_the_known_ones(
    scenario_file: Path, tmp_path: Path
) -> None:
    code, output = _run("--scenario-file", str(scenario_file), "--scenario", "t-nope", "--out", str(tmp_path))
    assert code == 2
    assert "unknown scenario 't-nope'" in output and "h-plain, t-bids" in output
    assert "Traceback" not in output and not (tmp_path / "partners.csv").exists()


def test_generate_rejects_a_bad_scenario_file_without_a_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[tuning.t-x]\nseeds = [1]\nnoise = -2\n")
    code, output = _run("--scenario-file", str(bad), "--scenario", "t-x", "--out", str(tmp_path / "out"))
    assert code == 2
    assert "[tuning.t-x]: noise" in output and "Traceback" not in output


def test_generate_rejects_a_scenario_file_that_does_not_exist(tmp_path: Path) -> None:
    missing = str(tmp_path / "no.toml")
    code, output = _run("--scenario-file", missing, "--scenario", "x", "--out", str(tmp_path))
    assert code == 2 and "cannot read" in output


def test_generate_needs_a_scenario_name_with_a_scenario_file(scenario_file: Path, tmp_path: Path) -> None:
    code, output = _run("--scenario-file", str(scenario_file), "--out", str(tmp_path / "out"))
    assert code == 2 and "--scenario-file and --scenario go together" in output
