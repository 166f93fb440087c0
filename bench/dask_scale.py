"""Benchmark: features, training sets and training at 1M and 5M deal rows, in one process (the baseline) and
on a Dask LocalCluster of 2 worker processes, with the wall time of each phase and the peak memory of each.

This machine has 2 cores, so a cluster of 2 workers cannot be much faster than one process: the figure to
read is the overhead ratio (cluster / one process), what the partitioning and shipping cost before more
cores pay for them.

Usage: .venv/bin/python -m bench.dask_scale [--rows 1000000 --rows 5000000] [--quick] [--workers 2]
       [--trees 100] [--repeats 1] [--out bench/results/dask-scale.json]
`--quick` runs 200k deal rows into dask-scale-quick.json; `--repeats N` runs the two modes N times in turn
(single, dask, single, ...) and keeps every run, so a burst of load from other jobs shows as spread.

Per size, one ecosystem is generated (hashing embedder, partners = deal rows / 100) and pickled once; each
mode then runs `training.pipeline.fit_model` (what `partnermatch train` runs before evaluating) in its own
child process, while this one samples the resident memory of the child's whole process tree (client,
scheduler, nannies and workers). CPU seconds (user + system) of the client and of each worker are reported
beside the wall times: on a machine shared with other jobs they are the steadier measure of the work each
mode does. Children run with OMP_WAIT_POLICY=PASSIVE: with the cores oversubscribed, LightGBM's two OpenMP
threads otherwise spin-wait (100 rounds on 20k x 118 rows took 30.6 s with 2 threads against 3.4 s with 1
at load 11 here). The shipped training config is used with `--trees` boosting rounds on top of the linear
stage, so the cluster run grows them with lightgbm.dask.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import pickle
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil

from bench.report import machine, publish, results_dir

# Deal rows (deal_partners) per generated opportunity: 943,196 rows for 400k opportunities here.
DEAL_ROWS_PER_OPPORTUNITY = 2.36
PARTNERS_PER_DEAL_ROW = 1 / 100
QUICK_ROWS = 200_000
SAMPLE_SECONDS = 0.2
MODES = ("single", "dask")


def _tree_rss(root: psutil.Process) -> int:
    """Resident bytes of a process and all its descendants (ones that exit meanwhile are skipped)."""
    total = 0
    for proc in [root, *root.children(recursive=True)]:
        try:
            total += proc.memory_info().rss
        except psutil.Error:
            continue
    return total


def _run_child(data: Path, mode: str, workers: int, trees: int) -> dict[str, Any]:
    """One mode in a fresh process; its JSON answer plus the sampled peak RSS of its process tree."""
    command = [sys.executable, "-m", "bench.dask_scale", "--run", mode, "--data", str(data)]
    command += ["--workers", str(workers), "--trees", str(trees)]
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}
    child = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
    proc = psutil.Process(child.pid)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            try:
                peak = max(peak, _tree_rss(proc))
            except psutil.Error:
                pass
            time.sleep(SAMPLE_SECONDS)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, _ = child.communicate()
    done.set()
    sampler.join()
    if child.returncode != 0:
        raise SystemExit(f"{mode} run failed (exit {child.returncode})")
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    result["peak_rss_mb_process_tree_sampled"] = round(peak / 2**20)
    return result


def _measure(data: Path, mode: str, workers: int, trees: int) -> dict[str, Any]:
    """The child's side: fit_model on the pickled tables, in process or on a LocalCluster."""
    from features import schema as s
    from features.embeddings import HashingEmbedder
    from features.index import set_search_threads
    from training.config import TrainConfig
    from training.dataset import actual_team_examples
    from training.distributed import Cluster, describe, open_cluster
    from training.metrics import auc, log_loss
    from training.pipeline import fit_model

    set_search_threads(1)  # as the CLI does
    with data.open("rb") as fh:
        tables = pickle.load(fh)
    config = TrainConfig.from_file()
    config = config.model_copy(update={"ranker": config.ranker.model_copy(update={"num_boost_round": trees})})
    out: dict[str, Any] = {"mode": mode}
    cpu_started = _cpu_seconds()
    started = time.perf_counter()
    with open_cluster(None, workers if mode == "dask" else None) as client:
        out["cluster_start_seconds"] = round(time.perf_counter() - started, 2)
        if client is not None:
            out["cluster"] = describe(client)
        cluster = Cluster(client, "hashing") if client is not None else None
        fitted = fit_model(tables, HashingEmbedder(), config, roles=tuple(s.DEFAULT_ROLES), cluster=cluster)
        out["total_seconds"] = round(time.perf_counter() - started, 2)
        out["cpu_seconds"] = {"main": round(_cpu_seconds() - cpu_started, 1)}
        if client is not None:
            # Each worker's own peak and CPU, from its kernel counters (its whole life: start-up included).
            usage = client.run(lambda: resource.getrusage(resource.RUSAGE_SELF))
            out["worker_peak_rss_mb"] = sorted(round(u.ru_maxrss / 1024) for u in usage.values())
            out["cpu_seconds"]["workers"] = sorted(round(u.ru_utime + u.ru_stime, 1) for u in usage.values())
        out["cpu_seconds"]["total"] = round(
            out["cpu_seconds"]["main"] + sum(out["cpu_seconds"].get("workers", [])), 1
        )
    m = fitted.metrics
    out["phases_seconds"] = {
        "features": round(m["features_seconds"], 2),  # snapshot built (and, on the cluster, sent)
        "training_set": round(m["training_set_seconds"], 2),
        "ranker_fit": round(m["fit_seconds"] - m["training_set_seconds"], 2),
        "calibration_set": round(m["calibration_set_seconds"], 2),
    }
    out["main_peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    out["train_rows"] = int(m["train_rows"])
    out["calibration_rows"] = int(m["calibration_opportunities"])
    test = actual_team_examples(fitted.snapshot, fitted.split.test, tables.deal_partners)
    p = fitted.ranker.win_probability(fitted.ranker.score(test.features))
    assert p is not None
    out["test_deals"] = len(test.won)
    out["test_auc"] = round(auc(p, test.won), 4)
    out["test_log_loss"] = round(log_loss(p, test.won), 4)
    return out


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _best(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The fastest run of a mode (least disturbed by other jobs), its phases and CPU seconds."""
    return min(runs, key=lambda r: r["total_seconds"])


def _size(rows: int, workers: int, trees: int, repeats: int, work: Path) -> dict[str, Any]:
    from synthetic import generate_ecosystem

    partners = max(int(rows * PARTNERS_PER_DEAL_ROW), 500)
    opportunities = int(rows / DEAL_ROWS_PER_OPPORTUNITY)
    started = time.perf_counter()
    tables = generate_ecosystem(partners, opportunities, seed=0).tables
    entry: dict[str, Any] = {
        "deal_rows_asked": rows,
        "deal_rows": len(tables.deal_partners),
        "partners": partners,
        "opportunities": opportunities,
        "generate_seconds": round(time.perf_counter() - started, 1),
    }
    data = work / f"tables-{rows}.pickle"
    with data.open("wb") as fh:
        pickle.dump(tables, fh, protocol=pickle.HIGHEST_PROTOCOL)
    del tables
    runs: dict[str, list[dict[str, Any]]] = {mode: [] for mode in MODES}
    for repeat in range(repeats):
        for mode in MODES:
            logging.info("%d deal rows: %s (%d of %d)", rows, mode, repeat + 1, repeats)
            runs[mode].append(_run_child(data, mode, workers, trees))
    data.unlink()
    entry["runs"] = runs
    single, dask = entry["single"], entry["dask"] = _best(runs["single"]), _best(runs["dask"])
    entry["overhead_ratio"] = {
        "total": round(dask["total_seconds"] / single["total_seconds"], 2),
        "cpu_seconds": round(dask["cpu_seconds"]["total"] / single["cpu_seconds"]["total"], 2),
        **{
            phase: round(dask["phases_seconds"][phase] / max(single["phases_seconds"][phase], 1e-9), 2)
            for phase in single["phases_seconds"]
        },
        "peak_rss_process_tree": round(
            dask["peak_rss_mb_process_tree_sampled"] / single["peak_rss_mb_process_tree_sampled"], 2
        ),
    }
    return entry


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, action="append", help="deal rows (repeatable); default 1M and 5M")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_ROWS:,} deal rows only")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--trees", type=int, default=100, help="boosting rounds on top of the linear stage")
    parser.add_argument("--repeats", type=int, default=1, help="runs of each mode, in turn")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--run", choices=MODES, help=argparse.SUPPRESS)  # a child process's mode
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if args.run:
        logging.getLogger().setLevel(logging.WARNING)
        print(json.dumps(_measure(args.data, args.run, args.workers, args.trees)))
        return
    sizes = [QUICK_ROWS] if args.quick else (args.rows or [1_000_000, 5_000_000])
    out = args.out or results_dir() / ("dask-scale-quick.json" if args.quick else "dask-scale.json")
    report: dict[str, Any] = {
        "benchmark": "dask-scale",
        "machine": machine(),
        "note": "2 cores shared with other jobs while measured (load average 6-12): wall seconds swing with "
        "their load, CPU seconds much less. Baseline: one process, in the same run. Cluster: LocalCluster, "
        "processes, 1 thread per worker. single/dask: the fastest of `repeats` runs; runs: all of them.",
        "repeats": args.repeats,
        "workers": args.workers,
        "trees": args.trees,
        "config": "training/default.toml with num_boost_round = trees",
        "sizes": [],
    }
    with tempfile.TemporaryDirectory(prefix="pm-dask-scale-") as tmp:
        for rows in sizes:
            report["sizes"].append(_size(rows, args.workers, args.trees, args.repeats, Path(tmp)))
            publish(report, out)  # after each size: a long run keeps what it measured


if __name__ == "__main__":
    main()
