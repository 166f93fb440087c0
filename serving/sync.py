"""Applying partner changes and reloads to the served model, and replaying other workers' changes.

Every worker process holds its own model in memory. A change one worker makes (partner upsert or
deactivation, reload) is applied there at once and recorded in the store's `serving_events` table; each
worker polls that table and replays the changes of the others, in order, so all workers converge within
one poll interval. The store, not a broker, carries the events: it is already shared by every worker.
"""

from __future__ import annotations

import logging
import math
import threading
import uuid
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import pandas as pd

from features import schema as s
from features.snapshot import FeatureSnapshot
from features.store import Store
from models.registry import LoadedModel
from serving.model_holder import ModelHolder, ReloadRefused
from serving.persistence import ApiStore, ServingEvent
from serving.schemas import PartnerBulkItem

logger = logging.getLogger(__name__)

PARTNERS = "partners"
DEACTIVATE = "deactivate"
RELOAD = "reload"


def _certification_frame(items: Sequence[PartnerBulkItem]) -> pd.DataFrame:
    return pd.DataFrame(
        [{s.PARTNER_ID: item.partner_id, **c.model_dump()} for item in items for c in item.certifications],
        columns=list(s.COLUMNS[s.CERTIFICATIONS]),
    )


def apply_partners(holder: ModelHolder, items: Sequence[PartnerBulkItem]) -> bool:
    """Serve a snapshot with these partners re-embedded and re-indexed; False when no model is loaded."""
    rows = [item.model_dump(exclude={"certifications"}) for item in items]
    return holder.update(lambda snapshot: snapshot.with_partners(rows, _certification_frame(items)))


def apply_deactivation(holder: ModelHolder, partner_id: str) -> bool:
    """Stop suggesting a partner; False when no model is loaded or it does not know the partner."""
    current = holder.current
    if current is None or not current.ranker.knows(partner_id):
        return False
    return holder.update(lambda snapshot: snapshot.without_partner(partner_id))


def _differs(snapshot: FeatureSnapshot, partner: dict[str, Any], certifications: pd.DataFrame) -> bool:
    """Whether the store's row of a partner differs from what the snapshot serves (profile, certificates)."""
    pid = str(partner[s.PARTNER_ID])
    if not snapshot.knows(pid):
        return True
    served = snapshot.partner(pid)
    for column in s.COLUMNS[s.PARTNERS]:
        mine, theirs = served.get(column), partner.get(column)
        if column in s.LIST_COLUMNS[s.PARTNERS]:
            mine, theirs = list(mine or []), list(theirs or [])
        if not (mine == theirs or (_missing(mine) and _missing(theirs))):
            return True
    held = snapshot.catalog.certifications
    held = held[held[s.PARTNER_ID] == pid]
    listed = certifications[certifications[s.PARTNER_ID].astype(str) == pid]
    return sorted(held[s.CERTIFICATION].astype(str)) != sorted(listed[s.CERTIFICATION].astype(str))


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT


def with_store_changes(model: LoadedModel, store: Store) -> LoadedModel:
    """The bundle plus every partner change the store holds since the bundle's snapshot.

    A model loaded at start or on reload serves the partners as the store has them now: partners added,
    changed or deactivated through the API after training are not lost (only those stamped since the
    snapshot are read and compared, so a start at 100k partners stays fast).
    """
    if model.snapshot_at is None:
        return model
    partners, certifications = store.partners_changed_since(model.snapshot_at)
    snapshot = model.recommender.snapshot
    rows = [{str(k): v for k, v in row.items()} for row in partners.to_dict("records")]
    changed = [row for row in rows if _differs(snapshot, row, certifications)]
    if not changed:
        return model
    ids = {str(row[s.PARTNER_ID]) for row in changed}
    logger.info("replaying %d partner change(s) stored since the model's snapshot", len(changed))
    updated = snapshot.with_partners(changed, certifications[certifications[s.PARTNER_ID].isin(ids)])
    return replace(model, recommender=model.recommender.with_snapshot(updated))


class EventFollower:
    """Publishes this worker's changes and replays the other workers' (poll_once, or a background thread)."""

    def __init__(self, api_store: ApiStore, holder: ModelHolder) -> None:
        self.api_store = api_store
        self.holder = holder
        self.origin = uuid.uuid4().hex
        self.last_id = api_store.last_event_id()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def publish(self, kind: str, payload: dict[str, object]) -> None:
        self.api_store.add_event(self.origin, kind, payload)

    def poll_once(self) -> int:
        """Replay every new event of the other workers; returns how many were applied."""
        with self._lock:
            applied = 0
            for event in self.api_store.events_after(self.last_id):
                self.last_id = event.id
                if event.origin != self.origin:
                    self._apply(event)
                    applied += 1
            return applied

    def _apply(self, event: ServingEvent) -> None:
        try:
            if event.kind == PARTNERS:
                items = [PartnerBulkItem.model_validate(p) for p in event.payload[PARTNERS]]
                apply_partners(self.holder, items)
            elif event.kind == DEACTIVATE:
                apply_deactivation(self.holder, str(event.payload[s.PARTNER_ID]))
            elif event.kind == RELOAD:
                current = self.holder.current
                version = str(event.payload["version"])
                if current is None or current.version != version:
                    self.holder.reload(version)  # refreshes the challenger too
                elif self.holder.challenger_version != event.payload.get("challenger"):
                    # Same champion, but the other worker's reload found another (or no) challenger.
                    self.holder.refresh_challenger()
            else:
                logger.warning("ignoring serving event %d of unknown kind %r", event.id, event.kind)
        except ReloadRefused as exc:
            logger.error("replayed reload refused (event %d): %s", event.id, exc)
        except Exception:  # noqa: BLE001 - one bad event must not stop the worker following the others
            logger.exception("could not apply serving event %d (%s)", event.id, event.kind)

    def start(self, interval: float) -> None:
        def loop() -> None:
            while not self._stop.wait(interval):
                try:
                    self.poll_once()
                except Exception:  # noqa: BLE001 - e.g. the database is briefly unreachable: retry
                    logger.exception("polling serving events failed")

        self._thread = threading.Thread(target=loop, name="serving-events", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
