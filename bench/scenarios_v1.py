"""Ranker v1 (commit 1110135) on the scenario family, for the v1-vs-v2 rows of issue 12's closing note.

v1's code cannot run from this tree, so this script runs inside a worktree of that commit, with today's
generator and scenario file copied in (v1 evaluates with its own baselines; only its top-1 share of the
oracle is compared):

    git worktree add /tmp/v1 1110135
    rm -r /tmp/v1/synthetic && cp -r synthetic /tmp/v1/
    cp bench/scenarios.toml bench/scenarios_v1.py /tmp/v1/bench/
    echo 'REQUEST_ID = "request_id"' >> /tmp/v1/features/schema.py
    cd /tmp/v1 && PYTHONPATH=/tmp/v1 /work/main/.venv/bin/python bench/scenarios_v1.py \\
        --set holdout --final --max-test 500 --pool 1000 --out v1-holdout.json

Bids are not re-asked without their registration here (v2's bench/scenarios.py does that), so v1's
solo-bids row is not comparable.
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
from pathlib import Path
from typing import Any

from features.contract import load_export
from features.embedder_factory import make_embedder
from features.index import set_search_threads
from features.snapshot import FeatureSnapshot
from models.calibration import WinCalibrator
from models.recommender import TeamRecommender
from synthetic import generate_ecosystem, write
from synthetic.scenario import load_scenarios
from training.config import TrainConfig
from training.dataset import actual_team_examples, time_split
from training.evaluation import MODEL, TOP1_TRUE_WIN, EvaluationConfig, evaluate
from training.train import fit_ranker  # where v1 has it

ROLE_ORDER = ("services", "influence", "reseller")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--set", default="tuning")
    parser.add_argument("--final", action="store_true")
    parser.add_argument("--only", nargs="*")
    parser.add_argument("--seeds", type=int)
    parser.add_argument("--out", required=True)
    parser.add_argument("--max-test", type=int, default=300)
    parser.add_argument("--pool", type=int, default=300)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    set_search_threads(1)
    config = TrainConfig.from_file()
    specs = [
        spec
        for spec in load_scenarios(Path(__file__).with_name("scenarios.toml")).values()
        if spec.set == args.set and (not args.only or spec.name in args.only)
    ]
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for spec in specs:
            for seed in spec.seeds[: args.seeds]:
                sc, started = spec.scenario, time.perf_counter()
                eco = generate_ecosystem(
                    sc.partners, sc.opportunities, seed=seed, years=sc.years, scenario=sc
                )
                export = Path(tmp) / f"{spec.name}-{seed}"
                write(eco, export)
                tables = load_export(export).tables
                roles = tuple(r for r in ROLE_ORDER if r in set(tables.partners["partner_type"]))
                split = time_split(tables.opportunities, config.split())
                snapshot = FeatureSnapshot.build(
                    tables,
                    make_embedder("hashing"),
                    roles=roles,
                    associations_until=split.calibration_start.date(),
                )
                ranker, _ = fit_ranker(snapshot, split.train, tables.deal_partners, config)
                calibration = actual_team_examples(snapshot, split.calibration, tables.deal_partners)
                ranker.calibrate(WinCalibrator.fit(ranker.score(calibration.features), calibration.won))
                recommender = TeamRecommender(snapshot, ranker, config.recommender())
                period = (split.test if args.final else split.calibration).tail(args.max_test)
                report = evaluate(
                    recommender,
                    period,
                    tables.deal_partners,
                    EvaluationConfig(k=5, pool_size=args.pool, bootstrap=200, seed=7),
                    truth=eco.truth,
                )
                top1, oracle = report.methods[MODEL][TOP1_TRUE_WIN], report.truth["oracle_mean"]
                runs.append(
                    {
                        "scenario": spec.name,
                        "seed": seed,
                        "model_top1": top1,
                        "oracle": oracle,
                        "share_of_oracle": top1 / oracle,
                    }
                )
                print(
                    spec.name, seed, round(top1 / oracle, 3), round(time.perf_counter() - started), flush=True
                )
    split_name = "test" if args.final else "calibration"
    Path(args.out).write_text(
        json.dumps({"code": "v1 (1110135)", "split": split_name, "runs": runs}, indent=2)
    )


if __name__ == "__main__":
    main()
