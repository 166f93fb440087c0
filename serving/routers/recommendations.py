"""Top-k teams for opportunities (one, or a batch), and the what-if questions built on the same ranker."""

from __future__ import annotations

from fastapi import APIRouter, BackgroundTasks, Request

from serving.answers import answer, audit, rank_many, request_id_of, shadow
from serving.dependencies import ApiStoreDep, ReadCaller, ServingDep, batch_slot
from serving.errors import ApiError, route_errors
from serving.ranking import RankingError
from serving.schemas import (
    BatchItem,
    BatchRequest,
    BatchResponse,
    IncludePartnerRequest,
    RecommendationRequest,
    RecommendationResponse,
    ReplaceMemberRequest,
)

router = APIRouter(prefix="/v1", tags=["recommendations"])

ERRORS = route_errors(404, 409)


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
    return answer(request, serving, api_store, caller.key_id, background, [req])


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
    """Each item succeeds or fails on its own (`status`, `error`); all use one model version.

    A role outside the documented enum breaks the request's schema, so it fails the whole batch (422), as
    any other schema violation does; only what the schema cannot see fails an item alone.
    """
    for i, req in enumerate(body.requests):
        try:
            serving.ranker.check_roles(req.roles)
        except RankingError as exc:
            raise ApiError(422, f"requests[{i}].roles: {exc}") from exc
    with batch_slot(request):
        responses = rank_many(request, serving, body.requests)
    items = [
        BatchItem(index=i, status=200, result=r)
        if isinstance(r, RecommendationResponse)
        else BatchItem(index=i, status=r.status, error={"code": r.code, "message": r.message})
        for i, r in enumerate(responses)
    ]
    request_id = request_id_of(request)
    background.add_task(
        audit,
        api_store,
        caller.key_id,
        request.url.path,
        body.requests,
        responses,
        request_id,
        serving.version,
    )
    shadow(request, background, serving, body.requests, responses, request_id)
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
        raise ApiError(
            409, f"replace_role {body.replace_role!r} is not a role of the given team", "conflicting_request"
        )
    kept = [pid for role, pid in body.team.items() if role != body.replace_role]
    req = RecommendationRequest(
        opportunity=body.opportunity,
        k=body.k,
        roles=list(body.team),
        constraints={"include": kept, "exclude": [body.team[body.replace_role]], "ignore_registration": True},
        explain=body.explain,
        rank_by=body.rank_by,
    )
    return answer(request, serving, api_store, caller.key_id, background, [req])


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
        rank_by=body.rank_by,
    )
    return answer(request, serving, api_store, caller.key_id, background, [req])
