"""Data contract v1: table names, column names, enumerations and defaults, in one place."""

from __future__ import annotations

from typing import Final

CONTRACT_VERSION: Final = 1
LIST_SEPARATOR: Final = ";"

# Tables of a PRM export (file stem = table name, `.csv` or `.parquet`).
PARTNERS: Final = "partners"
CERTIFICATIONS: Final = "certifications"
OPPORTUNITIES: Final = "opportunities"
DEAL_PARTNERS: Final = "deal_partners"
TABLES: Final = (PARTNERS, CERTIFICATIONS, OPPORTUNITIES, DEAL_PARTNERS)
EXPORT_SUFFIXES: Final = (".csv", ".parquet")

# Roles (default set; the set is configuration, see Settings.roles).
SERVICES: Final = "services"
INFLUENCE: Final = "influence"
RESELLER: Final = "reseller"
DEFAULT_ROLES: Final = (SERVICES, INFLUENCE, RESELLER)

# Tiers in ascending order.
TIERS: Final = ("registered", "silver", "gold", "platinum")
DEFAULT_TIER: Final = "registered"
TIER_RANK: Final = {tier: i for i, tier in enumerate(TIERS)}

PARTNER_STATUSES: Final = ("active", "inactive")
DEFAULT_PARTNER_STATUS: Final = "active"

WON: Final = "won"
LOST: Final = "lost"
OPEN: Final = "open"
OUTCOMES: Final = (WON, LOST, OPEN)

# Column names --------------------------------------------------------------------------------
PARTNER_ID: Final = "partner_id"
NAME: Final = "name"
PARTNER_TYPE: Final = "partner_type"
TIER: Final = "tier"
REGIONS: Final = "regions"
INDUSTRIES: Final = "industries"
SKILLS: Final = "skills"
DESCRIPTION: Final = "description"
CAPACITY: Final = "capacity"
PSAT: Final = "psat"
JOINED_AT: Final = "joined_at"
STATUS: Final = "status"

CERTIFICATION: Final = "certification"
LEVEL: Final = "level"
ISSUED_AT: Final = "issued_at"
EXPIRES_AT: Final = "expires_at"

OPPORTUNITY_ID: Final = "opportunity_id"
CUSTOMER_ID: Final = "customer_id"
CUSTOMER_INDUSTRY: Final = "customer_industry"
REGION: Final = "region"
DEAL_SIZE: Final = "deal_size"
REQUIRED_SKILLS: Final = "required_skills"
CREATED_AT: Final = "created_at"
CLOSED_AT: Final = "closed_at"
OUTCOME: Final = "outcome"
REGISTERED_PARTNER_ID: Final = "registered_partner_id"

ROLE: Final = "role"
SOURCED: Final = "sourced"

# Columns per table, in contract order; the first tuple holds the required ones.
REQUIRED_COLUMNS: Final[dict[str, tuple[str, ...]]] = {
    PARTNERS: (PARTNER_ID, NAME, PARTNER_TYPE),
    CERTIFICATIONS: (PARTNER_ID, CERTIFICATION),
    OPPORTUNITIES: (OPPORTUNITY_ID, CREATED_AT, OUTCOME),
    DEAL_PARTNERS: (OPPORTUNITY_ID, PARTNER_ID, ROLE),
}
COLUMNS: Final[dict[str, tuple[str, ...]]] = {
    PARTNERS: (
        PARTNER_ID,
        NAME,
        PARTNER_TYPE,
        TIER,
        REGIONS,
        INDUSTRIES,
        SKILLS,
        DESCRIPTION,
        CAPACITY,
        PSAT,
        JOINED_AT,
        STATUS,
    ),
    CERTIFICATIONS: (PARTNER_ID, CERTIFICATION, LEVEL, ISSUED_AT, EXPIRES_AT),
    OPPORTUNITIES: (
        OPPORTUNITY_ID,
        CUSTOMER_ID,
        CUSTOMER_INDUSTRY,
        REGION,
        DEAL_SIZE,
        REQUIRED_SKILLS,
        DESCRIPTION,
        CREATED_AT,
        CLOSED_AT,
        OUTCOME,
        REGISTERED_PARTNER_ID,
    ),
    DEAL_PARTNERS: (OPPORTUNITY_ID, PARTNER_ID, ROLE, SOURCED),
}
LIST_COLUMNS: Final[dict[str, tuple[str, ...]]] = {
    PARTNERS: (REGIONS, INDUSTRIES, SKILLS),
    CERTIFICATIONS: (),
    OPPORTUNITIES: (REQUIRED_SKILLS,),
    DEAL_PARTNERS: (),
}
DATE_COLUMNS: Final[dict[str, tuple[str, ...]]] = {
    PARTNERS: (JOINED_AT,),
    CERTIFICATIONS: (ISSUED_AT, EXPIRES_AT),
    OPPORTUNITIES: (CREATED_AT, CLOSED_AT),
    DEAL_PARTNERS: (),
}
# Primary key of each table (used for duplicate detection and upsert).
KEYS: Final[dict[str, tuple[str, ...]]] = {
    PARTNERS: (PARTNER_ID,),
    CERTIFICATIONS: (PARTNER_ID, CERTIFICATION),
    OPPORTUNITIES: (OPPORTUNITY_ID,),
    DEAL_PARTNERS: (OPPORTUNITY_ID, PARTNER_ID, ROLE),
}
