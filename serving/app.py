"""The FastAPI application: wiring of routers, middleware, errors and the state loaded at start-up."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from features.index import set_search_threads
from models.registry import load_champion
from partnermatch.settings import Settings, get_settings
from serving.auth import KeyVerifier
from serving.config import ServingSettings, get_serving_settings
from serving.dependencies import Replay
from serving.errors import install_error_handlers
from serving.limits import make_rate_limiter
from serving.metrics import ApiMetrics
from serving.middleware import ApiMiddleware
from serving.model_holder import ModelHolder, ModelLoader
from serving.persistence import ApiStore
from serving.routers import feedback, health, model, partners, recommendations
from serving.sync import EventFollower

logger = logging.getLogger(__name__)

DESCRIPTION = """Top-k partner teams (one partner per role) for a co-selling opportunity, with reasons.

Authenticate with an API key in the `X-API-Key` header (`partnermatch keys create`). Scopes: `read`
(recommendations, model, partners), `write` (partner sync, outcomes, feedback), `admin` (reload).
Errors are JSON `{code, message}`. Writes accept an `Idempotency-Key` header.
"""


def create_app(
    settings: Settings | None = None,
    loader: ModelLoader = load_champion,
    serving_settings: ServingSettings | None = None,
) -> FastAPI:
    settings = settings or get_settings()
    config = serving_settings or get_serving_settings()
    metrics = ApiMetrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # One FAISS thread per worker: two threads ran up to 30x slower on 2 cores here.
        set_search_threads(1)
        api_store = ApiStore.open(settings.store_url)
        app.state.api_store = api_store
        app.state.key_verifier = KeyVerifier(api_store, config.key_cache_seconds)
        app.state.rate_limiter = make_rate_limiter(
            config.redis_url or settings.redis_url, config.rate_limit_per_minute
        )
        holder = ModelHolder(settings, loader)
        app.state.holder = holder
        holder.load_initial()
        metrics.set_model(holder.current.version if holder.current else None)
        events = EventFollower(api_store, holder)
        app.state.events = events
        if config.event_poll_seconds > 0:
            events.start(config.event_poll_seconds)
        if config.auth_disabled:
            logger.warning("API authentication is DISABLED (PM_AUTH_DISABLED=true): local use only")
        yield
        events.stop()
        api_store.engine.dispose()

    app = FastAPI(
        title="partnermatch",
        version="1.0.0",
        summary="Top-k partner teams for a co-selling opportunity.",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.serving_settings = config
    app.state.metrics = metrics
    app.state.rank_slots = threading.BoundedSemaphore(config.rank_concurrency)
    app.add_middleware(ApiMiddleware, metrics=metrics, max_body_bytes=config.max_body_bytes)
    install_error_handlers(app)

    @app.exception_handler(Replay)
    async def replay(_: Request, exc: Replay) -> JSONResponse:
        return JSONResponse(status_code=exc.status, content=exc.body, headers={"Idempotent-Replayed": "true"})

    for module in (health, recommendations, partners, feedback, model):
        app.include_router(module.router)
    return app
