"""Shared fixtures: an isolated PM_HOME per test, and store URLs for SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from core.settings import get_settings

POSTGRES_HOST = "127.0.0.1:5432"
POSTGRES_USERS = ("postgres", "root")


@pytest.fixture(autouse=True)
def pm_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Every test gets its own PM_HOME (store, MLflow, indexes) and fresh settings."""
    home = tmp_path / "pm-home"
    monkeypatch.setenv("PM_HOME", str(home))
    for name in ("PM_DATABASE_URL", "MLFLOW_TRACKING_URI"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    yield home
    get_settings.cache_clear()


def _admin_connection() -> tuple[psycopg.Connection, str] | None:
    for user in POSTGRES_USERS:
        try:
            conn = psycopg.connect(
                f"postgresql://{user}@{POSTGRES_HOST}/test", autocommit=True, connect_timeout=3
            )
        except psycopg.OperationalError:
            continue
        return conn, user
    return None


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, dropped at the end."""
    admin = _admin_connection()
    if admin is None:
        pytest.skip(f"PostgreSQL not reachable on {POSTGRES_HOST} as {' or '.join(POSTGRES_USERS)}")
    conn, user = admin
    name = f"pm_test_{uuid.uuid4().hex[:12]}"
    conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://{user}@{POSTGRES_HOST}/{name}"
    finally:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.close()


def _reset_postgres(url: str) -> None:
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database URL, once per backend: a SQLite file, then a wiped PostgreSQL schema."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store' / 'store.db'}"
    url: str = request.getfixturevalue("postgres_url")
    _reset_postgres(url)
    return url
