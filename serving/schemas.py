"""Request and response schemas of the HTTP API, with bounds on every field."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field

from features.records import OpportunityQuery

MAX_TEXT = 5000
MAX_TAG = 120
MAX_ID = 128


class Opportunity(BaseModel):
    """A new opportunity, in data contract v1 fields."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "opportunity_id": "opp-new-1",
                    "customer_industry": "financial-services",
                    "region": "emea-north",
                    "deal_size": 250000,
                    "required_skills": ["aws cloud migration", "zero trust security"],
                    "description": "Bank wants to exit its datacentre to AWS with a zero-trust network.",
                }
            ]
        },
    )
    opportunity_id: str | None = Field(None, min_length=1, max_length=MAX_ID)
    customer_id: str | None = Field(None, max_length=MAX_ID)
    customer_industry: str | None = Field(None, max_length=MAX_TAG)
    region: str | None = Field(None, max_length=MAX_TAG)
    deal_size: float | None = Field(None, ge=0, le=1e12)
    required_skills: list[str] = Field(default_factory=list, max_length=50)
    description: str = Field("", max_length=MAX_TEXT)
    created_at: date | None = Field(None, description="as-of date for history; default today")
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


class RecommendationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    opportunity: Opportunity
    k: int = Field(5, ge=1, le=50)
    roles: list[str] | None = Field(None, min_length=1, max_length=6)


class Member(BaseModel):
    partner_id: str
    name: str
    role: str


class TeamOut(BaseModel):
    rank: int = Field(ge=1)
    score: float
    members: list[Member]


class RecommendationResponse(BaseModel):
    request_id: str
    model_version: str
    teams: list[TeamOut]


class ModelInfo(BaseModel):
    version: str
    trained_at: str
    feature_version: int
    embedder_id: str
    roles: list[str]
    metrics: dict[str, float]


class ErrorBody(BaseModel):
    code: str
    message: str
