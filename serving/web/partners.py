"""Looking partners up by name or skill, their profiles, and the JSON the page's script fetches."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from features import schema as s
from serving.auth import Scope
from serving.ecosystem import search_partners, skill_vocabulary
from serving.persistence import ApiStore
from serving.report_schemas import MAX_HITS, MAX_QUERY
from serving.routers.partners import get_partner
from serving.schemas import MAX_ID, MAX_TAG
from serving.web.access import authorise, serving_now, signed_in
from serving.web.charts import Bar, bar_chart, percent
from serving.web.render import PageRoute, no_store, page

router = APIRouter(route_class=PageRoute, include_in_schema=False)

SUGGESTIONS = 8
Text = Annotated[str | None, Query(max_length=MAX_QUERY)]
Tag = Annotated[str | None, Query(max_length=MAX_TAG)]
Role = Annotated[str | None, Query(max_length=s.MAX_CODE)]
Limit = Annotated[int, Query(ge=1, le=MAX_HITS)]


@router.get("/partners")
def lookup(request: Request, q: Text = None, skill: Tag = None, role: Role = None) -> Response:
    """The search form and, once asked, the partners matching it (GET /v1/partners)."""
    signed_in(request)
    roles = list(request.app.state.settings.roles)
    context: dict[str, Any] = {"q": q or "", "skill": skill or "", "role": role or "", "roles": roles}
    context["result"] = None
    if q or skill or role:
        authorise(request, Scope.READ)
        snapshot = serving_now(request).ranker.snapshot
        context["result"] = search_partners(snapshot, q, skill, role or None, limit=MAX_HITS)
    return page(request, "partners.html", context)


@router.get("/partners/{partner_id}")
def profile(request: Request, partner_id: Annotated[str, Path(min_length=1, max_length=MAX_ID)]) -> Response:
    """A partner's profile, certifications and track record (GET /v1/partners/{id})."""
    caller = authorise(request, Scope.READ)
    api_store: ApiStore = request.app.state.api_store
    partner = get_partner(request, caller, api_store, partner_id)
    record = partner.track_record
    charts = []
    if record is not None and record.deals:
        charts.append(
            bar_chart(
                "Closed deals: sourced against influenced",
                [
                    Bar(
                        "sourced: won",
                        record.sourced.won,
                        f"{record.sourced.won} of {record.sourced.deals}",
                        "good",
                    ),
                    Bar(
                        "influenced: won",
                        record.influenced.won,
                        f"{record.influenced.won} of {record.influenced.deals}",
                        "primary",
                    ),
                ],
                scale=max(record.sourced.deals, record.influenced.deals, 1),
            )
        )
    return page(
        request, "profile.html", {"partner": partner, "record": record, "charts": charts, "pct": percent}
    )


@router.get("/page/skills")
def skill_suggestions(request: Request, prefix: Tag = None, limit: Limit = SUGGESTIONS) -> Response:
    """Skill tags for the form's suggestions (GET /v1/vocabulary/skills, with the page's session)."""
    authorise(request, Scope.READ)
    vocabulary = skill_vocabulary(serving_now(request).ranker.snapshot, prefix, limit)
    return no_store(JSONResponse(vocabulary.model_dump(mode="json")))


@router.get("/page/partners")
def partner_matches(request: Request, q: Text = None, limit: Limit = SUGGESTIONS) -> Response:
    """Partners by name for the registered-partner look-up (GET /v1/partners, with the page's session)."""
    authorise(request, Scope.READ)
    result = search_partners(serving_now(request).ranker.snapshot, q, limit=limit)
    return no_store(JSONResponse(result.model_dump(mode="json")))
