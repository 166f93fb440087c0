"""Liveness, readiness (a verified model is loaded) and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST

from serving.dependencies import HolderDep
from serving.errors import error_response
from serving.metrics import ApiMetrics

router = APIRouter(tags=["health"])


@router.get("/health/live", summary="The process is up")
def live() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/health/ready",
    summary="A verified model and its index are loaded",
    responses={503: {"description": "no model loaded", "content": {"application/json": {}}}},
)
def ready(holder: HolderDep) -> Response:
    current = holder.current
    if current is None:
        return error_response(
            503, f"no model loaded: {holder.load_error or 'not started'}", "model_unavailable"
        )
    return JSONResponse({"status": "ready", "model_version": current.version})


@router.get(
    "/metrics",
    summary="Prometheus metrics (of every worker when PROMETHEUS_MULTIPROC_DIR is set)",
    response_class=Response,
)
def metrics(request: Request) -> Response:
    api_metrics: ApiMetrics = request.app.state.metrics
    return Response(api_metrics.render(), media_type=CONTENT_TYPE_LATEST)
