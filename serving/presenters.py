"""Turning ranked teams (which carry names, cold-start flags, reasons and credit) into response records."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from serving.ranking import RankResult, ScoredTeam
from serving.schemas import Contribution, DroppedPartner, Member, RecommendationResponse, TeamOut


def team_out(scored: ScoredTeam, explain: bool) -> TeamOut:
    """One ranked team as a response record; the team carries its members' names, flags and reasons."""
    team = scored.team
    return TeamOut(
        rank=team.rank,
        score=team.score,
        win_probability=team.win_probability,
        expected_value=team.expected_value,
        expected_days_to_close=team.expected_days_to_close,
        expected_value_per_day=team.expected_value_per_day,
        members=[
            Member(
                partner_id=m.partner_id,
                name=m.name,
                role=m.role,
                cold_start=m.cold_start,
                credit_share=m.credit_share,
                reasons=list(m.reasons),
            )
            for m in team.details
        ],
        explanation=[Contribution(**vars(c)) for c in team.contributions] if explain else None,
    )


def recommendation_response(
    request_id: str, version: str, result: RankResult, explain: bool
) -> RecommendationResponse:
    return RecommendationResponse(
        request_id=request_id,
        model_version=version,
        filters_applied=result.filters_applied,
        dropped=[
            DroppedPartner(partner_id=d.partner_id, role=d.role, rule=d.rule, detail=d.detail)
            for d in result.dropped
        ],
        teams=[team_out(t, explain) for t in result.teams],
    )


def audit_teams(teams: Sequence[TeamOut]) -> list[dict[str, Any]]:
    return [
        {"rank": t.rank, "score": t.score, "members": {m.role: m.partner_id for m in t.members}}
        for t in teams
    ]
