"""The store: contract tables in SQLite or PostgreSQL, schema migrations, bulk ingest and loading back.

Ingest semantics (one transaction per call; any failure rolls everything back):
- partners and opportunities are upserted by key; a row whose contract values are unchanged is left
  alone (its `updated_at` too), a changed row is updated, a new key is inserted;
- a partner listed in the export's partners table has its certification set *replaced* by the export's
  certifications for it (possibly none); an opportunity listed in the export's opportunities table has
  its deal_partners set replaced likewise. Certification / deal rows whose parent is not listed in the
  export (it is already in the store) are merged by key, never deleted.

Provenance: an export is the system of record. An opportunity the export lists whose stored `origin` is
"api" (closed or added by an outcome posted to the API, features/outcome_history.py) takes the export's
values and team like any other row and its origin goes back to "export"; IngestSummary.replaced_api counts
them and the ingest logs a warning naming them, so an API outcome is never overwritten silently.

Concurrency: every write is a single transaction that takes the write lock first (`writing()`), and a
partner upsert is one INSERT ... ON CONFLICT DO UPDATE per row, so concurrent writers queue instead of
failing, and two writers of one new partner id cannot both insert it. On SQLite that means WAL (readers
never block the writer), a busy timeout (a writer waits for the lock instead of failing at once) and
BEGIN IMMEDIATE for writes: a deferred transaction that reads first cannot upgrade to a write lock once
another writer has committed ("database is locked" at once, the busy timeout does not help), which failed
40 of 40 partner writes beside two recommending clients (issue 11).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import (
    JSON,
    Connection,
    Engine,
    Table,
    Text,
    and_,
    bindparam,
    cast,
    create_engine,
    delete,
    event,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.sql.dml import Insert

from features import schema as s
from features import tables as t
from features.contract import ValidatedExport, normalise_table
from features.records import EcosystemTables

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
BATCH_ROWS = 50_000
UPDATED_AT = "updated_at"
# How long a SQLite writer waits for another writer's lock before failing: a partner write holds it for
# milliseconds, a big ingest for seconds; callers beyond this see the error rather than hang.
SQLITE_BUSY_TIMEOUT_MS = 15_000
# Ids bound per IN (...) list: below SQLite's default limit of 32766 variables per statement.
ID_CHUNK = 10_000
# An ingest that replaces API records names at most this many in its warning (it counts them all).
MAX_LOGGED_IDS = 20
# Execution option marking a connection whose transactions write (SQLite: BEGIN IMMEDIATE).
WRITE_OPTION = "partnermatch_write"

_TABLES: dict[str, Table] = {
    s.PARTNERS: t.partners,
    s.CERTIFICATIONS: t.certifications,
    s.OPPORTUNITIES: t.opportunities,
    s.DEAL_PARTNERS: t.deal_partners,
}
# Parent whose presence in an export makes the export authoritative for the child's set of rows.
_REPLACED_BY_PARENT: dict[str, tuple[str, str]] = {
    s.CERTIFICATIONS: (s.PARTNERS, s.PARTNER_ID),
    s.DEAL_PARTNERS: (s.OPPORTUNITIES, s.OPPORTUNITY_ID),
}


@dataclass
class IngestSummary:
    """Rows inserted, updated, unchanged and deleted (replaced child sets), per table; and how many
    opportunities recorded through the API the export replaced (`replaced_api`)."""

    inserted: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    unchanged: dict[str, int] = field(default_factory=dict)
    deleted: dict[str, int] = field(default_factory=dict)
    replaced_api: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Diff:
    inserts: pd.DataFrame
    updates: pd.DataFrame
    unchanged: int
    deletes: pd.DataFrame  # key columns only


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy, not the sqlite3 module, decide where transactions begin, so DDL and DML roll back.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    # First, so that switching the journal mode below waits for a busy database instead of failing.
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    # Writers take the write lock up front (and wait for it); readers stay deferred and never block.
    immediate = conn.get_execution_options().get(WRITE_OPTION, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


class Store:
    """Contract tables in a SQL database; SQLite file by default, PostgreSQL via `postgresql+psycopg://`."""

    def __init__(self, url: str) -> None:
        self.url = url
        parsed = make_url(url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        if self.is_sqlite and parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        # pool_pre_ping: after a PostgreSQL restart, a stale pooled connection is replaced, not handed to a
        # request that then fails (one 503 per stale connection otherwise).
        self.engine: Engine = create_engine(url, pool_pre_ping=not self.is_sqlite)
        if self.is_sqlite:
            event.listen(self.engine, "connect", _sqlite_pragmas)
            event.listen(self.engine, "begin", _sqlite_begin)
        # Shares the engine's pool and events; only marks its transactions as writes.
        self._writer: Engine = self.engine.execution_options(**{WRITE_OPTION: True})

    def __repr__(self) -> str:
        return f"Store({self.engine.url.render_as_string(hide_password=True)!r})"

    def writing(self) -> AbstractContextManager[Connection]:
        """A write transaction (commit, or rollback on error) holding the write lock from its start."""
        return self._writer.begin()

    # Schema --------------------------------------------------------------------------------------

    def migrate(self) -> str:
        """Bring the schema to the latest revision (idempotent); returns that revision."""
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        with self.writing() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
        revision = self.revision()
        if revision is None:
            raise RuntimeError("migration finished without a revision")
        return revision

    def revision(self) -> str | None:
        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    # Reading -------------------------------------------------------------------------------------

    def known_ids(self) -> tuple[set[str], set[str]]:
        """Partner ids and opportunity ids already in the store."""
        with self.engine.connect() as conn:
            partners = set(conn.execute(select(t.partners.c[s.PARTNER_ID])).scalars())
            opportunities = set(conn.execute(select(t.opportunities.c[s.OPPORTUNITY_ID])).scalars())
        return partners, opportunities

    def is_empty(self) -> bool:
        with self.engine.connect() as conn:
            return conn.execute(select(t.partners.c[s.PARTNER_ID]).limit(1)).first() is None

    def counts(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            return {
                name: int(conn.execute(select(func.count()).select_from(table)).scalar_one())
                for name, table in _TABLES.items()
            }

    def load_tables(self) -> EcosystemTables:
        """The whole store as normalised EcosystemTables, each ordered by its key."""
        with self.engine.connect() as conn:
            return EcosystemTables(**{name: self._read(conn, name) for name in s.TABLES})

    def _read(self, conn: Connection, name: str) -> pd.DataFrame:
        table = _TABLES[name]
        columns = list(s.COLUMNS[name])
        as_text = set(s.LIST_COLUMNS[name]) | set(s.DATE_COLUMNS[name])
        # JSON and dates come back as text and are parsed column-wise below: per-cell type processing
        # in the driver/SQLAlchemy dominated load time on million-row tables.
        selected = [cast(table.c[c], Text) if c in as_text else table.c[c] for c in columns]
        query = select(*selected).order_by(*(table.c[k] for k in s.KEYS[name]))
        values: list[list[Any]] = [[] for _ in columns]
        # The DBAPI cursor directly: SQLAlchemy's Row layer cost more than the database on big tables.
        cursor = conn.connection.cursor()
        try:
            cursor.execute(str(query.compile(dialect=conn.dialect)))
            while part := cursor.fetchmany(BATCH_ROWS):
                for store, column in zip(values, zip(*part, strict=True), strict=True):
                    store.extend(column)
        finally:
            cursor.close()
        raw: dict[str, Any] = dict(zip(columns, values, strict=True))
        for c in s.LIST_COLUMNS[name]:
            raw[c] = json.loads("[" + ",".join(raw[c]) + "]") if raw[c] else []
        for c in s.DATE_COLUMNS[name]:
            raw[c] = pd.to_datetime(pd.Series(raw[c], dtype=object), format="ISO8601")
        return normalise_table(name, pd.DataFrame(raw))

    # Writing -------------------------------------------------------------------------------------

    def ingest(self, export: ValidatedExport) -> IngestSummary:
        """Upsert a validated export in one transaction and log it in ingest_log."""
        summary = IngestSummary()
        now = datetime.now().replace(microsecond=0)
        tables = export.tables
        with self.writing() as conn:
            replaced = _api_records_listed(conn, tables.opportunities)
            self._write(conn, tables, summary, now)
            _mark_exported(conn, replaced)
            summary.replaced_api = len(replaced)
            conn.execute(
                insert(t.ingest_log),
                {"source": str(export.source), "ingested_at": now, "summary": summary.to_dict()},
            )
        log.info("ingested %s: %s", export.source, summary.to_dict())
        if replaced:
            shown = ", ".join(replaced[:MAX_LOGGED_IDS]) + (", ..." if len(replaced) > MAX_LOGGED_IDS else "")
            log.warning(
                "export %s replaced %d opportunit(ies) recorded through the API (the export wins): %s",
                export.source,
                len(replaced),
                shown,
            )
        return summary

    def upsert_partners(self, partners: pd.DataFrame, certifications: pd.DataFrame | None = None) -> int:
        """Upsert partner rows (e.g. from a PRM API sync); returns rows inserted or updated.

        Missing optional columns take contract defaults. When `certifications` is given, it replaces the
        certification set of every partner in `partners`. Each row is one atomic INSERT ... ON CONFLICT DO
        UPDATE that leaves an unchanged row (and its updated_at) alone: nothing is read first, so
        concurrent writers of one partner id never collide (PostgreSQL answered 500 UniqueViolation to
        5 of 6 concurrent PUTs of one new id when this read, then inserted).
        """
        rows = normalise_table(s.PARTNERS, partners)
        now = datetime.now().replace(microsecond=0)
        written = 0
        with self.writing() as conn:
            statement = _upsert(conn, t.partners, s.KEYS[s.PARTNERS], only_changed=True)
            for batch in _records(rows, stamp=now):
                written += _rowcount(conn, statement, batch)
            if certifications is not None:
                certs = normalise_table(s.CERTIFICATIONS, certifications)
                ids = rows[s.PARTNER_ID].tolist()
                for start in range(0, len(ids), BATCH_ROWS):
                    chunk = ids[start : start + BATCH_ROWS]
                    # A partner whose certificates alone changed is a changed partner too: served models
                    # replay the partners stamped after their snapshot (serving/sync.py).
                    conn.execute(
                        update(t.partners)
                        .where(t.partners.c[s.PARTNER_ID].in_(chunk))
                        .where(t.partners.c[UPDATED_AT] < now)
                        .values({UPDATED_AT: now})
                    )
                    conn.execute(delete(t.certifications).where(t.certifications.c[s.PARTNER_ID].in_(chunk)))
                for batch in _records(certs):
                    conn.execute(insert(t.certifications), batch)
        return written

    def partners_changed_since(self, since: datetime) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Partners stamped at or after `since` (inserted, updated, deactivated), and their certificates."""
        with self.engine.connect() as conn:
            partners = pd.read_sql(select(t.partners).where(t.partners.c[UPDATED_AT] >= since), conn)
            ids = partners[s.PARTNER_ID].tolist()
            certs = pd.read_sql(
                select(t.certifications).where(t.certifications.c[s.PARTNER_ID].in_(ids)), conn
            )
        return normalise_table(s.PARTNERS, partners.drop(columns=[UPDATED_AT])), certs

    def deactivate_partner(self, partner_id: str) -> bool:
        """Mark a partner inactive; False if no such partner."""
        with self.writing() as conn:
            result = conn.execute(
                update(t.partners)
                .where(t.partners.c[s.PARTNER_ID] == partner_id)
                .values({s.STATUS: "inactive", UPDATED_AT: datetime.now().replace(microsecond=0)})
            )
        return bool(result.rowcount)

    def _write(
        self, conn: Connection, tables: EcosystemTables, summary: IngestSummary, now: datetime
    ) -> None:
        # Parents before children so foreign keys always resolve.
        for name in s.TABLES:
            frame: pd.DataFrame = getattr(tables, name)
            if tuple(frame.columns) != s.COLUMNS[name]:
                # Tables built before an optional column existed (e.g. request_id) lack it: add it empty.
                frame = normalise_table(name, frame)
            self._apply(conn, name, frame, tables, summary, now)

    def _apply(
        self,
        conn: Connection,
        name: str,
        new: pd.DataFrame,
        tables: EcosystemTables,
        summary: IngestSummary,
        now: datetime,
    ) -> None:
        table = _TABLES[name]
        key = list(s.KEYS[name])
        diff = self._diff(conn, name, new, tables)
        has_stamp = UPDATED_AT in table.c
        if len(diff.deletes):
            where = and_(*(table.c[k] == bindparam(f"k_{k}") for k in key))
            for batch in _records(diff.deletes, prefix="k_"):
                conn.execute(delete(table).where(where), batch)
        if len(diff.inserts):
            # An upsert, not a plain insert: on PostgreSQL an API write may add the same key after the diff
            # read it (SQLite writers are serialised by the write lock); the export's values win.
            statement = _upsert(conn, table, key, only_changed=False)
            for batch in _records(diff.inserts, stamp=now if has_stamp else None):
                conn.execute(statement, batch)
        if len(diff.updates):
            values = [c for c in s.COLUMNS[name] if c not in key] + ([UPDATED_AT] if has_stamp else [])
            stmt = (
                update(table)
                .where(and_(*(table.c[k] == bindparam(f"k_{k}") for k in key)))
                .values({c: bindparam(f"v_{c}") for c in values})
            )
            for batch in _records(diff.updates, stamp=now if has_stamp else None, prefix="v_", key=key):
                conn.execute(stmt, batch)
        summary.inserted[name] = len(diff.inserts)
        summary.updated[name] = len(diff.updates)
        summary.unchanged[name] = diff.unchanged
        summary.deleted[name] = len(diff.deletes)

    def _diff(self, conn: Connection, name: str, new: pd.DataFrame, tables: EcosystemTables) -> _Diff:
        key = list(s.KEYS[name])
        table = _TABLES[name]
        old = self._read(conn, name) if _has_rows(conn, table) else normalise_table(name, pd.DataFrame())
        if old.empty:
            return _Diff(new, new.iloc[0:0], 0, new[key].iloc[0:0])
        merged = new.merge(old, on=key, how="left", suffixes=("", "__old"), indicator=True)
        present = (merged["_merge"] == "both").to_numpy()
        same = present.copy()
        for column in s.COLUMNS[name]:
            if column not in key:
                same &= _equal(merged[column], merged[f"{column}__old"]).to_numpy()
        columns = list(s.COLUMNS[name])
        deletes = old[key].iloc[0:0]
        if name in _REPLACED_BY_PARENT:
            parent, parent_key = _REPLACED_BY_PARENT[name]
            scoped = old[old[parent_key].isin(getattr(tables, parent)[parent_key])]
            gone = scoped[key].merge(new[key], on=key, how="left", indicator=True)
            deletes = gone.loc[gone["_merge"] == "left_only", key].reset_index(drop=True)
        return _Diff(
            inserts=merged.loc[~present, columns].reset_index(drop=True),
            updates=merged.loc[present & ~same, columns].reset_index(drop=True),
            unchanged=int(same.sum()),
            deletes=deletes,
        )


def _api_records_listed(conn: Connection, opportunities: pd.DataFrame) -> list[str]:
    """Ids of the export's opportunities whose stored record came from the API, sorted."""
    origin = t.opportunities.c[t.ORIGIN]
    # API records are few next to an export's rows: read them all rather than bind every export id.
    api_ids = set(
        conn.execute(select(t.opportunities.c[s.OPPORTUNITY_ID]).where(origin == t.ORIGIN_API)).scalars()
    )
    if not api_ids:
        return []
    return sorted(api_ids.intersection(opportunities[s.OPPORTUNITY_ID].dropna().astype(str)))


def _mark_exported(conn: Connection, opportunity_ids: Sequence[str]) -> None:
    ids = t.opportunities.c[s.OPPORTUNITY_ID]
    for start in range(0, len(opportunity_ids), ID_CHUNK):
        chunk = list(opportunity_ids[start : start + ID_CHUNK])
        conn.execute(update(t.opportunities).where(ids.in_(chunk)).values({t.ORIGIN: t.ORIGIN_EXPORT}))


def _upsert(conn: Connection, table: Table, key: Sequence[str], *, only_changed: bool) -> Insert:
    """INSERT ... ON CONFLICT (key) DO UPDATE for SQLite and PostgreSQL.

    `only_changed`: a conflicting row whose contract values are all equal is left alone (updated_at too).
    """
    dialect = {"postgresql": postgresql, "sqlite": sqlite}.get(conn.dialect.name)
    if dialect is None:
        raise NotImplementedError(f"no upsert for the {conn.dialect.name} dialect")
    statement = dialect.insert(table)
    excluded = statement.excluded
    values = [c.name for c in table.columns if c.name not in key]
    if not values:
        return statement.on_conflict_do_nothing(index_elements=list(key))
    changed = None
    if only_changed:
        contract = [c for c in values if c != UPDATED_AT]
        # JSON has no equality operator in PostgreSQL; both sides are serialised alike, so text compares.
        changed = or_(*(_comparable(table.c[c]).is_distinct_from(_comparable(excluded[c])) for c in contract))
    return statement.on_conflict_do_update(
        index_elements=list(key), set_={c: excluded[c] for c in values}, where=changed
    )


def _comparable(column: Any) -> Any:
    return cast(column, Text) if isinstance(column.type, JSON) else column


def _rowcount(conn: Connection, statement: Insert, batch: list[dict[str, Any]]) -> int:
    """Rows inserted or updated by an upsert (a row left alone by its WHERE does not count)."""
    # RETURNING, because drivers report no rowcount for a batch (psycopg: -1).
    key = next(iter(statement.table.primary_key.columns))  # type: ignore[attr-defined]
    return len(conn.execute(statement.returning(key), batch).all())


def _has_rows(conn: Connection, table: Table) -> bool:
    return conn.execute(select(func.count()).select_from(select(table).limit(1).subquery())).scalar_one() > 0


def _equal(a: pd.Series, b: pd.Series) -> pd.Series:
    """Cell-wise equality where two missing values are equal and lists compare by content."""
    if a.dtype == object:
        pairs = zip(a.tolist(), b.tolist(), strict=True)
        same = [x == y or (_missing(x) and _missing(y)) for x, y in pairs]
        return pd.Series(same, index=a.index, dtype=bool)
    both_missing = a.isna() & b.isna()
    return (a == b).fillna(False).astype(bool) | both_missing


def _missing(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and value != value)


def _python_column(col: pd.Series) -> list[Any]:
    """Plain Python values for the DB driver: None for missing, date for dates, int for Int64."""
    if pd.api.types.is_datetime64_any_dtype(col):
        return [None if pd.isna(v) else v.date() for v in col.tolist()]
    if col.dtype == object:
        return col.tolist()
    return col.astype(object).where(col.notna(), None).tolist()


def _records(
    frame: pd.DataFrame, *, stamp: datetime | None = None, prefix: str = "", key: Sequence[str] = ()
) -> Iterator[list[dict[str, Any]]]:
    """Row dicts in batches; non-key columns get `prefix`, key columns `k_` when `key` is given."""
    names = [f"k_{c}" if c in key else f"{prefix}{c}" for c in frame.columns]
    if stamp is not None:
        names.append(f"{prefix}{UPDATED_AT}")
    for start in range(0, len(frame), BATCH_ROWS):
        part = frame.iloc[start : start + BATCH_ROWS]
        columns = [_python_column(part[c]) for c in part.columns]
        if stamp is not None:
            columns.append([stamp] * len(part))
        yield [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)]
