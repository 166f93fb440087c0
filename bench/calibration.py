"""Benchmark: calibrators of the win probability (smooth PCHIP, step isotonic, Platt) on later deals.

Usage: .venv/bin/python bench/calibration.py [--partners 1500] [--opportunities 12000] [--seeds 5 11 23]
Two sources of (score, outcome) pairs, each calibrator fitted on one and judged on a later one:
- generated ecosystems: the shipped ranker trained on the training period, calibrated on the calibration
  slice, judged on the test slice (the teams that actually worked those deals);
- simulated scores with known monotone links (logistic, compressed, kinked), 20 draws per size.
Reports Brier, log loss, the share of adjacent distinct test scores given the same probability, and
bootstrap 95% intervals of each calibrator's difference to the step isotonic map. Saves
bench/results/calibration.json.
"""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Callable

import numpy as np

from bench.report import results_dir
from features.embedder_factory import make_embedder
from features.snapshot import FeatureSnapshot
from models.calibration import CALIBRATOR_KINDS, WinCalibrator
from synthetic import generate_ecosystem
from training.config import TrainConfig
from training.dataset import actual_team_examples, time_split
from training.intervals import bootstrap_lift
from training.pipeline import fit_ranker

RESULTS = results_dir() / "calibration.json"
LINKS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "logistic": lambda s: 1 / (1 + np.exp(-(1.2 * s - 0.4))),
    "compressed": lambda s: 0.15 + 0.5 / (1 + np.exp(-2.0 * s)),
    "kinked": lambda s: 1 / (1 + np.exp(-np.where(s > 0.5, 2.5 * s - 1.0, 0.5 * s - 0.25))),
}


def losses(p: np.ndarray, won: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-example squared error and log loss."""
    q = np.clip(p, 1e-9, 1 - 1e-9)
    y = won.astype(np.float64)
    return (q - y) ** 2, -(y * np.log(q) + (1 - y) * np.log(1 - q))


def compare(scores: np.ndarray, won: np.ndarray, later: np.ndarray, later_won: np.ndarray) -> dict:
    """Every calibrator kind fitted on (scores, won), judged on the later pairs."""
    out: dict[str, dict] = {}
    step_brier, step_log = losses(WinCalibrator.fit(scores, won, "isotonic").predict(later), later_won)
    distinct = np.unique(later)
    for kind in CALIBRATOR_KINDS:
        calibrator = WinCalibrator.fit(scores, won, kind)
        brier, log_loss = losses(calibrator.predict(later), later_won)
        out[kind] = {
            "brier": float(brier.mean()),
            "log_loss": float(log_loss.mean()),
            "tied_neighbours": float(np.mean(np.diff(calibrator.predict(distinct)) <= 0)),
            "brier_minus_step": bootstrap_lift(brier - step_brier, 1000, 0),
            "log_loss_minus_step": bootstrap_lift(log_loss - step_log, 1000, 0),
            "p_two_above_max_score": float(calibrator.predict(np.array([scores.max() + 2.0]))[0]),
        }
    return out


def ecosystem_scores(partners: int, opportunities: int, seed: int) -> dict[str, np.ndarray]:
    tables = generate_ecosystem(partners, opportunities, seed=seed).tables
    config = TrainConfig.from_file()
    split = time_split(tables.opportunities, config.split())
    snapshot = FeatureSnapshot.build(
        tables, make_embedder("hashing"), associations_until=split.calibration_start.date()
    )
    ranker, _ = fit_ranker(snapshot, split.train, tables.deal_partners, config)
    out = {}
    for name, frame in (("calibration", split.calibration), ("test", split.test)):
        actual = actual_team_examples(snapshot, frame, tables.deal_partners)
        out[f"{name}_scores"], out[f"{name}_won"] = ranker.score(actual.features), actual.won
    return out


def simulated(draws: int = 20) -> list[dict]:
    rows = []
    for link_name, link in LINKS.items():
        for size in (300, 1500, 3000):
            per_draw = []
            for draw in range(draws):
                rng = np.random.default_rng(1000 * draw + size)
                scores = rng.normal(0, 1, size)
                later = rng.normal(0.2, 1.1, 3000)  # later teams score a little higher and wider
                per_draw.append(
                    compare(scores, rng.random(size) < link(scores), later, rng.random(3000) < link(later))
                )
            row: dict[str, object] = {"link": link_name, "calibration_examples": size}
            for kind in CALIBRATOR_KINDS:
                row[kind] = {
                    m: float(np.mean([d[kind][m] for d in per_draw]))
                    for m in ("brier", "log_loss", "tied_neighbours")
                }
            rows.append(row)
            print(json.dumps(rows[-1]))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--partners", type=int, default=1500)
    parser.add_argument("--opportunities", type=int, default=12000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[5, 11, 23])
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    ecosystems = []
    for seed in args.seeds:
        pairs = ecosystem_scores(args.partners, args.opportunities, seed)
        result = compare(
            pairs["calibration_scores"], pairs["calibration_won"], pairs["test_scores"], pairs["test_won"]
        )
        ecosystems.append(
            {
                "seed": seed,
                "calibration_examples": int(pairs["calibration_won"].size),
                "test_examples": int(pairs["test_won"].size),
                **result,
            }
        )
        print(json.dumps(ecosystems[-1]))
    out = {
        "partners": args.partners,
        "opportunities": args.opportunities,
        "ecosystems": ecosystems,
        "simulated": simulated(),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=2, sort_keys=True))
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
