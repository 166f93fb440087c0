"""Benchmark of the synthetic generator: generate and write times, and how much room the truth leaves.

Usage: .venv/bin/python bench/generator.py [--partners 100000] [--opportunities 1000000] [--format csv]
       [--scenario-file bench/scenarios.toml --scenario t-camps]
Prints a JSON summary and saves it to bench/results/generator.json (generator-<scenario>.json with a
scenario, whose sizes apply unless --partners / --opportunities are given).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import resource
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from bench.report import results_dir
from features import schema as s
from synthetic import Scenario, SyntheticEcosystem, generate_ecosystem, load_scenarios, write

RESULTS = results_dir() / "generator.json"


def _historical_members(eco: SyntheticEcosystem) -> np.ndarray:
    """(m, roles) partner rows of the historical teams, -1 where a role was empty."""
    truth = eco.truth
    dp = eco.tables.deal_partners
    opp_rows = pd.Index(truth.opportunity_ids).get_indexer(pd.Index(dp[s.OPPORTUNITY_ID]))
    partner_rows = pd.Index(truth.partner_ids).get_indexer(pd.Index(dp[s.PARTNER_ID]))
    role_cols = pd.Index(list(truth.roles)).get_indexer(pd.Index(dp[s.ROLE]))
    members = np.full((truth.opportunity_ids.size, len(truth.roles)), -1, np.int64)
    members[opp_rows, role_cols] = partner_rows
    return members


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--partners", type=int, default=None, help="default 100000, or the scenario's")
    parser.add_argument("--opportunities", type=int, default=None, help="default 1000000, or the scenario's")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--format", choices=["csv", "parquet"], default="csv")
    parser.add_argument("--sample", type=int, default=300, help="opportunities for the oracle comparison")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--scenario-file", type=Path, default=None)
    parser.add_argument("--scenario", default=None, help="name of a scenario in --scenario-file")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    scenario = Scenario()
    if args.scenario_file is not None or args.scenario is not None:
        if args.scenario_file is None or args.scenario is None:
            parser.error("--scenario-file and --scenario go together")
        specs = load_scenarios(args.scenario_file)
        if args.scenario not in specs:
            parser.error(f"unknown scenario {args.scenario!r} (known: {', '.join(sorted(specs))})")
        scenario = specs[args.scenario].scenario
        args.partners = scenario.partners if args.partners is None else args.partners
        args.opportunities = scenario.opportunities if args.opportunities is None else args.opportunities
    args.partners = 100_000 if args.partners is None else args.partners
    args.opportunities = 1_000_000 if args.opportunities is None else args.opportunities
    if args.out is None:
        args.out = RESULTS.with_name(f"generator-{args.scenario}.json") if args.scenario else RESULTS

    started = time.perf_counter()
    eco = generate_ecosystem(args.partners, args.opportunities, seed=args.seed, scenario=scenario)
    generate_s = time.perf_counter() - started

    folder = Path(tempfile.mkdtemp(prefix="pm-bench-generator-"))
    try:
        started = time.perf_counter()
        files = write(eco, folder, args.format)
        write_s = time.perf_counter() - started
        sizes = {p.name: p.stat().st_size for p in files}
        truth_bytes = sum(p.stat().st_size for p in (folder / "truth").iterdir())
    finally:
        shutil.rmtree(folder)

    tables = eco.tables
    rows = sum(len(getattr(tables, t)) for t in s.TABLES)
    outcome = tables.opportunities[s.OUTCOME]
    untagged = tables.opportunities[s.REQUIRED_SKILLS].map(len) == 0
    closed = outcome[outcome != s.OPEN]
    truth = eco.truth
    members = _historical_members(eco)
    historical_p = truth.probabilities(np.arange(truth.opportunity_ids.size), members)

    # Oracle comparison on a sample of opportunities whose historical team is all active (like-for-like).
    rng = np.random.default_rng(args.seed)
    all_active = ((members < 0) | truth.active[np.maximum(members, 0)]).all(axis=1)
    size = min(args.sample, int(all_active.sum()))
    sample = rng.choice(np.flatnonzero(all_active), size=size, replace=False)
    started = time.perf_counter()
    oracle_p = np.array([truth.oracle_team(str(truth.opportunity_ids[i]))[1] for i in sample])
    oracle_ms = 1000 * (time.perf_counter() - started) / max(len(sample), 1)
    gap = oracle_p - historical_p[sample]
    boot = rng.choice(gap, size=(2000, gap.size), replace=True).mean(axis=1)

    result = {
        "scenario": args.scenario,
        "knobs": scenario.model_dump(exclude={"partners", "opportunities", "years"}),
        "partners": args.partners,
        "opportunities": args.opportunities,
        "seed": args.seed,
        "format": args.format,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "generate_seconds": round(generate_s, 2),
        "write_seconds": round(write_s, 2),
        "total_seconds": round(generate_s + write_s, 2),
        "rows": {t: len(getattr(tables, t)) for t in s.TABLES},
        "rows_per_second_generate": round(rows / generate_s),
        "rows_per_second_write": round(rows / write_s),
        "file_bytes": sizes,
        "truth_bytes": truth_bytes,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "open_share": round(float((outcome == s.OPEN).mean()), 4),
        "empty_required_skills_share": round(float(untagged.mean()), 4),
        "historical_win_rate": round(float((closed == s.WON).mean()), 4),
        "historical_mean_true_p_all": round(float(historical_p.mean()), 4),
        "sample_size": int(len(sample)),
        "historical_mean_true_p_sample": round(float(historical_p[sample].mean()), 4),
        "oracle_mean_true_p_sample": round(float(oracle_p.mean()), 4),
        "oracle_minus_historical": round(float(gap.mean()), 4),
        "oracle_minus_historical_ci95": [round(float(q), 4) for q in np.quantile(boot, [0.025, 0.975])],
        "oracle_ge_historical_share": round(float((gap >= -1e-9).mean()), 4),
        "oracle_ms_per_opportunity": round(oracle_ms, 1),
    }
    text = json.dumps(result, indent=2)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
