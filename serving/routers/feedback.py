"""Deal outcomes and rep feedback from integrations; stored for the next training run."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path

from serving.dependencies import ApiStoreDep, IdempotencyDep, WriteCaller
from serving.schemas import MAX_ID, ErrorBody, FeedbackRequest, OutcomeRequest, Recorded

router = APIRouter(prefix="/v1", tags=["feedback"])

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody},
    403: {"model": ErrorBody},
    422: {"model": ErrorBody},
    429: {"model": ErrorBody},
}


@router.post(
    "/opportunities/{opportunity_id}/outcome",
    response_model=Recorded,
    status_code=201,
    responses=ERRORS,
    summary="Record that a deal was won or lost, and by which team",
)
def record_outcome(
    body: OutcomeRequest,
    caller: WriteCaller,
    idem: IdempotencyDep,
    api_store: ApiStoreDep,
    opportunity_id: str = Path(min_length=1, max_length=MAX_ID),
) -> Recorded:
    row_id = api_store.add_outcome(
        key_id=caller.key_id,
        opportunity_id=opportunity_id,
        outcome=body.outcome,
        closed_at=body.closed_at,
        deal_size=body.deal_size,
        team=[m.model_dump() for m in body.team],
    )
    result = Recorded(id=row_id)
    idem.remember(201, result)
    return result


@router.post(
    "/feedback",
    response_model=Recorded,
    status_code=201,
    responses=ERRORS,
    summary="A suggestion accepted or rejected by a rep, with a reason code",
)
def record_feedback(
    body: FeedbackRequest, caller: WriteCaller, idem: IdempotencyDep, api_store: ApiStoreDep
) -> Recorded:
    row_id = api_store.add_feedback(
        {
            "key_id": caller.key_id,
            "request_id": body.request_id,
            "opportunity_id": body.opportunity_id,
            "partner_id": body.partner_id,
            "team": body.team,
            "action": body.action,
            "reason_code": body.reason_code.value,
            "comment": body.comment,
        }
    )
    result = Recorded(id=row_id)
    idem.remember(201, result)
    return result
