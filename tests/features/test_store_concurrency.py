"""The store under concurrent writers and readers, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import pandas as pd

from features import schema as s
from features.contract import load_export
from features.store import Store
from serving.persistence import ApiStore
from tests.features.conftest import WriteExport, tiny_tables


def partner(partner_id: str, name: str) -> pd.DataFrame:
    return pd.DataFrame({s.PARTNER_ID: [partner_id], s.NAME: [name], s.PARTNER_TYPE: ["services"]})


def run_together(tasks: Sequence[Callable[[], object]]) -> list[BaseException]:
    """Start every task at the same moment; returns the exceptions they raised."""
    barrier = threading.Barrier(len(tasks))
    errors: list[BaseException] = []

    def run(task: Callable[[], object]) -> None:
        barrier.wait()
        try:
            task()
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    with ThreadPoolExecutor(len(tasks)) as pool:
        list(pool.map(run, tasks))
    return errors


def test_concurrent_partner_writers_beside_readers_and_audit_writes_all_succeed(
    store: Store, write: WriteExport
) -> None:
    store.ingest(load_export(write(tiny_tables())))
    api = ApiStore(store)

    def writer(n: int) -> Callable[[], None]:
        def task() -> None:
            for i in range(15):
                store.upsert_partners(partner(f"W{n}-{i}", f"name {i}"))
                store.upsert_partners(partner("P1", f"writer {n} round {i}"))

        return task

    def reader() -> None:
        for _ in range(15):
            store.load_tables()
            api.write_audit(
                [
                    {
                        "request_id": "r",
                        "key_id": None,
                        "route": "/v1/recommendations",
                        "model_version": "1",
                        "request": {},
                        "teams": [],
                    }
                ]
            )

    errors = run_together([writer(n) for n in range(4)] + [reader, reader])
    assert errors == []
    stored = set(store.load_tables().partners[s.PARTNER_ID])
    assert {f"W{n}-{i}" for n in range(4) for i in range(15)} <= stored


def test_concurrent_upserts_of_one_new_partner_id_all_succeed_and_store_one_row(store: Store) -> None:
    def upsert(n: int) -> None:
        store.upsert_partners(partner("PNEW", f"v{n}"))

    errors = run_together([partial(upsert, n) for n in range(6)])
    assert errors == []
    partners = store.load_tables().partners
    assert list(partners[s.PARTNER_ID]) == ["PNEW"]


def test_an_upsert_counts_only_rows_it_inserted_or_changed(store: Store) -> None:
    store.upsert_partners(partner("P9", "same"))
    assert store.upsert_partners(pd.concat([partner("P9", "same"), partner("P10", "new")])) == 1
