"""`partnermatch generate` command: writes export and truth, rejects bad input without a traceback."""

from __future__ import annotations

from pathlib import Path

import typer
from typer.testing import CliRunner

from features import schema as s
from partnermatch.commands.generate import generate
from synthetic import GroundTruth


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command()(generate)
    return app


def test_generate_writes_the_four_tables_and_the_truth(tmp_path: Path) -> None:
    args = ["--partners", "50", "--opportunities", "200", "--seed", "1", "--out", str(tmp_path)]
    args += ["--format", "parquet"]
    result = CliRunner().invoke(_app(), args)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.glob("*.parquet")) == sorted(f"{t}.parquet" for t in s.TABLES)
    assert GroundTruth.load(tmp_path).opportunity_ids.size == 200


def test_generate_rejects_too_few_partners_with_a_clear_message(tmp_path: Path) -> None:
    result = CliRunner().invoke(_app(), ["--partners", "2", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "--partners" in result.output and "Traceback" not in result.output


def test_generate_rejects_an_unknown_format(tmp_path: Path) -> None:
    result = CliRunner().invoke(_app(), ["--out", str(tmp_path), "--format", "xlsx"])
    assert result.exit_code != 0 and not list(tmp_path.iterdir())
