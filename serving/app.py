"""The FastAPI application: wiring of routers, middleware, errors and the state loaded at start-up."""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from sqlalchemy.engine import make_url

from core.settings import ServingSettings, Settings, get_serving_settings, get_settings
from features.index import set_search_threads
from models.registry import load_champion, registered_challenger
from serving import web
from serving.auth import KeyVerifier
from serving.dependencies import API_KEY_HEADER, IDEMPOTENCY_HEADER, Replay, no_unknown_query
from serving.ecosystem import DealBooks
from serving.errors import install_error_handlers
from serving.limits import make_rate_limiter
from serving.metrics import ApiMetrics
from serving.middleware import ApiMiddleware
from serving.model_holder import ChallengerSource, ModelHolder, ModelLoader
from serving.persistence import ApiStore
from serving.routers import (
    catalog,
    ecosystem,
    feedback,
    health,
    model,
    partners,
    performance,
    recommendations,
)
from serving.schemas import ErrorBody
from serving.shadow import ShadowScorer
from serving.sync import EventFollower, with_store_changes

logger = logging.getLogger(__name__)

DESCRIPTION = """Top-k partner teams (one partner per role) for a co-selling opportunity, with reasons.

Authenticate with an API key in the `X-API-Key` header (`partnermatch keys create`). Scopes: `read`
(recommendations, model, partners), `write` (partner sync, outcomes, feedback), `admin` (reload).
Errors are JSON `{code, message}`. Writes accept an `Idempotency-Key` header.

Bodies are validated strictly: numbers are JSON numbers (`"k": "5"` and `"k": true` are refused), flags
are JSON booleans and dates are `YYYY-MM-DD` strings. A field that breaks a stated rule is answered 422
with the field it concerns; a partner the model does not know, 404 (`unknown_partner`); a request that
contradicts itself or the partner records in a way JSON Schema cannot state (a partner listed twice, a
team naming a role that was not requested), 409 (`conflicting_request`).
A batch spends one unit of the caller's rate limit per opportunity. A 503 carries `Retry-After`.
"""
# Declared on every /v1 operation: each can answer these whatever its body.
V1_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "the request cannot be read (e.g. a malformed body)"},
    401: {"model": ErrorBody, "description": f"no valid API key in the {API_KEY_HEADER} header"},
    403: {"model": ErrorBody, "description": "the key lacks the route's scope"},
    413: {"model": ErrorBody, "description": "the body exceeds the size limit"},
    422: {"model": ErrorBody, "description": "the body breaks a validation rule"},
    429: {"model": ErrorBody, "description": "rate limit exceeded; see Retry-After"},
    503: {"model": ErrorBody, "description": "no model loaded or a dependency unavailable; see Retry-After"},
}


def document_roles(openapi: dict[str, Any], roles: tuple[str, ...]) -> None:
    """State in the schema what validation does with roles: the configured set is an enum, and the role a
    what-if replaces must be one of the team's (rules pydantic's generated schema cannot carry)."""
    enum = {"enum": list(roles)}
    for name, schema in openapi.get("components", {}).get("schemas", {}).items():
        props = schema.get("properties", {})
        model = name.split("-")[0]
        if model in ("RecommendationRequest", "IncludePartnerRequest"):
            for branch in props["roles"].get("anyOf", []):
                if branch.get("type") == "array":
                    branch["items"] = {**branch.get("items", {}), **enum}
        elif model == "Candidates":
            for branch in props["teams"].get("anyOf", []):
                if branch.get("type") == "array":
                    branch["items"] = {**branch.get("items", {}), "propertyNames": enum}
        elif model in ("PartnerIn", "PartnerBulkItem"):
            props["partner_type"].update(enum)
        elif model == "ReplaceMemberRequest":
            props["team"]["propertyNames"] = enum
            props["replace_role"].update(enum)
            schema["anyOf"] = [
                {"properties": {"replace_role": {"const": role}, "team": {"required": [role]}}}
                for role in roles
            ]


def store_url(settings: Settings, config: ServingSettings) -> str:
    """The store URL with connect and TCP timeouts for PostgreSQL (an operator's own values are kept).

    Without them an unreachable server holds a request for ~130 s (the kernel's SYN retries) and a
    silently dropped connection for much longer; SQLite needs none.
    """
    url = make_url(settings.store_url)
    if url.get_backend_name() != "postgresql":
        return settings.store_url
    timeout = config.dependency_timeout_seconds
    # libpq reads whole seconds (at least 2); tcp_user_timeout is in milliseconds.
    defaults = {
        "connect_timeout": str(max(2, math.ceil(timeout))),
        "tcp_user_timeout": str(int(timeout * 1000)),
    }
    query = {name: value for name, value in defaults.items() if name not in url.query}
    return url.update_query_dict(query).render_as_string(hide_password=False)


def create_app(
    settings: Settings | None = None,
    loader: ModelLoader = load_champion,
    serving_settings: ServingSettings | None = None,
    challenger: ChallengerSource = registered_challenger,
) -> FastAPI:
    """`challenger` names the version to shadow-score (default: the registry's `challenger` alias)."""
    settings = settings or get_settings()
    config = serving_settings or get_serving_settings()
    metrics = ApiMetrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # One FAISS thread per worker: two threads ran up to 30x slower on 2 cores here.
        set_search_threads(1)
        api_store = ApiStore.open(store_url(settings, config))
        app.state.api_store = api_store
        app.state.deal_books = DealBooks(api_store.store)
        app.state.key_verifier = KeyVerifier(api_store, config.key_cache_seconds)
        app.state.rate_limiter = make_rate_limiter(
            config.redis_url or settings.redis_url,
            config.rate_limit_per_minute,
            timeout=config.dependency_timeout_seconds,
            outage=config.redis_outage,
        )
        holder = ModelHolder(
            settings,
            loader,
            partial(with_store_changes, store=api_store.store),
            challenger_source=challenger if config.shadow_enabled else None,
        )
        app.state.holder = holder
        app.state.shadow = ShadowScorer(api_store, metrics, config.shadow_sample_rate)
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
    app.state.batch_slots = threading.BoundedSemaphore(config.batch_concurrency)
    # No origin is allowed unless configured: browsers then refuse cross-site calls (preflights get 400).
    app.add_middleware(
        CORSMiddleware,
        allow_origins=config.cors_origins,
        allow_methods=["GET", "POST", "PUT", "DELETE"],
        allow_headers=[API_KEY_HEADER, IDEMPOTENCY_HEADER, "Content-Type", "X-Request-ID"],
        expose_headers=["X-Request-ID", "Retry-After", "Idempotent-Replayed"],
    )
    # Added last, so outermost: its security headers and JSON 500 cover every response, CORS's too.
    app.add_middleware(ApiMiddleware, metrics=metrics, max_body_bytes=config.max_body_bytes)
    install_error_handlers(app)

    @app.exception_handler(Replay)
    async def replay(_: Request, exc: Replay) -> JSONResponse:
        return JSONResponse(status_code=exc.status, content=exc.body, headers={"Idempotent-Replayed": "true"})

    app.include_router(health.router)
    for module in (recommendations, partners, catalog, ecosystem, feedback, model, performance):
        app.include_router(module.router, responses=V1_ERRORS, dependencies=[Depends(no_unknown_query)])
    # The sales-rep page at `/`: HTML over the same functions, signed in with a session (serving/web).
    web.install(app)

    generate_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document_roles(generate_openapi(), tuple(settings.roles))
        return app.openapi_schema or generate_openapi()

    app.openapi = openapi  # type: ignore[method-assign]
    return app
