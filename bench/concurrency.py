"""Concurrent partner writes beside recommending readers on a real server: failed writes and lost changes.

First, per backend, durability: served partners deleted and new ones added through the API, checked at
once, after `POST /v1/admin/reload` and after a server restart (a lost change: a deleted partner suggested
again, or an added one not served). Then, for each store backend (SQLite file, PostgreSQL) and 1, 2 and
4 writer threads, a fresh database and one
`uvicorn serving.main:app` worker on a prepared hashing home; each writer PUTs partners
(`/v1/partners/{id}`) while 2 reader threads POST `/v1/recommendations`. Writer w cycles over 10 partner
ids of its own (each written several times, so the last acknowledged value is known) and every tenth
write goes to an id shared by all writers (new ids written at once: the PostgreSQL UniqueViolation case).
Afterwards every partner is read back: a *lost change* is an acknowledged write whose value is not the
stored one (own ids: the writer's last acknowledged value; shared ids: any acknowledged value). A *failed
write* is any answer other than 200 (or no answer). Targets (issue 11): 0 failed writes, 0 lost changes.

`--code DIR` runs the server from another checkout (e.g. `/tmp/old`, the previous commit) to measure the
defect before a fix; the home must be loadable by both.

Usage: .venv/bin/python -m bench.concurrency --home /tmp/pm-conc/home [--code /tmp/old] [--out FILE]
Prints a JSON summary and saves it to bench/results/concurrency.json.
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg

from bench.api import Server, api_body, api_server, open_opportunities
from bench.report import machine, publish, results_dir
from serving.auth import create_key
from serving.persistence import ApiStore

RESULTS = results_dir() / "concurrency.json"
POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
OWN_IDS = 10
SHARED_EVERY = 10


@dataclass
class Tally:
    """What the clients saw: acknowledged values per partner id, failures, reader answers."""

    acked: dict[str, list[str]] = field(default_factory=dict)
    last: dict[str, str] = field(default_factory=dict)  # own ids: the writer's last acknowledged value
    shared: set[str] = field(default_factory=set)
    writes: int = 0
    failed_writes: Counter[str] = field(default_factory=Counter)
    reads: int = 0
    failed_reads: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)


def partner_body(value: str) -> dict[str, Any]:
    return {
        "name": f"Bench partner {value}",
        "partner_type": "services",
        "tier": "gold",
        "regions": ["emea-north"],
        "skills": ["aws cloud migration"],
        "description": value,
        "capacity": 3,
    }


def writer(
    url: str, headers: dict[str, str], w: int, writes: int, start: threading.Barrier, tally: Tally
) -> None:
    start.wait()
    with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
        for i in range(writes):
            shared = i % SHARED_EVERY == 0
            pid = f"BS-{i // SHARED_EVERY}" if shared else f"B{w}-{i % OWN_IDS}"
            value = f"w{w}-i{i}"
            try:
                status = str(client.put(f"/v1/partners/{pid}", json=partner_body(value)).status_code)
            except httpx.HTTPError as exc:
                status = type(exc).__name__
            with tally.lock:
                tally.writes += 1
                if status != "200":
                    tally.failed_writes[status] += 1
                    continue
                tally.acked.setdefault(pid, []).append(value)
                if shared:
                    tally.shared.add(pid)
                else:
                    tally.last[pid] = value


def reader(
    url: str, headers: dict[str, str], bodies: list[dict[str, Any]], stop: threading.Event, tally: Tally
) -> None:
    with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
        i = 0
        while not stop.is_set():
            try:
                status = str(client.post("/v1/recommendations", json=bodies[i % len(bodies)]).status_code)
            except httpx.HTTPError as exc:
                status = type(exc).__name__
            with tally.lock:
                tally.reads += 1
                if status != "200":
                    tally.failed_reads[status] += 1
            i += 1


def lost_changes(url: str, headers: dict[str, str], tally: Tally) -> list[str]:
    """Acknowledged writes that the store does not hold: one line per partner id."""
    lost = []
    with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
        for pid, values in sorted(tally.acked.items()):
            response = client.get(f"/v1/partners/{pid}")
            stored = response.json().get("description") if response.status_code == 200 else None
            expected = set(values) if pid in tally.shared else {tally.last[pid]}
            if stored not in expected:
                lost.append(
                    f"{pid}: stored {stored!r} (HTTP {response.status_code}), acknowledged {values[-1]!r}"
                )
    return lost


@contextmanager
def database(backend: str, home: Path, work: Path) -> Iterator[str]:
    """A fresh store URL: a copy of the home's SQLite store, or a new PostgreSQL database dropped after."""
    if backend == "sqlite":
        path = work / f"store-{uuid.uuid4().hex[:8]}.db"
        with sqlite3.connect(home / "store.db") as source, sqlite3.connect(path) as target:
            source.backup(target)
        yield f"sqlite:///{path}"
        return
    name = f"pm_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run(
    home: Path,
    work: Path,
    backend: str,
    writers: int,
    writes: int,
    readers: int,
    code: Path | None,
    bodies: list[dict[str, Any]],
) -> dict[str, Any]:
    with database(backend, home, work) as url:
        api_store = ApiStore.open(url)  # migrated by the code under test, as the server does at start
        _, key = create_key(api_store, "bench-concurrency", ["read", "write"])
        api_store.engine.dispose()
        headers = {"X-API-Key": key}
        tally = Tally()
        with api_server(home, 1, code, database_url=url) as server:
            start = threading.Barrier(writers)
            stop = threading.Event()
            readers_ = [
                threading.Thread(target=reader, args=(server.url, headers, bodies, stop, tally))
                for _ in range(readers)
            ]
            writers_ = [
                threading.Thread(target=writer, args=(server.url, headers, w, writes, start, tally))
                for w in range(writers)
            ]
            for thread in readers_:
                thread.start()
            started = time.perf_counter()
            for thread in writers_:
                thread.start()
            for thread in writers_:
                thread.join()
            seconds = time.perf_counter() - started
            stop.set()
            for thread in readers_:
                thread.join()
            lost = lost_changes(server.url, headers, tally)
    return {
        "backend": backend,
        "writers": writers,
        "readers": readers,
        "writes": tally.writes,
        "failed_writes": sum(tally.failed_writes.values()),
        "failed_write_statuses": dict(tally.failed_writes),
        "lost_changes": len(lost),
        "lost_examples": lost[:5],
        "reads": tally.reads,
        "failed_reads": sum(tally.failed_reads.values()),
        "failed_read_statuses": dict(tally.failed_reads),
        "seconds": round(seconds, 1),
    }


DELETED = 5  # served partners deleted through the API before the reload and the restart
ADDED = 5  # partners added through the API


def _suggested(client: httpx.Client, bodies: list[dict[str, Any]]) -> set[str]:
    found: set[str] = set()
    for body in bodies:
        for team in client.post("/v1/recommendations", json=body).json().get("teams", []):
            found.update(m["partner_id"] for m in team["members"])
    return found


def _check(client: httpx.Client, bodies: list[dict[str, Any]], deleted: list[str], added: list[str]) -> dict:
    """Partner changes the served model has lost: deleted partners suggested again, added ones not served."""
    suggested = _suggested(client, bodies)
    unserved = [pid for pid in added if not client.get(f"/v1/partners/{pid}").json().get("served")]
    back = sorted(suggested & set(deleted))
    return {"deleted_suggested_again": back, "added_not_served": unserved, "lost": len(back) + len(unserved)}


def durability(home: Path, work: Path, backend: str, code: Path | None, bodies: list[dict[str, Any]]) -> dict:
    """Delete served partners and add new ones through the API, then reload, then restart the server:
    after each, are the changes still served? (Issue 11, defect 1: they were lost on reload and restart.)"""
    with database(backend, home, work) as url:
        api_store = ApiStore.open(url)
        _, key = create_key(api_store, "bench-durability", ["read", "write", "admin"])
        api_store.engine.dispose()

        def serve() -> Server:
            return api_server(home, 1, code, database_url=url)

        added = [f"DUR-{i}" for i in range(ADDED)]
        out: dict[str, Any] = {"backend": backend}
        with (
            serve() as server,
            httpx.Client(base_url=server.url, headers={"X-API-Key": key}, timeout=120) as c,
        ):
            first = [
                m for t in c.post("/v1/recommendations", json=bodies[0]).json()["teams"] for m in t["members"]
            ]
            deleted = list(dict.fromkeys(m["partner_id"] for m in first))[:DELETED]
            names = {m["partner_id"]: m["name"] for m in first}
            for pid in deleted:
                # Synced first, as a PRM would (a PostgreSQL store starts without the home's partners).
                c.put(f"/v1/partners/{pid}", json={**partner_body("durability"), "name": names[pid]})
                c.delete(f"/v1/partners/{pid}")
            for pid in added:
                c.put(f"/v1/partners/{pid}", json=partner_body(pid))
            out["at_once"] = _check(c, bodies, deleted, added)
            out["reload_status"] = c.post("/v1/admin/reload", json={}).status_code
            out["after_reload"] = _check(c, bodies, deleted, added)
        with (
            serve() as server,
            httpx.Client(base_url=server.url, headers={"X-API-Key": key}, timeout=120) as c,
        ):
            out["after_restart"] = _check(c, bodies, deleted, added)
        out["deleted"], out["added"] = deleted, added
        out["lost_changes"] = sum(out[k]["lost"] for k in ("at_once", "after_reload", "after_restart"))
        return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--home", type=Path, required=True, help="a prepared hashing home (see bench/api.py)")
    parser.add_argument("--code", type=Path, default=None, help="run the server from this checkout")
    parser.add_argument("--backend", action="append", choices=["sqlite", "postgresql"])
    parser.add_argument("--writers", type=int, action="append")
    parser.add_argument("--writes", type=int, default=40, help="PUTs per writer")
    parser.add_argument("--readers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    bodies = [api_body(opp) for opp in open_opportunities(args.home, 20)]
    runs = []
    kept = []
    with tempfile.TemporaryDirectory(prefix="pm-bench-concurrency-") as work:
        for backend in args.backend or ["sqlite", "postgresql"]:
            result = durability(args.home, Path(work), backend, args.code, bodies)
            print(result, flush=True)
            kept.append(result)
            for writers in args.writers or [1, 2, 4]:
                result = run(
                    args.home, Path(work), backend, writers, args.writes, args.readers, args.code, bodies
                )
                print(result, flush=True)
                runs.append(result)
    publish(
        {
            "benchmark": "concurrency",
            "machine": machine(),
            "code": str(args.code) if args.code else "working tree",
            "home": str(args.home),
            "writes_per_writer": args.writes,
            "total_failed_writes": sum(r["failed_writes"] for r in runs),
            "total_lost_changes": sum(r["lost_changes"] for r in runs),
            "runs": runs,
            # Partner changes still served after a reload and a restart (defect 1).
            "durability_lost_changes": sum(r["lost_changes"] for r in kept),
            "durability": kept,
        },
        args.out,
    )


if __name__ == "__main__":
    main()
