"""Benchmark: the ranker over the scenario family of bench/scenarios.toml, against the oracle and baselines.

Usage:
  python -m bench.scenarios                      # tuning scenarios, CALIBRATION slice (for choices)
  python -m bench.scenarios --only t-camps       # one tuning scenario
  python -m bench.scenarios --set holdout --final   # the never-looked-at set, TEST slice (the verdict)

Each scenario and seed: generate the ecosystem, validate it through the data contract (as `ingest`
does, without a store), fit features + ranker + calibrator exactly as `partnermatch train` does
(training.pipeline.fit_model, hashing embedder for speed), then evaluate one slice with the hidden truth:
each method's top-1 team's true win probability, its share of the oracle's, and the model's lift over
every baseline with a bootstrap 95% interval. Tuning runs read only the calibration slice (deals the
ranker never trained on, later than its training period); the test slice of a tuning scenario and every
slice of a holdout scenario stay unread until `--final`. Every final run is appended to
bench/results/scenarios-holdout-runs.log, so a look at the holdout set is on record.
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from bench.report import results_dir
from features import schema as s
from features.contract import load_export
from features.embedder_factory import make_embedder
from features.index import set_search_threads
from synthetic import generate_ecosystem, write
from synthetic.scenario import ScenarioSpec, load_scenarios
from training.config import TrainConfig
from training.evaluation import MODEL, TOP1_TRUE_WIN, EvaluationConfig, evaluate
from training.pipeline import fit_model

HERE = Path(__file__).parent
SCENARIOS = HERE / "scenarios.toml"
RESULTS = results_dir()
# Every look at the holdout is logged in the repository's own results, whatever folder a run writes to.
HOLDOUT_LOG = HERE / "results" / "scenarios-holdout-runs.log"


def run_one(spec: ScenarioSpec, seed: int, split: str, config: TrainConfig, work: Path) -> dict[str, Any]:
    """Generate, fit and evaluate one scenario seed; the JSON-ready summary."""
    sc = spec.scenario
    started = time.perf_counter()
    eco = generate_ecosystem(sc.partners, sc.opportunities, seed=seed, years=sc.years, scenario=sc)
    export = work / f"{spec.name}-{seed}"
    write(eco, export)
    tables = load_export(export).tables
    roles = tuple(
        sorted(set(tables.partners["partner_type"]), key=("services", "influence", "reseller").index)
    )
    fitted = fit_model(tables, make_embedder("hashing"), config, roles=roles)
    fit_seconds = time.perf_counter() - started
    period = fitted.split.calibration if split == "calibration" else fitted.split.test
    period = period.tail(config.data.max_test_opportunities)
    if sc.bidders > 0:
        # A bid is registered by its bidder, and registration locks the partner on every suggested team;
        # the question here is the customer's: which partner should win the request. Bids are still
        # compared with each other in the report's competing-bids section.
        period = period.assign(**{s.REGISTERED_PARTNER_ID: None})
    report = evaluate(
        fitted.recommender,
        period,
        tables.deal_partners,
        EvaluationConfig(k=5, pool_size=config.evaluation.pool_size, bootstrap=1000, seed=config.seed),
        truth=eco.truth,
    )
    oracle = report.truth["oracle_mean"]
    methods = {
        m: {"top1_true_win": v[TOP1_TRUE_WIN], "share_of_oracle": v[TOP1_TRUE_WIN] / oracle}
        for m, v in report.methods.items()
        if TOP1_TRUE_WIN in v
    }
    lifts = report.lifts.get(TOP1_TRUE_WIN, {})
    best_baseline = max((m for m in methods if m != MODEL), key=lambda m: methods[m]["top1_true_win"])
    out: dict[str, Any] = {
        "scenario": spec.name,
        "seed": seed,
        "split": split,
        "roles": list(roles),
        "opportunities_evaluated": report.opportunities,
        "oracle_mean": oracle,
        "historical_mean": report.truth["historical_mean"],
        "pool_best_mean": report.truth["pool_best_mean"],
        "model_share_of_oracle": methods[MODEL]["share_of_oracle"],
        "best_baseline": best_baseline,
        "methods": methods,
        "lift_over_baselines": lifts,
        "beats_every_baseline": all(ci["ci_low"] > 0 for ci in lifts.values()),
        "calibration": {k: v for k, v in report.calibration.items() if k != "reliability"},
        "seconds": time.perf_counter() - started,
        "fit_seconds": fit_seconds,
    }
    extra = report.to_dict()
    for key in ("competing_bids", "replay"):
        if key in extra:
            out[key] = extra[key]
    return out


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    shares = [r["model_share_of_oracle"] for r in runs]
    return {
        "runs": len(runs),
        "mean_share_of_oracle": float(np.mean(shares)) if shares else float("nan"),
        "worst_share_of_oracle": float(np.min(shares)) if shares else float("nan"),
        "worst": min(runs, key=lambda r: r["model_share_of_oracle"])["scenario"] if runs else None,
        "all_beat_every_baseline": all(r["beats_every_baseline"] for r in runs),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--set", choices=("tuning", "holdout"), default="tuning")
    parser.add_argument("--final", action="store_true", help="read TEST slices (required for holdout)")
    parser.add_argument("--only", nargs="*", default=None, help="scenario names")
    parser.add_argument("--seeds", type=int, default=None, help="first N seeds of each scenario")
    parser.add_argument("--config", type=Path, default=None, help="training TOML over the defaults")
    parser.add_argument("--name", default=None, help="result file stem (default scenarios-<set>-<split>)")
    args = parser.parse_args()
    if args.set == "holdout" and not args.final:
        parser.error("the holdout scenarios are read only by a final run: add --final")
    logging.basicConfig(level=logging.WARNING)
    set_search_threads(1)
    split = "test" if args.final else "calibration"
    config = TrainConfig.from_file(args.config)
    specs = [s for s in load_scenarios(SCENARIOS).values() if s.set == args.set]
    if args.only:
        specs = [s for s in specs if s.name in set(args.only)]
    RESULTS.mkdir(parents=True, exist_ok=True)
    if args.set == "holdout":
        with HOLDOUT_LOG.open("a") as log:
            log.write(f"{datetime.now(UTC).isoformat()} final run of {[s.name for s in specs]}\n")
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for spec in specs:
            for seed in spec.seeds[: args.seeds]:
                run = run_one(spec, seed, split, config, Path(tmp))
                runs.append(run)
                print(
                    f"{spec.name:22s} seed {seed}: model {run['methods'][MODEL]['top1_true_win']:.3f} "
                    f"= {run['model_share_of_oracle']:.3f} x oracle {run['oracle_mean']:.3f}; best baseline "
                    f"{run['best_baseline']} {run['methods'][run['best_baseline']]['share_of_oracle']:.3f}x; "
                    f"beats all {run['beats_every_baseline']} ({run['seconds']:.0f} s)",
                    flush=True,
                )
    out = {
        "set": args.set,
        "split": split,
        "machine": platform.processor() or platform.machine(),
        "embedder": "hashing",
        "config": str(args.config) if args.config else "training/default.toml",
        "summary": summarise(runs),
        "runs": runs,
    }
    path = RESULTS / f"{args.name or f'scenarios-{args.set}-{split}'}.json"
    path.write_text(json.dumps(out, indent=2, sort_keys=True, default=float))
    print(json.dumps(out["summary"], indent=2))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
