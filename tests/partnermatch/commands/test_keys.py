"""`partnermatch keys create / list / revoke` against a real store."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from core.settings import get_settings
from partnermatch.commands.keys import app
from serving.auth import KeyVerifier
from serving.persistence import ApiStore


@pytest.fixture()
def runner(pm_home: Path) -> CliRunner:
    return CliRunner()


def test_create_prints_a_key_that_verifies_with_its_scopes(runner: CliRunner) -> None:
    result = runner.invoke(app, ["create", "--name", "prm-sync", "--scopes", "read,write"])
    assert result.exit_code == 0
    key = result.output.strip().splitlines()[-1]
    caller = KeyVerifier(ApiStore.open(get_settings().store_url), ttl=0).verify(key)
    assert caller is not None and caller.scopes == {"read", "write"}


def test_create_rejects_an_unknown_scope(runner: CliRunner) -> None:
    result = runner.invoke(app, ["create", "--name", "x", "--scopes", "read,root"])
    assert result.exit_code == 2 and "root" in result.output


def test_list_shows_names_but_never_secrets(runner: CliRunner) -> None:
    key = runner.invoke(app, ["create", "--name", "dashboard"]).output.strip().splitlines()[-1]
    listing = runner.invoke(app, ["list"]).output
    assert "dashboard" in listing and key.rsplit("_", 1)[-1] not in listing


def test_a_revoked_key_no_longer_verifies(runner: CliRunner) -> None:
    key = runner.invoke(app, ["create", "--name", "old"]).output.strip().splitlines()[-1]
    key_id = key.split("_")[1]
    assert runner.invoke(app, ["revoke", key_id]).exit_code == 0
    assert KeyVerifier(ApiStore.open(get_settings().store_url), ttl=0).verify(key) is None


def test_revoking_an_unknown_key_fails_with_a_message(runner: CliRunner) -> None:
    result = runner.invoke(app, ["revoke", "nope"])
    assert result.exit_code == 1 and "no active key" in result.output


def test_serve_creates_one_read_only_demo_key_when_none_exists(pm_home: Path) -> None:
    from partnermatch.commands.serve import _key_header

    header = _key_header()
    key = header.split("X-API-Key: ")[1].rstrip("'")
    caller = KeyVerifier(ApiStore.open(get_settings().store_url), ttl=0).verify(key)
    assert caller is not None and caller.scopes == {"read"}
    assert "<your key>" in _key_header()
