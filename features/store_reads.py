"""Small reads of the store for the API: a mark of the deal tables' state, one partner's certificates."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from features import schema as s
from features import tables as t
from features.store import Store

# Every writer of opportunities and deal_partners leaves a row in one of these logs: an ingest in
# ingest_log, an outcome posted to the API in outcomes.
_DEAL_LOGS = (t.ingest_log, t.outcomes)


def deal_mark(store: Store) -> tuple[int, ...]:
    """The latest id of each log of deal writes: an unchanged mark means unchanged deal tables.

    Primary-key maxima (an index seek each), so a cache may check it on every request.
    """
    with store.engine.connect() as conn:
        # One scalar subquery per log: a plain select of both maxima would join the logs (and read none).
        latest = (select(func.coalesce(func.max(log.c.id), 0)).scalar_subquery() for log in _DEAL_LOGS)
        row = conn.execute(select(*latest)).one()
    return tuple(int(value) for value in row)


def partner_certifications(store: Store, partner_id: str) -> list[dict[str, Any]]:
    """The partner's certification rows (contract columns, dates as `date`), by certification name."""
    table = t.certifications
    query = (
        select(*(table.c[c] for c in s.COLUMNS[s.CERTIFICATIONS]))
        .where(table.c[s.PARTNER_ID] == partner_id)
        .order_by(table.c[s.CERTIFICATION])
    )
    with store.engine.connect() as conn:
        return [dict(row) for row in conn.execute(query).mappings()]
