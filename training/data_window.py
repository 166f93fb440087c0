"""The data a training run read (sizes, time span), recorded with its run; what the store gained since."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any

import pandas as pd
from sqlalchemy import and_, func, select

from features import schema as s
from features import tables as t
from features.records import EcosystemTables
from features.store import Store

# MLflow params of a training run: `trained_on.<field>` (the run's own `data.*` params are its config).
PARAM_PREFIX = "trained_on."
CLOSED = (s.WON, s.LOST)


@dataclass(frozen=True)
class TrainingData:
    """What one training run read from the store. `snapshot_at` is on the store's clock (naive local time,
    as its `updated_at` and `created_at` stamps): rows stamped after it are new to the model."""

    snapshot_at: datetime
    opportunities: int
    closed_deals: int
    first_created_at: date | None
    latest_created_at: date | None
    latest_closed_at: date | None
    feedback_rows: int

    def to_params(self) -> dict[str, str]:
        return {f"{PARAM_PREFIX}{k}": "" if v is None else str(_text(v)) for k, v in asdict(self).items()}

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> TrainingData | None:
        """Read back `to_params`; None when the run did not record it (trained before it was recorded)."""
        values = {
            k.removeprefix(PARAM_PREFIX): str(v) for k, v in params.items() if k.startswith(PARAM_PREFIX)
        }
        if "snapshot_at" not in values:
            return None
        return cls(
            snapshot_at=datetime.fromisoformat(values["snapshot_at"]),
            opportunities=int(values.get("opportunities") or 0),
            closed_deals=int(values.get("closed_deals") or 0),
            first_created_at=_date(values.get("first_created_at")),
            latest_created_at=_date(values.get("latest_created_at")),
            latest_closed_at=_date(values.get("latest_closed_at")),
            feedback_rows=int(values.get("feedback_rows") or 0),
        )

    def to_dict(self) -> dict[str, Any]:
        return {k: None if v is None else _text(v) for k, v in asdict(self).items()}


@dataclass(frozen=True)
class NewData:
    """Rows the store gained between two snapshots (`since`, `until`], on the store's clock."""

    since: datetime
    until: datetime
    closed_deals: int
    closed_deals_from_api: int
    feedback_rows: int

    @property
    def empty(self) -> bool:
        return self.closed_deals == 0 and self.feedback_rows == 0

    def to_dict(self) -> dict[str, Any]:
        return {k: _text(v) if isinstance(v, datetime) else v for k, v in asdict(self).items()}


def training_data(store: Store, tables: EcosystemTables, snapshot_at: datetime) -> TrainingData:
    """The facts of the tables a run read at `snapshot_at` (feedback: the rows stamped by then)."""
    opportunities = tables.opportunities
    closed = opportunities[opportunities[s.OUTCOME].isin(CLOSED)]
    with store.engine.connect() as conn:
        feedback = conn.execute(
            select(func.count()).select_from(t.feedback).where(t.feedback.c.created_at <= snapshot_at)
        ).scalar_one()
    return TrainingData(
        snapshot_at=snapshot_at,
        opportunities=len(opportunities),
        closed_deals=len(closed),
        first_created_at=_day(opportunities[s.CREATED_AT].min()),
        latest_created_at=_day(opportunities[s.CREATED_AT].max()),
        latest_closed_at=_day(closed[s.CLOSED_AT].max()),
        feedback_rows=int(feedback),
    )


def new_between(store: Store, since: datetime, until: datetime) -> NewData:
    """Closed deals written (new or changed) and feedback given after `since`, up to `until`.

    A deal counts by when the store wrote it, not by its close date: an export that arrives late with
    old deals is still data the earlier model never saw.
    """
    opp, feedback = t.opportunities, t.feedback
    written = and_(opp.c.updated_at > since, opp.c.updated_at <= until, opp.c[s.OUTCOME].in_(CLOSED))
    from_api = and_(written, opp.c[t.ORIGIN] == t.ORIGIN_API)
    given = and_(feedback.c.created_at > since, feedback.c.created_at <= until)
    with store.engine.connect() as conn:
        closed = conn.execute(select(func.count()).select_from(opp).where(written)).scalar_one()
        api = conn.execute(select(func.count()).select_from(opp).where(from_api)).scalar_one()
        rows = conn.execute(select(func.count()).select_from(feedback).where(given)).scalar_one()
    return NewData(since, until, int(closed), int(api), int(rows))


def _day(value: Any) -> date | None:
    return None if value is None or pd.isna(value) else pd.Timestamp(value).date()


def _date(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


def _text(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date | datetime) else value
