"""Benchmark of the feature pipeline: encoder throughput, index recall/latency, point-in-time stats rows/s.

Usage: .venv/bin/python bench/feature_pipeline.py [--sections embed,index,history]
       [--out bench/results/features.json]
Each section replaces its own key in the JSON file, so sections can be re-run one at a time.
Profile embeddings for the index section are cached in a SQLite file under --cache (by text hash).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import time
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import create_engine

from bench.report import results_dir
from features import schema as s
from features.catalog import clean_certifications, clean_partners
from features.embedding_cache import CachedEmbedder
from features.embeddings import Embedder, SentenceTransformerEmbedder
from features.history import PartnerHistory
from features.index import FLAT, HNSW, RoleIndex, set_search_threads
from features.onnx_embedder import FP32, INT8, OnnxMiniLMEmbedder
from features.profiles import partner_profile_texts
from features.tables import metadata
from synthetic import generate_ecosystem

RESULTS = results_dir() / "features.json"
log = logging.getLogger("bench.feature_pipeline")


def _profile_texts(n_partners: int, n_opportunities: int, seed: int) -> tuple[list[str], list[str]]:
    eco = generate_ecosystem(n_partners, n_opportunities, seed=seed)
    profiles = partner_profile_texts(
        clean_partners(eco.tables.partners), clean_certifications(eco.tables.certifications)
    ).tolist()
    opps = eco.tables.opportunities
    queries = [
        f"{d} Required skills: {', '.join(k)}." if len(k) else str(d)
        for d, k in zip(opps[s.DESCRIPTION], opps[s.REQUIRED_SKILLS], strict=True)
    ]
    return profiles, queries


def _rate(embedder: Embedder, texts: list[str]) -> tuple[float, np.ndarray]:
    embedder.encode(texts[:32])  # load and warm up outside the timing
    started = time.perf_counter()
    vectors = embedder.encode(texts)
    return len(texts) / (time.perf_counter() - started), vectors


def _recall(reference: Sequence[set[Any]], found: Sequence[set[Any]]) -> float:
    return float(np.mean([len(a & b) / max(len(a), 1) for a, b in zip(reference, found, strict=True)]))


def _top_sets(corpus: np.ndarray, queries: np.ndarray, k: int) -> list[set[int]]:
    scores = queries @ corpus.T
    top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    return [set(row.tolist()) for row in top]


def bench_embed(args: argparse.Namespace, cache: Path) -> dict[str, Any]:
    import torch

    profiles, queries = _profile_texts(args.embed_texts * 2, args.queries, args.seed)
    texts, query_texts = profiles[: args.embed_texts], queries[: args.queries]
    out: dict[str, Any] = {
        "texts": len(texts),
        "mean_chars": round(float(np.mean([len(t) for t in texts])), 1),
        "texts_per_second": {},
    }
    reference: dict[str, np.ndarray] = {}
    for threads in (1, 2):
        torch.set_num_threads(threads)
        plain = SentenceTransformerEmbedder()
        candidates: dict[str, Embedder] = {
            "sentence_transformers_encode_fp32": plain,
            "onnx_fp32": OnnxMiniLMEmbedder(cache, FP32, threads=threads),
            "onnx_int8": OnnxMiniLMEmbedder(cache, INT8, threads=threads),
        }
        rates = {}
        for name, embedder in candidates.items():
            rate, vectors = _rate(embedder, texts)
            rates[name] = round(rate, 1)
            if threads == 1:
                reference[name] = vectors
            log.info("threads=%d %s: %.1f texts/s", threads, name, rate)
        base = rates["sentence_transformers_encode_fp32"]
        out["texts_per_second"][f"threads_{threads}"] = rates
        out[f"speedup_vs_plain_encode_threads_{threads}"] = {k: round(v / base, 2) for k, v in rates.items()}
    # Retrieval agreement: each query's top-50 among the profiles, int8/onnx vs fp32 torch.
    plain_q = SentenceTransformerEmbedder().encode(query_texts)
    fp32_top = _top_sets(reference["sentence_transformers_encode_fp32"], plain_q, 50)
    agreement = {}
    for name, precision in (("onnx_fp32", FP32), ("onnx_int8", INT8)):
        q = OnnxMiniLMEmbedder(cache, precision).encode(query_texts)
        agreement[name] = {
            "recall_at_50_vs_fp32": round(_recall(fp32_top, _top_sets(reference[name], q, 50)), 4),
            "min_cosine_to_fp32": round(
                float((reference[name] * reference["sentence_transformers_encode_fp32"]).sum(1).min()), 4
            ),
        }
    out["retrieval_vs_fp32"] = {"queries": len(query_texts), "corpus": len(texts), **agreement}
    int8 = agreement["onnx_int8"]
    fast_enough = out["speedup_vs_plain_encode_threads_1"]["onnx_int8"] >= 1.5
    same_ranking = int8["recall_at_50_vs_fp32"] >= 0.98
    out["chosen"] = "onnx_int8 (minilm-int8)" if fast_enough and same_ranking else "torch fp32 (minilm)"
    return out


def _latency(index: RoleIndex, queries: np.ndarray, k: int) -> dict[str, float]:
    times = []
    for q in queries:
        started = time.perf_counter()
        index.search(q, k)
        times.append((time.perf_counter() - started) * 1000)
    return {
        "p50_ms": round(float(np.percentile(times, 50)), 3),
        "p99_ms": round(float(np.percentile(times, 99)), 3),
    }


def bench_index(args: argparse.Namespace, cache: Path) -> dict[str, Any]:
    set_search_threads(1)
    profiles, queries = _profile_texts(args.real_profiles, args.queries, args.seed + 1)
    store = create_engine(f"sqlite:///{cache / 'bench-embeddings.db'}")
    metadata.create_all(store)
    embedder = CachedEmbedder(OnnxMiniLMEmbedder(cache, INT8, threads=2), store)
    started = time.perf_counter()
    real = np.concatenate([embedder.encode(profiles[i : i + 1000]) for i in range(0, len(profiles), 1000)])
    query_vectors = embedder.encode(queries[: args.queries])
    log.info("embedded %d real profiles in %.0f s", len(real), time.perf_counter() - started)
    rng = np.random.default_rng(args.seed)
    out: dict[str, Any] = {
        "encoder": embedder.model_id,
        "real_profiles_embedded": len(real),
        "queries": len(query_vectors),
        "hnsw": {"M": 32, "efConstruction": 80},
        "sizes": {},
    }
    for size in (10_000, 100_000):
        copies = int(np.ceil(size / len(real)))
        # Beyond the real sample: noisy copies of real vectors (N(0, sigma) per dimension, renormalised).
        noise = rng.normal(0.0, args.noise, size=(copies * len(real), real.shape[1])).astype(np.float32)
        noise[: len(real)] = 0.0
        vectors = np.tile(real, (copies, 1)) + noise
        vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True))[:size].astype(np.float32)
        ids = [f"P{i}" for i in range(size)]
        exact = RoleIndex.build(ids, vectors, kind=FLAT)
        truth = [{pid for pid, _ in hits} for hits in exact.search(query_vectors, 100)]
        started = time.perf_counter()
        set_search_threads(2)
        hnsw = RoleIndex.build(ids, vectors, kind=HNSW)
        set_search_threads(1)
        build_s = time.perf_counter() - started
        result: dict[str, Any] = {
            "vectors": size,
            "noisy_copies": size > len(real),
            "exact": _latency(exact, query_vectors, 100),
            "hnsw_build_seconds": round(build_s, 1),
            "hnsw_by_ef_search": {},
        }
        for ef in (128, 256, 512, 1024, 2048):
            hnsw.ef_search = ef
            found = [{pid for pid, _ in hits} for hits in hnsw.search(query_vectors, 100)]
            result["hnsw_by_ef_search"][str(ef)] = {
                "recall_at_100": round(_recall(truth, found), 4),
                **_latency(hnsw, query_vectors, 100),
            }
            log.info("size %d ef %d: %s", size, ef, result["hnsw_by_ef_search"][str(ef)])
        out["sizes"][str(size)] = result
    return out


def bench_history(args: argparse.Namespace) -> dict[str, Any]:
    eco = generate_ecosystem(args.history_partners, args.history_opportunities, seed=args.seed)
    tables = eco.tables
    rows = len(tables.deal_partners)
    started = time.perf_counter()
    history = PartnerHistory.build(tables)
    build_s = time.perf_counter() - started
    partner_ids = tables.partners[s.PARTNER_ID].tolist()
    started = time.perf_counter()
    days = pd.date_range(date(2023, 1, 1), periods=args.stats_days, freq="7D")
    for day in days:
        history.stats(partner_ids, day.date(), industry="retail", region="emea")
    stats_s = time.perf_counter() - started
    return {
        "partners": len(tables.partners),
        "opportunities": len(tables.opportunities),
        "deal_partner_rows": rows,
        "build_seconds": round(build_s, 2),
        "build_rows_per_second": round(rows / build_s),
        "stats_calls": len(days),
        "stats_partners_per_call": len(partner_ids),
        "stats_seconds_per_call": round(stats_s / len(days), 3),
        "build_plus_one_stats_seconds": round(build_s + stats_s / len(days), 2),
        "rows_per_second_build_plus_stats": round(rows / (build_s + stats_s / len(days))),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sections", default="embed,index,history")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--embed-texts", type=int, default=1000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--real-profiles", type=int, default=10_000)
    parser.add_argument("--noise", type=float, default=0.01, help="sigma per dimension of the copies")
    parser.add_argument("--history-partners", type=int, default=100_000)
    parser.add_argument("--history-opportunities", type=int, default=400_000)
    parser.add_argument("--stats-days", type=int, default=5)
    parser.add_argument(
        "--cache", type=Path, default=Path(os.environ.get("PM_HOME", ".partnermatch")) / "models"
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    args.cache.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = json.loads(args.out.read_text()) if args.out.is_file() else {}
    results["machine"] = {"cpus": os.cpu_count(), "python": platform.python_version()}
    for section in args.sections.split(","):
        started = time.perf_counter()
        if section == "embed":
            results["embedding"] = bench_embed(args, args.cache)
        elif section == "index":
            results["index"] = bench_index(args, args.cache)
        elif section == "history":
            results["history"] = bench_history(args)
        else:
            raise SystemExit(f"unknown section {section!r}")
        log.info("section %s took %.0f s", section, time.perf_counter() - started)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
