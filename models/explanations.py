"""Why a team is suggested: each member's plain-sentence reasons, its share of the credit, the top terms."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from typing import Any

import numpy as np

from features import schema as s
from features.catalog import PartnerCatalog
from features.co_selling import Teammate
from features.records import OpportunityQuery
from models.assembly import FeatureContribution

TOP_CONTRIBUTIONS = 6
# Certificates named in a member's reasons; more are counted ("and 2 more"), so the sentence stays short.
NAMED_CERTIFICATES = 2
EPOCH = date(1970, 1, 1)


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


@dataclass(frozen=True)
class HeldCertificate:
    """A certificate a partner holds valid on a date; `expires_at` None: no known expiry."""

    name: str
    expires_at: date | None = None


def held_certificates(catalog: PartnerCatalog, partner_id: str, as_of: date) -> tuple[HeldCertificate, ...]:
    """The partner's certificates valid on `as_of` (the catalog's rule), by name; none for an unknown id."""
    row = catalog.row_of.get(partner_id)
    if row is None:
        return ()
    _, positions, valid = catalog.certificates(np.asarray([row], dtype=np.int64), as_of)
    held = [
        HeldCertificate(str(name), None if np.isinf(day) else EPOCH + timedelta(days=int(day)))
        for name, day in zip(
            catalog.cert_names[positions][valid], catalog.cert_expires[positions][valid], strict=True
        )
    ]
    return tuple(sorted(held, key=lambda c: c.name))


def _words(text: str) -> set[str]:
    return {word for word in text.lower().replace("-", " ").replace("_", " ").split() if len(word) > 2}


def certificate_reason(certificates: Sequence[HeldCertificate], required_skills: Sequence[str]) -> str | None:
    """ "Certified: X (valid until D), Y and 1 more.": those sharing a word with a required skill first."""
    if not certificates:
        return None
    needed = set().union(*(_words(skill) for skill in required_skills))
    ordered = sorted(certificates, key=lambda c: (not _words(c.name) & needed, c.name))
    named = [
        f"{c.name} (valid until {c.expires_at.isoformat()})" if c.expires_at else c.name
        for c in ordered[:NAMED_CERTIFICATES]
    ]
    more = len(ordered) - len(named)
    return f"Certified: {', '.join(named)}{f' and {more} more' if more else ''}."


def member_reasons(
    profile: Mapping[str, Any],
    role: str,
    query: OpportunityQuery,
    names: Mapping[str, int],
    row: np.ndarray,
    certificates: Sequence[HeldCertificate] | None = None,
) -> list[str]:
    """Why this partner is on the team, in sentences a sales rep can repeat (from its feature row).

    `certificates` (see `held_certificates`) names what it is certified in; without them the reason only
    counts its valid certificates.
    """
    reasons: list[str] = []
    held = {tag.lower() for tag in profile.get(s.SKILLS, [])}
    # Required skills in the request's order and first spelling, compared case-insensitively.
    wanted = {tag.lower(): tag for tag in reversed(query.required_skills)}
    covered = [
        wanted[key] for key in dict.fromkeys(tag.lower() for tag in query.required_skills) if key in held
    ]
    if covered:
        reasons.append(f"Covers {len(covered)} of {len(wanted)} required skills: {', '.join(covered)}.")
    if certificates is not None:
        named = certificate_reason(certificates, query.required_skills)
        if named:
            reasons.append(named)
    elif certs := int(_feature(names, row, f"{role}_valid_certifications")):
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
    """ "Won 4 of 5 deals with X (role)" from the record together on deals closed before the date, or, for
    partners that never co-sold, the learned compatibility when it is notable."""
    reasons: list[str] = []
    for mate in teammates:
        if mate.partner_id == partner_id:
            continue
        if mate.joint_deals > 0:
            reasons.append(
                f"Won {mate.joint_wins:.0f} of {mate.joint_deals:.0f} "
                f"deal{'s' if round(mate.joint_deals) != 1 else ''} with {mate.name} ({mate.role})."
            )
        elif mate.affinity >= NOTABLE_AFFINITY:
            reasons.append(
                f"Likely to win with {mate.name} ({mate.role}): partners like these two win together."
            )
        elif mate.affinity <= -NOTABLE_AFFINITY:
            reasons.append(
                f"Caution with {mate.name} ({mate.role}): partners like these two tend to lose together."
            )
    return reasons


# A score term in a rep's words, for "why is team 1 above team 2" (the feature descriptions are for
# analysts). Member terms take the role; a term not listed falls back to its description.
PLAIN_TERMS: dict[str, str] = {
    "present": "a {role} partner on the team",
    "text_similarity": "the {role} partner's profile matches the opportunity's description",
    "region_match": "the {role} partner covers the region",
    "industry_match": "the {role} partner serves the customer's industry",
    "tier_rank": "the {role} partner's tier",
    "valid_certifications": "the {role} partner's valid certifications",
    "matching_certifications": "the {role} partner's certifications in the required skills",
    "win_rate": "the {role} partner's win rate",
    "industry_win_rate": "the {role} partner's record in this industry",
    "region_win_rate": "the {role} partner's record in this region",
    "skill_win_rate": "the {role} partner's record on deals needing these skills",
    "recency_win_rate": "the {role} partner's recent wins",
    "deals": "the {role} partner's experience (deals closed)",
    "log_wins": "the {role} partner's wins so far",
    "tag_overlap": "the {role} partner lists the required skills",
    "skill_match": "the {role} partner's skills match the required ones",
    "skill_evidence": "the {role} partner's depth in the required skills",
    "tag_association": "the {role} partner's skills co-occur with these on past deals",
    "certification_association": "the {role} partner's certificates co-occur with these skills on past deals",
    "capacity_load": "how busy the {role} partner is",
    "deal_size_gap": "the deal's size against the {role} partner's usual deals",
    "psat": "the {role} partner's satisfaction score",
    "skill_coverage_mean": "how well the team covers the required skills",
    "skill_coverage_min": "the team's least-covered required skill",
    "skill_tag_coverage_mean": "required skills the team lists",
    "evidence_coverage_mean": "the team's evidence for the required skills",
    "tag_evidence_coverage": "required skills the team lists",
    "description_evidence_coverage": "required skills the members' descriptions highlight",
    "certification_evidence_coverage": "required skills the members are certified in",
    "association_coverage_mean": "the team's skills co-occur with these on past deals",
    "team_win_rate_mean": "the members' win rates",
    "pair_joint_win_rate_mean": "how the members did on deals together",
    "pair_lift_mean": "the members win together more than their own records predict",
    "pair_affinity_mean": "partners like these win together",
    "conflict_pairs": "channel conflicts between members",
    "registered_partner_on_team": "the registered partner is on the team",
    "log_deal_size": "how teams like this one do at this deal size",
    "team_size": "the number of partners on the team",
    "role_completeness": "how many of the wanted roles the team fills",
    "tier_mean": "the members' tiers",
    "tier_min": "the lowest member tier",
    "tier_max": "the highest member tier",
    "cold_start_members": "partners on the team without a track record yet",
    "pair_joint_deals_mean": "deals the members have worked together",
    "team_win_rate_min": "the weakest member's win rate",
}


def plain_term(feature: str, roles: Sequence[str], description: str) -> str:
    """`feature` in a rep's words (`services_win_rate` -> "the services partner's win rate")."""
    for role in roles:
        if feature.startswith(f"{role}_") and feature[len(role) + 1 :] in PLAIN_TERMS:
            return PLAIN_TERMS[feature[len(role) + 1 :]].format(role=role)
    return PLAIN_TERMS.get(feature, description).format(role="member")
