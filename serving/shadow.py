"""Shadow scoring: the challenger ranks answered requests again after the response; both are stored."""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert

from features import tables as t
from serving.errors import ApiError
from serving.metrics import ApiMetrics
from serving.model_holder import Serving
from serving.persistence import ApiStore
from serving.presenters import audit_teams
from serving.ranking import RankResult
from serving.schemas import RecommendationRequest, RecommendationResponse

logger = logging.getLogger(__name__)

# A team as a set of (role, partner): two rankings agree on a team when they name the same members.
TeamKey = frozenset[tuple[str, str]]


def team_key(members: Mapping[str, str | None]) -> TeamKey:
    return frozenset((role, pid) for role, pid in members.items() if pid is not None)


def _keys(teams: Sequence[Mapping[str, Any]]) -> list[TeamKey]:
    return [team_key(team["members"]) for team in sorted(teams, key=lambda team: int(team["rank"]))]


def top1_agrees(champion: Sequence[Mapping[str, Any]], challenger: Sequence[Mapping[str, Any]]) -> bool:
    """Whether both put the same team first (two empty answers agree: neither suggests anything)."""
    first, second = _keys(champion)[:1], _keys(challenger)[:1]
    return first == second


def overlap_at_k(
    champion: Sequence[Mapping[str, Any]], challenger: Sequence[Mapping[str, Any]], k: int
) -> float:
    """Share of the k requested teams that both rankings suggest, in any order (1: the same k teams)."""
    shared = set(_keys(champion)[:k]) & set(_keys(challenger)[:k])
    return len(shared) / k if k > 0 else 0.0


def teams_of(result: RankResult) -> list[dict[str, Any]]:
    """A ranking's teams as the audit trail stores them: rank, score, members {role: partner_id}."""
    return [
        {
            "rank": scored.team.rank,
            "score": scored.team.score,
            "members": {role: pid for role, pid in scored.team.members.items() if pid is not None},
        }
        for scored in result.teams
    ]


@dataclass(frozen=True)
class ChallengerRanking:
    """The challenger's answer to one request: its teams (audit form) and the time it took."""

    teams: list[dict[str, Any]]
    seconds: float


# Ranks requests with the challenger; None for a request it cannot answer (e.g. a partner it does not know).
RankWith = Callable[[Serving, Sequence[RecommendationRequest]], list[ChallengerRanking | None]]


class ShadowScorer:
    """Decides which requests are shadowed and runs the challenger on them, one ranking at a time.

    Runs as a background task, after the response is sent: the champion's answer is never changed or
    delayed by it. A request sampled while another shadow ranking is still running in this worker is
    skipped (counted as "busy"), so under load shadow work sheds itself instead of queueing behind the
    champion's requests; any failure is logged and counted, never raised.
    """

    def __init__(
        self, api_store: ApiStore, metrics: ApiMetrics, sample_rate: float, seed: int | None = None
    ) -> None:
        self.api_store = api_store
        self.metrics = metrics
        self.sample_rate = sample_rate
        self._random = random.Random(seed)
        self._busy = threading.Lock()

    def sampled(self) -> bool:
        return self.sample_rate >= 1.0 or self._random.random() < self.sample_rate

    def score(
        self,
        rank_with: RankWith,
        champion_version: str,
        challenger: Serving,
        request_id: str,
        reqs: Sequence[RecommendationRequest],
        responses: Sequence[RecommendationResponse | ApiError],
    ) -> int:
        """Rank the answered requests with the challenger and store the comparisons; returns rows written."""
        if not self._busy.acquire(blocking=False):
            self.metrics.shadow_skipped.labels("busy").inc()
            return 0
        try:
            answered = [
                (req, resp)
                for req, resp in zip(reqs, responses, strict=True)
                if isinstance(resp, RecommendationResponse)
            ]
            rankings = rank_with(challenger, [req for req, _ in answered])
            rows = [
                self._row(request_id, champion_version, challenger.version, req, resp, ranking)
                for (req, resp), ranking in zip(answered, rankings, strict=True)
                if ranking is not None
            ]
            if rows:
                with self.api_store.store.writing() as conn:
                    conn.execute(insert(t.shadow_rankings), rows)
            for row in rows:
                self._observe(row)
            return len(rows)
        except Exception:  # noqa: BLE001 - the challenger must never break anything of the champion's
            logger.exception("shadow scoring with challenger %s failed", challenger.version)
            self.metrics.shadow_skipped.labels("error").inc()
            return 0
        finally:
            self._busy.release()

    def _row(
        self,
        request_id: str,
        champion_version: str,
        challenger_version: str,
        req: RecommendationRequest,
        resp: RecommendationResponse,
        ranking: ChallengerRanking,
    ) -> dict[str, Any]:
        champion_teams = audit_teams(resp.teams)
        return {
            "created_at": datetime.now().replace(microsecond=0),  # the store's clock: naive local time
            "request_id": request_id,
            "opportunity_id": req.opportunity.opportunity_id,
            "champion_version": champion_version,
            "challenger_version": challenger_version,
            "champion_teams": champion_teams,
            "challenger_teams": ranking.teams,
            "top1_agrees": top1_agrees(champion_teams, ranking.teams),
            "overlap_at_k": overlap_at_k(champion_teams, ranking.teams, req.k),
            "challenger_ms": ranking.seconds * 1000,
        }

    def _observe(self, row: Mapping[str, Any]) -> None:
        pair = (row["champion_version"], row["challenger_version"])
        self.metrics.shadow_requests.labels(*pair).inc()
        if row["top1_agrees"]:
            self.metrics.shadow_top1_agreements.labels(*pair).inc()
        self.metrics.challenger_seconds.labels(pair[1]).observe(row["challenger_ms"] / 1000)
