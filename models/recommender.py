"""One recommendation engine for evaluation, batch and the API: retrieve, constrain, beam-assemble, score."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from features import schema as s
from features.engine import FeatureEngine, PreparedOpportunity
from features.records import OpportunityQuery
from models.constraints import (
    RULE_CONFLICT,
    RULE_EXCLUDED,
    RULE_UNKNOWN,
    RULE_WRONG_ROLE,
    CertificationBook,
    DroppedPartner,
    TeamConstraints,
    conflict_free,
    partner_violation,
)
from models.ranker import TeamRanker
from models.teams import AssemblyPlan, FeatureContribution, RankedTeam, beam_search

logger = logging.getLogger(__name__)

FINAL_STAGE = "final_stage"  # request memo: the beam's last scored teams and their feature rows

INACTIVE_RULE = "inactive"
TOP_CONTRIBUTIONS = 6
# Retrieval over-fetch rounds when rules drop many of the nearest partners.
MAX_FETCH_ROUNDS = 3


@dataclass(frozen=True)
class RecommenderConfig:
    """Search budget per request; `required_roles` are never left empty when a candidate exists."""

    # 20 candidates and a beam of 10 (630 teams scored) matched 30 and 30 (1,860 teams) on the calibration
    # slice of the generated 3k/30k ecosystem: top-1 true win probability 0.570 vs 0.568
    # (bench/results/tune-search.json), at a third of the request's scoring work.
    max_candidates_per_role: int = 20
    # Of those, up to this many come from the engine's quality prior (region, skill fit, PSAT, tier),
    # interleaved with the text-similarity ones, so the pool holds teams text retrieval alone misses.
    prior_candidates_per_role: int = 10
    max_teams_scored: int = 2000
    beam_width: int = 10
    keep_registered_partner: bool = True
    required_roles: tuple[str, ...] = (s.SERVICES,)


@dataclass(frozen=True)
class Recommendation:
    """Top-k teams for one opportunity plus what the rules did."""

    teams: list[RankedTeam]
    dropped: list[DroppedPartner] = field(default_factory=list)
    locked: dict[str, str] = field(default_factory=dict)
    teams_scored: int = 0


def _certification_frame(engine: FeatureEngine) -> pd.DataFrame:
    # The engine keeps its certification rows private; ask it first through a public name if one exists.
    for name in ("certifications", "_certifications"):
        frame = getattr(engine, name, None)
        if isinstance(frame, pd.DataFrame):
            return frame
    return pd.DataFrame(columns=list(s.COLUMNS[s.CERTIFICATIONS]))


def plan_candidates(
    engine: FeatureEngine,
    opp: PreparedOpportunity,
    roles: Sequence[str],
    config: RecommenderConfig,
    constraints: TeamConstraints | None = None,
    certifications: CertificationBook | None = None,
) -> AssemblyPlan:
    """Candidates per role after the engine's filters and the request's rules; locked partners per role."""
    rules = constraints or TeamConstraints()
    query = opp.query
    excluded = frozenset(query.excluded_partner_ids) | rules.exclude
    dropped: dict[str, DroppedPartner] = {
        pid: DroppedPartner(pid, engine.role_of(pid), RULE_EXCLUDED, "on the request's exclusion list")
        for pid in sorted(rules.exclude)
    }
    locked: dict[str, str] = {}
    keep_registration = config.keep_registered_partner and not rules.ignore_registration
    to_lock = sorted(rules.include)
    if keep_registration and query.registered_partner_id and query.registered_partner_id not in excluded:
        to_lock = [query.registered_partner_id, *to_lock]
    for pid in to_lock:
        role = engine.role_of(pid)
        if role is None:
            dropped[pid] = DroppedPartner(pid, None, RULE_UNKNOWN, "not a known partner")
        elif role not in roles:
            dropped[pid] = DroppedPartner(pid, role, RULE_WRONG_ROLE, f"plays {role}, not requested")
        elif role not in locked:
            locked[role] = pid
    conflicts = {other: pid for pid in locked.values() for other in rules.conflicts_of(pid)}
    retrieval = replace(
        opp,
        query=replace(
            query,
            excluded_partner_ids=excluded,
            registered_partner_id=query.registered_partner_id if keep_registration else None,
        ),
    )

    def eligible(pid: str) -> bool:
        if not rules.filters_partners:
            return True
        if pid in conflicts:
            dropped[pid] = DroppedPartner(
                pid, engine.role_of(pid), RULE_CONFLICT, f"conflicts with {conflicts[pid]}"
            )
            return False
        profile = engine.partner(pid)
        if rules.allowed is not None and profile.get(s.STATUS) not in (None, s.DEFAULT_PARTNER_STATUS):
            dropped[pid] = DroppedPartner(pid, profile["role"], INACTIVE_RULE, "partner is inactive")
            return False
        broken = partner_violation(
            profile, rules, region=query.region, as_of=query.as_of, certifications=certifications
        )
        if broken is not None:
            dropped[pid] = DroppedPartner(pid, str(profile["role"]), broken[0], broken[1])
            return False
        return True

    n = config.max_candidates_per_role
    candidates: dict[str, list[str]] = {}
    for role in roles:
        if role in locked:
            candidates[role] = [locked[role]]
            continue
        if rules.allowed is not None:
            shortlist = [p for p in sorted(rules.allowed) if engine.role_of(p) == role and p not in excluded]
            candidates[role] = [p for p in shortlist if eligible(p)][:n]
            continue
        fetch = n
        kept: list[str] = []
        for _ in range(MAX_FETCH_ROUNDS):
            retrieved = engine.candidates(retrieval, role, fetch)
            kept = [p for p in retrieved if eligible(p)]
            if len(kept) >= n or len(retrieved) < fetch:
                break
            fetch *= 3
        candidates[role] = _interleave(_prior_kept(engine, retrieval, role, config, eligible), kept, n)
    return AssemblyPlan(
        roles=tuple(roles), candidates=candidates, locked=locked, dropped=tuple(dropped.values())
    )


def _prior_kept(
    engine: FeatureEngine,
    opp: PreparedOpportunity,
    role: str,
    config: RecommenderConfig,
    eligible: Callable[[str], bool],
) -> list[str]:
    """The best eligible partners of `role` by the engine's quality prior, at most the configured share."""
    q = min(config.prior_candidates_per_role, config.max_candidates_per_role)
    if q <= 0:
        return []
    return [p for p in engine.prior_candidates(opp, role, 3 * q) if eligible(p)][:q]


def _interleave(first: Sequence[str], second: Sequence[str], n: int) -> list[str]:
    """Alternate two ranked lists (first leads), without duplicates, keeping at most n ids."""
    out: dict[str, None] = {}
    for i in range(max(len(first), len(second))):
        for source in (first, second):
            if i < len(source):
                out.setdefault(source[i], None)
    return list(out)[:n]


class TeamRecommender:
    """Top-k partner teams for opportunities, from a feature engine and a trained (calibrated) ranker."""

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
        self._certifications: CertificationBook | None = None

    @property
    def certifications(self) -> CertificationBook:
        """Built on first use: only requests that require certifications need it."""
        if self._certifications is None:
            self._certifications = CertificationBook(_certification_frame(self.engine))
        return self._certifications

    def score_teams(self, opp: PreparedOpportunity, teams: Sequence[Mapping[str, str | None]]) -> np.ndarray:
        """Ranker scores of teams for one opportunity: one feature call, one native predict call."""
        if not teams:
            return np.zeros(0)
        return self.ranker.score(self.engine.team_features(opp, teams))

    def plan(
        self, opp: PreparedOpportunity, roles: Sequence[str], constraints: TeamConstraints | None = None
    ) -> AssemblyPlan:
        needs_certs = constraints is not None and bool(constraints.required_certifications)
        return plan_candidates(
            self.engine,
            opp,
            roles,
            self.config,
            constraints,
            self.certifications if needs_certs else None,
        )

    def search(
        self, opp: PreparedOpportunity, roles: Sequence[str], constraints: TeamConstraints | None = None
    ) -> tuple[AssemblyPlan, list[dict[str, str | None]], np.ndarray, int]:
        """The beam search's final teams and scores (unsorted) for one opportunity."""
        plan = self.plan(opp, roles, constraints)
        # Every team below is drawn from these candidates: their member features are computed once.
        self.engine.remember_members(opp, [p for ids in plan.candidates.values() for p in ids])
        rules = constraints or TeamConstraints()

        def score(batch: Sequence[Mapping[str, str | None]]) -> np.ndarray:
            features = self.engine.team_features(opp, batch)
            # `finish` takes the top teams' rows from the last stage instead of computing them again.
            opp.memo[FINAL_STAGE] = (batch, features)
            return self.ranker.score(features)

        teams, scores, scored = beam_search(
            plan,
            score,
            beam_width=self.config.beam_width,
            max_teams=self.config.max_teams_scored,
            optional_roles=[r for r in roles if r not in self.config.required_roles],
            allowed=(lambda team: conflict_free(team, rules)) if rules.conflicting_pairs else None,
        )
        return plan, teams, scores, scored

    def rank_prepared(
        self,
        opp: PreparedOpportunity,
        roles: Sequence[str],
        k: int,
        constraints: TeamConstraints | None = None,
        explain: bool = False,
    ) -> list[RankedTeam]:
        return self.recommend_prepared(opp, roles, k, constraints, explain).teams

    def recommend_prepared(
        self,
        opp: PreparedOpportunity,
        roles: Sequence[str],
        k: int,
        constraints: TeamConstraints | None = None,
        explain: bool = False,
    ) -> Recommendation:
        plan, teams, scores, scored = self.search(opp, roles, constraints)
        ranked = self.finish(opp, teams, scores, k, explain)
        return Recommendation(ranked, list(plan.dropped), dict(plan.locked), scored)

    def rank_teams(
        self,
        opp: PreparedOpportunity,
        teams: Sequence[Mapping[str, str | None]],
        k: int,
        explain: bool = False,
    ) -> list[RankedTeam]:
        """Re-rank explicit teams given by the caller (one batch call)."""
        full = [{role: team.get(role) for role in self.engine.roles} for team in teams]
        return self.finish(opp, full, self.score_teams(opp, full), k, explain)

    def finish(
        self,
        opp: PreparedOpportunity,
        teams: Sequence[Mapping[str, str | None]],
        scores: np.ndarray,
        k: int,
        explain: bool,
    ) -> list[RankedTeam]:
        """Top-k by score with calibrated win probability, expected value, credit split and explanation."""
        if not teams:
            return []
        # Stable sort keeps the assembly order among equal scores, so results are deterministic.
        order = np.argsort(-scores, kind="stable")[:k]
        top = [dict(teams[i]) for i in order]
        top_scores = scores[order]
        probabilities = self.ranker.win_probability(top_scores)
        scored_teams, scored_features = opp.memo.get(FINAL_STAGE, (None, None))
        features = scored_features[order] if scored_teams is teams else self.engine.team_features(opp, top)
        contributions = self.ranker.contributions(features)
        size = opp.query.deal_size
        has_size = size is not None and math.isfinite(size) and size > 0
        out: list[RankedTeam] = []
        for position, (team, score) in enumerate(zip(top, top_scores, strict=True)):
            p = None if probabilities is None else float(probabilities[position])
            out.append(
                RankedTeam(
                    rank=position + 1,
                    score=float(score),
                    members=team,
                    win_probability=p,
                    expected_value=float(p * size) if p is not None and has_size and size else None,
                    credit_shares=credit_shares(team, self.engine.feature_names, contributions[position]),
                    contributions=(
                        self._explain(features[position], contributions[position]) if explain else []
                    ),
                    features=features[position],
                )
            )
        return out

    def _explain(self, values: np.ndarray, contrib: np.ndarray) -> list[FeatureContribution]:
        names = self.engine.feature_names
        order = np.argsort(-np.abs(contrib[: len(names)]), kind="stable")[:TOP_CONTRIBUTIONS]
        return [
            FeatureContribution(
                feature=names[i],
                description=self.engine.feature_descriptions.get(names[i], names[i]),
                value=float(values[i]),
                contribution=float(contrib[i]),
            )
            for i in order
            if contrib[i] != 0.0
        ]

    def recommend(
        self,
        queries: Sequence[OpportunityQuery],
        k: int,
        roles: Sequence[str] | None = None,
        constraints: TeamConstraints | None = None,
        explain: bool = False,
    ) -> list[list[RankedTeam]]:
        """Top-k teams per opportunity; embeddings for all queries are computed in one batch."""
        return [r.teams for r in self.recommend_detailed(queries, k, roles, constraints, explain)]

    def recommend_detailed(
        self,
        queries: Sequence[OpportunityQuery],
        k: int,
        roles: Sequence[str] | None = None,
        constraints: TeamConstraints | None = None,
        explain: bool = False,
    ) -> list[Recommendation]:
        use_roles = self.check_roles(roles)
        prepared = self.engine.prepare(queries)
        return [self.recommend_prepared(opp, use_roles, k, constraints, explain) for opp in prepared]

    def check_roles(self, roles: Sequence[str] | None) -> tuple[str, ...]:
        use_roles = tuple(roles) if roles else self.engine.roles
        unknown = [role for role in use_roles if role not in self.engine.roles]
        if unknown:
            raise ValueError(f"unknown role(s) {unknown}; this model knows {list(self.engine.roles)}")
        return use_roles


@lru_cache(maxsize=64)
def _role_columns(feature_names: tuple[str, ...], role: str) -> np.ndarray:
    """Positions of a role's own member features (named `<role>_...`)."""
    own = [i for i, name in enumerate(feature_names) if name.startswith(f"{role}_")]
    return np.asarray(own, dtype=np.intp)


def credit_shares(
    team: Mapping[str, str | None], feature_names: Sequence[str], contrib: np.ndarray
) -> dict[str, float]:
    """Each member's share of the team's positive score contributions (its role's features); sums to 1.

    Team-level features (coverage, pair history) are not attributable to one member and are left out.
    When no member contributes positively the credit is split evenly.
    """
    members = {role: pid for role, pid in team.items() if pid is not None}
    if not members:
        return {}
    names = tuple(feature_names)
    raw = {pid: max(float(contrib[_role_columns(names, role)].sum()), 0.0) for role, pid in members.items()}
    norm = sum(raw.values())
    if norm <= 0.0:
        return {pid: 1.0 / len(raw) for pid in raw}
    return {pid: value / norm for pid, value in raw.items()}


def describe(recommendation: Recommendation) -> dict[str, Any]:
    """A plain-dict view (for logs and JSON output)."""
    return {
        "teams": [
            {
                "rank": t.rank,
                "score": t.score,
                "win_probability": t.win_probability,
                "expected_value": t.expected_value,
                "members": t.members,
                "credit_shares": t.credit_shares,
            }
            for t in recommendation.teams
        ],
        "dropped": [vars(d) for d in recommendation.dropped],
        "teams_scored": recommendation.teams_scored,
    }
