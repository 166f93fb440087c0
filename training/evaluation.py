"""Honest evaluation on a later period: the model against baselines, calibration and ground truth."""

from __future__ import annotations

import json
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
from features.snapshot import FeatureSnapshot, PreparedOpportunity
from models.assembly import assemble_teams, team_key
from models.recommender import TeamRecommender
from training.metrics import (
    graded_ndcg,
    ndcg_of_single_target,
    rank_of_target,
    recall_at_k,
    reciprocal_rank,
)

logger = logging.getLogger(__name__)

MODEL = "model"
BASELINES = ("random", "popularity", "prm_rules", "embedding_similarity", "win_rate_heuristic")
# A reference row, not a method: the neutral pool ranked by the true win probability. The won-team metrics
# reward copying how deals were routed, and routing in the generated data favours popular partners, so
# this row shows what they reach for a ranking that picks the teams that truly win. No lift is computed
# over it and the promotion gate reads only the model's row.
TRUTH_REFERENCE = "ground_truth"
TOP1_TRUE_WIN = "top1_true_win_probability"
RELIABILITY_BINS = 10
REPORT_FILE = "evaluation.json"

Teams = list[dict[str, str | None]]
Scorer = Callable[[PreparedOpportunity, Teams, np.ndarray], np.ndarray]  # (opp, teams, features) -> scores


@dataclass(frozen=True)
class EvaluationConfig:
    k: int = 5
    pool_size: int = 1000  # retrieval-ordered teams every method ranks beside the actual (the neutral pool)
    bootstrap: int = 1000
    seed: int = 7


@dataclass
class EvaluationReport:
    """Everything `evaluate` measured; `to_dict` is the JSON report.

    `methods` holds the model, the baselines and, with a ground truth, the `TRUTH_REFERENCE` row.
    """

    k: int
    opportunities: int
    won_opportunities: int
    methods: dict[str, dict[str, float]]
    lifts: dict[str, dict[str, dict[str, float]]]
    calibration: dict[str, Any]
    truth: dict[str, Any] = field(default_factory=dict)
    plots: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "k": self.k,
            "opportunities": self.opportunities,
            "won_opportunities": self.won_opportunities,
            "methods": self.methods,
            "lift_over_baselines": self.lifts,
            "calibration": self.calibration,
            "truth": self.truth,
            "plots": self.plots,
        }

    def flat_metrics(self) -> dict[str, float]:
        """Scalar metrics for MLflow: test_<method>_<metric> and test_lift_<metric>_vs_<baseline>_*."""
        out: dict[str, float] = {}
        for method, values in self.methods.items():
            out.update({f"test_{method}_{name}": v for name, v in values.items()})
        for metric, per_baseline in self.lifts.items():
            for baseline, ci in per_baseline.items():
                out.update({f"test_lift_{metric}_vs_{baseline}_{part}": v for part, v in ci.items()})
        for name in ("auc", "brier"):
            if isinstance(self.calibration.get(name), float):
                out[f"test_{name}"] = self.calibration[name]
        for name, value in self.truth.items():
            if isinstance(value, float):
                out[f"test_truth_{name}"] = value
        return out


def baseline_scorers(snapshot: FeatureSnapshot, seed: int) -> dict[str, Scorer]:
    """The five reference methods, each ranking the same candidate teams as the model."""
    names = snapshot.feature_positions
    roles = snapshot.roles
    rng = np.random.default_rng(seed)

    def column(features: np.ndarray, role: str, suffix: str) -> np.ndarray:
        return features[:, names[f"{role}_{suffix}"]]

    def present(features: np.ndarray, role: str) -> np.ndarray:
        return column(features, role, "present") > 0

    def member_sum(features: np.ndarray, suffix: str) -> np.ndarray:
        return sum(
            (np.where(present(features, r), column(features, r, suffix), 0.0) for r in roles),
            np.zeros(features.shape[0]),
        )

    def random_scores(opp: PreparedOpportunity, teams: Teams, features: np.ndarray) -> np.ndarray:
        return rng.random(len(teams))

    def popularity(opp: PreparedOpportunity, teams: Teams, features: np.ndarray) -> np.ndarray:
        members = sorted({p for t in teams for p in t.values() if p is not None})
        stats = snapshot.history.stats(members, opp.query.as_of, industry=None, region=None)
        wins = stats["wins"].to_dict()
        return np.array([sum(wins.get(p, 0.0) for p in t.values() if p is not None) for t in teams])

    def prm_rules(opp: PreparedOpportunity, teams: Teams, features: np.ndarray) -> np.ndarray:
        wanted = {tag.lower() for tag in opp.query.required_skills}
        overlap: dict[str, float] = {}
        for pid in {p for t in teams for p in t.values() if p is not None}:
            tags = {str(tag).lower() for tag in snapshot.partner(pid)[s.SKILLS]}
            overlap[pid] = len(tags & wanted) / max(len(wanted), 1)
        tag_score = np.array([sum(overlap[p] for p in t.values() if p is not None) for t in teams])
        return (
            member_sum(features, "region_match") + 2.0 * tag_score + member_sum(features, "tier_rank") / 3.0
        )

    def embedding(opp: PreparedOpportunity, teams: Teams, features: np.ndarray) -> np.ndarray:
        return member_sum(features, "text_similarity")

    def win_rate(opp: PreparedOpportunity, teams: Teams, features: np.ndarray) -> np.ndarray:
        rates = sum(
            (member_sum(features, suffix) for suffix in ("win_rate", "industry_win_rate", "region_win_rate")),
            np.zeros(features.shape[0]),
        )
        size = np.maximum(features[:, names["team_size"]], 1.0)
        return rates / size

    return {
        "random": random_scores,
        "popularity": popularity,
        "prm_rules": prm_rules,
        "embedding_similarity": embedding,
        "win_rate_heuristic": win_rate,
    }


def bootstrap_lift(diff: np.ndarray, n: int, seed: int) -> dict[str, float]:
    """Mean paired difference over opportunities with a percentile 95% interval."""
    if diff.size == 0:
        return {"mean": float("nan"), "ci_low": float("nan"), "ci_high": float("nan")}
    rng = np.random.default_rng(seed)
    means = diff[rng.integers(0, diff.size, size=(n, diff.size))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return {"mean": float(diff.mean()), "ci_low": float(low), "ci_high": float(high)}


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


def evaluate(
    recommender: TeamRecommender,
    opportunities: pd.DataFrame,
    deal_partners: pd.DataFrame,
    config: EvaluationConfig | None = None,
    truth: Any | None = None,
    progress: Callable[[int], None] | None = None,
) -> EvaluationReport:
    """Rank each later-period deal's candidate pool with the model and every baseline; compare.

    Two pools per opportunity. The ranking metrics (NDCG@k, recall@k, MRR of the team that won) use the
    method-neutral pool: the team that actually worked the deal (so its rank is always defined) plus the
    first `pool_size` retrieval-ordered teams. The model's own beam top-k stays out of it: those teams are
    by construction the ones the model scores highest, so they would fill the model's top k and push the
    actual team down for the model alone, a bias against it that no baseline suffers. The top-1 comparison
    with a `GroundTruth` uses the full pool, neutral plus the beam top-k, because the product returns beam
    teams: each method's top-1 is scored by the true win model, beside the oracle's best team, the
    historical team and the best team of the full pool.

    With a ground truth, three more measures make the report say whether a method picks teams that win,
    not only whether it copies how deals were routed: the `TRUTH_REFERENCE` row (the won-team metrics of
    the neutral pool ranked by the true win probability), `true_ndcg_at_k` per method over every evaluated
    opportunity (won or lost), and the oracle restricted to partners available on the opportunity's date.
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
    truth_ranks: list[int] = []
    oracle: list[float] = []
    oracle_available: list[float] = []
    available_on = availability(snapshot)
    historical: list[float] = []
    pool_best: list[float] = []
    actual_prob: list[float] = []
    actual_won: list[bool] = []
    evaluated = 0
    prepared = snapshot.prepare(queries_from_frame(opportunities))
    for opp, outcome in zip(prepared, opportunities[s.OUTCOME], strict=True):
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
        if won:
            for m in methods:
                ranks[m].append(rank_of_target(scores[m][neutral], 0))
        if truth is not None:
            # One truth call for the whole pool; the actual team is row 0, every top-1 is one of its rows.
            true_p = np.asarray(truth.win_probability([oid] * len(unique), unique), dtype=np.float64)
            for m in methods:
                top_truth[m].append(float(true_p[int(np.argmax(scores[m]))]))
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
    calibration: dict[str, Any] = {}
    probs = np.array(actual_prob)
    outcomes = np.array(actual_won, dtype=bool)
    if probs.size and np.isfinite(probs).all():
        calibration["brier"] = float(np.mean((probs - outcomes) ** 2))
        if 0 < outcomes.sum() < outcomes.size:
            from sklearn.metrics import roc_auc_score

            calibration["auc"] = float(roc_auc_score(outcomes, probs))
        calibration["reliability"] = reliability(probs, outcomes)
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
    )


def write_report(report: EvaluationReport, directory: Path) -> list[Path]:
    """The JSON report and PNG plots (reliability curve, metric bars with intervals); returns the files."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    directory.mkdir(parents=True, exist_ok=True)
    files: list[Path] = []
    curve = report.calibration.get("reliability") or []
    if curve:
        fig, ax = plt.subplots(figsize=(5, 5))
        ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect")
        ax.plot(
            [c["mean_predicted"] for c in curve],
            [c["observed_win_rate"] for c in curve],
            marker="o",
            label="model",
        )
        ax.set_xlabel("predicted win probability")
        ax.set_ylabel("observed win rate (actual teams)")
        ax.set_title("Reliability on the test period")
        ax.legend()
        files.append(_save(fig, directory / "reliability.png"))
    colour = {MODEL: "tab:blue", TRUTH_REFERENCE: "tab:green"}
    for metric in (f"ndcg_at_{report.k}", true_ndcg_name(report.k), TOP1_TRUE_WIN):
        order = [MODEL, *(m for m in report.methods if m != MODEL)]
        values = {m: report.methods[m][metric] for m in order if metric in report.methods.get(m, {})}
        if not values:
            continue
        fig, ax = plt.subplots(figsize=(7, 4))
        ax.bar(list(values), list(values.values()), color=[colour.get(m, "tab:grey") for m in values])
        if metric == TOP1_TRUE_WIN and report.truth:
            ax.axhline(report.truth["oracle_mean"], color="tab:green", linestyle="--", label="oracle")
            if "oracle_available_mean" in report.truth:
                ax.axhline(
                    report.truth["oracle_available_mean"],
                    color="tab:olive",
                    linestyle="-.",
                    label="oracle (available partners)",
                )
            ax.axhline(report.truth["historical_mean"], color="tab:red", linestyle=":", label="historical")
            ax.set_ylim(0.0, 1.0)  # a probability; the headroom above the oracle lines holds the legend
            ax.legend(loc="upper center", ncols=3, fontsize="small")
        ax.set_ylabel(metric)
        ax.set_title(f"{metric} on the test period")
        ax.tick_params(axis="x", rotation=30)
        files.append(_save(fig, directory / f"{metric}.png"))
    report.plots = [f.name for f in files]
    path = directory / REPORT_FILE
    path.write_text(json.dumps(report.to_dict(), indent=2, sort_keys=True, default=float))
    return [path, *files]


def _save(fig: Any, path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def load_truth(directory: Path | None) -> Any | None:
    """The synthetic ground truth of an export folder, or None when there is none."""
    if directory is None:
        return None
    from synthetic.truth import ARRAYS_FILE, TRUTH_DIR, GroundTruth

    path = Path(directory)
    if not ((path / TRUTH_DIR / ARRAYS_FILE).exists() or (path / ARRAYS_FILE).exists()):
        return None
    return GroundTruth.load(path)


def summary_lines(report: EvaluationReport) -> Sequence[str]:
    """Human-readable lines for the CLI."""
    lines = [f"{report.opportunities} test opportunities ({report.won_opportunities} won)"]
    for method, values in report.methods.items():
        note = "  (reference: the pool ranked by true win probability)" if method == TRUTH_REFERENCE else ""
        lines.append(f"  {method:22s} " + "  ".join(f"{k}={v:.4f}" for k, v in values.items()) + note)
    for metric, per in report.lifts.items():
        for baseline, ci in per.items():
            lines.append(
                f"  lift {metric} vs {baseline:22s} {ci['mean']:+.4f} "
                f"[{ci['ci_low']:+.4f}, {ci['ci_high']:+.4f}]"
            )
    for name in ("auc", "brier"):
        if name in report.calibration:
            lines.append(f"  {name} {report.calibration[name]:.4f}")
    for name, value in report.truth.items():
        lines.append(f"  truth {name}: {value if isinstance(value, Mapping) else round(float(value), 4)}")
    return lines
