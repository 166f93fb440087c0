"""Tiny typed ecosystem for the feature snapshot tests; T = 2023-07-01 splits past from future deals.

Deals (created → closed, outcome, industry/region, team):
  O1 2023-01-01 → 2023-03-01 won  retail/emea           S1 (sourced), I1, R1
  O2 2023-02-01 → 2023-05-01 lost banking/north-america S1, I2, R2
  O3 2023-04-01 → 2023-08-01 won  retail/emea           S2, I1          (closes after T)
  O4 2023-06-01 → open            retail/emea           S3              (S3 is at capacity 1 at T)
  O5 2023-03-01 → 2023-09-15 won  retail/emea           S1, I1          (open at T, closes after T)
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pandas as pd

from features import schema as s
from features.records import EcosystemTables, OpportunityQuery

T = date(2023, 7, 1)


def _dates(values: list[str | None]) -> pd.Series:
    return pd.to_datetime(pd.Series(values, dtype=object)).astype("datetime64[ns]")


def tables() -> EcosystemTables:
    partners = pd.DataFrame(
        {
            s.PARTNER_ID: ["S1", "S2", "S3", "S4", "I1", "I2", "R1", "R2"],
            s.NAME: ["Skyway", "Ledger", "Cloudhop", "Oldco", "Compass", "Finwise", "Marketly", "Boxmover"],
            s.PARTNER_TYPE: [s.SERVICES] * 4 + [s.INFLUENCE] * 2 + [s.RESELLER] * 2,
            s.TIER: ["gold", "platinum", "silver", "gold", "silver", "registered", "gold", "registered"],
            s.REGIONS: [
                ["emea"],
                ["north-america"],
                ["emea"],
                ["emea"],
                ["emea"],
                [],
                ["emea"],
                ["north-america"],
            ],
            s.INDUSTRIES: [["retail"], ["banking"], ["retail"], [], ["retail"], ["banking"], [], []],
            s.SKILLS: [
                ["aws", "cloud migration"],
                ["sap s/4hana", "finance"],
                ["aws", "managed cloud"],
                ["aws"],
                ["cloud strategy"],
                ["finance transformation"],
                ["aws marketplace"],
                ["distribution"],
            ],
            s.DESCRIPTION: [
                "AWS cloud migration and datacentre exit specialists",
                "SAP S/4HANA finance implementation partner",
                "AWS migration and managed cloud operations",
                "AWS migration veterans",
                "Cloud strategy advisory for retail",
                "Finance transformation consulting",
                "Resells AWS through the marketplace",
                "Broadline software distributor",
            ],
            s.CAPACITY: pd.array([2, None, 1, None, None, None, None, None], dtype="Int64"),
            s.PSAT: [8.0, 7.5, None, None, 9.0, None, None, 6.0],
            s.JOINED_AT: _dates(["2019-01-01"] * 8),
            s.STATUS: ["active", "active", "active", "inactive", "active", "active", "active", "active"],
        }
    )
    certifications = pd.DataFrame(
        {
            s.PARTNER_ID: ["S1", "S1", "S2"],
            s.CERTIFICATION: ["aws-sa", "aws-migration", "sap-s4"],
            s.LEVEL: ["professional", None, None],
            s.ISSUED_AT: _dates(["2022-01-01", "2023-08-01", None]),
            s.EXPIRES_AT: _dates(["2024-01-01", None, None]),
        }
    )
    opportunities = pd.DataFrame(
        {
            s.OPPORTUNITY_ID: ["O1", "O2", "O3", "O4", "O5"],
            s.CUSTOMER_ID: ["C1", "C2", "C3", "C4", "C5"],
            s.CUSTOMER_INDUSTRY: ["retail", "banking", "retail", "retail", "retail"],
            s.REGION: ["emea", "north-america", "emea", "emea", "emea"],
            s.DEAL_SIZE: [100_000.0, 50_000.0, 80_000.0, None, 120_000.0],
            s.REQUIRED_SKILLS: [["aws"], ["sap s/4hana"], ["finance"], [], ["aws"]],
            s.DESCRIPTION: ["cloud move", "finance system", "finance", "ops", "migration"],
            s.CREATED_AT: _dates(["2023-01-01", "2023-02-01", "2023-04-01", "2023-06-01", "2023-03-01"]),
            s.CLOSED_AT: _dates(["2023-03-01", "2023-05-01", "2023-08-01", None, "2023-09-15"]),
            s.OUTCOME: [s.WON, s.LOST, s.WON, s.OPEN, s.WON],
            s.REGISTERED_PARTNER_ID: ["S1", None, None, None, None],
        }
    )
    links = [
        ("O1", "S1", s.SERVICES, True),
        ("O1", "I1", s.INFLUENCE, False),
        ("O1", "R1", s.RESELLER, None),
        ("O2", "S1", s.SERVICES, False),
        ("O2", "I2", s.INFLUENCE, False),
        ("O2", "R2", s.RESELLER, False),
        ("O3", "S2", s.SERVICES, False),
        ("O3", "I1", s.INFLUENCE, False),
        ("O4", "S3", s.SERVICES, False),
        ("O5", "S1", s.SERVICES, False),
        ("O5", "I1", s.INFLUENCE, False),
    ]
    deal_partners = pd.DataFrame(links, columns=[s.OPPORTUNITY_ID, s.PARTNER_ID, s.ROLE, s.SOURCED])
    deal_partners[s.SOURCED] = deal_partners[s.SOURCED].astype("boolean")
    return EcosystemTables(partners, certifications, opportunities, deal_partners)


def with_outcome(eco: EcosystemTables, opportunity_id: str, outcome: str) -> EcosystemTables:
    opps = eco.opportunities.copy()
    opps.loc[opps[s.OPPORTUNITY_ID] == opportunity_id, s.OUTCOME] = outcome
    return replace(eco, opportunities=opps)


def with_description(eco: EcosystemTables, partner_id: str, description: str) -> EcosystemTables:
    partners = eco.partners.copy()
    partners.loc[partners[s.PARTNER_ID] == partner_id, s.DESCRIPTION] = description
    return replace(eco, partners=partners)


def with_status_and_capacity(
    eco: EcosystemTables, partner_id: str, status: str, capacity: float | None
) -> EcosystemTables:
    """The tables with one partner's status and capacity (None: unknown) replaced."""
    partners = eco.partners.copy()
    mine = partners[s.PARTNER_ID] == partner_id
    partners[s.STATUS] = partners[s.STATUS].where(~mine, status)
    partners[s.CAPACITY] = partners[s.CAPACITY].astype("Float64").where(~mine, capacity)
    return replace(eco, partners=partners)


def with_open_deals(eco: EcosystemTables, partner_id: str, n: int, created: str) -> EcosystemTables:
    """The tables plus `n` deals created on `created`, still open, staffed with the partner as services."""
    ids = [f"OPEN-{partner_id}-{i}" for i in range(n)]
    opps = pd.DataFrame(
        {
            s.OPPORTUNITY_ID: ids,
            s.CUSTOMER_ID: ids,
            s.CREATED_AT: _dates([created] * n),
            s.CLOSED_AT: _dates([None] * n),
            s.OUTCOME: [s.OPEN] * n,
        }
    )
    seats = pd.DataFrame(
        {s.OPPORTUNITY_ID: ids, s.PARTNER_ID: [partner_id] * n, s.ROLE: [s.SERVICES] * n, s.SOURCED: False}
    )
    seats[s.SOURCED] = seats[s.SOURCED].astype("boolean")
    return replace(
        eco,
        opportunities=pd.concat([eco.opportunities, opps], ignore_index=True),
        deal_partners=pd.concat([eco.deal_partners, seats], ignore_index=True),
    )


def aws_query(**overrides: object) -> OpportunityQuery:
    values: dict[str, object] = {
        "as_of": T,
        "opportunity_id": "NEW",
        "customer_industry": "retail",
        "region": "emea",
        "deal_size": 200_000.0,
        "required_skills": ("aws", "cloud migration"),
        "description": "Datacentre exit to AWS for a retailer",
    }
    values.update(overrides)
    return OpportunityQuery(**values)  # type: ignore[arg-type]


TEAMS: list[dict[str, str | None]] = [
    {s.SERVICES: "S1", s.INFLUENCE: "I1", s.RESELLER: "R1"},
    {s.SERVICES: "S2", s.INFLUENCE: "I2", s.RESELLER: "R2"},
    {s.SERVICES: "S1", s.INFLUENCE: None, s.RESELLER: "R1"},
    {s.SERVICES: "S3"},
]
