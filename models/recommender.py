"""One recommendation engine for evaluation, batch and the API: retrieve, assemble, featurise, score."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from features.engine import FeatureEngine, PreparedOpportunity
from features.records import OpportunityQuery
from models.ranker import TeamRanker
from models.teams import AssemblyPlan, RankedTeam, assemble_teams, candidates_per_role

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RecommenderConfig:
    """Search budget per request."""

    max_candidates_per_role: int = 30
    max_teams_scored: int = 2000
    keep_registered_partner: bool = True


def plan_candidates(
    engine: FeatureEngine, opp: PreparedOpportunity, roles: Sequence[str], config: RecommenderConfig
) -> AssemblyPlan:
    """Candidates per role after the hard filters, with the registered partner locked in its role."""
    n = candidates_per_role(len(roles), config.max_teams_scored, config.max_candidates_per_role)
    candidates = {role: engine.candidates(opp, role, n) for role in roles}
    locked: dict[str, str] = {}
    registered = opp.query.registered_partner_id
    if config.keep_registered_partner and registered:
        for role in roles:
            if candidates[role] and candidates[role][0] == registered:
                locked[role] = registered
    return AssemblyPlan(roles=tuple(roles), candidates=candidates, locked=locked)


class TeamRecommender:
    """Top-k partner teams for opportunities, from a feature engine and a trained ranker."""

    def __init__(
        self, engine: FeatureEngine, ranker: TeamRanker, config: RecommenderConfig | None = None
    ) -> None:
        if tuple(ranker.feature_names_) != tuple(engine.feature_names):
            raise ValueError(
                "ranker and feature engine disagree on the feature list; retrain or rebuild features"
            )
        self.engine = engine
        self.ranker = ranker
        self.config = config or RecommenderConfig()

    def rank_prepared(self, opp: PreparedOpportunity, roles: Sequence[str], k: int) -> list[RankedTeam]:
        teams = assemble_teams(
            plan_candidates(self.engine, opp, roles, self.config), self.config.max_teams_scored
        )
        if not teams:
            return []
        scores = self.ranker.score(self.engine.team_features(opp, teams))
        # Stable sort keeps the retrieval order among equal scores, so results are deterministic.
        order = np.argsort(-scores, kind="stable")[:k]
        return [
            RankedTeam(rank=position + 1, score=float(scores[i]), members=dict(teams[i]))
            for position, i in enumerate(order)
        ]

    def recommend(
        self, queries: Sequence[OpportunityQuery], k: int, roles: Sequence[str] | None = None
    ) -> list[list[RankedTeam]]:
        """Top-k teams per opportunity; embeddings for all queries are computed in one batch."""
        use_roles = tuple(roles) if roles else self.engine.roles
        unknown = [role for role in use_roles if role not in self.engine.roles]
        if unknown:
            raise ValueError(f"unknown role(s) {unknown}; this model knows {list(self.engine.roles)}")
        prepared = self.engine.prepare(queries)
        return [self.rank_prepared(opp, use_roles, k) for opp in prepared]
