"""Internal records shared by features, models and serving: the ecosystem tables and one opportunity."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import pandas as pd


@dataclass(frozen=True)
class EcosystemTables:
    """The four contract tables as DataFrames with contract column names.

    List columns hold Python lists of str; date columns hold `datetime64[ns]` (NaT when empty);
    `capacity` is a nullable integer, `sourced` a nullable boolean; text columns hold NaN when empty, as
    does the optional `request_id` of every opportunity an export or store row gives none.
    """

    partners: pd.DataFrame
    certifications: pd.DataFrame
    opportunities: pd.DataFrame
    deal_partners: pd.DataFrame


@dataclass(frozen=True)
class OpportunityQuery:
    """One opportunity to staff, as features see it; `as_of` bounds every historical fact used."""

    as_of: date
    opportunity_id: str | None = None
    customer_industry: str | None = None
    region: str | None = None
    deal_size: float | None = None
    required_skills: tuple[str, ...] = ()
    description: str = ""
    registered_partner_id: str | None = None
    excluded_partner_ids: frozenset[str] = field(default_factory=frozenset)
