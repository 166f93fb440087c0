"""The model being served and its hot reload."""

from __future__ import annotations

from fastapi import APIRouter, Request

from serving.dependencies import AdminCaller, HolderDep, ReadCaller, ServingDep
from serving.errors import ApiError
from serving.metrics import ApiMetrics
from serving.model_holder import ReloadRefused
from serving.schemas import ErrorBody, ModelInfo, ReloadRequest, ReloadResponse
from serving.sync import RELOAD, EventFollower

router = APIRouter(prefix="/v1", tags=["model"])


@router.get("/model", response_model=ModelInfo, summary="Version, training date and metrics of the model")
def model_info(serving: ServingDep, holder: HolderDep, _: ReadCaller) -> ModelInfo:
    m = serving.model.manifest
    return ModelInfo(
        version=serving.version,
        trained_at=m.trained_at,
        feature_version=m.feature_version,
        embedder_id=m.embedder_id,
        roles=m.roles,
        metrics=m.metrics,
        challenger_version=holder.challenger_version,
    )


@router.post(
    "/admin/reload",
    response_model=ReloadResponse,
    summary="Load the champion (or a given version), verify it, then swap it in; refresh the challenger",
    responses={
        409: {"model": ErrorBody, "description": "the new bundle failed verification; old one serves"}
    },
)
def reload(
    request: Request, holder: HolderDep, _: AdminCaller, body: ReloadRequest | None = None
) -> ReloadResponse:
    metrics: ApiMetrics = request.app.state.metrics
    try:
        previous, version = holder.reload(body.version if body else None)
    except ReloadRefused as exc:
        metrics.reloads.labels("refused").inc()
        # The detail (paths, checksums) is in the server log; the client gets the reason without them.
        raise ApiError(
            409, f"reload refused, previous model keeps serving: {exc.public}", code="reload_refused"
        ) from exc
    metrics.reloads.labels("swapped").inc()
    metrics.set_model(version)
    events: EventFollower = request.app.state.events
    challenger = holder.challenger_version
    events.publish(RELOAD, {"version": version, "challenger": challenger})
    return ReloadResponse(previous_version=previous, model_version=version)
