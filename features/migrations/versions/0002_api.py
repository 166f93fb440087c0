"""API tables: hashed API keys, idempotency records, the recommendation audit log, feedback, outcomes.

Revision ID: 0002
Revises: 0001
Create Date: 2025-01-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Spelled out rather than imported from features.tables: a migration must not change when the model does.
ID = sa.String(128)
KEY_ID = sa.String(32)
SHORT = sa.String(255)
STAMP = sa.DateTime(timezone=False)


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("key_id", KEY_ID, primary_key=True),
        sa.Column("name", SHORT, nullable=False),
        sa.Column("secret_sha256", sa.String(64), nullable=False),
        sa.Column("scopes", sa.JSON, nullable=False),
        sa.Column("created_at", STAMP, nullable=False),
        sa.Column("revoked_at", STAMP, nullable=True),
    )
    op.create_table(
        "idempotency_records",
        sa.Column("key_id", KEY_ID, primary_key=True),
        sa.Column("idempotency_key", SHORT, primary_key=True),
        sa.Column("route", SHORT, nullable=False),
        sa.Column("request_sha256", sa.String(64), nullable=False),
        sa.Column("status_code", sa.Integer, nullable=False),
        sa.Column("response", sa.JSON, nullable=False),
        sa.Column("created_at", STAMP, nullable=False),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.Column("created_at", STAMP, nullable=False),
        sa.Column("key_id", KEY_ID, nullable=True),
        sa.Column("route", SHORT, nullable=False),
        sa.Column("model_version", sa.String(64), nullable=False),
        sa.Column("request", sa.JSON, nullable=False),
        sa.Column("teams", sa.JSON, nullable=False),
    )
    op.create_index("ix_audit_log_created_at", "audit_log", ["created_at"])
    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("created_at", STAMP, nullable=False),
        sa.Column("key_id", KEY_ID, nullable=True),
        sa.Column("request_id", sa.String(64), nullable=True),
        sa.Column("opportunity_id", ID, nullable=True),
        sa.Column("partner_id", ID, nullable=True),
        sa.Column("team", sa.JSON, nullable=True),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("reason_code", sa.String(64), nullable=False),
        sa.Column("comment", sa.Text, nullable=True),
    )
    op.create_index("ix_feedback_opportunity_id", "feedback", ["opportunity_id"])
    op.create_table(
        "outcomes",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("recorded_at", STAMP, nullable=False),
        sa.Column("key_id", KEY_ID, nullable=True),
        sa.Column("opportunity_id", ID, nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("closed_at", sa.Date, nullable=True),
        sa.Column("deal_size", sa.Float, nullable=True),
        sa.Column("team", sa.JSON, nullable=False),
    )
    op.create_index("ix_outcomes_opportunity_id", "outcomes", ["opportunity_id"])


def downgrade() -> None:
    op.drop_index("ix_outcomes_opportunity_id", table_name="outcomes")
    op.drop_table("outcomes")
    op.drop_index("ix_feedback_opportunity_id", table_name="feedback")
    op.drop_table("feedback")
    op.drop_index("ix_audit_log_created_at", table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_table("idempotency_records")
    op.drop_table("api_keys")
