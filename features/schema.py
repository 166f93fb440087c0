"""Data contract v1: table names, column names, enumerations and defaults, in one place."""

from __future__ import annotations

from datetime import date, timedelta
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
# Optional: the customer request an opportunity is a bid for; bids sharing it compete (at most one wins).
REQUEST_ID: Final = "request_id"

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
        REQUEST_ID,  # optional and last: exports written before it load unchanged
    ),
    DEAL_PARTNERS: (OPPORTUNITY_ID, PARTNER_ID, ROLE, SOURCED),
}
# The contract fields of an opportunity that a ranking request reads (serving/schemas.py `to_query`), in
# contract order: all but the customer, the outcome and the bid's request; the MLflow signature's columns.
QUERY_FIELDS: Final = tuple(
    c for c in COLUMNS[OPPORTUNITIES] if c not in (CUSTOMER_ID, CLOSED_AT, OUTCOME, REQUEST_ID)
)
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

# Bounds: one set for both doors. Ingest (features/contract.py) refuses export cells outside them and the
# API's request schemas (serving/schemas.py) import them, so nothing enters the store by one door that the
# other would refuse. The probe of issue 11 found a 50 MB description made the next training 10x slower
# and 30x bigger, and dates far from the data overflowed pandas' nanosecond timestamps.
EARLIEST_DATE: Final = date(1900, 1, 1)
LATEST_DATE: Final = date(2100, 12, 31)
# An opportunity "created" more than this many days after today is a typo (e.g. 2099 for 2029).
MAX_CREATED_AHEAD_DAYS: Final = 366
MAX_ID: Final = 128  # ids (partner, opportunity, customer, request)
MAX_NAME: Final = 255  # names and certification names
MAX_CODE: Final = 64  # roles, levels and other short codes
MAX_TAG: Final = 120  # one list item (region, industry, skill) and single tags like customer_industry
MAX_TEXT: Final = 5000  # free-text descriptions
MAX_CAPACITY: Final = 1_000_000
MIN_PSAT: Final = 0.0
MAX_PSAT: Final = 10.0
MAX_DEAL_SIZE: Final = 1e12
# Longest list per list column, in items.
MAX_ITEMS: Final[dict[str, int]] = {REGIONS: 50, INDUSTRIES: 50, SKILLS: 200, REQUIRED_SKILLS: 50}
# Longest text per string column, in characters (list columns: per item, see MAX_TAG).
MAX_CHARS: Final[dict[str, int]] = {
    PARTNER_ID: MAX_ID,
    NAME: MAX_NAME,
    PARTNER_TYPE: MAX_CODE,
    TIER: MAX_CODE,
    DESCRIPTION: MAX_TEXT,
    STATUS: MAX_CODE,
    CERTIFICATION: MAX_NAME,
    LEVEL: MAX_CODE,
    OPPORTUNITY_ID: MAX_ID,
    CUSTOMER_ID: MAX_ID,
    CUSTOMER_INDUSTRY: MAX_TAG,
    REGION: MAX_TAG,
    OUTCOME: MAX_CODE,
    REGISTERED_PARTNER_ID: MAX_ID,
    REQUEST_ID: MAX_ID,
    ROLE: MAX_CODE,
}


def latest_created_at(today: date | None = None) -> date:
    """The latest created_at allowed: MAX_CREATED_AHEAD_DAYS after today, capped by LATEST_DATE."""
    return min(LATEST_DATE, (today or date.today()) + timedelta(days=MAX_CREATED_AHEAD_DAYS))


# PostgreSQL keeps no NUL character in text: refused at the contract's doors.
NUL: Final = "\x00"
