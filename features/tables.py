"""The store's relational schema (SQLAlchemy Core metadata); Alembic migrations mirror it."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

from features import schema as s

ID_LENGTH = 128
SHORT_TEXT = 255
VERSION_LENGTH = 64
ORIGIN = "origin"
ORIGIN_EXPORT = "export"
ORIGIN_API = "api"

metadata = MetaData()

partners = Table(
    s.PARTNERS,
    metadata,
    Column(s.PARTNER_ID, String(ID_LENGTH), primary_key=True),
    Column(s.NAME, String(SHORT_TEXT), nullable=False),
    Column(s.PARTNER_TYPE, String(64), nullable=False),
    Column(s.TIER, String(32), nullable=False),
    Column(s.REGIONS, JSON, nullable=False),  # list[str]
    Column(s.INDUSTRIES, JSON, nullable=False),  # list[str]
    Column(s.SKILLS, JSON, nullable=False),  # list[str]
    Column(s.DESCRIPTION, Text, nullable=True),
    Column(s.CAPACITY, Integer, nullable=True),
    Column(s.PSAT, Float, nullable=True),
    Column(s.JOINED_AT, Date, nullable=True),
    Column(s.STATUS, String(16), nullable=False),
    Column("updated_at", DateTime(timezone=False), nullable=False),
)

certifications = Table(
    s.CERTIFICATIONS,
    metadata,
    Column(s.PARTNER_ID, String(ID_LENGTH), ForeignKey(f"{s.PARTNERS}.{s.PARTNER_ID}"), primary_key=True),
    Column(s.CERTIFICATION, String(SHORT_TEXT), primary_key=True),
    Column(s.LEVEL, String(64), nullable=True),
    Column(s.ISSUED_AT, Date, nullable=True),
    Column(s.EXPIRES_AT, Date, nullable=True),
)

opportunities = Table(
    s.OPPORTUNITIES,
    metadata,
    Column(s.OPPORTUNITY_ID, String(ID_LENGTH), primary_key=True),
    Column(s.CUSTOMER_ID, String(ID_LENGTH), nullable=True),
    Column(s.CUSTOMER_INDUSTRY, String(SHORT_TEXT), nullable=True),
    Column(s.REGION, String(SHORT_TEXT), nullable=True),
    Column(s.DEAL_SIZE, Float, nullable=True),
    Column(s.REQUIRED_SKILLS, JSON, nullable=False),  # list[str]
    Column(s.DESCRIPTION, Text, nullable=True),
    Column(s.CREATED_AT, Date, nullable=False, index=True),
    Column(s.CLOSED_AT, Date, nullable=True),
    Column(s.OUTCOME, String(16), nullable=False),
    Column(
        s.REGISTERED_PARTNER_ID,
        String(ID_LENGTH),
        ForeignKey(f"{s.PARTNERS}.{s.PARTNER_ID}"),
        nullable=True,
    ),
    # Bids sharing a request compete for one customer request (revision 0004; older rows hold NULL).
    Column(s.REQUEST_ID, String(ID_LENGTH), nullable=True),
    Column("updated_at", DateTime(timezone=False), nullable=False),
    # Where the record came from (revision 0005): ORIGIN_EXPORT (ingest) or ORIGIN_API (an outcome posted
    # to the API). Not a contract column: exports never carry it.
    Column(ORIGIN, String(8), nullable=False, server_default=ORIGIN_EXPORT),
)

deal_partners = Table(
    s.DEAL_PARTNERS,
    metadata,
    Column(
        s.OPPORTUNITY_ID,
        String(ID_LENGTH),
        ForeignKey(f"{s.OPPORTUNITIES}.{s.OPPORTUNITY_ID}"),
        primary_key=True,
    ),
    Column(s.PARTNER_ID, String(ID_LENGTH), ForeignKey(f"{s.PARTNERS}.{s.PARTNER_ID}"), primary_key=True),
    Column(s.ROLE, String(64), primary_key=True),
    Column(s.SOURCED, Boolean, nullable=True),
)

# Profile and skill-phrase embeddings, keyed by a hash of (model id, text): only changed texts re-embed.
embedding_cache = Table(
    "embedding_cache",
    metadata,
    Column("text_hash", String(64), primary_key=True),
    Column("model_id", String(200), primary_key=True),
    Column("dim", Integer, nullable=False),
    Column("vector", LargeBinary, nullable=False),  # float32 little-endian bytes
)

# One row per successful ingest: what was loaded, from where, and how many rows changed.
ingest_log = Table(
    "ingest_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source", Text, nullable=False),
    Column("ingested_at", DateTime(timezone=False), nullable=False),
    Column("summary", JSON, nullable=False),
)

# --- API (serving/): keys, idempotent replays, audit trail, feedback and outcomes from integrations ---

KEY_ID_LENGTH = 32

# An API key is `pm_<key_id>_<secret>`; only sha256(secret) is stored, looked up by its public key_id.
api_keys = Table(
    "api_keys",
    metadata,
    Column("key_id", String(KEY_ID_LENGTH), primary_key=True),
    Column(s.NAME, String(SHORT_TEXT), nullable=False),
    Column("secret_sha256", String(64), nullable=False),
    Column("scopes", JSON, nullable=False),  # list[str]
    Column("created_at", DateTime(timezone=False), nullable=False),
    Column("revoked_at", DateTime(timezone=False), nullable=True),
)

# The first response to a write carrying an Idempotency-Key, replayed for the same key and body.
idempotency_records = Table(
    "idempotency_records",
    metadata,
    Column("key_id", String(KEY_ID_LENGTH), primary_key=True),
    Column("idempotency_key", String(SHORT_TEXT), primary_key=True),
    Column("route", String(SHORT_TEXT), nullable=False),
    Column("request_sha256", String(64), nullable=False),
    Column("status_code", Integer, nullable=False),
    Column("response", JSON, nullable=False),
    Column("created_at", DateTime(timezone=False), nullable=False),
)

# Every recommendation answered: who asked, what, with which model, which teams came back.
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("request_id", String(64), nullable=False, index=True),
    Column("created_at", DateTime(timezone=False), nullable=False, index=True),
    Column("key_id", String(KEY_ID_LENGTH), nullable=True),
    Column("route", String(SHORT_TEXT), nullable=False),
    Column("model_version", String(64), nullable=False),
    Column("request", JSON, nullable=False),
    Column("teams", JSON, nullable=False),
    # Revision 0005: the request's opportunity id (when it had one), so a later outcome finds its details.
    Column(s.OPPORTUNITY_ID, String(ID_LENGTH), nullable=True, index=True),
)

# Suggestion accepted or rejected by a rep, with a reason code; read by the next training run.
feedback = Table(
    "feedback",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("created_at", DateTime(timezone=False), nullable=False),
    Column("key_id", String(KEY_ID_LENGTH), nullable=True),
    Column("request_id", String(64), nullable=True),
    Column(s.OPPORTUNITY_ID, String(ID_LENGTH), nullable=True, index=True),
    Column(s.PARTNER_ID, String(ID_LENGTH), nullable=True),
    Column("team", JSON, nullable=True),  # role -> partner id
    Column("action", String(16), nullable=False),
    Column("reason_code", String(64), nullable=False),
    Column("comment", Text, nullable=True),
)

# A deal's result reported by the PRM (won or lost, with the team that worked it); read by training.
outcomes = Table(
    "outcomes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("recorded_at", DateTime(timezone=False), nullable=False),
    Column("key_id", String(KEY_ID_LENGTH), nullable=True),
    Column(s.OPPORTUNITY_ID, String(ID_LENGTH), nullable=False, index=True),
    Column(s.OUTCOME, String(16), nullable=False),
    Column(s.CLOSED_AT, Date, nullable=True),
    Column(s.DEAL_SIZE, Float, nullable=True),
    Column("team", JSON, nullable=False),  # list of {partner_id, role, sourced}
    # Revision 0005: the opportunity's details given in the call (contract fields), and what applying the
    # outcome to the deal history did (features/outcome_history.py OutcomeStatus) with a sentence saying why.
    Column("opportunity", JSON, nullable=True),
    Column("status", String(16), nullable=True),
    Column("detail", Text, nullable=True),
)

# Changes one API worker made that every other worker must apply too (reloads, partner sync), in order.
serving_events = Table(
    "serving_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("created_at", DateTime(timezone=False), nullable=False),
    Column("origin", String(64), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("payload", JSON, nullable=False),
)

# --- the learning loop (revision 0005) ---

# A challenger model's ranking of a live request, next to the champion's answer (which it never changes).
shadow_rankings = Table(
    "shadow_rankings",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("created_at", DateTime(timezone=False), nullable=False),
    Column("request_id", String(64), nullable=False),
    Column(s.OPPORTUNITY_ID, String(ID_LENGTH), nullable=True, index=True),
    Column("champion_version", String(VERSION_LENGTH), nullable=False),
    Column("challenger_version", String(VERSION_LENGTH), nullable=False),
    Column("champion_teams", JSON, nullable=False),  # as audit_log.teams
    Column("challenger_teams", JSON, nullable=False),
    Column("top1_agrees", Boolean, nullable=False),
    Column("overlap_at_k", Float, nullable=False),
    Column("challenger_ms", Float, nullable=False),
)

# A named lock for batch jobs that must not run twice at once (e.g. `partnermatch retrain` from cron).
job_locks = Table(
    "job_locks",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("holder", String(ID_LENGTH), nullable=False),
    Column("acquired_at", DateTime(timezone=False), nullable=False),
    Column("expires_at", DateTime(timezone=False), nullable=False),
)

# One row per `partnermatch retrain`: what it decided, with its report.
retrain_runs = Table(
    "retrain_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("started_at", DateTime(timezone=False), nullable=False),
    Column("finished_at", DateTime(timezone=False), nullable=True),
    Column("status", String(16), nullable=False),
    Column("candidate_version", String(VERSION_LENGTH), nullable=True),
    Column("champion_version", String(VERSION_LENGTH), nullable=True),
    Column("report", JSON, nullable=True),
)
