"""Why a team is suggested: each member's plain-sentence reasons, its share of the credit, the top terms."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from features import schema as s
from features.co_selling import Teammate
from features.records import OpportunityQuery
from models.assembly import FeatureContribution

TOP_CONTRIBUTIONS = 6


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


def top_contributions(
    feature_names: Sequence[str], descriptions: Mapping[str, str], values: np.ndarray, contrib: np.ndarray
) -> list[FeatureContribution]:
    """The TOP_CONTRIBUTIONS largest signed terms of one team's score, with readable descriptions."""
    order = np.argsort(-np.abs(contrib[: len(feature_names)]), kind="stable")[:TOP_CONTRIBUTIONS]
    return [
        FeatureContribution(
            feature=feature_names[i],
            description=descriptions.get(feature_names[i], feature_names[i]),
            value=float(values[i]),
            contribution=float(contrib[i]),
        )
        for i in order
        if contrib[i] != 0.0
    ]


def _feature(names: Mapping[str, int], row: np.ndarray, name: str) -> float:
    position = names.get(name)
    return float(row[position]) if position is not None else 0.0


def member_reasons(
    profile: Mapping[str, Any], role: str, query: OpportunityQuery, names: Mapping[str, int], row: np.ndarray
) -> list[str]:
    """Why this partner is on the team, in sentences a sales rep can repeat (from its feature row)."""
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
    if query.registered_partner_id and profile.get(s.PARTNER_ID) == query.registered_partner_id:
        reasons.append("Registered this deal: protected by deal registration.")
    if is_cold_start(names, row, role):
        reasons.append("New partner with no closed deals yet (cold start): ranked on profile fit alone.")
    return reasons


def is_cold_start(names: Mapping[str, int], row: np.ndarray, role: str) -> bool:
    """The one meaning of cold start: no deal closed before the opportunity date (the member feature)."""
    return _feature(names, row, f"{role}_cold_start") > 0


# Learned compatibility (a win-probability residual) above which "partners like these win together" is said.
NOTABLE_AFFINITY = 0.02


def partnership_reasons(partner_id: str, teammates: Sequence[Teammate]) -> list[str]:
    """ "Wins often with X" sentences: the record together on deals closed before the date, or, for
    partners that never co-sold, the learned compatibility when it is notable."""
    reasons: list[str] = []
    for mate in teammates:
        if mate.partner_id == partner_id:
            continue
        if mate.joint_deals > 0:
            verb = (
                "Wins often with"
                if mate.joint_wins / mate.joint_deals > mate.expected_rate
                else "Has co-sold with"
            )
            reasons.append(
                f"{verb} {mate.name} ({mate.role}): won {mate.joint_wins:.0f} of {mate.joint_deals:.0f} "
                "deals together."
            )
        elif mate.affinity >= NOTABLE_AFFINITY:
            reasons.append(
                f"Likely to work well with {mate.name} ({mate.role}): partners like these two win "
                "together, learned from co-selling outcomes."
            )
        elif mate.affinity <= -NOTABLE_AFFINITY:
            reasons.append(
                f"Caution: partners like these two tend to lose together, learned from co-selling "
                f"outcomes ({mate.name}, {mate.role})."
            )
    return reasons
