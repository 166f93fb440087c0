"""Request and response schemas of the HTTP API, with bounds on every field and OpenAPI examples."""

from __future__ import annotations

import re
from datetime import date
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    JsonValue,
    StrictBool,
    model_validator,
)

from features import schema as s
from features.outcome_history import OutcomeStatus
from features.records import OpportunityQuery
from models.cycle_time import MIN_DAYS
from models.velocity import DEFAULT_RANK_BY, RankBy
from serving.fields import MAX_ID, MAX_TAG, MAX_TEXT, PartnerIdText, TagText
from serving.report_schemas import CertificationStatus, TrackRecord

MAX_PARTNER_IDS = 500
EARLIEST_DATE = s.EARLIEST_DATE
LATEST_DATE = s.LATEST_DATE


DATE_TEXT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _json_integer(value: object) -> object:
    # JSON Schema's integer is a number without a fraction (5 or 5.0); "5" and true are not numbers.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be a JSON integer")
    return value


JsonInt = Annotated[int, BeforeValidator(_json_integer)]


def _date_text(value: object) -> object:
    # JSON has no date type: only a `YYYY-MM-DD` string is a date; 0, true or a timestamp are not.
    if isinstance(value, date) or (isinstance(value, str) and DATE_TEXT.fullmatch(value)):
        return value
    raise ValueError("must be a date written YYYY-MM-DD")


# Dates outside this range are typos; pandas' timestamps cannot even hold years like 0001 or 2300.
ContractDate = Annotated[
    date,
    Field(
        ge=EARLIEST_DATE,
        le=LATEST_DATE,
        description=f"YYYY-MM-DD, from {EARLIEST_DATE} to {LATEST_DATE}",
    ),
    BeforeValidator(_date_text),
]


def given_fields(names: tuple[str, ...], exactly_one: bool, examples: list[Any] | None = None) -> Any:
    """A `json_schema_extra` stating which optional fields must be given (present and not null), a rule
    pydantic's generated schema cannot express; the model's validator enforces the same rule."""

    def extra(schema: dict[str, Any]) -> None:
        branches = [{"required": [name], "properties": {name: {"not": {"type": "null"}}}} for name in names]
        schema["oneOf" if exactly_one else "anyOf"] = branches
        if examples:
            schema["examples"] = examples

    return extra


def _not_far_ahead(value: date | None) -> date | None:
    latest = s.latest_created_at()
    if value is not None and value > latest:
        raise ValueError(f"must be on or before {latest} ({s.MAX_CREATED_AHEAD_DAYS} days after today)")
    return value


Tier = Literal["registered", "silver", "gold", "platinum"]
PartnerStatus = Literal["active", "inactive"]

OPPORTUNITY_EXAMPLE: dict[str, JsonValue] = {
    "opportunity_id": "opp-new-1",
    "customer_industry": "financial-services",
    "region": "emea-north",
    "deal_size": 250000,
    "required_skills": ["aws cloud migration", "zero trust security"],
    "description": "Bank wants to exit its datacentre to AWS with a zero-trust network.",
}


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


RANK_BY_DESCRIPTION = (
    "order of the returned teams: `score` (default), the ranker's order; `expected_value_per_day`, "
    "the search's final teams re-ranked by win probability x deal size / expected days to close (within "
    "one opportunity the same order as win probability per expected day, so it is defined without a deal "
    "size). Needs a model version with a cycle-time model; otherwise 422."
)


# -- recommendations ----------------------------------------------------------------------------------


class Opportunity(Strict):
    """A new opportunity, in data contract v1 fields."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [OPPORTUNITY_EXAMPLE]})
    opportunity_id: str | None = Field(None, min_length=1, max_length=MAX_ID)
    customer_id: str | None = Field(None, max_length=MAX_ID)
    customer_industry: str | None = Field(None, max_length=MAX_TAG)
    region: str | None = Field(None, max_length=MAX_TAG)
    deal_size: float | None = Field(None, ge=0, le=s.MAX_DEAL_SIZE, strict=True)
    required_skills: list[str] = Field(default_factory=list, max_length=s.MAX_ITEMS[s.REQUIRED_SKILLS])
    description: str = Field("", max_length=MAX_TEXT)
    created_at: Annotated[ContractDate | None, AfterValidator(_not_far_ahead)] = Field(
        None, description="as-of date for history; default today (at most a year ahead)"
    )
    registered_partner_id: str | None = Field(None, max_length=MAX_ID)

    def to_query(self) -> OpportunityQuery:
        return OpportunityQuery(
            as_of=self.created_at or date.today(),
            opportunity_id=self.opportunity_id,
            customer_industry=self.customer_industry,
            region=self.region,
            deal_size=self.deal_size,
            required_skills=tuple(tag.strip()[:MAX_TAG] for tag in self.required_skills if tag.strip()),
            description=self.description,
            registered_partner_id=self.registered_partner_id,
        )


class Constraints(Strict):
    """Rules of engagement for this request, on top of the programme's (capacity, active, exclusions)."""

    exclude: list[str] = Field(default_factory=list, max_length=MAX_PARTNER_IDS, description="never suggest")
    include: list[str] = Field(
        default_factory=list, max_length=6, description="on every team, in their own role (one per role)"
    )
    conflicting_pairs: list[
        Annotated[
            list[PartnerIdText], Field(min_length=2, max_length=2, json_schema_extra={"uniqueItems": True})
        ]
    ] = Field(default_factory=list, max_length=200, description="pairs of partner ids never put on one team")
    min_tier: Tier | None = None
    region_must_match: StrictBool = False
    required_certifications: list[str] = Field(default_factory=list, max_length=20)
    ignore_registration: StrictBool = Field(
        False, description="do not keep the registered partner on every team"
    )

    @model_validator(mode="after")
    def pairs_of_two(self) -> Constraints:
        for pair in self.conflicting_pairs:
            if len(pair) != 2 or pair[0] == pair[1] or any(not p or len(p) > MAX_ID for p in pair):
                raise ValueError("each conflicting pair names two different partner ids")
        return self


class Candidates(Strict):
    """Only re-rank these: partner ids (teams are assembled from them) or explicit teams (role → id)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=given_fields(("partner_ids", "teams"), True))

    partner_ids: list[str] | None = Field(None, min_length=1, max_length=MAX_PARTNER_IDS)
    teams: list[dict[str, str | None]] | None = Field(None, min_length=1, max_length=2000)

    @model_validator(mode="after")
    def one_kind(self) -> Candidates:
        if (self.partner_ids is None) == (self.teams is None):
            raise ValueError("give exactly one of partner_ids or teams")
        return self


class RecommendationRequest(Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"opportunity": OPPORTUNITY_EXAMPLE, "k": 5},
                {
                    "opportunity": OPPORTUNITY_EXAMPLE,
                    "k": 3,
                    "roles": ["services", "reseller"],
                    "constraints": {"min_tier": "gold", "exclude": ["P000042"]},
                    "explain": True,
                    "diversity": 0.7,
                },
            ]
        },
    )
    opportunity: Opportunity
    k: JsonInt = Field(5, ge=1, le=50)
    roles: list[str] | None = Field(None, min_length=1, max_length=6)
    constraints: Constraints = Field(default_factory=Constraints)
    candidates: Candidates | None = None
    explain: StrictBool = Field(
        False,
        description="add each team's top signed feature contributions; members' reasons come either way",
    )
    diversity: float | None = Field(
        None,
        gt=0,
        le=1,
        strict=True,
        description="MMR lambda: 1 = pure score, lower = more varied teams; off when absent",
    )
    rank_by: RankBy = Field(DEFAULT_RANK_BY, description=RANK_BY_DESCRIPTION)


class BatchRequest(Strict):
    requests: list[RecommendationRequest] = Field(min_length=1, max_length=100)


class Member(BaseModel):
    partner_id: str
    name: str
    role: str
    cold_start: bool = False
    credit_share: float | None = None
    reasons: list[str] = Field(default_factory=list)


class Contribution(BaseModel):
    feature: str
    description: str
    value: float
    contribution: float


class TeamOut(BaseModel):
    rank: int = Field(ge=1)
    score: float
    win_probability: float | None = None
    expected_value: float | None = None
    expected_days_to_close: float | None = Field(
        None,
        ge=MIN_DAYS,
        allow_inf_nan=False,
        description="typical days from the opportunity's creation to a won close with this team (deal "
        "velocity), from the model's cycle-time model; null when the model version has none",
    )
    expected_value_per_day: float | None = Field(
        None,
        ge=0,
        allow_inf_nan=False,
        description="win_probability x deal_size / expected_days_to_close; null when any of them is unknown "
        "or the deal size is not positive",
    )
    members: list[Member]
    explanation: list[Contribution] | None = None


class DroppedPartner(BaseModel):
    partner_id: str
    role: str | None
    rule: str
    detail: str = ""


class RecommendationResponse(BaseModel):
    request_id: str
    model_version: str
    filters_applied: list[str] = Field(default_factory=list)
    dropped: list[DroppedPartner] = Field(default_factory=list)
    teams: list[TeamOut]


class BatchItem(BaseModel):
    index: int
    status: int
    result: RecommendationResponse | None = None
    error: dict[str, Any] | None = None


class BatchResponse(BaseModel):
    request_id: str
    model_version: str
    results: list[BatchItem]


class ReplaceMemberRequest(Strict):
    """Best replacements for one member of a team; the other members stay."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "opportunity": OPPORTUNITY_EXAMPLE,
                    "team": {"services": "P000001", "influence": "P000002", "reseller": "P000003"},
                    "replace_role": "services",
                    "k": 3,
                }
            ]
        },
    )
    opportunity: Opportunity
    team: dict[str, str] = Field(min_length=1, max_length=6)
    replace_role: str = Field(min_length=1, max_length=64)
    k: JsonInt = Field(3, ge=1, le=50)
    explain: StrictBool = False
    rank_by: RankBy = Field(DEFAULT_RANK_BY, description=RANK_BY_DESCRIPTION)


class IncludePartnerRequest(Strict):
    """Best teams that must include one partner."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"opportunity": OPPORTUNITY_EXAMPLE, "partner_id": "P000001", "k": 3}]
        },
    )
    opportunity: Opportunity
    partner_id: str = Field(min_length=1, max_length=MAX_ID)
    k: JsonInt = Field(3, ge=1, le=50)
    roles: list[str] | None = Field(None, min_length=1, max_length=6)
    explain: StrictBool = False
    rank_by: RankBy = Field(DEFAULT_RANK_BY, description=RANK_BY_DESCRIPTION)


# -- partners -------------------------------------------------------------------------------------------


class Certification(Strict):
    certification: str = Field(min_length=1, max_length=s.MAX_NAME)
    level: str | None = Field(None, max_length=s.MAX_CODE)
    issued_at: ContractDate | None = None
    expires_at: ContractDate | None = None


class PartnerIn(Strict):
    """A partner in contract v1 fields (the id comes from the path); validated like an export row."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "Northwind Cloud Services",
                    "partner_type": "services",
                    "tier": "gold",
                    "regions": ["emea-north"],
                    "industries": ["financial-services"],
                    "skills": ["aws cloud migration"],
                    "description": "AWS migration specialist for banks.",
                    "capacity": 5,
                    "psat": 8.5,
                    "certifications": [{"certification": "aws-advanced", "expires_at": "2030-01-01"}],
                }
            ]
        },
    )
    name: str = Field(min_length=1, max_length=s.MAX_NAME)
    partner_type: str = Field(min_length=1, max_length=s.MAX_CODE, description="a role, e.g. services")
    tier: Tier = "registered"
    regions: list[TagText] = Field(default_factory=list, max_length=s.MAX_ITEMS[s.REGIONS])
    industries: list[TagText] = Field(default_factory=list, max_length=s.MAX_ITEMS[s.INDUSTRIES])
    skills: list[TagText] = Field(default_factory=list, max_length=s.MAX_ITEMS[s.SKILLS])
    description: str | None = Field(None, max_length=MAX_TEXT)
    capacity: Annotated[int, Field(ge=0, le=s.MAX_CAPACITY), BeforeValidator(_json_integer)] | None = None
    psat: float | None = Field(None, ge=s.MIN_PSAT, le=s.MAX_PSAT, strict=True)
    joined_at: ContractDate | None = None
    status: PartnerStatus = "active"
    certifications: list[Certification] = Field(default_factory=list, max_length=100)

    @model_validator(mode="after")
    def no_separator_in_tags(self) -> PartnerIn:
        # The contract stores lists as `;`-separated cells, so a tag cannot contain the separator.
        for column in (s.REGIONS, s.INDUSTRIES, s.SKILLS):
            for tag in getattr(self, column):
                if s.LIST_SEPARATOR in tag or not tag.strip() or len(tag) > MAX_TAG:
                    raise ValueError(f"{column}: {tag!r} is empty, too long or contains {s.LIST_SEPARATOR!r}")
        return self


class PartnerBulkItem(PartnerIn):
    partner_id: str = Field(min_length=1, max_length=MAX_ID)


class PartnerBulkRequest(Strict):
    partners: list[PartnerBulkItem] = Field(min_length=1, max_length=1000)


class PartnerOut(BaseModel):
    partner_id: str
    name: str
    partner_type: str
    tier: str
    regions: list[str]
    industries: list[str]
    skills: list[str]
    description: str | None = None
    capacity: int | None = None
    psat: float | None = None
    joined_at: date | None = None
    status: str
    served: bool = Field(description="the loaded model can rank this partner now")
    cold_start: bool | None = None
    # At most as many as PartnerIn accepts.
    certifications: list[CertificationStatus] = Field(
        default_factory=list, max_length=100, description="the store's, with validity today"
    )
    track_record: TrackRecord | None = Field(None, description="the closed deals the store holds for it")


class PartnerWriteResult(BaseModel):
    partner_ids: list[str]
    written: int
    served_now: bool = Field(
        description="the index was updated in place; false: served after the next reload"
    )
    message: str


# -- outcomes and feedback -------------------------------------------------------------------------------


class OutcomeTeamMember(Strict):
    partner_id: str = Field(min_length=1, max_length=MAX_ID)
    role: str = Field(min_length=1, max_length=64)
    sourced: StrictBool | None = None


class OutcomeOpportunity(Strict):
    """The closed opportunity's details in contract v1 fields (its id is the path's), as an export row has
    them; needed when the store lacks the opportunity and no recommendation was requested for its id."""

    customer_id: str | None = Field(None, min_length=1, max_length=MAX_ID)
    customer_industry: str | None = Field(None, min_length=1, max_length=MAX_TAG)
    region: str | None = Field(None, min_length=1, max_length=MAX_TAG)
    deal_size: float | None = Field(None, ge=0, le=s.MAX_DEAL_SIZE, strict=True)
    required_skills: list[TagText] = Field(default_factory=list, max_length=s.MAX_ITEMS[s.REQUIRED_SKILLS])
    description: str | None = Field(None, max_length=MAX_TEXT)
    created_at: Annotated[ContractDate, AfterValidator(_not_far_ahead)] = Field(
        description="when the opportunity was created: history features count the deal only after it"
    )
    registered_partner_id: str | None = Field(None, min_length=1, max_length=MAX_ID)
    request_id: str | None = Field(
        None, min_length=1, max_length=MAX_ID, description="bids sharing it compete: at most one is won"
    )


class OutcomeRequest(Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "outcome": "won",
                    "closed_at": "2025-03-01",
                    "deal_size": 250000,
                    "team": [{"partner_id": "P000001", "role": "services", "sourced": True}],
                },
                {
                    "outcome": "lost",
                    "closed_at": "2025-03-01",
                    "team": [{"partner_id": "P000001", "role": "services"}],
                    "opportunity": {
                        "customer_industry": "financial-services",
                        "region": "emea-north",
                        "required_skills": ["aws cloud migration"],
                        "created_at": "2025-01-10",
                    },
                },
            ]
        },
    )
    outcome: Literal["won", "lost"]
    closed_at: ContractDate | None = Field(
        None, description="default: the stored close date of a closed record, else today"
    )
    deal_size: float | None = Field(
        None, ge=0, le=s.MAX_DEAL_SIZE, strict=True, description="the final amount; replaces the details' one"
    )
    team: list[OutcomeTeamMember] = Field(min_length=1, max_length=12)
    opportunity: OutcomeOpportunity | None = Field(
        None,
        description="details of the opportunity; default: the latest recommendation request for its id, "
        "else the stored record. An exported opportunity always keeps the export's details",
    )


class FeedbackReason(StrEnum):
    GOOD_FIT = "good_fit"
    ALREADY_ENGAGED = "already_engaged"
    CHANNEL_CONFLICT = "channel_conflict"
    NO_CAPACITY = "no_capacity"
    WRONG_REGION = "wrong_region"
    WRONG_SKILLS = "wrong_skills"
    CUSTOMER_PREFERENCE = "customer_preference"
    RELATIONSHIP = "relationship"
    OTHER = "other"


class FeedbackRequest(Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra=given_fields(
            ("partner_id", "team"),
            exactly_one=False,
            examples=[
                {
                    "request_id": "6f1c0d8e2b7a4c1f9e3d5a7b8c9d0e1f",
                    "opportunity_id": "opp-new-1",
                    "team": {"services": "P000001", "reseller": "P000003"},
                    "action": "rejected",
                    "reason_code": "channel_conflict",
                    "comment": "The reseller already works with a competitor here.",
                }
            ],
        ),
    )
    request_id: str | None = Field(None, max_length=64)
    opportunity_id: str | None = Field(None, min_length=1, max_length=MAX_ID)
    partner_id: str | None = Field(None, min_length=1, max_length=MAX_ID)
    team: dict[str, str] | None = Field(None, min_length=1, max_length=6)
    action: Literal["accepted", "rejected"]
    reason_code: FeedbackReason
    comment: str | None = Field(None, max_length=2000)

    @model_validator(mode="after")
    def about_something(self) -> FeedbackRequest:
        if not (self.partner_id or self.team):
            raise ValueError("feedback needs a partner_id or a team")
        return self


class Recorded(BaseModel):
    id: int
    status: Literal["recorded"] = "recorded"
    history_status: OutcomeStatus | None = Field(
        None,
        description="outcomes only: what the outcome did to the deal history (added, closed, updated, "
        "unchanged; a conflict is answered 409)",
    )
    detail: str | None = Field(None, description="outcomes only: that, in a sentence")


# -- model ---------------------------------------------------------------------------------------------------


class ModelInfo(BaseModel):
    version: str
    trained_at: str
    feature_version: int
    embedder_id: str
    roles: list[str]
    metrics: dict[str, float]
    challenger_version: str | None = Field(
        None, max_length=64, description="the version ranking requests in the shadow of this one, if any"
    )


class ReloadRequest(Strict):
    version: str | None = Field(
        None,
        min_length=1,
        max_length=32,
        pattern=r"^[0-9]+$",
        description="registered version; default the champion",
    )


class ReloadResponse(BaseModel):
    previous_version: str | None
    model_version: str


class ErrorBody(BaseModel):
    code: str
    message: str
