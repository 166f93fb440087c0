"""The store's named job lock on SQLite and PostgreSQL: one holder at a time, expiry, heartbeat."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest

from features import job_lock
from features.job_lock import LockBusy, LockLost, hold, try_acquire
from features.store import Store
from tests.features.test_store_concurrency import run_together

NAME = "retrain"
HOUR = timedelta(hours=1)


def test_a_free_lock_is_acquired(store: Store) -> None:
    assert try_acquire(store, NAME, "a", HOUR)
    held = job_lock.current(store, NAME)
    assert held is not None and held.holder == "a"
    assert held.expires_at - held.acquired_at == HOUR


def test_a_held_lock_is_not_acquired_by_another_holder(store: Store) -> None:
    try_acquire(store, NAME, "a", HOUR)
    assert not try_acquire(store, NAME, "b", HOUR)
    assert job_lock.current(store, NAME).holder == "a"  # type: ignore[union-attr]


def test_an_expired_lock_is_taken_over(store: Store) -> None:
    try_acquire(store, NAME, "crashed", timedelta(seconds=-1))
    assert try_acquire(store, NAME, "b", HOUR)
    assert job_lock.current(store, NAME).holder == "b"  # type: ignore[union-attr]


def test_locks_of_different_names_do_not_exclude_each_other(store: Store) -> None:
    assert try_acquire(store, "retrain", "a", HOUR)
    assert try_acquire(store, "backfill", "b", HOUR)


def _winners_of_contention(store: Store, contenders: int = 4) -> list[str]:
    """The holders that acquired the lock when `contenders` of them tried at once (none may raise)."""
    winners: list[str] = []

    def contend(holder: str) -> None:
        if try_acquire(store, NAME, holder, HOUR):
            winners.append(holder)

    errors = run_together([lambda h=f"h{n}": contend(h) for n in range(contenders)])  # type: ignore[misc]
    assert errors == []
    return winners


def test_of_contenders_at_once_exactly_one_wins(store: Store) -> None:
    winners = _winners_of_contention(store)
    assert len(winners) == 1
    assert job_lock.current(store, NAME).holder == winners[0]  # type: ignore[union-attr]


def test_of_contenders_for_an_expired_lock_exactly_one_takes_it_over(store: Store) -> None:
    try_acquire(store, NAME, "crashed", timedelta(seconds=-1))
    assert len(_winners_of_contention(store)) == 1


def test_hold_releases_the_lock_when_the_block_fails(store: Store) -> None:
    with pytest.raises(RuntimeError), hold(store, NAME, HOUR):
        raise RuntimeError("training failed")
    assert job_lock.current(store, NAME) is None


def test_hold_raises_lock_busy_naming_the_holder_and_leaves_its_lock_alone(store: Store) -> None:
    try_acquire(store, NAME, "cron@host-1", HOUR)
    before = job_lock.current(store, NAME)
    with pytest.raises(LockBusy, match="held by cron@host-1"), hold(store, NAME, HOUR):
        pass
    assert job_lock.current(store, NAME) == before


def test_the_heartbeat_keeps_a_lock_alive_past_its_ttl(store: Store) -> None:
    ttl = timedelta(seconds=1.2)
    with hold(store, NAME, ttl, holder="a"):
        time.sleep(2.0)
        assert not try_acquire(store, NAME, "b", ttl)


def test_ensure_held_raises_lock_lost_once_another_holder_took_the_lock_over(store: Store) -> None:
    with hold(store, NAME, HOUR, holder="a") as lock:
        job_lock.release(store, NAME, "a")  # as if it had expired ...
        try_acquire(store, NAME, "b", HOUR)  # ... and the next run had taken it over
        with pytest.raises(LockLost):
            lock.ensure_held()
    assert job_lock.current(store, NAME).holder == "b"  # type: ignore[union-attr]


def test_a_lock_held_in_another_thread_blocks_until_released(store: Store) -> None:
    entered, leave = threading.Event(), threading.Event()

    def first() -> None:
        with hold(store, NAME, HOUR):
            entered.set()
            leave.wait(10)

    thread = threading.Thread(target=first)
    thread.start()
    entered.wait(10)
    with pytest.raises(LockBusy), hold(store, NAME, HOUR):
        pass
    leave.set()
    thread.join()
    with hold(store, NAME, HOUR):
        pass
