"""Partner write latency on a real server: `PUT /v1/partners/{id}` until the change is served, per home size.

Each home is served from a copy of its store (the home stays as it was), by this checkout and, with
`--previous-code DIR`, by that checkout too, the PUTs alternating between the two so the machine's noise
hits both alike. Every PUT changes the description of one active services partner, and a write is only
acknowledged once the served model holds it (the server re-embeds and re-indexes before answering).

Usage: .venv/bin/python -m bench.partner_writes --home H [--home H2] [--previous-code /tmp/old] [--writes 20]
Prints a JSON summary and saves it to bench/results/partner-writes.json; the report it replaces is kept in
it as `earlier_run` (that one's own `earlier_run` dropped), so a new run does not lose the last numbers.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from bench.api import api_server
from bench.report import machine, publish, results_dir
from core.settings import Settings
from features import schema as s
from serving.auth import create_key
from serving.persistence import ApiStore

RESULTS = results_dir() / "partner-writes.json"


def _partner(store: ApiStore) -> dict[str, Any]:
    """An active services partner of the store, as a PUT body."""
    partners = store.store.load_tables().partners
    row = partners[(partners[s.PARTNER_TYPE] == s.SERVICES) & (partners[s.STATUS] == "active")].iloc[0]
    body = {
        c: row[c] for c in (s.NAME, s.PARTNER_TYPE, s.TIER, s.REGIONS, s.INDUSTRIES, s.SKILLS, s.DESCRIPTION)
    }
    body = {k: (list(v) if isinstance(v, list | tuple | np.ndarray) else v) for k, v in body.items()}
    return {"partner_id": str(row[s.PARTNER_ID]), "body": body}


def bench_home(home: Path, writes: int, previous: Path | None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="pm-bench-writes-") as work, ExitStack() as stack:
        codes: dict[str, Path | None] = {"api": None}
        if previous is not None:
            codes["previous_code"] = previous
        targets: dict[str, tuple[httpx.Client, dict[str, Any], list[float]]] = {}
        for name, code in codes.items():
            copy = Path(work) / f"{name}.db"
            shutil.copyfile(home / "store.db", copy)
            url = f"sqlite:///{copy}"
            store = ApiStore.open(url)
            _, key = create_key(store, "bench-writes", ["read", "write"])
            partner = _partner(store)
            store.engine.dispose()
            server = stack.enter_context(api_server(home, 1, code, database_url=url))
            client = stack.enter_context(
                httpx.Client(base_url=server.url, headers={"X-API-Key": key}, timeout=300)
            )
            targets[name] = (client, partner, [])
        for i in range(writes + 2):
            for client, partner, times in targets.values():
                body = {**partner["body"], s.DESCRIPTION: f"{partner['body'][s.DESCRIPTION]} (revision {i})"}
                started = time.perf_counter()
                client.put(f"/v1/partners/{partner['partner_id']}", json=body).raise_for_status()
                if i >= 2:  # the first writes fill caches
                    times.append((time.perf_counter() - started) * 1000)
        return {
            "home": str(home),
            "partners": _partner_count(home),
            **{
                name: {
                    "writes": writes,
                    "p50_ms": round(float(np.percentile(times, 50)), 1),
                    "p90_ms": round(float(np.percentile(times, 90)), 1),
                }
                for name, (_, _, times) in targets.items()
            },
        }


def _partner_count(home: Path) -> int:
    store = ApiStore.open(Settings(home=home).store_url)
    try:
        return int(store.store.counts()[s.PARTNERS])
    finally:
        store.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", action="append", type=Path, required=True)
    parser.add_argument("--previous-code", type=Path, default=None)
    parser.add_argument("--writes", type=int, default=20)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    homes = [bench_home(home, args.writes, args.previous_code) for home in args.home]
    publish(
        {
            "benchmark": "partner writes (PUT until served)",
            "machine": machine(),
            "previous_code": str(args.previous_code) if args.previous_code else None,
            "homes": homes,
            "earlier_run": _earlier_run(args.out),
        },
        args.out,
    )


def _earlier_run(out: Path) -> dict[str, Any] | None:
    """The report `out` holds now, without its own earlier run (one generation back is enough)."""
    if not out.is_file():
        return None
    earlier = json.loads(out.read_text())
    earlier.pop("earlier_run", None)
    return dict(earlier)


if __name__ == "__main__":
    main()
