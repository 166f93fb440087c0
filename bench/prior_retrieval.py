"""Benchmark of the retrieval prior: exact (every partner of a role scored) vs the phrase-posting shortlist.

For open opportunities of a prepared home: recall@n of the shortlist's top-n prior candidates against the
exact top-n, and milliseconds per request (3 roles) of each, same process, same requests.

Usage: PM_EMBEDDER=hashing python -m bench.prior_retrieval --home /tmp/h100k [--home ...] [--requests 100]
Prints JSON and saves it to bench/results/prior-retrieval.json.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

import features.prior as prior_module
from bench.report import home_arguments, machine, publish, results_dir
from core.settings import Settings
from features import schema as s
from features.index import set_search_threads
from features.queries import queries_from_frame
from models.registry import load_champion
from serving.persistence import ApiStore

RESULTS = results_dir() / "prior-retrieval.json"


def bench_home(home: Path, requests: int, embedder: str = "hashing") -> dict[str, Any]:
    settings = Settings(home=home, embedder=embedder)
    recommender = load_champion(settings).recommender
    snapshot = recommender.snapshot
    search = recommender.config
    # What the recommender asks the prior for (models/candidates.py `_prior_kept`).
    n = 3 * min(search.prior_candidates_per_role, search.max_candidates_per_role)
    frame = ApiStore.open(settings.store_url).store.load_tables().opportunities
    frame = frame[frame[s.OUTCOME] == s.OPEN].head(requests)
    prepared = snapshot.prepare(queries_from_frame(frame))
    exact_max = prior_module.PRIOR_EXACT_MAX
    results: dict[str, dict[tuple[int, str], list[str]]] = {}
    seconds: dict[str, float] = {}
    try:
        for mode, limit in (("exact", 10**12), ("shortlist", 0)):
            prior_module.PRIOR_EXACT_MAX = limit  # type: ignore[misc]
            for opp in prepared[:5]:  # warm caches (coverage masks)
                for role in snapshot.roles:
                    snapshot.prior_candidates(opp, role, n)
            out: dict[tuple[int, str], list[str]] = {}
            started = time.perf_counter()
            for i, opp in enumerate(prepared):
                for role in snapshot.roles:
                    out[(i, role)] = snapshot.prior_candidates(opp, role, n)
            seconds[mode] = time.perf_counter() - started
            results[mode] = out
    finally:
        prior_module.PRIOR_EXACT_MAX = exact_max  # type: ignore[misc]
    recalls = [
        len(set(results["shortlist"][key]) & set(results["exact"][key])) / max(len(results["exact"][key]), 1)
        for key in results["exact"]
    ]
    role_sizes = {role: len(snapshot.indexes[role]) for role in snapshot.roles}
    return {
        "home": str(home),
        "partners": len(snapshot.known_partner_ids()),
        "active_partners_per_role": role_sizes,
        "requests": len(prepared),
        "n": n,
        "recall_at_n_mean": float(np.mean(recalls)),
        "recall_at_n_min": float(np.min(recalls)),
        "exact_ms_per_request": 1000 * seconds["exact"] / len(prepared),
        "shortlist_ms_per_request": 1000 * seconds["shortlist"] / len(prepared),
        "used_by_default": "shortlist" if max(role_sizes.values()) > exact_max else "exact",
    }


def main() -> None:
    args = home_arguments(__doc__, requests=100, out=RESULTS)
    set_search_threads(1)
    report = {
        "machine": machine(),
        "prior_exact_max": prior_module.PRIOR_EXACT_MAX,
        "posting_phrases": prior_module.PRIOR_POSTING_PHRASES,
        "homes": [bench_home(home, args.requests) for home in args.home],
    }
    publish(report, args.out)


if __name__ == "__main__":
    main()
