"""Scale curve of the recommendation request at 10k, 100k and 1M partners (issue 16, serving 1M partners).

Per size, on a home prepared by bench/api.py's `prepare` (generate + ingest + train, hashing embedder; the
opportunity count is kept modest and equal at every size, so only the partners grow):
- request latency p50/p99: POST /v1/recommendations (k=5, 3 roles, open opportunities of the home) to a
  real one-worker server, one connection (bench/api.py's server and timing code);
- cold start: process start to /health/ready answering 200, one worker, the bundle already in the home's
  cache (a restart); the first start, which also copies the bundle out of the registry, is reported apart;
- memory per worker with 2 workers: RSS, PSS (mapped pages shared by both count half in each) and private
  memory of each worker process from /proc/<pid>/smaps_rollup, after both answered requests; beside it the
  size of the files the workers map (approximate indexes and partner vectors), and the baseline: PSS and
  private memory of two processes holding only those indexes and vectors, mapped and read into memory;
- partner sync: seconds to build the snapshot a partner PUT and DELETE swap in (in process);
- recall@100 of the approximate index (HNSW, as `auto` builds it above the exact threshold) against exact
  search on the same vectors, per role, with the search ms of each: the served index when the role is
  approximate, else one built here from the same vectors;
- the prior's shortlist against scoring every partner (bench/prior_retrieval.py): recall@n and ms.
Exact search, the exact prior and indexes read into memory are the baselines, measured in the same run.
Targets at 1M partners: p99 <= 100 ms, recall@100 >= 0.95, cold start <= 30 s.

Each size's result replaces that size in the report, so sizes can be measured in separate runs.
Usage: .venv/bin/python -m bench.scale_curve [--sizes 10000 100000 1000000] [--quick] [--work DIR]
       [--embedder minilm-bf16]
--quick: 10k partners only, fewer requests (a few minutes once the home is prepared).
Prints JSON and saves it to bench/results/scale-curve.json (--quick: scale-curve-quick.json).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import faiss
import httpx
import numpy as np

from bench import prior_retrieval
from bench.api import (
    HASHING,
    Target,
    api_body,
    api_server,
    interleaved_latency,
    open_opportunities,
    prepare,
)
from bench.report import machine, publish, results_dir
from core.settings import Settings
from features import schema as s
from features.index import EXACT_KINDS, EXACT_MAX, HNSW, RoleIndex, set_search_threads
from features.queries import queries_from_frame
from features.snapshot import FeatureSnapshot
from models.registry import load_champion
from serving.auth import create_key
from serving.persistence import ApiStore

SIZES = (10_000, 100_000, 1_000_000)
# Enough deals for a trained model and deal history at every size; generating 1M partners with the
# default (2 x partners) would mean 2M opportunities, which the curve does not need.
OPPORTUNITIES = 50_000
RECALL_K = 100
TARGETS = {"p99_ms": 100.0, "recall_at_100": 0.95, "cold_start_seconds": 30.0}
MEMORY_REQUESTS = 60  # requests on fresh connections, so that both workers answer some
FULL = {"requests": 400, "recall_queries": 200, "prior_requests": 100}
QUICK = {"requests": 150, "recall_queries": 100, "prior_requests": 50}


def smaps(pid: int) -> dict[str, int]:
    """The kB counters of /proc/<pid>/smaps_rollup."""
    out = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2] == "kB":
            out[parts[0].rstrip(":")] = int(parts[1])
    return out


def worker_pids(parent: int) -> list[int]:
    """uvicorn's worker processes under `parent` (spawned by multiprocessing, not its resource tracker)."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            command = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ")
        except (OSError, IndexError, ValueError):
            continue
        if ppid == parent and b"spawn_main" in command:
            pids.append(int(stat.parent.name))
    return sorted(pids)


def _loaded(pid: int) -> bool:
    """Whether a worker has loaded its model (it maps the snapshot's partner vectors then)."""
    try:
        return "vectors.npy" in Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return False


def memory_per_worker(home: Path, key: str, bodies: list[dict[str, Any]], embedder: str) -> dict[str, Any]:
    """RSS / PSS / private MB of each of 2 workers once both loaded the model and answered requests."""
    with api_server(home, 2, embedder=embedder) as server:
        started = time.perf_counter() - server.start_seconds
        deadline = time.perf_counter() + 600
        while len(pids := worker_pids(server.proc.pid)) < 2 or not all(_loaded(p) for p in pids):
            if time.perf_counter() > deadline:
                raise RuntimeError("two workers did not load their model within 10 minutes")
            time.sleep(0.5)
        both_loaded = time.perf_counter() - started
        for i in range(MEMORY_REQUESTS):  # a new connection each: the workers share the listening socket
            response = httpx.post(
                f"{server.url}/v1/recommendations",
                json=bodies[i % len(bodies)],
                headers={"X-API-Key": key},
                timeout=120,
            )
            response.raise_for_status()
        workers = []
        for pid in pids:
            m = smaps(pid)
            workers.append(
                {
                    "rss_mb": round(m["Rss"] / 1024, 1),
                    "pss_mb": round(m["Pss"] / 1024, 1),
                    "private_mb": round((m["Private_Clean"] + m["Private_Dirty"]) / 1024, 1),
                    "shared_mb": round((m["Shared_Clean"] + m["Shared_Dirty"]) / 1024, 1),
                    "anonymous_mb": round(m["Anonymous"] / 1024, 1),
                }
            )
    return {
        "workers": workers,
        "first_worker_ready_seconds": round(server.start_seconds, 1),
        "both_workers_loaded_seconds": round(both_loaded, 1),
    }


# A process holding the role indexes and partner vectors of a feature build, as a worker does (`mapped`),
# or read into its own memory as before they were mapped; it searches each index (touching its pages),
# says "ready" and waits to be measured.
HOLDER = """
import sys, time
import faiss, numpy as np
from pathlib import Path
from features.index import RoleIndex
folder, mapped = Path(sys.argv[1]), sys.argv[2] == "mapped"
vectors = np.load(folder / "vectors.npy", mmap_mode="r" if mapped else None)
indexes = []
for path in sorted(folder.glob("index-*.npz")):
    index = RoleIndex.load(path)
    if not mapped and index.mapped:
        index = RoleIndex(faiss.read_index(str(path.with_suffix(".faiss"))), index.partner_ids, index.kind,
                          index.dim, index.alive)
    indexes.append(index)
queries = np.ascontiguousarray(vectors[:: max(1, len(vectors) // 200)][:200])
for index in indexes:
    index.search(queries, 100)
float(np.asarray(vectors[:: 64]).sum())  # touches every vector page, as feature requests eventually do
print("ready", flush=True)
time.sleep(3600)
"""


def index_memory(home: Path) -> dict[str, Any]:
    """PSS and private MB of two processes holding the served build's indexes and vectors, mapped (shared
    pages) and read into memory (the baseline, as before mapping), measured in the same run."""
    features = _newest_bundle(home) / "artifacts" / "features"
    out: dict[str, Any] = {}
    for mode in ("mapped", "in_memory"):
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", HOLDER, str(features), "mapped" if mode == "mapped" else "copied"],
                stdout=subprocess.PIPE,
                text=True,
                cwd=Path(__file__).resolve().parents[1],
            )
            for _ in range(2)
        ]
        try:
            for proc in procs:
                assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
            counters = [smaps(proc.pid) for proc in procs]
        finally:
            for proc in procs:
                proc.kill()
                proc.wait()
        out[mode] = [
            {
                "pss_mb": round(m["Pss"] / 1024, 1),
                "private_mb": round((m["Private_Clean"] + m["Private_Dirty"]) / 1024, 1),
                "shared_mb": round((m["Shared_Clean"] + m["Shared_Dirty"]) / 1024, 1),
            }
            for m in counters
        ]
    return out


def _newest_bundle(home: Path) -> Path:
    return max(Settings(home=home).bundle_cache_dir.glob("v*"), key=lambda p: p.stat().st_mtime)


def mapped_files(home: Path) -> dict[str, float]:
    """MB of the files a worker maps, in the newest cached bundle (approximate indexes, partner vectors)."""
    features = _newest_bundle(home) / "artifacts" / "features"
    files = [*features.glob("*.faiss"), features / "vectors.npy"]
    return {f.name: round(f.stat().st_size / 2**20, 1) for f in files if f.is_file()}


def serving(home: Path, requests: int, embedder: str) -> dict[str, Any]:
    """Latency and cold start on a real server, then memory per worker with 2 workers."""
    opportunities = open_opportunities(home, 200)
    store = ApiStore.open(Settings(home=home).store_url)
    _, key = create_key(store, "scale-curve", ["read"])
    store.engine.dispose()
    bodies = [api_body(o) for o in opportunities]
    # The first start copies the bundle out of the registry into the home's cache; later starts read it.
    with api_server(home, 1, embedder=embedder) as first:
        latency = interleaved_latency(
            [Target("api", first.url, "/v1/recommendations", bodies, {"X-API-Key": key})], requests
        )["api"]
    starts = []
    for _ in range(2):
        with api_server(home, 1, embedder=embedder) as again:
            starts.append(again.start_seconds)
    return {
        **latency,
        "first_start_seconds": round(first.start_seconds, 1),
        "cold_start_seconds": round(min(starts), 1),
        "cold_start_runs_seconds": [round(x, 1) for x in starts],
        "memory_two_workers": memory_per_worker(home, key, bodies, embedder),
        "mapped_files_mb": mapped_files(home),
        "index_memory_two_processes": index_memory(home),
    }


def _ms(fn: Any, queries: np.ndarray) -> tuple[list[Any], list[float]]:
    out, times = [], []
    for q in queries:
        started = time.perf_counter()
        out.append(fn(q[None, :]))
        times.append(1000 * (time.perf_counter() - started))
    return out, times


def _percentiles(times: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(float(np.percentile(times, 50)), 2),
        "p99_ms": round(float(np.percentile(times, 99)), 2),
    }


def index_recall(home: Path, queries_n: int, embedder: str) -> dict[str, Any]:
    """Per role: recall@100 of the approximate index vs exact search on the same vectors, and their ms."""
    settings = Settings(home=home, embedder=embedder)
    snapshot = load_champion(settings).recommender.snapshot
    store = ApiStore.open(settings.store_url)
    frame = store.store.load_tables().opportunities
    store.engine.dispose()
    frame = frame[frame[s.OUTCOME] == s.OPEN].head(queries_n)
    queries = np.vstack([o.vector for o in snapshot.prepare(queries_from_frame(frame))]).astype(np.float32)
    roles: dict[str, Any] = {}
    for role, served in snapshot.indexes.items():
        ids = served.partner_ids[served.alive]
        vectors = np.ascontiguousarray(snapshot.vectors[snapshot.catalog.rows([str(p) for p in ids])])
        k = min(RECALL_K, len(ids))
        exact_hits, exact_ms = _ms(
            lambda q, v=vectors, k=k: faiss.knn(q, v, k, metric=faiss.METRIC_INNER_PRODUCT)[1][0], queries
        )
        if served.kind in EXACT_KINDS:
            started = time.perf_counter()
            approximate = RoleIndex.build([str(p) for p in ids], vectors, kind=HNSW)
            built = round(time.perf_counter() - started, 1)
        else:
            approximate, built = served, None
        found, approx_ms = _ms(lambda q, a=approximate, k=k: [p for p, _ in a.search(q, k)[0]], queries)
        recall = [
            len(set(hits) & {str(ids[i]) for i in truth}) / k
            for hits, truth in zip(found, exact_hits, strict=True)
        ]
        roles[role] = {
            "partners": len(ids),
            "served_kind": served.kind,
            "recall_at_100": round(float(np.mean(recall)), 4),
            "recall_at_100_min": round(float(np.min(recall)), 4),
            "exact_search": _percentiles(exact_ms),
            "approximate_search": _percentiles(approx_ms),
            "approximate_built_here_seconds": built,
        }
        del approximate
    return {
        "queries": len(queries),
        "k": RECALL_K,
        "roles": roles,
        "partner_sync_seconds": partner_sync(snapshot),
    }


def partner_sync(snapshot: FeatureSnapshot) -> dict[str, Any]:
    """Seconds to build the snapshot a partner PUT and a DELETE swap in (what each worker does per change;
    done in process here, so that the home's store keeps no change made after its model's snapshot)."""
    role = snapshot.roles[0]
    partner = {
        s.PARTNER_ID: "SCALE-CURVE-NEW",
        s.NAME: "Scale Curve Partner",
        s.PARTNER_TYPE: role,
        s.SKILLS: ["aws cloud migration"],
        s.DESCRIPTION: "A partner added through the API",
    }
    started = time.perf_counter()
    added = snapshot.with_partners([partner])
    put = time.perf_counter() - started
    started = time.perf_counter()
    removed = added.without_partner("SCALE-CURVE-NEW")
    delete = time.perf_counter() - started
    return {
        "put_seconds": round(put, 2),
        "delete_seconds": round(delete, 2),
        "index_kind": added.indexes[role].kind,
        "indexed_after_put": "SCALE-CURVE-NEW" in added.indexes[role],
        "indexed_after_delete": "SCALE-CURVE-NEW" in removed.indexes[role],
    }


def measure(size: int, home: Path, profile: dict[str, int], embedder: str) -> dict[str, Any]:
    store = ApiStore.open(Settings(home=home).store_url)
    partners = int(store.store.counts()[s.PARTNERS])
    store.engine.dispose()
    result: dict[str, Any] = {
        "size": size,
        "embedder": embedder,
        "home": str(home),
        "partners": partners,
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "load_average_1m_before": round(os.getloadavg()[0], 2),
    }
    result["serving"] = serving(home, profile["requests"], embedder)
    print(json.dumps(result["serving"]), flush=True)
    result["index"] = index_recall(home, profile["recall_queries"], embedder)
    gc.collect()
    print(json.dumps(result["index"]), flush=True)
    result["prior_shortlist"] = prior_retrieval.bench_home(home, profile["prior_requests"], embedder)
    result["load_average_1m_after"] = round(os.getloadavg()[0], 2)
    return result


def _entry_key(entry: dict[str, Any]) -> tuple[int, str]:
    """Entries before the embedder was recorded were all measured with the hashing embedder."""
    return int(entry["size"]), str(entry.get("embedder", HASHING))


def verdict(size: dict[str, Any]) -> dict[str, bool]:
    """Each target against this size's measures (the weakest role's recall)."""
    recall = min(r["recall_at_100"] for r in size["index"]["roles"].values())
    return {
        "p99_ms": size["serving"]["p99_ms"] <= TARGETS["p99_ms"],
        "recall_at_100": recall >= TARGETS["recall_at_100"],
        "cold_start_seconds": size["serving"]["cold_start_seconds"] <= TARGETS["cold_start_seconds"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES), help="partner counts")
    parser.add_argument("--quick", action="store_true", help="10k partners only, fewer requests")
    parser.add_argument("--work", type=Path, default=Path("/tmp/pm-scale-curve"), help="where homes go")
    parser.add_argument("--opportunities", type=int, default=OPPORTUNITIES, help="opportunities per home")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument(
        "--embedder",
        default=HASHING,
        help="embedder of the homes and their servers (e.g. minilm-bf16: real MiniLM vectors, a long first "
        "build at 1M); each (size, embedder) is its own entry of the report",
    )
    args = parser.parse_args()
    sizes = [10_000] if args.quick else args.sizes
    out = args.out or results_dir() / ("scale-curve-quick.json" if args.quick else "scale-curve.json")
    set_search_threads(1)  # as each server worker does
    report: dict[str, Any] = json.loads(out.read_text()) if out.is_file() else {}
    entries = {_entry_key(entry): entry for entry in report.get("sizes", [])}
    for n in sizes:
        home = prepare(args.work, n, args.opportunities, args.embedder)
        entry = measure(n, home, QUICK if args.quick else FULL, args.embedder)
        entry["meets_targets"] = verdict(entry)
        entries[_entry_key(entry)] = entry
    report = {
        "machine": machine(),
        "note": "2 cores shared with other jobs: timings were taken under contention (see load averages)",
        "embedders": {
            HASHING: "a fast stand-in for all-MiniLM-L6-v2 (256 dimensions); the serving path is otherwise "
            "identical",
            "minilm-bf16": "all-MiniLM-L6-v2 (384 dimensions), Linear layers in bfloat16, for partner "
            "profiles and requests alike",
        },
        "request": "POST /v1/recommendations, k=5, 3 roles, open opportunities of the home, one connection",
        "index_exact_max": EXACT_MAX,
        "targets_at_1m": TARGETS,
        "sizes": [entries[key] for key in sorted(entries)],
    }
    publish(report, out)


if __name__ == "__main__":
    main()
