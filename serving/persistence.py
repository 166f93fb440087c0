"""Data access for the API's own tables: API keys, idempotency records, audit log, feedback, outcomes."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Table, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from features import schema as s
from features import tables as t
from features.outcome_history import (
    UNCHANGING,
    AppliedOutcome,
    OutcomeStatus,
    ReportedOutcome,
    apply_outcome,
)
from features.store import Store

logger = logging.getLogger(__name__)


def _now() -> datetime:
    return datetime.now().replace(microsecond=0)


@dataclass(frozen=True)
class ApiKeyRecord:
    """A stored key: its public id, a name, scopes and the sha256 of its secret (never the secret)."""

    key_id: str
    name: str
    secret_sha256: str
    scopes: tuple[str, ...]
    created_at: datetime
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True)
class ServingEvent:
    """A change made by one worker (`origin`) that the others replay: reload, partner upsert or deactivate."""

    id: int
    origin: str
    kind: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class IdempotencyRecord:
    request_sha256: str
    status_code: int
    response: Any


@dataclass(frozen=True)
class IdempotencyClaim:
    """A write sent with an Idempotency-Key: whose key, which key, and the request's fingerprint."""

    key_id: str
    key: str
    route: str
    request_sha256: str


class IdempotencyKeyReused(Exception):
    """The key was already used by this caller with a different request."""


class IdempotencyInProgress(Exception):
    """The first request with this key is still being answered."""


# Status of a claimed key whose request has not been answered yet.
PENDING = 0
# A claim still pending after this long belongs to a request that died (a killed worker): taken over.
PENDING_STALE_SECONDS = 60


def _claim_row(claim: IdempotencyClaim) -> dict[str, Any]:
    return {
        "key_id": claim.key_id,
        "idempotency_key": claim.key,
        "route": claim.route,
        "request_sha256": claim.request_sha256,
        "status_code": PENDING,
        "response": {},
    }


@dataclass(frozen=True)
class Written:
    """The answer to a write: new, or `replayed` from the first request that used the same key."""

    status_code: int
    response: Any
    replayed: bool


def request_sha256(route: str, body: bytes) -> str:
    """A request's fingerprint: route and body, a JSON body in canonical form (keys sorted, no spacing).

    The same JSON sent again with other whitespace or key order is the same request; a body that is not
    JSON is hashed as sent.
    """
    try:
        parsed = json.loads(body)
    except ValueError:  # UnicodeDecodeError and JSONDecodeError both
        payload = body
    else:
        payload = json.dumps(parsed, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    return hashlib.sha256(route.encode() + b"\n" + payload).hexdigest()


# Tables a write route adds one row to, with the column stamped with the time of the write.
_RECORD_TABLES: dict[str, tuple[Table, str]] = {
    "feedback": (t.feedback, "created_at"),
    "outcomes": (t.outcomes, "recorded_at"),
}


class ApiStore:
    """The API tables in the same database as the contract tables (migrated by the store's Alembic chain)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.engine = store.engine

    @classmethod
    def open(cls, url: str) -> ApiStore:
        """Open the database at `url` and bring its schema up to date."""
        store = Store(url)
        store.migrate()
        return cls(store)

    # -- API keys ---------------------------------------------------------------------------------------
    def add_key(self, key_id: str, name: str, secret_sha256: str, scopes: Sequence[str]) -> ApiKeyRecord:
        now = _now()
        with self.store.writing() as conn:
            conn.execute(
                insert(t.api_keys),
                {
                    "key_id": key_id,
                    s.NAME: name,
                    "secret_sha256": secret_sha256,
                    "scopes": list(scopes),
                    "created_at": now,
                },
            )
        return ApiKeyRecord(key_id, name, secret_sha256, tuple(scopes), now, None)

    def find_key(self, key_id: str) -> ApiKeyRecord | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(t.api_keys).where(t.api_keys.c.key_id == key_id)).mappings().first()
        return _key(row) if row is not None else None

    def list_keys(self) -> list[ApiKeyRecord]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(t.api_keys).order_by(t.api_keys.c.created_at)).mappings().all()
        return [_key(row) for row in rows]

    def revoke_key(self, key_id: str) -> bool:
        """Revoke an active key; False when there is no such active key."""
        with self.store.writing() as conn:
            result = conn.execute(
                update(t.api_keys)
                .where(t.api_keys.c.key_id == key_id, t.api_keys.c.revoked_at.is_(None))
                .values(revoked_at=_now())
            )
        return bool(result.rowcount)

    def has_active_key(self) -> bool:
        with self.engine.connect() as conn:
            query = select(t.api_keys.c.key_id).where(t.api_keys.c.revoked_at.is_(None)).limit(1)
            return conn.execute(query).first() is not None

    # -- idempotency ------------------------------------------------------------------------------------
    def find_idempotent(self, key_id: str, idempotency_key: str) -> IdempotencyRecord | None:
        table = t.idempotency_records
        with self.engine.connect() as conn:
            row = conn.execute(
                select(table.c.request_sha256, table.c.status_code, table.c.response).where(
                    table.c.key_id == key_id, table.c.idempotency_key == idempotency_key
                )
            ).first()
        return IdempotencyRecord(row[0], int(row[1]), row[2]) if row is not None else None

    def claim_key(self, claim: IdempotencyClaim) -> Written | None:
        """Claim an Idempotency-Key before a write that happens outside this store's transaction (partners).

        None: this request holds the key now (`finish_key` or `release_key` next). Otherwise the stored
        answer to replay; IdempotencyKeyReused for another request under the key; IdempotencyInProgress
        while the first request with it is still running (a claim left PENDING_STALE_SECONDS by a crashed
        worker is taken over).
        """
        records = t.idempotency_records
        where = (records.c.key_id == claim.key_id, records.c.idempotency_key == claim.key)
        try:
            with self.store.writing() as conn:
                conn.execute(insert(records), {**_claim_row(claim), "created_at": _now()})
            return None
        except IntegrityError:
            pass
        found = self.find_idempotent(claim.key_id, claim.key)
        if found is None:
            raise IdempotencyInProgress(claim.key)  # released between our insert and read: retry later
        if found.request_sha256 != claim.request_sha256:
            raise IdempotencyKeyReused(claim.key)
        if found.status_code != PENDING:
            return Written(found.status_code, found.response, replayed=True)
        stale = _now() - timedelta(seconds=PENDING_STALE_SECONDS)
        with self.store.writing() as conn:
            taken = conn.execute(
                update(records)
                .where(*where, records.c.status_code == PENDING, records.c.created_at < stale)
                .values(created_at=_now())
            ).rowcount
        if not taken:
            raise IdempotencyInProgress(claim.key)
        return None

    def finish_key(self, claim: IdempotencyClaim, status: int, response: Any) -> None:
        """Store the answer of the request holding the key: later requests with it replay this."""
        records = t.idempotency_records
        with self.store.writing() as conn:
            conn.execute(
                update(records)
                .where(records.c.key_id == claim.key_id, records.c.idempotency_key == claim.key)
                .values(status_code=status, response=response)
            )

    def release_key(self, claim: IdempotencyClaim) -> None:
        """Give the key back after a failed write, so a retry with it runs again."""
        records = t.idempotency_records
        with self.store.writing() as conn:
            conn.execute(
                delete(records).where(
                    records.c.key_id == claim.key_id,
                    records.c.idempotency_key == claim.key,
                    records.c.status_code == PENDING,
                )
            )

    # -- audit, feedback, outcomes ------------------------------------------------------------------------
    def write_audit(self, entries: Sequence[Mapping[str, Any]]) -> None:
        """Rows with request_id, key_id, route, model_version, request, teams."""
        if not entries:
            return
        now = _now()
        with self.store.writing() as conn:
            conn.execute(insert(t.audit_log), [{**entry, "created_at": now} for entry in entries])

    def audit_entries(self, request_id: str | None = None) -> list[dict[str, Any]]:
        query = select(t.audit_log).order_by(t.audit_log.c.id)
        if request_id is not None:
            query = query.where(t.audit_log.c.request_id == request_id)
        with self.engine.connect() as conn:
            return [dict(row) for row in conn.execute(query).mappings().all()]

    def add_record(
        self,
        table: str,
        row: Mapping[str, Any],
        respond: Callable[[int], tuple[int, Any]],
        claim: IdempotencyClaim | None = None,
    ) -> Written:
        """Add one row to `table` ("feedback" or "outcomes"); the answer is `respond(new row id)`.

        With a claim, at most one row is ever added per (caller, key): the key is inserted first, in the
        same transaction as the row, so a concurrent request with the same key waits for this one (its
        insert conflicts on the key's primary key) and then gets the stored answer, or
        IdempotencyKeyReused when its request differs. Looking the key up first and saving it after the
        write let 8 simultaneous requests with one key add up to 8 rows (issue 11).
        """
        target, stamp = _RECORD_TABLES[table]

        def write(conn: Connection) -> tuple[int, Any]:
            result = conn.execute(insert(target), {**row, stamp: _now()})
            return respond(int(result.inserted_primary_key[0]))  # type: ignore[index]

        return self._write_once(write, claim)

    def record_outcome(
        self,
        reported: ReportedOutcome,
        key_id: str | None,
        roles: Sequence[str],
        respond: Callable[[int, AppliedOutcome], tuple[int, Any]],
        claim: IdempotencyClaim | None = None,
    ) -> Written:
        """Apply an outcome to the deal history and log it in `outcomes`, in one transaction with its key.

        OutcomeRejected (nothing written, the key given back) when it cannot become history. The same
        outcome posted again, when it changes nothing, answers with the row that recorded it first
        instead of adding another (so repeats do not inflate counts of conflicts).
        """

        def write(conn: Connection) -> tuple[int, Any]:
            applied = apply_outcome(conn, reported, roles=roles)
            row = {
                "key_id": key_id,
                s.OPPORTUNITY_ID: reported.opportunity_id,
                s.OUTCOME: reported.outcome,
                s.CLOSED_AT: applied.closed_at,
                s.DEAL_SIZE: reported.deal_size,
                "team": [
                    asdict(seat) for seat in sorted(reported.team, key=lambda m: (m.role, m.partner_id))
                ],
                "opportunity": dict(reported.details) if reported.details is not None else None,
            }
            first = _same_outcome(conn, row) if applied.status in UNCHANGING else None
            if first is not None:
                if applied.status is OutcomeStatus.UNCHANGED:
                    applied = replace(
                        applied, detail=f"the same outcome was recorded already (#{first}); {applied.detail}"
                    )
                return respond(first, applied)
            values = {**row, "status": applied.status.value, "detail": applied.detail, "recorded_at": _now()}
            result = conn.execute(insert(t.outcomes), values)
            return respond(int(result.inserted_primary_key[0]), applied)  # type: ignore[index]

        return self._write_once(write, claim)

    def _write_once(
        self, write: Callable[[Connection], tuple[int, Any]], claim: IdempotencyClaim | None
    ) -> Written:
        """Run `write` (returns status and answer) in one write transaction with the claim of its key."""
        records = t.idempotency_records
        try:
            with self.store.writing() as conn:
                if claim is not None:
                    # PENDING is replaced below, in the same transaction, before anyone can read it.
                    conn.execute(insert(records), {**_claim_row(claim), "created_at": _now()})
                status, response = write(conn)
                if claim is not None:
                    conn.execute(
                        update(records)
                        .where(records.c.key_id == claim.key_id, records.c.idempotency_key == claim.key)
                        .values(status_code=status, response=response)
                    )
        except IntegrityError:
            if claim is None:
                raise
            found = self.find_idempotent(claim.key_id, claim.key)
            if found is None:  # the key's row is never deleted, so the conflict was something else
                raise
            if found.request_sha256 != claim.request_sha256:
                raise IdempotencyKeyReused(claim.key) from None
            return Written(found.status_code, found.response, replayed=True)
        return Written(status, response, replayed=False)

    # -- events shared by the API workers ---------------------------------------------------------------
    def add_event(self, origin: str, kind: str, payload: Mapping[str, Any]) -> int:
        with self.store.writing() as conn:
            result = conn.execute(
                insert(t.serving_events),
                {"created_at": _now(), "origin": origin, "kind": kind, "payload": dict(payload)},
            )
        return int(result.inserted_primary_key[0])  # type: ignore[index]

    def last_event_id(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.coalesce(func.max(t.serving_events.c.id), 0))).scalar_one())

    def events_after(self, event_id: int, limit: int = 1000) -> list[ServingEvent]:
        table = t.serving_events
        query = select(table.c.id, table.c.origin, table.c.kind, table.c.payload).where(table.c.id > event_id)
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(table.c.id).limit(limit)).all()
        return [ServingEvent(int(r[0]), str(r[1]), str(r[2]), dict(r[3])) for r in rows]

    # -- partners (read only: features.store.Store is the one writer of partners) -----------------------
    def partner(self, partner_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = (
                conn.execute(select(t.partners).where(t.partners.c[s.PARTNER_ID] == partner_id))
                .mappings()
                .first()
            )
        if row is None:
            return None
        return {column: row[column] for column in s.COLUMNS[s.PARTNERS]}

    def rows(self, table: str) -> list[dict[str, Any]]:
        """Every row of one API table, oldest first (for tests and the training run's readers)."""
        source = {"feedback": t.feedback, "outcomes": t.outcomes}[table]
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(select(source).order_by(source.c.id)).mappings().all()]


def _same_outcome(conn: Connection, row: Mapping[str, Any]) -> int | None:
    """The id of the opportunity's latest logged outcome when it holds the same values as `row`."""
    outcomes = t.outcomes
    latest = (
        conn.execute(
            select(outcomes)
            .where(outcomes.c[s.OPPORTUNITY_ID] == row[s.OPPORTUNITY_ID])
            .order_by(outcomes.c.id.desc())
            .limit(1)
        )
        .mappings()
        .first()
    )
    if latest is None or any(latest[column] != value for column, value in row.items() if column != "key_id"):
        return None
    return int(latest["id"])


def _key(row: Any) -> ApiKeyRecord:
    return ApiKeyRecord(
        key_id=row["key_id"],
        name=row[s.NAME],
        secret_sha256=row["secret_sha256"],
        scopes=tuple(row["scopes"]),
        created_at=row["created_at"],
        revoked_at=row["revoked_at"],
    )


@dataclass(frozen=True)
class Rejection:
    """A rep's rejection of a suggested partner or team (a feedback row with action "rejected")."""

    opportunity_id: str | None
    partner_id: str | None
    team: dict[str, str] | None
    reason_code: str
    created_at: datetime


def rejections(
    store: ApiStore,
    *,
    opportunity_ids: Sequence[str] | None = None,
    reason_code: str | None = None,
    since: datetime | None = None,
) -> list[Rejection]:
    """Rejections for these opportunities (read through the opportunity_id index) and/or of one reason
    since a time, oldest first."""
    table = t.feedback
    query = select(
        table.c[s.OPPORTUNITY_ID],
        table.c[s.PARTNER_ID],
        table.c.team,
        table.c.reason_code,
        table.c.created_at,
    ).where(table.c.action == "rejected")
    if opportunity_ids is not None:
        query = query.where(table.c[s.OPPORTUNITY_ID].in_(list(opportunity_ids)))
    if reason_code is not None:
        query = query.where(table.c.reason_code == reason_code)
    if since is not None:
        query = query.where(table.c.created_at >= since)
    with store.engine.connect() as conn:
        rows = conn.execute(query.order_by(table.c.id)).all()
    return [Rejection(r[0], r[1], dict(r[2]) if r[2] else None, str(r[3]), r[4]) for r in rows]
