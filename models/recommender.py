"""One recommendation engine for evaluation, batch and the API: retrieve, constrain, beam-assemble, score."""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from features.co_selling import Teammate, companions, partnerships
from features.featurizer import MemberBlock
from features.prepared import PreparedOpportunity
from features.records import OpportunityQuery
from features.snapshot import FeatureSnapshot
from models.assembly import AssemblyPlan, RankedTeam, TeamMember, beam_search
from models.candidates import plan_candidates
from models.config import SearchConfig
from models.cycle_time import CycleTimeModel
from models.explanations import (
    credit_shares,
    held_certificates,
    is_cold_start,
    member_reasons,
    partnership_reasons,
    top_contributions,
)
from models.ranker import TeamRanker
from models.rules import DroppedPartner, TeamConstraints, conflict_free
from models.velocity import DEFAULT_RANK_BY, RankBy, expected_value_per_day, value_per_day_order

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Recommendation:
    """Top-k teams for one opportunity plus what the rules did."""

    teams: list[RankedTeam]
    dropped: list[DroppedPartner] = field(default_factory=list)
    locked: dict[str, str] = field(default_factory=dict)
    teams_scored: int = 0


@dataclass
class _Members:
    """The request's member-feature block, grown as the beam search brings in companions."""

    members: MemberBlock


@dataclass
class _ScoredStage:
    """The beam's last scored batch and its feature rows: the top teams' rows are taken from it."""

    teams: Sequence[Mapping[str, str | None]] | None = None
    features: np.ndarray | None = None


class TeamRecommender:
    """Top-k partner teams for opportunities, from a feature snapshot and a trained (calibrated) ranker."""

    def __init__(
        self,
        snapshot: FeatureSnapshot,
        ranker: TeamRanker,
        config: SearchConfig,
        cycle_time: CycleTimeModel | None = None,
    ) -> None:
        if tuple(ranker.feature_names_) != tuple(snapshot.feature_names):
            raise ValueError(
                "ranker and feature snapshot disagree on the feature list; retrain or rebuild features"
            )
        self.snapshot = snapshot
        self.ranker = ranker
        self.config = config
        self.cycle_time = cycle_time  # expected days to close; None when the bundle has no such model

    def with_snapshot(self, snapshot: FeatureSnapshot) -> TeamRecommender:
        """The same ranker and search budget over another snapshot (after a partner change)."""
        return TeamRecommender(snapshot, self.ranker, self.config, self.cycle_time)

    def score_teams(self, opp: PreparedOpportunity, teams: Sequence[Mapping[str, str | None]]) -> np.ndarray:
        """Ranker scores of teams for one opportunity: one feature call, one native predict call."""
        if not teams:
            return np.zeros(0)
        return self.ranker.score(self.snapshot.team_features(opp, teams))

    def plan(
        self, opp: PreparedOpportunity, roles: Sequence[str], constraints: TeamConstraints | None = None
    ) -> AssemblyPlan:
        return plan_candidates(self.snapshot, opp, roles, self.config, constraints)

    def search(
        self, opp: PreparedOpportunity, roles: Sequence[str], constraints: TeamConstraints | None = None
    ) -> tuple[AssemblyPlan, list[dict[str, str | None]], np.ndarray, int]:
        """The beam search's final teams and scores (unsorted) for one opportunity."""
        teams, scores, plan, scored, _ = self._search(opp, roles, constraints)
        return plan, teams, scores, scored

    def _search(
        self, opp: PreparedOpportunity, roles: Sequence[str], constraints: TeamConstraints | None
    ) -> tuple[list[dict[str, str | None]], np.ndarray, AssemblyPlan, int, _ScoredStage]:
        plan = self.plan(opp, roles, constraints)
        # Every team below is drawn from these candidates: their member features are computed once.
        block = _Members(
            self.snapshot.member_block(opp, [p for ids in plan.candidates.values() for p in ids])
        )
        rules = constraints or TeamConstraints()
        last = _ScoredStage()

        def score(batch: Sequence[Mapping[str, str | None]]) -> np.ndarray:
            features = self.snapshot.team_features(opp, batch, block.members)
            last.teams, last.features = batch, features
            return self.ranker.score(features)

        def with_companions(chosen: Sequence[str], role: str) -> list[str]:
            found = companions(self.snapshot, opp, role, chosen, self.config.companions_per_member)
            # Their member features join the request's block once, so every stage still gathers from it.
            block.members = block.members.with_partners(self.snapshot.member_block(opp, found))
            return found

        teams, scores, scored = beam_search(
            plan,
            score,
            beam_width=self.config.beam_width,
            max_teams=self.config.max_teams_scored,
            optional_roles=[r for r in roles if r not in self.config.required_roles],
            allowed=(lambda team: conflict_free(team, rules)) if rules.conflicting_pairs else None,
            companions=(
                with_companions if self.config.companions_per_member > 0 and rules.allowed is None else None
            ),
        )
        return teams, scores, plan, scored, last

    def recommend_prepared(
        self,
        opp: PreparedOpportunity,
        roles: Sequence[str],
        k: int,
        constraints: TeamConstraints | None = None,
        explain: bool = False,
        rank_by: RankBy = DEFAULT_RANK_BY,
    ) -> Recommendation:
        teams, scores, plan, scored, last = self._search(opp, roles, constraints)
        ranked = self._finish(opp, teams, scores, k, explain, last, rank_by)
        return Recommendation(ranked, list(plan.dropped), dict(plan.locked), scored)

    def rank_teams(
        self,
        opp: PreparedOpportunity,
        teams: Sequence[Mapping[str, str | None]],
        k: int,
        explain: bool = False,
        rank_by: RankBy = DEFAULT_RANK_BY,
    ) -> list[RankedTeam]:
        """Re-rank explicit teams given by the caller (one batch call)."""
        full = [{role: team.get(role) for role in self.snapshot.roles} for team in teams]
        return self._finish(opp, full, self.score_teams(opp, full), k, explain, _ScoredStage(), rank_by)

    def _finish(
        self,
        opp: PreparedOpportunity,
        teams: Sequence[Mapping[str, str | None]],
        scores: np.ndarray,
        k: int,
        explain: bool,
        last: _ScoredStage,
        rank_by: RankBy = DEFAULT_RANK_BY,
    ) -> list[RankedTeam]:
        """Top-k by score (or by expected value per day) with calibrated win probability, expected value,
        expected days to close, credit split and explanation."""
        if not teams:
            return []
        if rank_by == "expected_value_per_day":
            order = self._value_per_day_order(opp, teams, scores, last)[:k]
        else:
            # Stable sort keeps the assembly order among equal scores, so results are deterministic.
            order = np.argsort(-scores, kind="stable")[:k]
        top = [dict(teams[i]) for i in order]
        top_scores = scores[order]
        probabilities = self.ranker.win_probability(top_scores)
        features = (
            last.features[order]
            if last.teams is teams and last.features is not None
            else self.snapshot.team_features(opp, top)
        )
        contributions = self.ranker.contributions(features)
        days = self.cycle_time.predict(features) if self.cycle_time is not None else None
        names = self.snapshot.feature_names
        teammates = partnerships(self.snapshot, top, opp.query.as_of)
        size = opp.query.deal_size
        has_size = size is not None and math.isfinite(size) and size > 0
        out: list[RankedTeam] = []
        for position, (team, score) in enumerate(zip(top, top_scores, strict=True)):
            p = None if probabilities is None else float(probabilities[position])
            team_days = None if days is None else float(days[position])
            shares = credit_shares(team, names, contributions[position])
            out.append(
                RankedTeam(
                    rank=position + 1,
                    score=float(score),
                    members=team,
                    win_probability=p,
                    expected_value=float(p * size) if p is not None and has_size and size else None,
                    credit_shares=shares,
                    contributions=(
                        top_contributions(
                            names,
                            self.snapshot.feature_descriptions,
                            features[position],
                            contributions[position],
                        )
                        if explain
                        else []
                    ),
                    features=features[position],
                    details=self._members(team, shares, opp.query, features[position], teammates[position]),
                    expected_days_to_close=team_days,
                    expected_value_per_day=expected_value_per_day(p, size, team_days),
                )
            )
        return out

    def _value_per_day_order(
        self,
        opp: PreparedOpportunity,
        teams: Sequence[Mapping[str, str | None]],
        scores: np.ndarray,
        last: _ScoredStage,
    ) -> np.ndarray:
        """Every final team's position by expected value per day (one feature batch, one native call)."""
        probabilities = self.ranker.win_probability(scores)
        if probabilities is None or self.cycle_time is None:
            raise ValueError(
                "ranking by expected value per day needs a model with a calibrator and a cycle-time model"
            )
        features = (
            last.features
            if last.teams is teams and last.features is not None
            else self.snapshot.team_features(opp, teams)
        )
        return value_per_day_order(scores, probabilities, self.cycle_time.predict(features))

    def _members(
        self,
        team: Mapping[str, str | None],
        shares: Mapping[str, float],
        query: OpportunityQuery,
        row: np.ndarray,
        teammates: Mapping[str, Sequence[Teammate]],
    ) -> tuple[TeamMember, ...]:
        """Each member with its name, cold-start flag and the plain-sentence reasons from its feature row."""
        names = self.snapshot.feature_positions
        out = []
        for role, pid in team.items():
            if pid is None:
                continue
            profile = self.snapshot.partner(pid)
            out.append(
                TeamMember(
                    partner_id=pid,
                    role=role,
                    name=str(profile.get("name") or pid),
                    cold_start=is_cold_start(names, row, role),
                    credit_share=shares.get(pid),
                    reasons=(
                        *member_reasons(
                            profile,
                            role,
                            query,
                            names,
                            row,
                            held_certificates(self.snapshot.catalog, pid, query.as_of),
                        ),
                        *partnership_reasons(pid, teammates.get(pid, [])),
                    ),
                )
            )
        return tuple(out)

    def recommend(
        self,
        queries: Sequence[OpportunityQuery],
        k: int,
        roles: Sequence[str] | None = None,
        constraints: TeamConstraints | None = None,
        explain: bool = False,
        rank_by: RankBy = DEFAULT_RANK_BY,
    ) -> list[Recommendation]:
        """Top-k teams per opportunity; embeddings for all queries are computed in one batch."""
        use_roles = self.check_roles(roles)
        prepared = self.snapshot.prepare(queries)
        return [self.recommend_prepared(opp, use_roles, k, constraints, explain, rank_by) for opp in prepared]

    def check_roles(self, roles: Sequence[str] | None) -> tuple[str, ...]:
        use_roles = tuple(roles) if roles else self.snapshot.roles
        unknown = [role for role in use_roles if role not in self.snapshot.roles]
        if unknown:
            raise ValueError(f"unknown role(s) {unknown}; this model knows {list(self.snapshot.roles)}")
        return use_roles
