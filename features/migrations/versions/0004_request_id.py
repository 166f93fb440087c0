"""Competing bids: the optional opportunities.request_id shared by the bids of one customer request.

Revision ID: 0004
Revises: 0003
Create Date: 2025-01-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Spelled out rather than imported from features.tables: a migration must not change when the model does.
ID = sa.String(128)


def upgrade() -> None:
    # Nullable, no default: rows stored before this revision simply belong to no request.
    op.add_column("opportunities", sa.Column("request_id", ID, nullable=True))


def downgrade() -> None:
    # batch mode: SQLite before 3.35 cannot drop a column in place.
    with op.batch_alter_table("opportunities") as batch:
        batch.drop_column("request_id")
