"""The reference methods ranked beside the model: what a programme manager does without one."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from features import schema as s
from features.history import DEALS, WINS
from features.snapshot import FeatureSnapshot, PreparedOpportunity

# What a programme manager would do without a model. `most_earlier_wins` was called `popularity` before
# (the same measure: the members' wins closed before the deal was created).
MOST_EARLIER_WINS = "most_earlier_wins"
MOST_ACTIVE = "most_active"
BASELINES = (
    "random",
    MOST_EARLIER_WINS,
    MOST_ACTIVE,
    "prm_rules",
    "embedding_similarity",
    "win_rate_heuristic",
)

Teams = list[dict[str, str | None]]
Scorer = Callable[[PreparedOpportunity, Teams, np.ndarray], np.ndarray]  # (opp, teams, features) -> scores


def baseline_scorers(snapshot: FeatureSnapshot, seed: int) -> dict[str, Scorer]:
    """The reference methods, each ranking the same candidate teams as the model."""
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

    def history_sum(stat: str) -> Scorer:
        """Sum over members of a count of deals closed before the opportunity was created."""

        def scores(opp: PreparedOpportunity, teams: Teams, features: np.ndarray) -> np.ndarray:
            members = sorted({p for t in teams for p in t.values() if p is not None})
            counts = snapshot.history.stats(members, opp.query.as_of, industry=None, region=None)[stat]
            per = counts.to_dict()
            return np.array([sum(per.get(p, 0.0) for p in t.values() if p is not None) for t in teams])

        return scores

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
        MOST_EARLIER_WINS: history_sum(WINS),
        MOST_ACTIVE: history_sum(DEALS),
        "prm_rules": prm_rules,
        "embedding_similarity": embedding,
        "win_rate_heuristic": win_rate,
    }
