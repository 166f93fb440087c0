"""Deal outcomes and rep feedback from integrations; outcomes become deal history, both feed training."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Depends, Header, Path, Request

from features.outcome_history import AppliedOutcome, OutcomeRejected, OutcomeStatus, ReportedOutcome, Seat
from serving.dependencies import IDEMPOTENCY_HEADER, MAX_IDEMPOTENCY_KEY, ApiStoreDep, Replay, WriteCaller
from serving.errors import ApiError
from serving.performance import count_feedback
from serving.persistence import IdempotencyClaim, IdempotencyKeyReused, Written, request_sha256
from serving.schemas import MAX_ID, ErrorBody, FeedbackRequest, OutcomeRequest, Recorded

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


def _key_reused(claim: IdempotencyClaim | None) -> ApiError:
    return ApiError(
        422,
        f"{IDEMPOTENCY_HEADER} {claim.key if claim else ''!r} was already used with a different request",
        code="idempotency_key_reused",
    )


def _answer(
    api_store: ApiStoreDep, table: str, row: dict[str, Any], claim: IdempotencyClaim | None
) -> Recorded:
    try:
        written: Written = api_store.add_record(table, row, _recorded, claim)
    except IdempotencyKeyReused:
        raise _key_reused(claim) from None
    if written.replayed:
        raise Replay(written.status_code, written.response)
    return Recorded.model_validate(written.response)


OUTCOME_CONFLICT = "outcome_conflict"
OUTCOME_DESCRIPTION = """The outcome becomes deal history: the opportunity, closed, with its team, in the
same tables an export fills, so the next training run learns from it (features/outcome_history.py).

- Details (customer, industry, region, skills, created_at, ...) come from `opportunity` when given, else
  from the stored record, else from the latest recommendation request made for this `opportunity_id`;
  with none of them the answer is 422. An exported opportunity always keeps the export's details.
- The rows are checked by the same rules as `partnermatch ingest` (known partners, roles, dates, deal
  size, one won bid per request_id); a violation is 422 naming the field and why, and nothing is written.
- An export is the system of record. An exported **closed** deal is never changed: the same outcome and
  team answer `history_status` "unchanged"; a different one is **409** `outcome_conflict` naming the
  stored outcome (the disagreement is still logged). An exported **open** deal is closed ("closed"). A
  new opportunity is "added"; another call with other values for it is a correction ("updated"). A
  later export replaces whatever the API recorded.
- Posting the same outcome again changes nothing and answers with the first call's id; an
  `Idempotency-Key` replays the first answer.
- Point in time: the deal counts in history features only for opportunities created after `closed_at`.
"""


def _outcome_answer(row_id: int, applied: AppliedOutcome) -> tuple[int, Any]:
    if applied.status is OutcomeStatus.CONFLICT:
        return 409, {"code": OUTCOME_CONFLICT, "message": applied.detail}
    recorded = Recorded(id=row_id, history_status=applied.status, detail=applied.detail)
    return 201, recorded.model_dump(mode="json")


@router.post(
    "/opportunities/{opportunity_id}/outcome",
    response_model=Recorded,
    status_code=201,
    summary="Record that a deal was won or lost, and by which team",
    description=OUTCOME_DESCRIPTION,
    responses={
        409: {"model": ErrorBody, "description": "the outcome contradicts the exported closed deal"},
    },
)
def record_outcome(
    request: Request,
    body: OutcomeRequest,
    caller: WriteCaller,
    claim: ClaimDep,
    api_store: ApiStoreDep,
    opportunity_id: str = Path(min_length=1, max_length=MAX_ID),
) -> Recorded:
    reported = ReportedOutcome(
        opportunity_id=opportunity_id,
        outcome=body.outcome,
        team=tuple(Seat(m.partner_id, m.role, m.sourced) for m in body.team),
        closed_at=body.closed_at,
        deal_size=body.deal_size,
        details=body.opportunity.model_dump(mode="json") if body.opportunity else None,
    )
    roles = tuple(request.app.state.settings.roles)
    try:
        written = api_store.record_outcome(reported, caller.key_id, roles, _outcome_answer, claim)
    except IdempotencyKeyReused:
        raise _key_reused(claim) from None
    except OutcomeRejected as exc:
        raise ApiError(422, str(exc), code=exc.code) from None
    if written.replayed:
        raise Replay(written.status_code, written.response)
    if written.status_code == 409:
        raise ApiError(409, written.response["message"], code=OUTCOME_CONFLICT)
    return Recorded.model_validate(written.response)


@router.post(
    "/feedback",
    response_model=Recorded,
    status_code=201,
    summary="A suggestion accepted or rejected by a rep, with a reason code",
)
def record_feedback(
    body: FeedbackRequest,
    caller: WriteCaller,
    claim: ClaimDep,
    api_store: ApiStoreDep,
    request: Request,
    background: BackgroundTasks,
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
    recorded = _answer(api_store, "feedback", row, claim)  # a replay raises: it is counted once
    # Counted after the response: finding the answering version reads the audit trail.
    background.add_task(
        count_feedback,
        request.app.state.metrics,
        api_store.engine,
        body.request_id,
        body.opportunity_id,
        body.action,
        body.reason_code.value,
    )
    return recorded
