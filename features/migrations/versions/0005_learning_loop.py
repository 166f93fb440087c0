"""The learning loop (issue 13): record origin, outcome application, shadow rankings, job locks, retrain runs.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Spelled out rather than imported from features.tables: a migration must not change when the model does.
ID = sa.String(128)
KEY_ID = sa.String(32)
VERSION = sa.String(64)


def upgrade() -> None:
    # Every row stored before this revision came from an export.
    op.add_column("opportunities", sa.Column("origin", sa.String(8), nullable=False, server_default="export"))
    # The opportunity a logged recommendation was for, so an outcome can find its request's details.
    op.add_column("audit_log", sa.Column("opportunity_id", ID, nullable=True))
    op.create_index("ix_audit_log_opportunity_id", "audit_log", ["opportunity_id"])
    # Feedback names the request it is about: the performance report joins on it.
    op.create_index("ix_audit_log_request_id", "audit_log", ["request_id"])
    op.add_column("outcomes", sa.Column("opportunity", sa.JSON, nullable=True))
    op.add_column("outcomes", sa.Column("status", sa.String(16), nullable=True))
    op.add_column("outcomes", sa.Column("detail", sa.Text, nullable=True))
    op.create_table(
        "shadow_rankings",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("created_at", sa.DateTime(timezone=False), nullable=False),
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.Column("opportunity_id", ID, nullable=True),
        sa.Column("champion_version", VERSION, nullable=False),
        sa.Column("challenger_version", VERSION, nullable=False),
        sa.Column("champion_teams", sa.JSON, nullable=False),
        sa.Column("challenger_teams", sa.JSON, nullable=False),
        sa.Column("top1_agrees", sa.Boolean, nullable=False),
        sa.Column("overlap_at_k", sa.Float, nullable=False),
        sa.Column("challenger_ms", sa.Float, nullable=False),
    )
    op.create_index("ix_shadow_rankings_opportunity_id", "shadow_rankings", ["opportunity_id"])
    op.create_table(
        "job_locks",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("holder", sa.String(128), nullable=False),
        sa.Column("acquired_at", sa.DateTime(timezone=False), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=False), nullable=False),
    )
    op.create_table(
        "retrain_runs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("started_at", sa.DateTime(timezone=False), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=False), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("candidate_version", VERSION, nullable=True),
        sa.Column("champion_version", VERSION, nullable=True),
        sa.Column("report", sa.JSON, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("retrain_runs")
    op.drop_table("job_locks")
    op.drop_index("ix_shadow_rankings_opportunity_id", table_name="shadow_rankings")
    op.drop_table("shadow_rankings")
    # batch mode: SQLite before 3.35 cannot drop a column in place.
    with op.batch_alter_table("outcomes") as batch:
        batch.drop_column("detail")
        batch.drop_column("status")
        batch.drop_column("opportunity")
    op.drop_index("ix_audit_log_request_id", table_name="audit_log")
    op.drop_index("ix_audit_log_opportunity_id", table_name="audit_log")
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_column("opportunity_id")
    with op.batch_alter_table("opportunities") as batch:
        batch.drop_column("origin")
