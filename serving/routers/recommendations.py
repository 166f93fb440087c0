"""Top-k teams for opportunities (one, or a batch), and the what-if questions built on the same ranker."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, BackgroundTasks, Request

from models.constraints import TeamConstraints
from serving.dependencies import ApiStoreDep, ReadCaller, ServingDep
from serving.errors import ApiError
from serving.model_holder import Serving
from serving.persistence import ApiStore
from serving.presenters import audit_teams, recommendation_response
from serving.ranking import RankingError, RankSpec
from serving.schemas import (
    BatchItem,
    BatchRequest,
    BatchResponse,
    ErrorBody,
    IncludePartnerRequest,
    RecommendationRequest,
    RecommendationResponse,
    ReplaceMemberRequest,
)

router = APIRouter(prefix="/v1", tags=["recommendations"])

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody},
    403: {"model": ErrorBody},
    422: {"model": ErrorBody},
    429: {"model": ErrorBody},
    503: {"model": ErrorBody},
}


def _request_id(request: Request) -> str:
    return str(request.scope.get("state", {}).get("request_id", ""))


def filters_applied(req: RecommendationRequest) -> tuple[str, ...]:
    """The request's rules in words, echoed in the response."""
    c = req.constraints
    out = []
    if c.exclude:
        out.append(f"exclude: {len(c.exclude)} partner(s)")
    if c.include:
        out.append(f"include: {', '.join(c.include)}")
    if c.conflicting_pairs:
        out.append(f"conflicting_pairs: {len(c.conflicting_pairs)}")
    if c.min_tier:
        out.append(f"min_tier: {c.min_tier}")
    if c.region_must_match:
        out.append("region_must_match")
    if c.required_certifications:
        out.append(f"required_certifications: {', '.join(c.required_certifications)}")
    if c.ignore_registration:
        out.append("ignore_registration")
    if req.candidates is not None:
        out.append("candidates: partner_ids" if req.candidates.partner_ids else "candidates: teams")
    return tuple(out)


def _spec(serving: Serving, req: RecommendationRequest) -> RankSpec:
    c = req.constraints
    candidates = req.candidates
    serving.ranker.check_known(c.include)
    try:
        constraints = TeamConstraints(
            exclude=frozenset(c.exclude),
            include=frozenset(c.include),
            conflicting_pairs=TeamConstraints.pairs(c.conflicting_pairs),
            min_tier=c.min_tier,
            required_certifications=tuple(c.required_certifications),
            region_must_match=c.region_must_match,
            ignore_registration=c.ignore_registration,
            allowed=frozenset(candidates.partner_ids) if candidates and candidates.partner_ids else None,
        )
    except ValueError as exc:
        raise RankingError(str(exc)) from exc
    return RankSpec(
        roles=serving.ranker.check_roles(req.roles),
        k=req.k,
        constraints=constraints,
        candidate_teams=tuple(candidates.teams) if candidates and candidates.teams else None,
        diversity=req.diversity,
        explain=req.explain,
        filters_applied=filters_applied(req),
    )


def _rank_many(
    request: Request, serving: Serving, reqs: Sequence[RecommendationRequest]
) -> list[RecommendationResponse | ApiError]:
    """Rank several requests with one model version and one embedding call; each may fail on its own."""
    request_id = _request_id(request)
    out: list[RecommendationResponse | ApiError] = []
    specs: dict[int, RankSpec] = {}
    for i, req in enumerate(reqs):
        try:
            specs[i] = _spec(serving, req)
            out.append(ApiError(500, "not ranked"))
        except RankingError as exc:
            out.append(ApiError(422, str(exc)))
    order = list(specs)
    slots: threading.BoundedSemaphore = request.app.state.rank_slots
    # Reads the engine under its lock: an in-place partner update waits for running requests.
    with slots, serving.ranker.lock.read():
        prepared = serving.ranker.prepare([reqs[i].opportunity.to_query() for i in order])
        for i, opp in zip(order, prepared, strict=True):
            try:
                result = serving.ranker.rank(opp, specs[i])
            except RankingError as exc:
                out[i] = ApiError(422, str(exc))
                continue
            out[i] = recommendation_response(
                request_id, serving.version, serving.ranker.engine, result, opp.query, reqs[i].explain
            )
    return out


def _audit(
    api_store: ApiStore,
    key_id: str | None,
    route: str,
    reqs: Sequence[RecommendationRequest],
    responses: Sequence[RecommendationResponse | ApiError],
    request_id: str,
    version: str,
) -> None:
    api_store.write_audit(
        [
            {
                "request_id": request_id,
                "key_id": key_id,
                "route": route,
                "model_version": version,
                "request": req.model_dump(mode="json"),
                "teams": audit_teams(resp.teams) if isinstance(resp, RecommendationResponse) else [],
            }
            for req, resp in zip(reqs, responses, strict=True)
        ]
    )


def _answer(
    request: Request,
    serving: Serving,
    api_store: ApiStore,
    caller_key: str | None,
    background: BackgroundTasks,
    reqs: Sequence[RecommendationRequest],
) -> RecommendationResponse:
    [response] = _rank_many(request, serving, reqs)
    if isinstance(response, ApiError):
        raise response
    # Written after the response is sent: the audit trail never adds to the request's latency.
    background.add_task(
        _audit,
        api_store,
        caller_key,
        request.url.path,
        reqs,
        [response],
        response.request_id,
        serving.version,
    )
    return response


@router.post(
    "/recommendations",
    response_model=RecommendationResponse,
    responses=ERRORS,
    summary="Top-k partner teams for one opportunity",
)
def recommend(
    req: RecommendationRequest,
    request: Request,
    serving: ServingDep,
    caller: ReadCaller,
    api_store: ApiStoreDep,
    background: BackgroundTasks,
) -> RecommendationResponse:
    """Retrieve, apply the rules of engagement, assemble and score teams; the best `k`, with reasons."""
    return _answer(request, serving, api_store, caller.key_id, background, [req])


@router.post(
    "/recommendations:batch",
    response_model=BatchResponse,
    responses=ERRORS,
    summary="Top-k teams for up to 100 opportunities",
)
def recommend_batch(
    body: BatchRequest,
    request: Request,
    serving: ServingDep,
    caller: ReadCaller,
    api_store: ApiStoreDep,
    background: BackgroundTasks,
) -> BatchResponse:
    """Each item succeeds or fails on its own (`status`, `error`); all use one model version."""
    responses = _rank_many(request, serving, body.requests)
    items = [
        BatchItem(index=i, status=200, result=r)
        if isinstance(r, RecommendationResponse)
        else BatchItem(index=i, status=r.status, error={"code": r.code, "message": r.message})
        for i, r in enumerate(responses)
    ]
    request_id = _request_id(request)
    background.add_task(
        _audit,
        api_store,
        caller.key_id,
        request.url.path,
        body.requests,
        responses,
        request_id,
        serving.version,
    )
    return BatchResponse(request_id=request_id, model_version=serving.version, results=items)


@router.post(
    "/what-if/replace-member",
    response_model=RecommendationResponse,
    responses=ERRORS,
    summary="Best replacements for one member of a team",
)
def replace_member(
    body: ReplaceMemberRequest,
    request: Request,
    serving: ServingDep,
    caller: ReadCaller,
    api_store: ApiStoreDep,
    background: BackgroundTasks,
) -> RecommendationResponse:
    """The other members stay on the team; the replaced partner is excluded from its role."""
    if body.replace_role not in body.team:
        raise ApiError(422, f"replace_role {body.replace_role!r} is not a role of the given team")
    kept = [pid for role, pid in body.team.items() if role != body.replace_role]
    req = RecommendationRequest(
        opportunity=body.opportunity,
        k=body.k,
        roles=list(body.team),
        constraints={"include": kept, "exclude": [body.team[body.replace_role]], "ignore_registration": True},
        explain=body.explain,
    )
    return _answer(request, serving, api_store, caller.key_id, background, [req])


@router.post(
    "/what-if/include-partner",
    response_model=RecommendationResponse,
    responses=ERRORS,
    summary="Best teams that must include a given partner",
)
def include_partner(
    body: IncludePartnerRequest,
    request: Request,
    serving: ServingDep,
    caller: ReadCaller,
    api_store: ApiStoreDep,
    background: BackgroundTasks,
) -> RecommendationResponse:
    req = RecommendationRequest(
        opportunity=body.opportunity,
        k=body.k,
        roles=body.roles,
        constraints={"include": [body.partner_id]},
        explain=body.explain,
    )
    return _answer(request, serving, api_store, caller.key_id, background, [req])
