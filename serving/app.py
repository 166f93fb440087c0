"""The FastAPI application: loads the champion at start-up and answers recommendation requests."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse

from features.index import set_search_threads
from models.bundle import BundleError
from models.registry import LoadedModel, load_champion
from models.teams import RankedTeam
from partnermatch.settings import Settings, get_settings
from serving.schemas import (
    Member,
    ModelInfo,
    RecommendationRequest,
    RecommendationResponse,
    TeamOut,
)

logger = logging.getLogger(__name__)

ModelLoader = Callable[[Settings], LoadedModel]


def _team_out(team: RankedTeam, model: LoadedModel) -> TeamOut:
    engine = model.recommender.engine
    members = [
        Member(partner_id=pid, name=str(engine.partner(pid).get("name", pid)), role=role)
        for role, pid in team.members.items()
        if pid is not None
    ]
    return TeamOut(rank=team.rank, score=team.score, members=members)


def get_model(request: Request) -> LoadedModel:
    model: LoadedModel | None = request.app.state.model
    if model is None:
        raise HTTPException(status_code=503, detail=request.app.state.load_error or "no model loaded")
    return model


ModelDep = Annotated[LoadedModel, Depends(get_model)]


def create_app(settings: Settings | None = None, loader: ModelLoader = load_champion) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.model = None
        app.state.load_error = None
        # One FAISS thread per worker: two threads ran up to 30x slower on 2 cores here.
        set_search_threads(1)
        try:
            app.state.model = loader(settings)
            logger.info("serving model version %s", app.state.model.version)
        except BundleError as exc:
            # Stay up and say why: liveness holds, readiness and recommendations answer 503.
            app.state.load_error = str(exc)
            logger.error("no model loaded: %s", exc)
        yield

    app = FastAPI(
        title="partnermatch",
        version="0.1.0",
        summary="Top-k partner teams for a co-selling opportunity.",
        lifespan=lifespan,
    )

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        code = {401: "unauthorized", 403: "forbidden", 404: "not_found", 503: "unavailable"}.get(
            exc.status_code, "error"
        )
        return JSONResponse(status_code=exc.status_code, content={"code": code, "message": str(exc.detail)})

    @app.get("/health/live", tags=["health"])
    def live() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/health/ready", tags=["health"])
    def ready(request: Request) -> JSONResponse:
        model: LoadedModel | None = request.app.state.model
        if model is None:
            return JSONResponse(
                status_code=503,
                content={"code": "unavailable", "message": request.app.state.load_error or "no model"},
            )
        return JSONResponse({"status": "ready", "model_version": model.version})

    @app.get("/v1/model", response_model=ModelInfo, tags=["model"])
    def model_info(model: ModelDep) -> ModelInfo:
        m = model.manifest
        return ModelInfo(
            version=model.version,
            trained_at=m.trained_at,
            feature_version=m.feature_version,
            embedder_id=m.embedder_id,
            roles=m.roles,
            metrics=m.metrics,
        )

    @app.post("/v1/recommendations", response_model=RecommendationResponse, tags=["recommendations"])
    def recommend(req: RecommendationRequest, model: ModelDep) -> RecommendationResponse:
        """Top-k partner teams for one opportunity."""
        try:
            ranked = model.recommender.recommend([req.opportunity.to_query()], k=req.k, roles=req.roles)[0]
        except ValueError as exc:
            raise HTTPException(status_code=422, detail=str(exc)) from exc
        return RecommendationResponse(
            request_id=uuid.uuid4().hex,
            model_version=model.version,
            teams=[_team_out(team, model) for team in ranked],
        )

    return app
