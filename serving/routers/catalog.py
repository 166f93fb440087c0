"""Partner search and the vocabularies behind the page's filters and typeahead, from the served snapshot."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from features import schema as s
from serving.dependencies import ReadCaller, ServingDep
from serving.ecosystem import industries, regions, search_partners, skill_vocabulary
from serving.report_schemas import MAX_HITS, MAX_QUERY, MAX_VOCABULARY, PartnerSearchResult, Vocabulary
from serving.schemas import MAX_TAG

router = APIRouter(prefix="/v1", tags=["catalog"])

Prefix = Annotated[
    str | None, Query(max_length=MAX_TAG, description="only values starting with this (case-insensitive)")
]


@router.get("/partners", response_model=PartnerSearchResult, summary="Find partners by name or skill")
def find_partners(
    serving: ServingDep,
    _: ReadCaller,
    q: Annotated[
        str | None,
        Query(max_length=MAX_QUERY, description="text the name or a skill tag contains (case-insensitive)"),
    ] = None,
    skill: Annotated[
        str | None, Query(max_length=MAX_TAG, description="only partners listing this skill tag")
    ] = None,
    role: Annotated[
        str | None, Query(max_length=s.MAX_CODE, description="only partners of this role (partner_type)")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_HITS)] = 20,
    include_inactive: Annotated[bool, Query(description="inactive partners too (never suggested)")] = False,
) -> PartnerSearchResult:
    """The partners the served model knows, partners synced since it was trained included: active ones
    first, name matches before skill-tag matches, then by name."""
    return search_partners(serving.ranker.snapshot, q, skill, role, limit, include_inactive)


@router.get("/vocabulary/skills", response_model=Vocabulary, summary="Skill tags with partner counts")
def skills(
    serving: ServingDep,
    _: ReadCaller,
    prefix: Prefix = None,
    limit: Annotated[int, Query(ge=1, le=MAX_VOCABULARY)] = 20,
) -> Vocabulary:
    """Skill tags (grouped case-insensitively), most listed first; each count is what a search by that
    skill finds."""
    return skill_vocabulary(serving.ranker.snapshot, prefix, limit)


@router.get("/vocabulary/industries", response_model=Vocabulary, summary="Industries with partner counts")
def industry_values(
    serving: ServingDep,
    _: ReadCaller,
    prefix: Prefix = None,
    limit: Annotated[int, Query(ge=1, le=MAX_VOCABULARY)] = 200,
) -> Vocabulary:
    return industries(serving.ranker.snapshot, prefix, limit)


@router.get("/vocabulary/regions", response_model=Vocabulary, summary="Regions with partner counts")
def region_values(
    serving: ServingDep,
    _: ReadCaller,
    prefix: Prefix = None,
    limit: Annotated[int, Query(ge=1, le=MAX_VOCABULARY)] = 200,
) -> Vocabulary:
    return regions(serving.ranker.snapshot, prefix, limit)
