"""Request-level ranking: translates an API request into models/ calls, adds MMR diversity and feature rows.

The ranking logic (rules of engagement, beam assembly, scoring, calibration, credit, contributions) lives
in `models.recommender.TeamRecommender`; this module only maps the request onto it, so the API and the
batch command rank identically.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from features.prepared import PreparedOpportunity
from features.records import OpportunityQuery
from models.assembly import RankedTeam
from models.recommender import TeamRecommender
from models.rules import DroppedPartner, TeamConstraints
from models.velocity import DEFAULT_RANK_BY, RankBy

# With diversity on, MMR picks k teams out of this many times k of the best-scored ones.
MMR_POOL_FACTOR = 4
MAX_POOL = 50


class RankingError(ValueError):
    """A request the model cannot answer as asked; `status` and `code` are what the API answers."""

    status = 422
    code = "invalid_request"


class UnknownPartner(RankingError):
    """The request names a partner the served model does not know: a missing resource, not a bad rule."""

    status = 404
    code = "unknown_partner"


class ConflictingRequest(RankingError):
    """The request contradicts itself or the partners' records (a rule JSON Schema cannot state)."""

    status = 409
    code = "conflicting_request"


@dataclass(frozen=True)
class RankSpec:
    """What one request asks for, in ranking terms."""

    roles: tuple[str, ...]
    k: int
    constraints: TeamConstraints = TeamConstraints()
    candidate_teams: tuple[Mapping[str, str | None], ...] | None = None
    diversity: float | None = None  # MMR lambda in (0, 1]; None = plain score order
    explain: bool = False
    filters_applied: tuple[str, ...] = ()
    rank_by: RankBy = DEFAULT_RANK_BY


@dataclass
class ScoredTeam:
    """A ranked team and its feature row (for plain-sentence reasons)."""

    team: RankedTeam
    features: np.ndarray | None = None


@dataclass
class RankResult:
    teams: list[ScoredTeam]
    filters_applied: list[str]
    dropped: list[DroppedPartner] = field(default_factory=list)


class Ranker:
    """Answers RankSpecs with one loaded recommender over one immutable feature snapshot."""

    def __init__(self, recommender: TeamRecommender) -> None:
        self.recommender = recommender
        self.snapshot = recommender.snapshot

    def check_roles(self, roles: Sequence[str] | None) -> tuple[str, ...]:
        try:
            return self.recommender.check_roles(list(dict.fromkeys(roles)) if roles else None)
        except ValueError as exc:
            raise RankingError(str(exc)) from exc

    def check_rank_by(self, rank_by: RankBy) -> RankBy:
        """Refuse an order the served model cannot compute (no cycle-time model or no calibrator)."""
        recommender = self.recommender
        if rank_by == "expected_value_per_day" and (
            recommender.cycle_time is None or recommender.ranker.calibrator_ is None
        ):
            raise RankingError(
                "rank_by expected_value_per_day needs a model version with a cycle-time model; "
                "the served version has none (rank by score, or reload a newer version)"
            )
        return rank_by

    def knows(self, partner_id: str) -> bool:
        return self.snapshot.knows(partner_id)

    def check_known(self, partner_ids: Sequence[str]) -> None:
        unknown = sorted(pid for pid in set(partner_ids) if not self.knows(pid))
        if unknown:
            raise UnknownPartner(f"unknown partner(s) {unknown[:10]}")

    def prepare(self, queries: Sequence[OpportunityQuery]) -> list[PreparedOpportunity]:
        """Embed every query in one encoder call."""
        return self.snapshot.prepare(queries)

    def rank(self, opp: PreparedOpportunity, spec: RankSpec) -> RankResult:
        wanted = spec.k if spec.diversity is None else min(MAX_POOL, spec.k * MMR_POOL_FACTOR)
        dropped: list[DroppedPartner] = []
        try:
            if spec.candidate_teams is not None:
                teams = [self._check_team(team, spec.roles) for team in spec.candidate_teams]
                ranked = self.recommender.rank_teams(opp, teams, wanted, spec.explain, spec.rank_by)
            else:
                found = self.recommender.recommend_prepared(
                    opp, spec.roles, wanted, spec.constraints, spec.explain, spec.rank_by
                )
                ranked, dropped = found.teams, list(found.dropped)
        except RankingError:
            raise
        except (KeyError, ValueError) as exc:
            raise RankingError(str(exc.args[0]) if isinstance(exc, KeyError) else str(exc)) from exc
        if spec.diversity is not None:
            ranked = mmr(ranked, spec.roles, spec.k, spec.diversity, _relevance(ranked, spec.rank_by))
        # Every team carries the feature row it was scored with: reasons need no second feature pass.
        scored = [ScoredTeam(team, team.features) for team in ranked]
        return RankResult(scored, list(spec.filters_applied), dropped)

    def _check_team(self, team: Mapping[str, str | None], roles: Sequence[str]) -> dict[str, str | None]:
        extra = set(team) - set(roles)
        if extra:
            raise ConflictingRequest(f"team names role(s) {sorted(extra)} that were not requested")
        out: dict[str, str | None] = {}
        for role in roles:
            pid = team.get(role)
            if pid is not None:
                actual = self.snapshot.role_of(pid)
                if actual is None:
                    raise UnknownPartner(f"unknown partner {pid!r}")
                if actual != role:
                    raise ConflictingRequest(f"partner {pid} is a {actual} partner, not {role}")
            out[role] = pid
        return out


def _relevance(teams: Sequence[RankedTeam], rank_by: RankBy) -> list[float] | None:
    """What diversity trades against overlap: the score (None), or P(win) per expected day."""
    if rank_by == "score":
        return None
    return [
        (t.win_probability or 0.0) / t.expected_days_to_close if t.expected_days_to_close else 0.0
        for t in teams
    ]


def mmr(
    teams: Sequence[RankedTeam],
    roles: Sequence[str],
    k: int,
    weight: float,
    relevance: Sequence[float] | None = None,
) -> list[RankedTeam]:
    """Greedy maximal marginal relevance: weight * relevance - (1 - weight) * overlap with chosen teams.

    Relevance is the score (or the given per-team values, in the pool's order) rescaled to [0, 1] over the
    pool; overlap is the share of a team's members already on a chosen team. Weight 1 keeps the pool order.
    """
    if not teams:
        return []
    scores = np.asarray([t.score for t in teams] if relevance is None else list(relevance), dtype=np.float64)
    span = float(scores.max() - scores.min()) or 1.0
    relevance = (scores - scores.min()) / span
    members = [{(r, t.members.get(r)) for r in roles if t.members.get(r) is not None} for t in teams]
    pool = list(range(len(teams)))
    chosen: list[int] = []
    while pool and len(chosen) < k:

        def gain(i: int) -> float:
            overlap = max(
                (len(members[i] & members[j]) / max(len(members[i]), 1) for j in chosen), default=0.0
            )
            return float(weight * relevance[i] - (1 - weight) * overlap)

        best = max(pool, key=gain)  # ties keep the score order: max returns the first best
        chosen.append(best)
        pool.remove(best)
    return [replace(teams[i], rank=position + 1) for position, i in enumerate(chosen)]
