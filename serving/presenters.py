"""Turning ranked teams into response records: names, cold start, plain-sentence reasons, credit, value."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from features import schema as s
from features.engine import FeatureEngine
from features.records import OpportunityQuery
from serving.ranking import RankResult, ScoredTeam
from serving.schemas import Contribution, DroppedPartner, Member, RecommendationResponse, TeamOut


def _feature(names: dict[str, int], row: np.ndarray, name: str) -> float:
    position = names.get(name)
    return float(row[position]) if position is not None else 0.0


def member_reasons(
    profile: dict[str, Any], role: str, query: OpportunityQuery, names: dict[str, int], row: np.ndarray
) -> list[str]:
    """Why this partner is on the team, in sentences a sales rep can repeat."""
    reasons: list[str] = []
    wanted = {tag.lower(): tag for tag in query.required_skills}
    matched = [wanted[tag.lower()] for tag in profile.get(s.SKILLS, []) if tag.lower() in wanted]
    if matched:
        reasons.append(
            f"Claims {len(matched)} of {len(wanted)} required skills: {', '.join(sorted(set(matched)))}."
        )
    certs = int(_feature(names, row, f"{role}_valid_certifications"))
    if certs:
        reasons.append(
            f"Holds {certs} valid certification{'s' if certs != 1 else ''} on the opportunity date."
        )
    industry_deals = int(_feature(names, row, f"{role}_industry_deals"))
    if query.customer_industry and industry_deals:
        rate = _feature(names, row, f"{role}_industry_win_rate")
        reasons.append(
            f"Closed {industry_deals} deal{'s' if industry_deals != 1 else ''} in {query.customer_industry} "
            f"(smoothed win rate {rate:.0%})."
        )
    if query.region and _feature(names, row, f"{role}_region_match") > 0:
        rate = _feature(names, row, f"{role}_region_win_rate")
        reasons.append(f"Covers {query.region} (smoothed win rate there {rate:.0%}).")
    joint = _feature(names, row, "pair_joint_deals_mean")
    if joint > 0:
        reasons.append(
            f"Has co-sold with these teammates before ({joint:.1f} joint deals per pair on average)."
        )
    if query.registered_partner_id and profile.get(s.PARTNER_ID) == query.registered_partner_id:
        reasons.append("Registered this deal: protected by deal registration.")
    if _feature(names, row, f"{role}_cold_start") > 0:
        reasons.append("New partner with no closed deals yet (cold start): ranked on profile fit alone.")
    return reasons


def team_out(engine: FeatureEngine, scored: ScoredTeam, query: OpportunityQuery, explain: bool) -> TeamOut:
    names = {name: i for i, name in enumerate(engine.feature_names)}
    team = scored.team
    present = [(role, pid) for role, pid in team.members.items() if pid is not None]
    # No deal history at all: ranked on profile fit alone until the partner's deals reach training.
    cold = engine.history.codes([pid for _, pid in present]) < 0 if present else np.zeros(0, dtype=bool)
    members = []
    for (role, pid), is_cold in zip(present, cold, strict=True):
        profile = engine.partner(pid)
        reasons = (
            member_reasons(profile, role, query, names, scored.features)
            if scored.features is not None
            else []
        )
        members.append(
            Member(
                partner_id=pid,
                name=str(profile.get(s.NAME) or pid),
                role=role,
                cold_start=bool(is_cold),
                credit_share=team.credit_shares.get(pid),
                reasons=reasons,
            )
        )
    return TeamOut(
        rank=team.rank,
        score=team.score,
        win_probability=team.win_probability,
        expected_value=team.expected_value,
        members=members,
        explanation=[Contribution(**vars(c)) for c in team.contributions] if explain else None,
    )


def recommendation_response(
    request_id: str,
    version: str,
    engine: FeatureEngine,
    result: RankResult,
    query: OpportunityQuery,
    explain: bool,
) -> RecommendationResponse:
    return RecommendationResponse(
        request_id=request_id,
        model_version=version,
        filters_applied=result.filters_applied,
        dropped=[
            DroppedPartner(partner_id=d.partner_id, role=d.role, rule=d.rule, detail=d.detail)
            for d in result.dropped
        ],
        teams=[team_out(engine, t, query, explain) for t in result.teams],
    )


def audit_teams(teams: Sequence[TeamOut]) -> list[dict[str, Any]]:
    return [
        {"rank": t.rank, "score": t.score, "members": {m.role: m.partner_id for m in t.members}}
        for t in teams
    ]
