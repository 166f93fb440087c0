"""Benchmark: train + evaluate on an ingested home, save timings and the evaluation report as JSON.

Usage: PM_HOME=... PM_EMBEDDER=hashing python -m bench.train --config cfg.toml --truth EXPORT --name NAME
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import time
from pathlib import Path

from bench.report import results_dir
from core.settings import get_settings
from features.index import set_search_threads
from features.store import Store
from training.config import TrainConfig
from training.report_files import write_report
from training.train import train

RESULTS = results_dir()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", type=Path, default=None, help="training TOML")
    parser.add_argument("--truth", type=Path, default=None, help="export folder with truth/")
    parser.add_argument("--name", required=True, help="result file stem under bench/results/")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    set_search_threads(1)
    settings = get_settings()
    config = TrainConfig.from_file(args.config)
    started = time.perf_counter()
    result = train(settings, config, truth_dir=args.truth)
    wall = time.perf_counter() - started
    out = {
        "name": args.name,
        # The store's row counts: the training target (design note section 5) is set per 1M deal rows.
        "store_rows": Store(settings.store_url).counts(),
        "machine": platform.processor() or platform.machine(),
        "embedder": settings.embedder,
        "wall_seconds": wall,
        "config": config.model_dump(),
        "metrics": result.metrics,
        "evaluation": result.report.to_dict() if result.report else None,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    if result.report is not None:
        write_report(result.report, RESULTS / f"train-{args.name}")  # evaluation.json + PNG plots
    path = RESULTS / f"train-{args.name}.json"
    path.write_text(json.dumps(out, indent=2, sort_keys=True, default=float))
    print(f"wrote {path} ({wall:.1f} s)")


if __name__ == "__main__":
    main()
