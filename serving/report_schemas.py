"""Read-only report schemas of the API: model performance, partner search and vocabularies, ecosystem KPIs
and a partner's track record."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from features import schema as s
from serving.fields import MAX_TAG, PartnerIdText

# -- online performance per model version (GET /v1/model/performance) ---------------------------------------

MAX_RANK = 50  # the largest k a request may ask for (RecommendationRequest.k)
MAX_REPORTED_VERSIONS = 200
VersionText = Annotated[str, Field(min_length=1, max_length=64)]


class Rate(BaseModel):
    """A share with what it is a share of: `hits` out of `count` (`rate` is null when `count` is 0)."""

    hits: int = Field(ge=0)
    count: int = Field(ge=0)
    rate: float | None = Field(None, ge=0, le=1)


class RankAcceptance(BaseModel):
    """Feedback on what a request's answer ranked at `rank`; `not_in_answer`: the rep judged a team or
    partner the answer did not suggest; `unknown`: the feedback names no request (or one not on record)."""

    bucket: Literal["ranked", "not_in_answer", "unknown"]
    rank: int | None = Field(None, ge=1, le=MAX_RANK)
    accepted: int = Field(ge=0)
    rejected: int = Field(ge=0)
    acceptance: Rate


class ReasonCount(BaseModel):
    reason_code: str = Field(min_length=1, max_length=64)
    count: int = Field(ge=1)


class OutcomeReport(BaseModel):
    """Answered opportunities with an outcome (the latest answer and the latest outcome of each)."""

    opportunities: int = Field(ge=0)
    won: int = Field(ge=0)
    actual_team_was_top1: Rate = Field(description="the team that worked the deal was the answer's first")
    actual_team_in_top_k: Rate = Field(description="the team that worked the deal was among the answer's k")
    win_rate_when_top1: Rate
    win_rate_when_in_top_k: Rate
    win_rate_when_not_suggested: Rate
    win_rate_accepted: Rate = Field(
        description="opportunities where a rep accepted a suggested team or partner"
    )
    win_rate_not_accepted: Rate


class VersionPerformance(BaseModel):
    """One model version's answers and what came of them; `model_version` null: feedback that names no
    request on record, which no version can be credited with."""

    model_version: VersionText | None
    requests: int = Field(ge=0, description="recommendations answered (a batch item counts as one)")
    teams_suggested: int = Field(ge=0)
    feedback_accepted: int = Field(ge=0)
    feedback_rejected: int = Field(ge=0)
    acceptance_by_rank: list[RankAcceptance] = Field(max_length=MAX_RANK + 2)
    rejections_by_reason: list[ReasonCount] = Field(max_length=100)
    outcomes: OutcomeReport


class ShadowChoices(BaseModel):
    """How one model's rankings of shadowed requests compare with what happened to those deals."""

    actual_team_was_top1: Rate
    actual_team_in_top_k: Rate
    win_rate_when_top1: Rate = Field(description="of the deals worked by this model's first team, won")
    win_rate_when_in_top_k: Rate


class ShadowPerformance(BaseModel):
    champion_version: VersionText
    challenger_version: VersionText
    requests: int = Field(ge=0, description="requests the challenger ranked again")
    top1_agreement: Rate
    mean_overlap_at_k: float | None = Field(None, ge=0, le=1)
    mean_challenger_ms: float | None = Field(None, ge=0)
    opportunities_with_outcome: int = Field(ge=0)
    champion: ShadowChoices
    challenger: ShadowChoices


class PerformanceReport(BaseModel):
    since: date | None = Field(None, description="only answers, feedback and shadow rankings from this day")
    model_version: VersionText | None = Field(None, description="only this version (filter)")
    versions: list[VersionPerformance] = Field(max_length=MAX_REPORTED_VERSIONS + 1)
    shadow: list[ShadowPerformance] = Field(max_length=MAX_REPORTED_VERSIONS)


# -- catalog: partner search and vocabularies (GET /v1/partners, GET /v1/vocabulary/*) --------------------

MAX_QUERY = 100  # characters of a search box's text
MAX_HITS = 50
HIT_SKILLS = 5  # skill tags shown per hit: enough to recognise a partner, short enough per keystroke
MAX_VOCABULARY = 1000
PartnerName = Annotated[str, Field(min_length=1, max_length=s.MAX_NAME)]
TagValue = Annotated[str, Field(min_length=1, max_length=MAX_TAG)]


class PartnerHit(BaseModel):
    """One partner found by a search, as a result list shows it."""

    partner_id: PartnerIdText
    name: PartnerName
    role: str = Field(min_length=1, max_length=s.MAX_CODE, description="partner_type")
    tier: str = Field(min_length=1, max_length=s.MAX_CODE)
    regions: list[TagValue] = Field(max_length=s.MAX_ITEMS[s.REGIONS])
    skills: list[TagValue] = Field(max_length=HIT_SKILLS, description=f"the first {HIT_SKILLS} skill tags")
    skill_count: int = Field(ge=0, le=s.MAX_ITEMS[s.SKILLS], description="all of its skill tags")
    active: bool = Field(description="inactive partners are never suggested")
    cold_start: bool = Field(description="no deal closed before today")
    matched_on: Literal["name", "skill", "filter"] = Field(
        description="what `q` matched: the name, a skill tag, or no `q` (filters only)"
    )


class PartnerSearchResult(BaseModel):
    total: int = Field(ge=0, description="partners matching, before `limit`")
    partners: list[PartnerHit] = Field(max_length=MAX_HITS)


class TagCount(BaseModel):
    value: TagValue
    partners: int = Field(ge=1, description="active partners listing it")


class Vocabulary(BaseModel):
    kind: Literal["skills", "industries", "regions"]
    total: int = Field(ge=0, description="values matching, before `limit`")
    values: list[TagCount] = Field(max_length=MAX_VOCABULARY)


# -- ecosystem KPIs (GET /v1/ecosystem/kpis) and a partner's track record (GET /v1/partners/{id}) ----------

MAX_PAIRS = 50
WINS_MOST_WITH = 3
Money = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Days = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class DealSplit(BaseModel):
    """Closed deals of one kind and the deal size of those won (unknown sizes count as 0)."""

    deals: int = Field(ge=0)
    won: int = Field(ge=0)
    revenue: Money


class TeamSizeKpi(BaseModel):
    partners: Literal["1", "2", "3+"] = Field(description="distinct partners that worked the deal")
    win_rate: Rate = Field(description="won out of closed deals")
    median_days_to_close: Days | None = Field(
        None, description="median days from creation to close of the won ones (deal velocity)"
    )


class PartnerPair(BaseModel):
    partner_ids: list[PartnerIdText] = Field(min_length=2, max_length=2)
    names: list[PartnerName] = Field(min_length=2, max_length=2)
    joint_wins: int = Field(ge=1)
    win_rate: Rate = Field(description="won out of the closed deals they worked together")


class EcosystemKpis(BaseModel):
    since: date | None = Field(None, description="only deals closed on or after this day")
    closed_deals: int = Field(ge=0, description="won or lost, with or without partners")
    by_team_size: list[TeamSizeKpi] = Field(max_length=3)
    sourced: DealSplit = Field(description="partner deals where a partner on the team sourced the deal")
    influenced: DealSplit = Field(description="the other partner deals: partners helped, none sourced")
    top_pairs: list[PartnerPair] = Field(max_length=MAX_PAIRS, description="most joint wins first")


class CoSeller(BaseModel):
    partner_id: PartnerIdText
    name: PartnerName
    joint_wins: int = Field(ge=1)
    joint_deals: int = Field(ge=1)


class TrackRecord(BaseModel):
    """The partner's closed deals: every count is of deals, every rate comes with its count."""

    deals: int = Field(ge=0, description="closed deals it worked (won or lost)")
    wins: int = Field(ge=0)
    win_rate: Rate
    sourced: DealSplit = Field(description="deals it brought in itself")
    influenced: DealSplit = Field(description="deals it worked without sourcing them")
    median_days_to_close: Days | None = Field(None, description="of its won deals, creation to close")
    wins_most_with: list[CoSeller] = Field(
        max_length=WINS_MOST_WITH, description="partners it shared the most won deals with"
    )


class CertificationStatus(BaseModel):
    certification: str = Field(min_length=1, max_length=s.MAX_NAME)
    level: str | None = Field(None, max_length=s.MAX_CODE)
    issued_at: date | None = None
    expires_at: date | None = None
    valid_today: bool = Field(description="issued by today and not expired (unknown dates never restrict)")
