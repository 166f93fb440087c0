"""Settings of the HTTP API only (auth, limits, audit), read from `PM_*` variables like the core settings."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServingSettings(BaseSettings):
    """Secure by default: every /v1 route needs an API key unless `auth_disabled` is set explicitly."""

    model_config = SettingsConfigDict(env_prefix="PM_", extra="ignore")

    auth_disabled: bool = False
    rate_limit_per_minute: int = Field(600, ge=1, le=10_000_000)
    max_body_bytes: int = Field(1_048_576, ge=1024, le=64 * 1_048_576)
    max_batch: int = Field(100, ge=1, le=1000)
    # A verified key is trusted this long before it is looked up again (revocation delay, in seconds).
    key_cache_seconds: float = Field(5.0, ge=0, le=300)
    redis_url: str | None = None
    # Requests ranked at once per worker process: one per core is fastest here; more threads only fight
    # over the GIL and the caches, so extra requests wait their turn without using CPU.
    rank_concurrency: int = Field(1, ge=1, le=64)
    # How often each worker replays the other workers' reloads and partner changes; 0 turns it off.
    event_poll_seconds: float = Field(1.0, ge=0, le=3600)


def get_serving_settings() -> ServingSettings:
    """Read from the environment on each call (once per app): tests may change PM_* between apps."""
    return ServingSettings()
