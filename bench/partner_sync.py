"""Partner writes in process on a served snapshot: a PUT of a new partner, its DELETE, a PUT changing an
existing partner's description, chained as a server worker applies them (each on the snapshot the last
one returned). The first write of a worker also builds the role indexes' id maps, so the median is read.

Usage: .venv/bin/python -m bench.partner_sync --home H [--writes 5] [--label new]
The baseline, another checkout's code on the same home (features from it, this bench script from here):
       cd /tmp/old-checkout && PYTHONPATH=/work/main \
       /work/main/.venv/bin/python -m bench.partner_sync --home H --label previous_code
Each run adds its label's entry to bench/results/partner-sync.json (the baseline: another checkout on the
same home, run right before or after).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.report import machine, publish, results_dir
from core.settings import Settings
from features import schema as s
from features.index import set_search_threads
from models.registry import load_champion

RESULTS = results_dir() / "partner-sync.json"


def _timed(results: dict[str, list[float]], name: str, write: Any) -> Any:
    started = time.perf_counter()
    out = write()
    results.setdefault(name, []).append(time.perf_counter() - started)
    return out


def measure(home: Path, writes: int) -> dict[str, Any]:
    set_search_threads(1)  # as each server worker does
    started = time.perf_counter()
    snapshot = load_champion(Settings(home=home, embedder="hashing")).recommender.snapshot
    loaded = time.perf_counter() - started
    role = snapshot.roles[0]
    existing = [str(p) for p in snapshot.indexes[role].partner_ids[:writes]]
    seconds: dict[str, list[float]] = {}
    for i in range(writes):
        new = {
            s.PARTNER_ID: f"SYNC-NEW-{i}",
            s.NAME: "Sync Partner",
            s.PARTNER_TYPE: role,
            s.SKILLS: ["aws cloud migration"],
            s.DESCRIPTION: "A partner added through the API",
        }
        snapshot = _timed(seconds, "put_new", lambda n=new, snap=snapshot: snap.with_partners([n]))
        snapshot = _timed(seconds, "delete", lambda i=i, snap=snapshot: snap.without_partner(f"SYNC-NEW-{i}"))
        row = snapshot.partner(existing[i])
        changed = {
            c: row.get(c) for c in (s.PARTNER_ID, s.NAME, s.PARTNER_TYPE, s.SKILLS, s.REGIONS, s.INDUSTRIES)
        }
        changed[s.DESCRIPTION] = f"{row.get(s.DESCRIPTION)} Now also runs managed detection and response."
        snapshot = _timed(
            seconds, "put_changed_description", lambda c=changed, snap=snapshot: snap.with_partners([c])
        )
    return {
        "partners": len(snapshot.catalog),
        "load_seconds": round(loaded, 1),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "load_average_1m": round(os.getloadavg()[0], 2),
        **{
            name: {"median_s": round(statistics.median(v), 2), "all_s": [round(x, 2) for x in v]}
            for name, v in seconds.items()
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, required=True, help="a trained hashing home (bench.api prepare)")
    parser.add_argument("--writes", type=int, default=5, help="rounds of PUT new, DELETE, PUT changed")
    parser.add_argument("--label", default="new", help="this run's entry, e.g. new or previous_code")
    args = parser.parse_args()
    report: dict[str, Any] = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    runs = report.get("runs", {})
    runs[args.label] = {"home": str(args.home), **measure(args.home, args.writes)}
    print(json.dumps(runs[args.label]), flush=True)
    publish({"benchmark": "partner sync in process", "machine": machine(), "runs": runs}, RESULTS)


if __name__ == "__main__":
    main()
