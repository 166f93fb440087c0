"""Benchmark: the cycle-time model against the per-segment median on generated ecosystems' later deals.

Usage: .venv/bin/python bench/cycle_time.py [--partners 1500] [--opportunities 12000] [--seeds 5 11 23]
Fits on the training period's won deals, judges on the test period's (training/cycle_evaluation.py) and
saves bench/results/cycle-time.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import time

from bench.report import results_dir
from features.embedder_factory import make_embedder
from features.snapshot import FeatureSnapshot
from synthetic import generate_ecosystem
from training.config import TrainConfig
from training.cycle_evaluation import cycle_time_report, fit_cycle_time
from training.dataset import time_split

RESULTS = results_dir() / "cycle-time.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--partners", type=int, default=1500)
    parser.add_argument("--opportunities", type=int, default=12000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[5, 11, 23])
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    config = TrainConfig.from_file()
    runs = []
    for seed in args.seeds:
        started = time.perf_counter()
        tables = generate_ecosystem(args.partners, args.opportunities, seed=seed).tables
        split = time_split(tables.opportunities, config.split())
        snapshot = FeatureSnapshot.build(
            tables, make_embedder("hashing"), associations_until=split.calibration_start.date()
        )
        model = fit_cycle_time(snapshot, split.train, tables.deal_partners)
        report = cycle_time_report(model, snapshot, split.test, tables.deal_partners, tables.opportunities)
        runs.append({"seed": seed, "seconds": time.perf_counter() - started, **report})
        print(json.dumps(runs[-1], indent=2))
    out = {"partners": args.partners, "opportunities": args.opportunities, "runs": runs}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=2, sort_keys=True))
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
