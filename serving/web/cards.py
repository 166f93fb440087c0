"""Team cards: an answer's teams as the page shows them, with tiers, and why one team is above the next."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup

from features import schema as s
from models.explanations import plain_term
from serving.model_holder import Serving
from serving.schemas import DroppedPartner, RecommendationResponse, TeamOut
from serving.web.charts import probability_meter

WHY_TERMS = 3


@dataclass(frozen=True)
class MemberCard:
    partner_id: str
    name: str
    role: str
    tier: str | None
    cold_start: bool
    credit_share: float | None
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class TeamCard:
    rank: int
    win_probability: float | None
    expected_value: float | None
    expected_days_to_close: float | None
    members: tuple[MemberCard, ...]
    meter: Markup
    team_json: str  # role -> partner id, for the what-if and feedback forms
    why_above_next: tuple[str, ...]  # empty for the last team


@dataclass(frozen=True)
class DroppedCard:
    partner_id: str
    name: str | None
    role: str | None
    rule: str
    detail: str


def _partner_field(serving: Serving, partner_id: str, column: str) -> str | None:
    snapshot = serving.ranker.snapshot
    if not snapshot.knows(partner_id):
        return None
    value = snapshot.partner(partner_id).get(column)
    return None if value is None else str(value)


def why_above(upper: TeamOut, lower: TeamOut) -> tuple[str, ...]:
    """The terms that lift `upper` over `lower` most, in words, from each team's strongest score terms.

    Each team carries only its top contributions, so a term missing from one team's list counts as 0 there:
    the comparison explains the largest differences, not every one.
    """
    if not upper.explanation or not lower.explanation:
        return ()
    roles = sorted({m.role for m in (*upper.members, *lower.members)})
    above = {c.feature: c for c in upper.explanation}
    below = {c.feature: c for c in lower.explanation}
    gaps = []
    for feature in above.keys() | below.keys():
        a, b = above.get(feature), below.get(feature)
        gap = (a.contribution if a else 0.0) - (b.contribution if b else 0.0)
        described = a or b
        if gap >= 0.005 and described is not None:  # smaller gaps print as +0.00
            gaps.append((gap, plain_term(feature, roles, described.description)))
    gaps.sort(key=lambda pair: -pair[0])
    lines = [
        f"{description} (score +{gap:.2f} for team {upper.rank})" for gap, description in gaps[:WHY_TERMS]
    ]
    if upper.win_probability is not None and lower.win_probability is not None:
        points = (upper.win_probability - lower.win_probability) * 100
        lines.append(f"in all, {points:.1f} percentage points more likely to win")
    return tuple(lines)


def team_cards(serving: Serving, teams: Sequence[TeamOut]) -> list[TeamCard]:
    cards = []
    for i, team in enumerate(teams):
        members = tuple(
            MemberCard(
                partner_id=m.partner_id,
                name=m.name,
                role=m.role,
                tier=_partner_field(serving, m.partner_id, s.TIER),
                cold_start=m.cold_start,
                credit_share=m.credit_share,
                reasons=tuple(m.reasons),
            )
            for m in team.members
        )
        cards.append(
            TeamCard(
                rank=team.rank,
                win_probability=team.win_probability,
                expected_value=team.expected_value,
                expected_days_to_close=team.expected_days_to_close,
                members=members,
                meter=probability_meter(team.win_probability, f"Team {team.rank} win probability"),
                team_json=json.dumps({m.role: m.partner_id for m in team.members}),
                why_above_next=why_above(team, teams[i + 1]) if i + 1 < len(teams) else (),
            )
        )
    return cards


def dropped_cards(serving: Serving, dropped: Sequence[DroppedPartner]) -> list[DroppedCard]:
    return [
        DroppedCard(d.partner_id, _partner_field(serving, d.partner_id, s.NAME), d.role, d.rule, d.detail)
        for d in dropped
    ]


@dataclass(frozen=True)
class Answer:
    """One answer, ready for the template."""

    request_id: str
    model_version: str
    filters_applied: tuple[str, ...]
    teams: list[TeamCard]
    dropped: list[DroppedCard]


def answer_view(serving: Serving, response: RecommendationResponse) -> Answer:
    return Answer(
        request_id=response.request_id,
        model_version=response.model_version,
        filters_applied=tuple(response.filters_applied),
        teams=team_cards(serving, response.teams),
        dropped=dropped_cards(serving, response.dropped),
    )
