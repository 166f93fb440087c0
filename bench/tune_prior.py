"""Search settings chosen with the synthetic truth on the CALIBRATION slice (never the test slice).

Loads the champion of a trained home and, for each variant of the scoring prior's weights and of the
retrieval settings, measures the mean true win probability of the top-1 team on calibration-period deals.
The ranker itself is not retrained: prior weights apply at scoring time, retrieval only feeds the beam.

Usage: PM_HOME=... PM_EMBEDDER=hashing python -m bench.tune_prior --truth EXPORT [--config cfg.toml]
        [--deals 300] --variant 'name:{"prior": {"pair_joint_win_rate_mean": 2.0}, "search": {...}}' ...
Prints a JSON table and saves it to bench/results/tune-prior.json.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from bench.report import results_dir
from core.settings import get_settings
from features import schema as s
from features.index import set_search_threads
from features.queries import queries_from_frame
from models.config import SearchConfig
from models.recommender import TeamRecommender
from models.registry import load_champion
from serving.persistence import ApiStore
from training.config import TrainConfig
from training.dataset import time_split
from training.evaluation import load_truth

RESULTS = results_dir() / "tune-prior.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--truth", type=Path, required=True, help="export folder with truth/")
    parser.add_argument("--config", type=Path, default=None, help="training TOML (time split, search)")
    parser.add_argument("--deals", type=int, default=300, help="latest calibration deals to score")
    parser.add_argument("--variant", action="append", default=[], help="name:JSON overrides")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    set_search_threads(1)
    settings = get_settings()
    config = TrainConfig.from_file(args.config)
    champion = load_champion(settings).recommender
    snapshot, ranker = champion.snapshot, champion.ranker
    truth = load_truth(args.truth)
    if truth is None:
        raise SystemExit(f"{args.truth} holds no synthetic truth/ folder")
    opportunities = ApiStore.open(settings.store_url).store.load_tables().opportunities
    calibration = time_split(opportunities, config.split()).calibration.tail(args.deals)
    prepared = snapshot.prepare(queries_from_frame(calibration))
    ids = [str(o) for o in calibration[s.OPPORTUNITY_ID]]
    base_weights = dict(ranker.prior_weights_)
    base_search = config.recommender()
    rows: list[dict[str, Any]] = []
    for spec in ["baseline:{}", *args.variant]:
        name, _, raw = spec.partition(":")
        overrides = json.loads(raw or "{}")
        ranker.prior_weights_ = {**base_weights, **overrides.get("prior", {})}
        search = SearchConfig.model_validate({**base_search.model_dump(), **overrides.get("search", {})})
        recommender = TeamRecommender(snapshot, ranker, search)
        tops = []
        for opp in prepared:
            teams = recommender.recommend_prepared(opp, snapshot.roles, 1).teams
            tops.append(teams[0].members if teams else {})
        probs = truth.win_probability(ids, tops)
        top1 = float(np.mean(probs))
        rows.append({"variant": name, "overrides": overrides, "top1_true_win_probability": top1})
        print(json.dumps(rows[-1]))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"deals": len(ids), "variants": rows}, indent=2))


if __name__ == "__main__":
    main()
