"""Turning contract rows into OpportunityQuery records and reading the team that worked each deal."""

from __future__ import annotations

import math
from datetime import date

import pandas as pd

from features import schema as s
from features.records import OpportunityQuery


def _text(value: object) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return None
    text = str(value).strip()
    return text or None


def query_from_row(row: pd.Series, as_of: date | None = None) -> OpportunityQuery:
    """An opportunity row as a query; by default as of its own creation date (point in time)."""
    created = pd.Timestamp(row[s.CREATED_AT]).date()
    size = row.get(s.DEAL_SIZE)
    skills = row.get(s.REQUIRED_SKILLS)
    return OpportunityQuery(
        as_of=as_of or created,
        opportunity_id=str(row[s.OPPORTUNITY_ID]),
        customer_industry=_text(row.get(s.CUSTOMER_INDUSTRY)),
        region=_text(row.get(s.REGION)),
        deal_size=None if size is None or pd.isna(size) else float(size),
        required_skills=tuple(skills) if isinstance(skills, list | tuple) else (),
        description=_text(row.get(s.DESCRIPTION)) or "",
        registered_partner_id=_text(row.get(s.REGISTERED_PARTNER_ID)),
    )


def queries_from_frame(opportunities: pd.DataFrame, as_of: date | None = None) -> list[OpportunityQuery]:
    return [query_from_row(row, as_of) for _, row in opportunities.iterrows()]


def actual_teams(deal_partners: pd.DataFrame, roles: tuple[str, ...]) -> dict[str, dict[str, str | None]]:
    """The team that worked each opportunity: role -> partner (first listed when a role has several)."""
    rows = deal_partners[deal_partners[s.ROLE].isin(roles)].drop_duplicates([s.OPPORTUNITY_ID, s.ROLE])
    teams: dict[str, dict[str, str | None]] = {}
    for opportunity_id, role, partner_id in zip(
        rows[s.OPPORTUNITY_ID], rows[s.ROLE], rows[s.PARTNER_ID], strict=True
    ):
        team = teams.setdefault(str(opportunity_id), dict.fromkeys(roles))
        team[str(role)] = str(partner_id)
    return teams
