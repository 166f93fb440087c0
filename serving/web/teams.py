"""The opportunity form, its team cards, the what-if questions and rep feedback, on the API's own routes."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import APIRouter, BackgroundTasks
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response

from serving.auth import Caller, Scope
from serving.ecosystem import industries, regions
from serving.errors import ApiError
from serving.model_holder import Serving
from serving.persistence import ApiStore
from serving.routers.feedback import record_feedback
from serving.routers.recommendations import include_partner, recommend, replace_member
from serving.schemas import (
    FeedbackReason,
    FeedbackRequest,
    IncludePartnerRequest,
    RecommendationRequest,
    RecommendationResponse,
    ReplaceMemberRequest,
)
from serving.web.access import authorise, check_csrf, serving_now, signed_in
from serving.web.cards import answer_view
from serving.web.forms import TIERS, OpportunityForm, PostedForm, field_errors, read_form
from serving.web.render import PageRoute, page
from serving.web.session import CSRF_FIELD

router = APIRouter(route_class=PageRoute, include_in_schema=False)

WHAT_IF_K = 3
REASONS = [reason.value for reason in FeedbackReason]
Body = TypeVar("Body")  # the request schema of the API route a page calls


def _roles(request: Request) -> list[str]:
    return list(request.app.state.settings.roles)


def _choices(request: Request) -> tuple[list[str], list[str]] | None:
    """Industries and regions the served partners list (None without a model: the form takes text)."""
    current = request.app.state.holder.current
    if current is None:
        return None
    snapshot = current.ranker.snapshot
    return [v.value for v in industries(snapshot).values], [v.value for v in regions(snapshot).values]


def _form_page(
    request: Request,
    form: OpportunityForm,
    answer: RecommendationResponse | None = None,
    error: str | None = None,
    status: int = 200,
    ranked: RecommendationRequest | None = None,
) -> Response:
    choices = _choices(request)
    view = answer_view(serving_now(request), answer) if answer is not None else None
    context: dict[str, Any] = {
        "form": form,
        "roles": _roles(request),
        "tiers": TIERS,
        "industries": choices[0] if choices else None,
        "regions": choices[1] if choices else None,
        "answer": view,
        "error": error,
        "state": ranked.model_dump_json() if ranked is not None else "",
        "deal_size": ranked.opportunity.deal_size if ranked is not None else None,
        "reasons": REASONS,
    }
    return page(request, "opportunity.html", context, status)


@router.get("/")
def opportunity_form(request: Request) -> Response:
    """The empty form (sign-in first, unless auth is disabled)."""
    signed_in(request)
    return _form_page(request, OpportunityForm.blank(_roles(request)))


def _rank(
    request: Request,
    route: Callable[[Body, Request, Serving, Caller, ApiStore, BackgroundTasks], RecommendationResponse],
    body: Body,
    background: BackgroundTasks,
) -> RecommendationResponse:
    """The answer of one of the API's ranking routes, for the signed-in caller (read scope)."""
    caller = authorise(request, Scope.READ)
    api_store: ApiStore = request.app.state.api_store
    return route(body, request, serving_now(request), caller, api_store, background)


@router.post("/teams")
async def teams(request: Request, background: BackgroundTasks) -> Response:
    """Rank the described opportunity, exactly as POST /v1/recommendations does (audit trail included)."""
    posted = await read_form(request)
    check_csrf(request, posted.get(CSRF_FIELD))
    form = OpportunityForm.of(posted)
    req = form.to_request()
    if req is None:
        return _form_page(request, form, error="Some fields need attention.", status=422)
    try:
        answer = _rank(request, recommend, req, background)
    except ApiError as exc:
        return _form_page(request, form, error=exc.message, status=exc.status)
    return _form_page(request, form, answer=answer, ranked=req)


def _state(posted: PostedForm) -> RecommendationRequest:
    """The request the results page answered, carried in its forms (validated again, like any input)."""
    try:
        return RecommendationRequest.model_validate_json(posted.get("state"))
    except ValidationError as exc:
        raise ApiError(422, "the page's opportunity could not be read again; describe it anew") from exc


def _team(posted: PostedForm) -> dict[str, str]:
    try:
        team = json.loads(posted.get("team"))
    except ValueError:
        team = None
    if not isinstance(team, dict) or not all(isinstance(v, str) for v in team.values()):
        raise ApiError(422, "the team to change could not be read; rank the opportunity again")
    return team


def _what_if_page(
    request: Request,
    title: str,
    intro: str,
    req: RecommendationRequest,
    answer: RecommendationResponse,
    base: float | None,
) -> Response:
    context = {
        "title": title,
        "intro": intro,
        "answer": answer_view(serving_now(request), answer),
        "state": req.model_dump_json(),
        "deal_size": req.opportunity.deal_size,
        "base_probability": base,
        "reasons": REASONS,
    }
    return page(request, "what_if.html", context)


def _probability(posted: PostedForm) -> float | None:
    try:
        value = float(posted.get("base_probability"))
    except ValueError:
        return None
    return value if 0 <= value <= 1 else None


@router.post("/teams/replace")
async def replace(request: Request, background: BackgroundTasks) -> Response:
    """Best replacements for one member; the others stay (POST /v1/what-if/replace-member)."""
    posted = await read_form(request)
    check_csrf(request, posted.get(CSRF_FIELD))
    req, team, role = _state(posted), _team(posted), posted.get("replace_role")
    body = ReplaceMemberRequest(
        opportunity=req.opportunity, team=team, replace_role=role, k=WHAT_IF_K, explain=True
    )
    answer = _rank(request, replace_member, body, background)
    name = posted.get("replace_name") or team.get(role, "")
    intro = f"Replacing {name} as {role}; the other members stay. Best replacements first."
    return _what_if_page(request, f"Replace {name}", intro, req, answer, _probability(posted))


@router.post("/teams/include")
async def include(request: Request, background: BackgroundTasks) -> Response:
    """Best teams that must include one partner (POST /v1/what-if/include-partner)."""
    posted = await read_form(request)
    check_csrf(request, posted.get(CSRF_FIELD))
    req, partner_id = _state(posted), posted.get("partner_id")
    try:
        body = IncludePartnerRequest(
            opportunity=req.opportunity, partner_id=partner_id, k=WHAT_IF_K, roles=req.roles, explain=True
        )
    except ValidationError as exc:
        raise ApiError(422, f"partner: {next(iter(field_errors(exc).values()))}") from exc
    answer = _rank(request, include_partner, body, background)
    name = posted.get("partner_name") or partner_id
    intro = f"The best teams that include {name}."
    return _what_if_page(request, f"Teams with {name}", intro, req, answer, _probability(posted))


@router.post("/feedback")
async def feedback(request: Request, background: BackgroundTasks) -> Response:
    """A rep accepts or rejects a team with a reason (POST /v1/feedback; the key needs `write`)."""
    posted = await read_form(request)
    check_csrf(request, posted.get(CSRF_FIELD))
    req = _state(posted)
    try:
        body = FeedbackRequest(
            request_id=posted.get("request_id") or None,
            opportunity_id=req.opportunity.opportunity_id,
            team=_team(posted),
            action=posted.get("action"),  # validated by the model
            reason_code=posted.get("reason_code"),
            comment=posted.get("comment").strip() or None,
        )
    except ValidationError as exc:
        raise ApiError(422, "; ".join(f"{k}: {v}" for k, v in field_errors(exc).items())) from exc
    caller = authorise(request, Scope.WRITE)
    api_store: ApiStore = request.app.state.api_store
    recorded = record_feedback(body, caller, None, api_store, request, background)
    reason = body.reason_code.value.replace("_", " ")
    message = f"Thanks: team {body.action} ({reason}), recorded as #{recorded.id}."
    if request.headers.get("X-Requested-With") == "fetch":
        return Response(
            json.dumps({"message": message}),
            media_type="application/json",
            headers={"Cache-Control": "no-store"},
        )
    return page(request, "done.html", {"title": "Feedback recorded", "message": message})
