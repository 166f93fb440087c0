"""`partnermatch challenger set|clear|show` against a real MLflow registry in the test's PM_HOME."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from core.settings import REGISTERED_MODEL_NAME, get_settings
from partnermatch.commands.challenger import app
from training import tracking


@pytest.fixture(autouse=True)
def registry(tmp_path: Path) -> None:
    """Versions 1 and 2 registered, version 1 the champion."""
    client = tracking.configure(get_settings())
    client.create_registered_model(REGISTERED_MODEL_NAME)
    for _ in range(2):
        client.create_model_version(REGISTERED_MODEL_NAME, source=str(tmp_path))
    tracking.set_champion(client, "1")


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), terminal_width=400)
    return result.exit_code, result.output


def test_set_makes_a_registered_version_the_challenger(registry: None) -> None:
    code, output = run("set", "2")
    assert code == 0 and "version 2 is the challenger" in output
    assert tracking.challenger_version(tracking.configure(get_settings())) == "2"


def test_set_refuses_an_unregistered_version(registry: None) -> None:
    code, output = run("set", "7")
    assert code == 1 and "version 7 is not registered" in output


def test_set_refuses_a_version_that_is_not_a_number(registry: None) -> None:
    code, output = run("set", "latest")
    assert code == 2 and "is a number" in output


def test_show_prints_the_challenger_and_the_champion(registry: None) -> None:
    run("set", "2")
    code, output = run("show")
    assert code == 0 and "challenger: 2; champion: 1" in output


def test_show_says_none_without_a_challenger(registry: None) -> None:
    assert "challenger: none" in run("show")[1]


def test_clear_removes_the_challenger_and_names_the_version_it_was(registry: None) -> None:
    run("set", "2")
    code, output = run("clear")
    assert code == 0 and "cleared (was version 2)" in output
    assert tracking.challenger_version(tracking.configure(get_settings())) is None


def test_clear_without_a_challenger_says_so(registry: None) -> None:
    code, output = run("clear")
    assert code == 0 and "no challenger was set" in output
