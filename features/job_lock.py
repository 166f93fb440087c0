"""A named lock in the store (`job_locks`) for batch jobs that must not run twice at once, with a TTL."""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from features import tables as t
from features.store import Store

logger = logging.getLogger(__name__)

# A heartbeat refreshes the lock this many times per TTL: two missed beats still leave it held.
BEATS_PER_TTL = 4


class LockBusy(Exception):
    """Another holder has the lock and it has not expired."""

    def __init__(self, held: HeldLock) -> None:
        super().__init__(
            f"lock {held.name!r} is held by {held.holder} since {held.acquired_at:%Y-%m-%d %H:%M:%S} UTC "
            f"(expires {held.expires_at:%Y-%m-%d %H:%M:%S} UTC)"
        )
        self.held = held


class LockLost(Exception):
    """The lock expired while held and another holder took it over (or it was released by hand)."""


@dataclass(frozen=True)
class HeldLock:
    """One row of `job_locks`; times are naive UTC."""

    name: str
    holder: str
    acquired_at: datetime
    expires_at: datetime


def _now() -> datetime:
    # UTC, not the store's local clock: hosts in different time zones must agree on when a lock expires.
    return datetime.now(UTC).replace(tzinfo=None)


def new_holder() -> str:
    """A holder id naming this host and process, unique per call."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def try_acquire(store: Store, name: str, holder: str, ttl: timedelta) -> bool:
    """Take the lock if it is free or expired, in one statement; False when someone else holds it.

    An INSERT that conflicts on the primary key turns into an UPDATE only where the lock has expired, so
    of two contenders the database lets exactly one write the row (the other's statement changes
    nothing).
    """
    now = _now()
    values = {"name": name, "holder": holder, "acquired_at": now, "expires_at": now + ttl}
    with store.writing() as conn:
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        statement = dialect.insert(t.job_locks).values(values)
        statement = statement.on_conflict_do_update(
            index_elements=[t.job_locks.c.name],
            set_={k: statement.excluded[k] for k in ("holder", "acquired_at", "expires_at")},
            where=t.job_locks.c.expires_at < now,
        )
        # RETURNING, not rowcount: psycopg reports -1 for an upsert. A row comes back only if written.
        written = conn.execute(statement.returning(t.job_locks.c.holder)).first()
        return written is not None


def refresh(store: Store, name: str, holder: str, ttl: timedelta) -> bool:
    """Push the lock's expiry `ttl` ahead; False when `holder` no longer holds it."""
    with store.writing() as conn:
        return _held_by(conn, name, holder, {"expires_at": _now() + ttl}) == 1


def release(store: Store, name: str, holder: str) -> bool:
    """Drop the lock if `holder` holds it (a lock taken over after expiry is left to its new holder)."""
    table = t.job_locks
    with store.writing() as conn:
        statement = delete(table).where(table.c.name == name, table.c.holder == holder)
        return conn.execute(statement).rowcount == 1


def current(store: Store, name: str) -> HeldLock | None:
    """The lock's row, expired or not; None when nobody has it."""
    table = t.job_locks
    with store.engine.connect() as conn:
        row = conn.execute(select(table).where(table.c.name == name)).mappings().first()
    if row is None:
        return None
    return HeldLock(row["name"], row["holder"], row["acquired_at"], row["expires_at"])


def _held_by(conn: Connection, name: str, holder: str, values: dict[str, datetime]) -> int:
    table = t.job_locks
    statement = update(table).where(table.c.name == name, table.c.holder == holder).values(values)
    return int(conn.execute(statement).rowcount)


class JobLock:
    """A held lock: a heartbeat thread keeps it alive; `ensure_held()` before a step that must not run
    twice (e.g. promoting) refreshes it and raises LockLost if it was lost."""

    def __init__(self, store: Store, name: str, holder: str, ttl: timedelta) -> None:
        self.store = store
        self.name = name
        self.holder = holder
        self.ttl = ttl
        self._stop = threading.Event()
        self._lost = threading.Event()
        self._thread: threading.Thread | None = None

    def ensure_held(self) -> None:
        if self._lost.is_set() or not refresh(self.store, self.name, self.holder, self.ttl):
            self._lost.set()
            raise LockLost(f"lock {self.name!r} was lost by {self.holder} (expired and taken over?)")

    def start_heartbeat(self) -> None:
        self._thread = threading.Thread(target=self._beat, name=f"lock-{self.name}", daemon=True)
        self._thread.start()

    def stop_heartbeat(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _beat(self) -> None:
        interval = self.ttl.total_seconds() / BEATS_PER_TTL
        while not self._stop.wait(interval):
            try:
                if not refresh(self.store, self.name, self.holder, self.ttl):
                    logger.warning("lock %r lost by %s", self.name, self.holder)
                    self._lost.set()
                    return
            except Exception:  # a database hiccup: the next beat tries again before the TTL runs out
                logger.warning("could not refresh lock %r", self.name, exc_info=True)


@contextmanager
def hold(store: Store, name: str, ttl: timedelta, holder: str | None = None) -> Iterator[JobLock]:
    """Hold the lock for the block (LockBusy if taken), refreshed while held, released in any case.

    A holder that crashes stops refreshing, so its lock expires `ttl` later and the next run takes it.
    """
    holder = holder or new_holder()
    if not try_acquire(store, name, holder, ttl):
        # No row: released since our attempt; this run still counts it as busy, the next one takes it.
        raise LockBusy(current(store, name) or HeldLock(name, "another holder", _now(), _now()))
    lock = JobLock(store, name, holder, ttl)
    lock.start_heartbeat()
    try:
        yield lock
    finally:
        lock.stop_heartbeat()
        try:
            release(store, name, holder)
        except Exception:  # the TTL frees it anyway; do not hide the block's own error behind this one
            logger.warning("could not release lock %r; it expires by itself", name, exc_info=True)
