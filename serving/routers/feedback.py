"""Deal outcomes and rep feedback from integrations; stored for the next training run."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Request

from serving.dependencies import IDEMPOTENCY_HEADER, MAX_IDEMPOTENCY_KEY, ApiStoreDep, Replay, WriteCaller
from serving.errors import ApiError
from serving.persistence import IdempotencyClaim, IdempotencyKeyReused, Written, request_sha256
from serving.schemas import MAX_ID, FeedbackRequest, OutcomeRequest, Recorded

router = APIRouter(prefix="/v1", tags=["feedback"])

async def idempotency_claim(
    request: Request,
    caller: WriteCaller,
    key: Annotated[
        str | None,
        Header(
            alias=IDEMPOTENCY_HEADER,
            min_length=1,
            max_length=MAX_IDEMPOTENCY_KEY,
            description="replays the first answer for a repeated request; another request with it is 422",
        ),
    ] = None,
) -> IdempotencyClaim | None:
    """This write's Idempotency-Key, claimed atomically with the row it adds (ApiStore.add_record)."""
    if key is None:
        return None
    if not key.strip():
        raise ApiError(422, f"{IDEMPOTENCY_HEADER} must be 1-{MAX_IDEMPOTENCY_KEY} characters")
    route = f"{request.method} {request.url.path}"
    # Keys are per caller; with auth disabled everyone shares one namespace.
    digest = request_sha256(route, await request.body())
    return IdempotencyClaim(caller.key_id or "anonymous", key, route, digest)


ClaimDep = Annotated[IdempotencyClaim | None, Depends(idempotency_claim)]


def _recorded(row_id: int) -> tuple[int, Any]:
    return 201, Recorded(id=row_id).model_dump(mode="json")


def _answer(
    api_store: ApiStoreDep, table: str, row: dict[str, Any], claim: IdempotencyClaim | None
) -> Recorded:
    try:
        written: Written = api_store.add_record(table, row, _recorded, claim)
    except IdempotencyKeyReused:
        raise ApiError(
            422,
            f"{IDEMPOTENCY_HEADER} {claim.key if claim else ''!r} was already used with a different request",
            code="idempotency_key_reused",
        ) from None
    if written.replayed:
        raise Replay(written.status_code, written.response)
    return Recorded.model_validate(written.response)


@router.post(
    "/opportunities/{opportunity_id}/outcome",
    response_model=Recorded,
    status_code=201,
    summary="Record that a deal was won or lost, and by which team",
)
def record_outcome(
    body: OutcomeRequest,
    caller: WriteCaller,
    claim: ClaimDep,
    api_store: ApiStoreDep,
    opportunity_id: str = Path(min_length=1, max_length=MAX_ID),
) -> Recorded:
    row = {
        "key_id": caller.key_id,
        "opportunity_id": opportunity_id,
        "outcome": body.outcome,
        "closed_at": body.closed_at,
        "deal_size": body.deal_size,
        "team": [m.model_dump() for m in body.team],
    }
    return _answer(api_store, "outcomes", row, claim)


@router.post(
    "/feedback",
    response_model=Recorded,
    status_code=201,
    summary="A suggestion accepted or rejected by a rep, with a reason code",
)
def record_feedback(
    body: FeedbackRequest, caller: WriteCaller, claim: ClaimDep, api_store: ApiStoreDep
) -> Recorded:
    row = {
        "key_id": caller.key_id,
        "request_id": body.request_id,
        "opportunity_id": body.opportunity_id,
        "partner_id": body.partner_id,
        "team": body.team,
        "action": body.action,
        "reason_code": body.reason_code.value,
        "comment": body.comment,
    }
    return _answer(api_store, "feedback", row, claim)
