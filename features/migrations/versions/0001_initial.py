"""Initial store schema: the four contract tables, the embedding cache and the ingest log.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Spelled out rather than imported from features.tables: a migration must not change when the model does.
ID = sa.String(128)
SHORT = sa.String(255)


def upgrade() -> None:
    op.create_table(
        "partners",
        sa.Column("partner_id", ID, primary_key=True),
        sa.Column("name", SHORT, nullable=False),
        sa.Column("partner_type", sa.String(64), nullable=False),
        sa.Column("tier", sa.String(32), nullable=False),
        sa.Column("regions", sa.JSON, nullable=False),
        sa.Column("industries", sa.JSON, nullable=False),
        sa.Column("skills", sa.JSON, nullable=False),
        sa.Column("description", sa.Text, nullable=True),
        sa.Column("capacity", sa.Integer, nullable=True),
        sa.Column("psat", sa.Float, nullable=True),
        sa.Column("joined_at", sa.Date, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=False), nullable=False),
    )
    op.create_table(
        "certifications",
        sa.Column("partner_id", ID, sa.ForeignKey("partners.partner_id"), primary_key=True),
        sa.Column("certification", SHORT, primary_key=True),
        sa.Column("level", sa.String(64), nullable=True),
        sa.Column("issued_at", sa.Date, nullable=True),
        sa.Column("expires_at", sa.Date, nullable=True),
    )
    op.create_table(
        "opportunities",
        sa.Column("opportunity_id", ID, primary_key=True),
        sa.Column("customer_id", ID, nullable=True),
        sa.Column("customer_industry", SHORT, nullable=True),
        sa.Column("region", SHORT, nullable=True),
        sa.Column("deal_size", sa.Float, nullable=True),
        sa.Column("required_skills", sa.JSON, nullable=False),
        sa.Column("description", sa.Text, nullable=True),
        sa.Column("created_at", sa.Date, nullable=False),
        sa.Column("closed_at", sa.Date, nullable=True),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("registered_partner_id", ID, sa.ForeignKey("partners.partner_id"), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=False), nullable=False),
    )
    op.create_index("ix_opportunities_created_at", "opportunities", ["created_at"])
    op.create_table(
        "deal_partners",
        sa.Column("opportunity_id", ID, sa.ForeignKey("opportunities.opportunity_id"), primary_key=True),
        sa.Column("partner_id", ID, sa.ForeignKey("partners.partner_id"), primary_key=True),
        sa.Column("role", sa.String(64), primary_key=True),
        sa.Column("sourced", sa.Boolean, nullable=True),
    )
    op.create_table(
        "embedding_cache",
        sa.Column("text_hash", sa.String(64), primary_key=True),
        sa.Column("model_id", sa.String(200), primary_key=True),
        sa.Column("dim", sa.Integer, nullable=False),
        sa.Column("vector", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "ingest_log",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("ingested_at", sa.DateTime(timezone=False), nullable=False),
        sa.Column("summary", sa.JSON, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("ingest_log")
    op.drop_table("embedding_cache")
    op.drop_table("deal_partners")
    op.drop_index("ix_opportunities_created_at", table_name="opportunities")
    op.drop_table("opportunities")
    op.drop_table("certifications")
    op.drop_table("partners")
