"""Honest evaluation on a later period: the model against baselines, calibration, replay and ground truth."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from features import schema as s
from features.queries import actual_teams, queries_from_frame
from features.snapshot import FeatureSnapshot
from models.assembly import assemble_teams, team_key
from models.recommender import TeamRecommender
from training.baselines import BASELINES, Scorer, Teams, baseline_scorers
from training.intervals import bootstrap_interval, bootstrap_lift, bootstrap_rate_lift, weighted_rate
from training.metrics import (
    auc,
    brier_score,
    expected_reciprocal_rank,
    graded_ndcg,
    log_loss,
    ndcg_of_single_target,
    rank_of_target,
    recall_at_k,
    reciprocal_rank,
    top1_value,
    top_k_share,
    wilson_interval,
)

logger = logging.getLogger(__name__)

MODEL = "model"
# A reference row, not a method: the neutral pool ranked by the true win probability. The won-team metrics
# reward copying how deals were routed, and routing in the generated data favours popular partners, so
# this row shows what they reach for a ranking that picks the teams that truly win. No lift is computed
# over it and the promotion gate reads only the model's row.
TRUTH_REFERENCE = "ground_truth"
TOP1_TRUE_WIN = "top1_true_win_probability"
# Measures of the real-data sections (no ground truth needed); the gate reads them by these names.
PRECISION_AT_1 = "precision_at_1"
MRR = "mrr"
REPLAY_WIN_RATE = "replay_win_rate"
WITHIN_REQUEST_PRECISION = "within_request_precision_at_1"
IMITATION_NOTE = (
    "how high a method ranks the historically won team, i.e. how closely it copies past routing, "
    "not whether its teams win; reported, never gated"
)
RELIABILITY_BINS = 10


@dataclass(frozen=True)
class EvaluationConfig:
    k: int = 5
    pool_size: int = 1000  # retrieval-ordered teams every method ranks beside the actual (the neutral pool)
    bootstrap: int = 1000
    seed: int = 7


def imitation_metrics(k: int) -> tuple[str, ...]:
    """The won-team ranking metrics: names kept so stored results stay comparable, never gated on."""
    return (f"ndcg_at_{k}", f"recall_at_{k}", MRR)


@dataclass
class EvaluationReport:
    """Everything `evaluate` measured; `to_dict` is the JSON report.

    `methods` holds the model, the baselines and, with a ground truth, the `TRUTH_REFERENCE` row; its
    `imitation_metrics` only say how closely a method copies past routing. `calibration` scores the
    calibrated win probability of the actual teams, `replay` the deals whose actual team a method would
    have proposed, `competing_bids` the ranking of a request's bids (empty without `request_id`).
    """

    k: int
    opportunities: int
    won_opportunities: int
    methods: dict[str, dict[str, float]]
    lifts: dict[str, dict[str, dict[str, float]]]
    calibration: dict[str, Any]
    truth: dict[str, Any] = field(default_factory=dict)
    plots: list[str] = field(default_factory=list)
    replay: dict[str, Any] = field(default_factory=dict)
    competing_bids: dict[str, Any] = field(default_factory=dict)

    @property
    def imitation_metrics(self) -> tuple[str, ...]:
        return imitation_metrics(self.k)

    def to_dict(self) -> dict[str, Any]:
        return {
            "k": self.k,
            "opportunities": self.opportunities,
            "won_opportunities": self.won_opportunities,
            "methods": self.methods,
            "imitation_metrics": {"names": list(self.imitation_metrics), "note": IMITATION_NOTE},
            "lift_over_baselines": self.lifts,
            "calibration": self.calibration,
            "replay": self.replay,
            "competing_bids": self.competing_bids,
            "truth": self.truth,
            "plots": self.plots,
        }

    def measure_values(self, measure: str) -> dict[str, float]:
        """Per method, a gate measure: TOP1_TRUE_WIN, WITHIN_REQUEST_PRECISION or REPLAY_WIN_RATE."""
        if measure == WITHIN_REQUEST_PRECISION:
            rows = self.competing_bids.get("methods", {})
            return {m: v[PRECISION_AT_1] for m, v in rows.items()}
        if measure == REPLAY_WIN_RATE:
            return {m: v["win_rate"] for m, v in self.replay.get("methods", {}).items()}
        return {m: v[measure] for m, v in self.methods.items() if m != TRUTH_REFERENCE and measure in v}

    def measure_lifts(self, measure: str) -> dict[str, dict[str, float]]:
        """Per baseline, the model's lift on a gate measure with its bootstrap 95% interval."""
        if measure == WITHIN_REQUEST_PRECISION:
            return dict(self.competing_bids.get("lift_over_baselines", {}).get(PRECISION_AT_1, {}))
        if measure == REPLAY_WIN_RATE:
            return dict(self.replay.get("lift_over_baselines", {}))
        return dict(self.lifts.get(measure, {}))

    def flat_metrics(self) -> dict[str, float]:
        """Scalar metrics for MLflow: test_<method>_<metric>, test_lift_<metric>_vs_<baseline>_*, and the
        calibration (test_log_loss...), replay (test_replay_*) and competing-bid (test_bids_*) sections."""
        out: dict[str, float] = {}
        for method, values in self.methods.items():
            out.update({f"test_{method}_{name}": v for name, v in values.items()})
        for metric, per_baseline in self.lifts.items():
            for baseline, ci in per_baseline.items():
                out.update({f"test_lift_{metric}_vs_{baseline}_{part}": v for part, v in ci.items()})
        for name in ("log_loss", "brier", "auc"):
            if isinstance(self.calibration.get(name), float):
                out[f"test_{name}"] = self.calibration[name]
                for part, v in self.calibration.get("intervals", {}).get(name, {}).items():
                    out[f"test_{name}_{part}"] = v
        if self.replay:
            out["test_replay_base_rate"] = self.replay["base_rate"]
            for method, values in self.replay["methods"].items():
                out.update({f"test_replay_{method}_{name}": v for name, v in values.items()})
            for baseline, ci in self.replay["lift_over_baselines"].items():
                out.update({f"test_replay_lift_vs_{baseline}_{part}": v for part, v in ci.items()})
        if self.competing_bids:
            out["test_bids_requests"] = float(self.competing_bids["requests"])
            out["test_bids_bids"] = float(self.competing_bids["bids"])
            for method, values in self.competing_bids["methods"].items():
                out.update({f"test_bids_{method}_{name}": v for name, v in values.items()})
            for metric, per_baseline in self.competing_bids["lift_over_baselines"].items():
                for baseline, ci in per_baseline.items():
                    out.update({f"test_bids_lift_{metric}_vs_{baseline}_{part}": v for part, v in ci.items()})
        for name, value in self.truth.items():
            if isinstance(value, float):
                out[f"test_truth_{name}"] = value
        return out


def reliability(
    probabilities: np.ndarray, won: np.ndarray, bins: int = RELIABILITY_BINS
) -> list[dict[str, float]]:
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(probabilities, edges[1:-1]), 0, bins - 1)
    out = []
    for b in range(bins):
        mask = which == b
        if mask.any():
            out.append(
                {
                    "bin_low": float(edges[b]),
                    "bin_high": float(edges[b + 1]),
                    "mean_predicted": float(probabilities[mask].mean()),
                    "observed_win_rate": float(won[mask].mean()),
                    "count": float(mask.sum()),
                }
            )
    return out


def true_ndcg_name(k: int) -> str:
    """NDCG@k of a method's ranking of the neutral pool with each team's true win probability as gain."""
    return f"true_ndcg_at_{k}"


def ranking_summary(ranks: Sequence[int], k: int) -> tuple[dict[str, float], np.ndarray]:
    """NDCG@k, recall@k and MRR of the won team from its 1-based ranks, and the per-opportunity NDCG."""
    ndcg = np.array([ndcg_of_single_target(r, k) for r in ranks])
    if not ranks:
        nan = float("nan")
        return {f"ndcg_at_{k}": nan, f"recall_at_{k}": nan, "mrr": nan}, ndcg
    return {
        f"ndcg_at_{k}": float(ndcg.mean()),
        f"recall_at_{k}": float(np.mean([recall_at_k(r, k) for r in ranks])),
        "mrr": float(np.mean([reciprocal_rank(r) for r in ranks])),
    }, ndcg


def availability(snapshot: FeatureSnapshot) -> Callable[[date], Callable[[str], bool]]:
    """Per day, whether a partner could take a deal then (`FeatureSnapshot.available`: the retrieval rule).

    Memoised per (partner, day) across days: the oracle asks about the same shortlisted partners many times.
    """
    memo: dict[tuple[str, date], bool] = {}

    def on(as_of: date) -> Callable[[str], bool]:
        def available(partner_id: str) -> bool:
            key = (partner_id, as_of)
            if key not in memo:
                memo[key] = bool(snapshot.available([partner_id], as_of)[0])
            return memo[key]

        return available

    return on


def _on_rows(
    measure: Callable[[np.ndarray, np.ndarray], float], probabilities: np.ndarray, won: np.ndarray
) -> Callable[[np.ndarray], float]:
    return lambda rows: measure(probabilities[rows], won[rows])


def calibration_section(probabilities: np.ndarray, won: np.ndarray, n: int, seed: int) -> dict[str, Any]:
    """Log loss, Brier and AUC of the actual teams' calibrated win probability, each with a bootstrap 95%
    interval over deals, and the reliability table; empty when the model has no calibrator."""
    if not probabilities.size or not np.isfinite(probabilities).all():
        return {}
    out: dict[str, Any] = {"deals": int(probabilities.size)}
    intervals: dict[str, dict[str, float]] = {}
    measures: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {
        "log_loss": log_loss,
        "brier": brier_score,
        "auc": auc,
    }
    for name, measure in measures.items():
        value = measure(probabilities, won)
        if not np.isfinite(value):  # an AUC needs both outcomes
            continue
        out[name] = value
        resampled = _on_rows(measure, probabilities, won)
        intervals[name] = bootstrap_interval(resampled, probabilities.size, n, seed)
    out["intervals"] = intervals
    out["reliability"] = reliability(probabilities, won)
    return out


def replay_section(
    shares: Mapping[str, np.ndarray], won: np.ndarray, k: int, n: int, seed: int
) -> dict[str, Any]:
    """Per method, the deals whose actual team it ranks in its top k: what happened when its advice was, in
    effect, followed. Their (expected, under random tie order) count, win rate with a Wilson 95% interval,
    the win rate of the other deals, the lift over the base rate, and the model's win-rate lift over each
    baseline with a paired bootstrap interval."""
    if won.size == 0:
        return {}
    outcome = won.astype(np.float64)
    base = float(outcome.mean())
    methods: dict[str, dict[str, float]] = {}
    for method, weights in shares.items():
        matched = float(weights.sum())
        wins = float((weights * outcome).sum())
        rate = wins / matched if matched > 0 else float("nan")
        low, high = wilson_interval(wins, matched)
        methods[method] = {
            "matched": matched,
            "matched_won": wins,
            "win_rate": rate,
            "ci_low": low,
            "ci_high": high,
            "other_win_rate": float(weighted_rate(1.0 - weights, outcome)),
            "lift_over_base_rate": rate - base,
        }
    lifts = {b: bootstrap_rate_lift(shares[MODEL], shares[b], outcome, n, seed) for b in BASELINES}
    return {
        "k": k,
        "deals": int(won.size),
        "base_rate": base,
        "methods": methods,
        "lift_over_baselines": lifts,
    }


def competing_bids_section(
    request_ids: Sequence[str | None],
    won: np.ndarray,
    bid_scores: Mapping[str, np.ndarray],
    n: int,
    seed: int,
) -> dict[str, Any]:
    """Requests with at least two evaluated bids of which exactly one won: every method ranks the bids'
    actual teams (each scored as of its own bid's creation); precision@1 and MRR of the winning bid
    (expected over random tie order), and the model's lift over each baseline with a bootstrap interval."""
    by_request: dict[str, list[int]] = {}
    for i, request in enumerate(request_ids):
        if request is not None:
            by_request.setdefault(request, []).append(i)
    groups = [rows for rows in by_request.values() if len(rows) >= 2 and int(won[rows].sum()) == 1]
    per: dict[str, dict[str, list[float]]] = {m: {PRECISION_AT_1: [], MRR: []} for m in bid_scores}
    for rows in groups:
        winner = int(np.flatnonzero(won[rows])[0])
        for method, scores in bid_scores.items():
            values = scores[rows]
            per[method][PRECISION_AT_1].append(top_k_share(values, winner, 1))
            per[method][MRR].append(expected_reciprocal_rank(values, winner))
    methods = {
        m: {metric: float(np.mean(v)) if v else float("nan") for metric, v in values.items()}
        for m, values in per.items()
    }
    lifts = {
        metric: {
            b: bootstrap_lift(np.array(per[MODEL][metric]) - np.array(per[b][metric]), n, seed)
            for b in BASELINES
        }
        for metric in (PRECISION_AT_1, MRR)
    }
    return {
        "requests": len(groups),
        "bids": sum(len(rows) for rows in groups),
        "requests_seen": len(by_request),
        "methods": methods,
        "lift_over_baselines": lifts,
    }


def _request_ids(opportunities: pd.DataFrame) -> list[str | None]:
    if s.REQUEST_ID not in opportunities.columns:
        return [None] * len(opportunities)
    return [None if pd.isna(r) or not str(r).strip() else str(r) for r in opportunities[s.REQUEST_ID]]


def evaluate(
    recommender: TeamRecommender,
    opportunities: pd.DataFrame,
    deal_partners: pd.DataFrame,
    config: EvaluationConfig | None = None,
    truth: Any | None = None,
    progress: Callable[[int], None] | None = None,
) -> EvaluationReport:
    """Rank each later-period deal's candidate pool with the model and every baseline; compare.

    Two pools per opportunity. The imitation metrics (NDCG@k, recall@k, MRR of the team that won) use the
    method-neutral pool: the team that actually worked the deal (so its rank is always defined) plus the
    first `pool_size` retrieval-ordered teams. The model's own beam top-k stays out of it: those teams are
    by construction the ones the model scores highest, so they would fill the model's top k and push the
    actual team down for the model alone, a bias against it that no baseline suffers. Everything else uses
    the full pool, neutral plus the beam top-k, because the product returns beam teams: the replay (is the
    actual team in a method's top k?) and, with a `GroundTruth`, each method's top-1 scored by the true
    win model, beside the oracle's best team, the historical team and the best team of the full pool.

    Measures that need no ground truth: the calibrated win probability of the actual teams (log loss,
    Brier, AUC, reliability), the replay, and, when the opportunities carry `request_id`, the ranking of
    each request's competing bids. With a ground truth, three more say whether a method picks teams that
    win: the `TRUTH_REFERENCE` row, `true_ndcg_at_k` per method over every evaluated opportunity, and the
    oracle restricted to partners available on the opportunity's date.
    """
    cfg = config or EvaluationConfig()
    snapshot = recommender.snapshot
    roles = snapshot.roles
    worked = actual_teams(deal_partners, roles)
    known = snapshot.known_partner_ids()
    scorers: dict[str, Scorer] = {
        MODEL: lambda opp, teams, features: recommender.ranker.score(features),
        **baseline_scorers(snapshot, cfg.seed),
    }
    methods = list(scorers)
    ranks: dict[str, list[int]] = {m: [] for m in methods}
    top_truth: dict[str, list[float]] = {m: [] for m in methods}
    true_ndcg: dict[str, list[float]] = {m: [] for m in methods}
    in_top_k: dict[str, list[float]] = {m: [] for m in methods}
    actual_score: dict[str, list[float]] = {m: [] for m in methods}
    truth_ranks: list[int] = []
    oracle: list[float] = []
    oracle_available: list[float] = []
    available_on = availability(snapshot)
    historical: list[float] = []
    pool_best: list[float] = []
    actual_prob: list[float] = []
    actual_won: list[bool] = []
    evaluated_requests: list[str | None] = []
    evaluated = 0
    requests = _request_ids(opportunities)
    prepared = snapshot.prepare(queries_from_frame(opportunities))
    for opp, outcome, request in zip(prepared, opportunities[s.OUTCOME], requests, strict=True):
        if progress:
            progress(1)
        oid = str(opp.query.opportunity_id)
        actual = worked.get(oid)
        if actual is None or not all(p in known for p in actual.values() if p is not None):
            continue
        plan, beam_teams, beam_scores, _ = recommender.search(opp, roles)
        best_beam = [beam_teams[i] for i in np.argsort(-beam_scores, kind="stable")[: cfg.k]]
        assembled = assemble_teams(plan, cfg.pool_size)
        neutral_keys = {team_key(team, roles) for team in (actual, *assembled)}
        pool: Teams = [dict(actual), *best_beam, *assembled]
        seen: set[tuple[str | None, ...]] = set()
        unique: Teams = []
        neutral: list[int] = []  # positions in `unique` of the neutral pool; the actual team is at 0
        for team in pool:
            key = team_key(team, roles)
            if key not in seen:
                seen.add(key)
                if key in neutral_keys:
                    neutral.append(len(unique))
                unique.append({role: team.get(role) for role in roles})
        # One feature call and one scoring pass over the full pool; every scorer scores team by team, so
        # the neutral pool's scores are a subset of these rows.
        features = snapshot.team_features(opp, unique)
        scores = {
            m: np.asarray(scorer(opp, unique, features), dtype=np.float64) for m, scorer in scorers.items()
        }
        won = outcome == s.WON
        evaluated += 1
        actual_prob.append(
            float(recommender.ranker.win_probability(scores[MODEL][:1])[0])  # type: ignore[index]
            if recommender.ranker.calibrator_ is not None
            else float("nan")
        )
        actual_won.append(won)
        evaluated_requests.append(request)
        for m in methods:
            in_top_k[m].append(top_k_share(scores[m], 0, cfg.k))
            # The actual team's score as of this bid's own creation: what ranks a request's bids.
            actual_score[m].append(float(scores[m][0]))
        if won:
            for m in methods:
                ranks[m].append(rank_of_target(scores[m][neutral], 0))
        if truth is not None:
            # One truth call for the whole pool; the actual team is row 0, every top-1 is one of its rows.
            true_p = np.asarray(truth.win_probability([oid] * len(unique), unique), dtype=np.float64)
            for m in methods:
                # Teams tied for a method's top share it: a coarse baseline must not be credited with
                # whichever team (the historical one, or the model's beam teams) happens to come first.
                top_truth[m].append(top1_value(scores[m], true_p))
                true_ndcg[m].append(graded_ndcg(scores[m][neutral], true_p[neutral], cfg.k))
            historical.append(float(true_p[0]))
            if won:
                truth_ranks.append(rank_of_target(true_p[neutral], 0))
            oracle.append(float(truth.oracle_team(oid)[1]))
            eligible = available_on(opp.query.as_of)
            oracle_available.append(float(truth.oracle_team(oid, eligible=eligible)[1]))
            # What a perfect scorer could reach inside the same candidate pool: the retrieval's ceiling.
            pool_best.append(float(true_p.max()))

    k = cfg.k
    summary: dict[str, dict[str, float]] = {}
    per_opp: dict[str, dict[str, np.ndarray]] = {m: {} for m in methods}
    for m in methods:
        summary[m], per_opp[m][f"ndcg_at_{k}"] = ranking_summary(ranks[m], k)
        if truth is not None:
            for metric, values in ((TOP1_TRUE_WIN, top_truth[m]), (true_ndcg_name(k), true_ndcg[m])):
                per_opp[m][metric] = np.array(values)
                summary[m][metric] = float(np.mean(values)) if values else float("nan")
    if truth is not None:
        # Added after the methods so nothing below (lifts, their per-opportunity arrays) picks it up.
        summary[TRUTH_REFERENCE], _ = ranking_summary(truth_ranks, k)
    lifts: dict[str, dict[str, dict[str, float]]] = {}
    for metric in per_opp[MODEL]:
        lifts[metric] = {
            b: bootstrap_lift(per_opp[MODEL][metric] - per_opp[b][metric], cfg.bootstrap, cfg.seed)
            for b in BASELINES
        }
    outcomes = np.array(actual_won, dtype=bool)
    calibration = calibration_section(np.array(actual_prob), outcomes, cfg.bootstrap, cfg.seed)
    replay = replay_section(
        {m: np.array(v) for m, v in in_top_k.items()}, outcomes, k, cfg.bootstrap, cfg.seed
    )
    bids: dict[str, Any] = {}
    if any(r is not None for r in evaluated_requests):
        bids = competing_bids_section(
            evaluated_requests,
            outcomes,
            {m: np.array(v) for m, v in actual_score.items()},
            cfg.bootstrap,
            cfg.seed,
        )
    truth_summary: dict[str, Any] = {}
    if truth is not None and oracle:
        model_top = np.array(top_truth[MODEL])
        truth_summary = {
            "oracle_mean": float(np.mean(oracle)),
            "historical_mean": float(np.mean(historical)),
            "model_top1_mean": float(model_top.mean()),
            "model_to_oracle_ratio": float(model_top.mean() / np.mean(oracle)),
            # The oracle above may staff partners that were inactive or at capacity on the deal's date.
            "oracle_available_mean": float(np.mean(oracle_available)),
            "model_to_oracle_available_ratio": float(model_top.mean() / np.mean(oracle_available)),
            "pool_best_mean": float(np.mean(pool_best)),
            "model_to_pool_best_ratio": float(model_top.mean() / np.mean(pool_best)),
            "lift_vs_historical": bootstrap_lift(model_top - np.array(historical), cfg.bootstrap, cfg.seed),
        }
    return EvaluationReport(
        k=k,
        opportunities=evaluated,
        won_opportunities=len(ranks[MODEL]),
        methods=summary,
        lifts=lifts,
        calibration=calibration,
        truth=truth_summary,
        replay=replay,
        competing_bids=bids,
    )


def load_truth(directory: Path | None) -> Any | None:
    """The synthetic ground truth of an export folder, or None when there is none."""
    if directory is None:
        return None
    from synthetic.truth import ARRAYS_FILE, TRUTH_DIR, GroundTruth

    path = Path(directory)
    if not ((path / TRUTH_DIR / ARRAYS_FILE).exists() or (path / ARRAYS_FILE).exists()):
        return None
    return GroundTruth.load(path)
