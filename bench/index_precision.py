"""Benchmark of half-precision exact retrieval (flat16) against float32 (flat) on a prepared home.

For open opportunities: milliseconds per request of `FeatureSnapshot.candidates` (3 roles) and of a whole
recommendation (k=5) with each index kind, the overlap of the retrieved candidates, and the share of
requests whose top-5 teams are identical. Both kinds are built here from the snapshot's own vectors, so
the comparison does not depend on which kind the home was trained with. Same process, same requests,
kinds alternated over several rounds.

Usage: PM_EMBEDDER=hashing python -m bench.index_precision --home /tmp/h100k [--requests 200]
Prints JSON and saves it to bench/results/index-half-precision.json.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.report import home_arguments, machine, publish, results_dir
from core.settings import Settings
from features import schema as s
from features.index import FLAT, FLAT16, RoleIndex, set_search_threads
from features.queries import queries_from_frame
from features.snapshot import FeatureSnapshot
from models.registry import load_champion
from serving.persistence import ApiStore

RESULTS = results_dir() / "index-half-precision.json"
CANDIDATES = 20  # what the recommender asks retrieval for per role (default search budget)
ROUNDS = 3


def with_index_kind(snapshot: FeatureSnapshot, kind: str) -> FeatureSnapshot:
    """The same snapshot with every role index rebuilt as `kind` from the snapshot's own vectors."""
    indexes = {}
    for role, index in snapshot.indexes.items():
        ids = [str(p) for p, alive in zip(index.partner_ids, index.alive, strict=True) if alive]
        indexes[role] = RoleIndex.build(ids, snapshot.vectors[snapshot.catalog.rows(ids)], kind=kind)
    vocabulary = snapshot.vocabulary
    return FeatureSnapshot.fit(
        roles=snapshot.roles,
        embedder=snapshot.embedder,
        partners=snapshot.catalog.partners,
        certifications=snapshot.catalog.certifications,
        vectors=snapshot.vectors,
        indexes=indexes,
        history=snapshot.history,
        associations=vocabulary.associations,
        phrases=vocabulary.phrase_map(),
        conflicts=snapshot.conflicts,
        previous=vocabulary,
    )


def bench_home(home: Path, requests: int) -> dict[str, Any]:
    settings = Settings(home=home, embedder="hashing")
    champion = load_champion(settings).recommender
    frame = ApiStore.open(settings.store_url).store.load_tables().opportunities
    queries = queries_from_frame(frame[frame[s.OUTCOME] == s.OPEN].head(requests))
    kinds = {
        kind: champion.with_snapshot(with_index_kind(champion.snapshot, kind)) for kind in (FLAT, FLAT16)
    }
    # Prepared by each snapshot itself, so the requests carry that snapshot's tag associations.
    prepared_by = {kind: recommender.snapshot.prepare(queries) for kind, recommender in kinds.items()}
    seconds: dict[str, dict[str, list[float]]] = {k: {"candidates": [], "recommend": []} for k in kinds}
    candidates: dict[str, list[list[list[str]]]] = {}
    teams: dict[str, list[list[Any]]] = {}
    for _ in range(ROUNDS):
        for kind, recommender in kinds.items():
            snapshot, roles, prepared = recommender.snapshot, recommender.snapshot.roles, prepared_by[kind]
            started = time.perf_counter()
            candidates[kind] = [[snapshot.candidates(o, r, CANDIDATES) for r in roles] for o in prepared]
            seconds[kind]["candidates"].append(time.perf_counter() - started)
            started = time.perf_counter()
            teams[kind] = [
                [sorted(t.members.items()) for t in recommender.recommend_prepared(o, roles, 5).teams]
                for o in prepared
            ]
            seconds[kind]["recommend"].append(time.perf_counter() - started)
    overlap = [
        len(set(a) & set(b)) / max(len(a), 1)
        for per_role_a, per_role_b in zip(candidates[FLAT], candidates[FLAT16], strict=True)
        for a, b in zip(per_role_a, per_role_b, strict=True)
    ]
    return {
        "home": str(home),
        "partners": len(champion.snapshot.known_partner_ids()),
        "partners_per_role": {role: len(index) for role, index in champion.snapshot.indexes.items()},
        "requests": len(queries),
        "ms_per_request_best_of_rounds": {
            kind: {stage: round(1000 * min(v) / len(queries), 2) for stage, v in stages.items()}
            for kind, stages in seconds.items()
        },
        "candidate_overlap_mean": float(np.mean(overlap)),
        "candidate_overlap_min": float(np.min(overlap)),
        "identical_top5_share": float(
            np.mean([a == b for a, b in zip(teams[FLAT], teams[FLAT16], strict=True)])
        ),
    }


def main() -> None:
    args = home_arguments(__doc__, requests=200, out=RESULTS)
    set_search_threads(1)
    report = {
        "machine": machine(),
        "homes": [bench_home(home, args.requests) for home in args.home],
    }
    publish(report, args.out)


if __name__ == "__main__":
    main()
