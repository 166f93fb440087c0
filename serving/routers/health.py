"""Liveness, readiness (a verified model is loaded and the required dependencies answer) and metrics."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from core.settings import ServingSettings
from serving.dependencies import ApiStoreDep, HolderDep
from serving.errors import error_response, first_line, retry_after
from serving.limits import RateLimiter, RedisRateLimiter
from serving.metrics import ApiMetrics
from serving.model_holder import public_reason
from serving.schemas import ErrorBody

logger = logging.getLogger(__name__)

router = APIRouter(tags=["health"])

OK = "ok"


@router.get("/health/live", summary="The process is up")
def live() -> dict[str, str]:
    return {"status": "ok"}


UNAVAILABLE = "unavailable"


def _database(api_store: ApiStoreDep) -> str:
    try:
        with api_store.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        logger.warning("readiness: database unavailable: %s", first_line(exc))
        return UNAVAILABLE
    return OK


def _redis(limiter: RateLimiter, config: ServingSettings) -> str:
    if not isinstance(limiter, RedisRateLimiter):
        return "not configured"
    if limiter.healthy():
        return OK
    # Only a required dependency makes the worker unready: with the local fallback it keeps serving.
    return UNAVAILABLE if config.redis_outage == "reject" else "degraded (per-process rate limits)"


def _model(holder: HolderDep) -> str:
    if holder.current is not None:
        return OK
    # The full reason names files and checksums: it stays in the server log.
    reason = public_reason(holder.load_exception) if holder.load_exception else "still loading"
    return f"{UNAVAILABLE} ({reason})"


@router.get(
    "/health/ready",
    summary="A verified model is loaded and the database (and Redis, when required) answer",
    responses={
        503: {
            "model": ErrorBody,
            "description": "not ready: no model loaded, or a required dependency is unavailable",
        }
    },
)
def ready(request: Request, holder: HolderDep, api_store: ApiStoreDep) -> Response:
    config: ServingSettings = request.app.state.serving_settings
    current = holder.current
    checks = {
        "model": _model(holder),
        "database": _database(api_store),
        "redis": _redis(request.app.state.rate_limiter, config),
    }
    failing = [f"{name} {state}" for name, state in checks.items() if state.startswith(UNAVAILABLE)]
    if failing or current is None:
        return error_response(
            503,
            f"not ready: {'; '.join(failing)}",
            "not_ready",
            headers={"Retry-After": retry_after(request)},
            checks=checks,
        )
    return JSONResponse({"status": "ready", "model_version": current.version, "checks": checks})


@router.get(
    "/metrics",
    summary="Prometheus metrics (of every worker when PROMETHEUS_MULTIPROC_DIR is set)",
    response_class=Response,
)
def metrics(request: Request) -> Response:
    api_metrics: ApiMetrics = request.app.state.metrics
    return Response(api_metrics.render(), media_type=CONTENT_TYPE_LATEST)
