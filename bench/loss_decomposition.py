"""Where the top-1 loss sits on a TUNING scenario: oracle minus model logit, split by term of the true model.

Usage: python -m bench.loss_decomposition t-weak-signals 121 [--config FILE] [--deals 150]

Fits the ranker as `partnermatch train` does, takes each calibration-slice deal's top-1 beam team and the
oracle's team, and reports the mean logit gap, then how much of it each term of the hidden win model
carries (the gap with that term's coefficient set to zero, subtracted from the full gap) and what
swapping in the oracle's member of each role would gain. Refuses holdout scenarios: it reads the truth.
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
from pathlib import Path

import numpy as np

from features.contract import load_export
from features.embedder_factory import make_embedder
from features.queries import queries_from_frame
from synthetic import generate_ecosystem, write
from synthetic.scenario import load_scenarios
from training.config import TrainConfig
from training.pipeline import fit_model

TERMS = (
    "coverage",
    "execution",
    "industry",
    "region",
    "synergy",
    "per_support_role",
    "missing_services",
    "camp_same",
    "camp_rival",
    "size_interaction",
)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("scenario")
    parser.add_argument("seed", type=int)
    parser.add_argument("--config", type=Path, default=None)
    parser.add_argument("--deals", type=int, default=150)
    args = parser.parse_args()
    spec = load_scenarios(Path(__file__).with_name("scenarios.toml"))[args.scenario]
    if spec.set != "tuning":
        parser.error(f"{args.scenario} is a holdout scenario: its truth is not read here")
    sc = spec.scenario
    eco = generate_ecosystem(sc.partners, sc.opportunities, seed=args.seed, years=sc.years, scenario=sc)
    with tempfile.TemporaryDirectory() as tmp:
        write(eco, Path(tmp))
        tables = load_export(Path(tmp)).tables
    roles = tuple(
        r for r in ("services", "influence", "reseller") if r in set(tables.partners["partner_type"])
    )
    fitted = fit_model(tables, make_embedder("hashing"), TrainConfig.from_file(args.config), roles=roles)
    truth = eco.truth
    mine, best, ids = [], [], []
    for opp in fitted.snapshot.prepare(queries_from_frame(fitted.split.calibration.tail(args.deals))):
        _, teams, scores, _ = fitted.recommender.search(opp, roles)
        mine.append(teams[int(np.argmax(scores))])
        best.append(truth.oracle_team(str(opp.query.opportunity_id))[0])
        ids.append(str(opp.query.opportunity_id))
    rows = truth.opportunity_rows(ids)
    ours, theirs = truth.member_rows(mine), truth.member_rows(best)
    gap = truth.logits(rows, theirs) - truth.logits(rows, ours)
    print(f"{args.scenario}/{args.seed}: mean logit gap, oracle minus model top-1: {gap.mean():+.3f}")
    model = truth.model
    for term in TERMS:
        if getattr(model, term, 0.0) == 0.0:
            continue
        truth.model = dataclasses.replace(model, **{term: 0.0})
        without = truth.logits(rows, theirs) - truth.logits(rows, ours)
        truth.model = model
        print(f"  {term:18s} {gap.mean() - without.mean():+.3f}")
    for r, role in enumerate(truth.roles):
        swapped = ours.copy()
        swapped[:, r] = theirs[:, r]
        print(f"  oracle's {role:10s} {(truth.logits(rows, swapped) - truth.logits(rows, ours)).mean():+.3f}")


if __name__ == "__main__":
    main()
