"""Fixtures the CLI tests share: the export writer of the features tests, the store the CLI writes to."""

from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

from core.settings import get_settings
from features.store import Store
from partnermatch.commands.ingest import ingest
from tests.features.conftest import write

__all__ = ["write"]


@pytest.fixture
def cli_store(store_url: str, monkeypatch: pytest.MonkeyPatch) -> Store:
    """The store the CLI writes to (PM_DATABASE_URL points at it)."""
    monkeypatch.setenv("PM_DATABASE_URL", store_url)
    get_settings.cache_clear()
    return Store(store_url)


def invoke(*args: str) -> tuple[int, str, str]:
    app = typer.Typer()
    app.command()(ingest)
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr
