"""The team feature set: names, plain-English descriptions, neutral values and the vectorised assembly."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np

from features.schema import DEFAULT_ROLES

# Bump whenever a feature's meaning, order or neutral value changes: bundles record it.
FEATURE_VERSION: Final = 5

# Per-member features, repeated for every role: suffix → description template ({role} is filled in).
MEMBER_FEATURES: Final[dict[str, str]] = {
    "present": "a {role} partner is on the team (0 = no partner in this role)",
    "text_similarity": "how closely the {role} partner's profile matches the opportunity text (cosine)",
    "region_match": "the {role} partner covers the opportunity's region",
    "industry_match": "the {role} partner lists the customer's industry",
    "tier_rank": "{role} partner's tier (0 registered, 1 silver, 2 gold, 3 platinum)",
    "valid_certifications": "number of certifications the {role} partner holds valid on the opportunity date",
    "win_rate": "{role} partner's overall win rate (smoothed towards the programme's base rate)",
    "industry_win_rate": "{role} partner's record in this industry (smoothed win rate)",
    "region_win_rate": "{role} partner's record in this region (smoothed win rate)",
    "deals": "number of deals the {role} partner has closed (won or lost)",
    "log_wins": "log(1 + deals the {role} partner won before the date)",
    "industry_deals": "number of deals the {role} partner has closed in this industry",
    "cold_start": "the {role} partner has no closed deals yet",
    "capacity_load": "{role} partner's open engagements as a share of its capacity (0 when unknown)",
    "median_days_to_close": "{role} partner's median days from opportunity to close (0 when no closed deals)",
    "days_since_last_win": "days since the {role} partner last won a deal (capped; the cap when never)",
    "sourced_deals": "number of closed deals the {role} partner brought in itself",
    "tag_overlap": "share of the required skills the {role} partner lists word for word among its skill tags",
    "skill_match": "semantic match of the {role} partner's skill tags to the required skills "
    "(best tag per skill, averaged; against the opportunity text when it lists no skills)",
    "matching_certifications": "certifications the {role} partner holds valid on the opportunity date "
    "that match a required skill (or the opportunity text) semantically",
    "skill_win_rate": "{role} partner's record on deals that required these skills "
    "(smoothed, mean over skills)",
    "recency_win_rate": "{role} partner's win rate with each deal weighted by 2^(-age / 1 year) (smoothed)",
    "influenced_deals": "closed deals the {role} partner worked without sourcing them",
    "log_sourced_revenue": "log(1 + deal size won on deals the {role} partner sourced)",
    "log_influenced_revenue": "log(1 + deal size won on deals the {role} partner influenced)",
    "deal_size_gap": "log deal size minus the {role} partner's mean log deal size (0 when either is unknown)",
    "psat": "{role} partner's satisfaction score, 0-10 (the partners' median when not surveyed)",
    "tag_association": "how strongly the {role} partner's skill tags co-occur with the required skills on "
    "past deals (positive PMI, best tag per skill, averaged; 0 without required skills)",
    "certification_association": "the same for the {role} partner's certifications valid on the date, "
    "each weighted by its level (associate 1, professional 1.5, expert 2)",
    "skill_evidence": "estimated depth of the {role} partner in the required skills: per skill the strongest "
    "evidence (a skill tag, a phrase its own description highlights, a certification held by the date, by "
    "level), each weighted by how costly that claim is, averaged over skills",
}
TEAM_FEATURES: Final[dict[str, str]] = {
    "skill_coverage_mean": "required-skill coverage: best member match per skill, averaged over skills",
    "skill_coverage_min": "the worst-covered required skill: best member match for it",
    "team_size": "number of partners on the team",
    "team_win_rate_mean": "members' smoothed win rates, averaged",
    "team_win_rate_min": "the weakest member's smoothed win rate",
    "pair_joint_deals_mean": "deals each pair of members has closed together, averaged over pairs",
    "pair_joint_win_rate_mean": "smoothed win rate of each pair of members together, averaged over pairs",
    "registered_partner_on_team": "the partner that registered the deal is on the team",
    "log_deal_size": "log(1 + deal size); 0 when unknown",
    "skill_tag_coverage_mean": "required skills matched by members' skill tags: "
    "best member per skill, averaged",
    "skill_tag_coverage_min": "the worst tag-covered required skill: best member tag match for it",
    "role_completeness": "share of the requested roles that have a partner",
    "tier_mean": "members' tier ranks, averaged (0 without members)",
    "tier_min": "the lowest member tier rank (0 without members)",
    "tier_max": "the highest member tier rank (0 without members)",
    "cold_start_members": "members with no closed deals yet",
    "conflict_pairs": "member pairs flagged as channel conflicts (0 when no conflicts are known)",
    "association_coverage_mean": "required skills covered by the best-associated member tag or "
    "certification (positive PMI), averaged over skills",
    "association_coverage_min": "the least-covered required skill by that association",
    "evidence_coverage_mean": "required skills covered by the member with the strongest skill evidence "
    "(members after the first role count at SUPPORT_EVIDENCE_SHARE), averaged over skills",
    "evidence_coverage_min": "the least-covered required skill by that skill evidence",
    "tag_evidence_coverage": "required skills covered by a member's skill tag (best member per skill, later "
    "roles at SUPPORT_EVIDENCE_SHARE), averaged: the cheapest kind of claim, weighed on its own",
    "description_evidence_coverage": "required skills covered by a strength a member's own description "
    "highlights, averaged the same way",
    "certification_evidence_coverage": "required skills covered by a certification a member held by the date "
    "(level-weighted), averaged the same way",
    "pair_lift_mean": "how much more member pairs won together than their own records predict "
    "(wins together minus expected, shrunk towards 0), averaged over pairs",
    "pair_lift_min": "the worst member pair's lift together (0 when no pair has a history)",
    "pair_affinity_mean": "learned compatibility of member pairs from co-selling outcomes (a low-rank "
    "embedding, so pairs that never met get one), averaged over pairs",
    "pair_affinity_min": "the least compatible member pair by that learned compatibility",
}
DAYS_CAP: Final = 3650.0
# Evidence coverage counts a skill of a partner in a later role (influence, reseller) at this share of the
# first role's (services): the delivery partner carries the skill on the project, the others support it.
SUPPORT_EVIDENCE_SHARE: Final = 0.6

# What a member's features read when the role is empty: presence 0 says the rest carries no information.
_NEUTRAL: Final[dict[str, float]] = {"days_since_last_win": DAYS_CAP}
# Filled with the base win rate at `as_of` when the role is empty (a smoothed rate with no deals equals it).
_RATE_SUFFIXES: Final = ("win_rate", "industry_win_rate", "region_win_rate")


def member_feature_name(role: str, suffix: str) -> str:
    return f"{role}_{suffix}"


def feature_names(roles: Sequence[str]) -> tuple[str, ...]:
    member = [member_feature_name(r, suffix) for r in roles for suffix in MEMBER_FEATURES]
    return (*member, *TEAM_FEATURES)


def feature_descriptions(roles: Sequence[str]) -> dict[str, str]:
    out = {
        member_feature_name(r, suffix): text.format(role=r)
        for r in roles
        for suffix, text in MEMBER_FEATURES.items()
    }
    out.update(TEAM_FEATURES)
    return out


FEATURE_NAMES: Final = feature_names(DEFAULT_ROLES)
FEATURE_DESCRIPTIONS: Final = feature_descriptions(DEFAULT_ROLES)


@dataclass(frozen=True)
class TeamInputs:
    """Everything `assemble` needs, already gathered once per distinct member.

    `slots[t, r]` is the row of team t's member in role r within the member arrays, -1 when empty.
    `pair_deals` / `pair_rates` are (teams, role pairs); a rate is NaN where either role is empty.
    """

    slots: np.ndarray
    member: Mapping[str, np.ndarray]  # suffix → (members,), every MEMBER_FEATURES suffix except "present"
    skill_similarity: np.ndarray  # (members, skills); zero columns when the opportunity has no skill tags
    pair_deals: np.ndarray
    pair_rates: np.ndarray
    registered_on_team: np.ndarray  # (teams,)
    log_deal_size: float
    base_rate: float
    tag_similarity: np.ndarray | None = None  # (members, skills) best skill-tag match; None = skill_match
    conflict_pairs: np.ndarray | None = None  # (teams,) conflicting member pairs; None = none known
    association: np.ndarray | None = None  # (members, skills) best tag/certification PMI; None = zeros
    evidence: np.ndarray | None = None  # (members, skills) skill evidence in [0, 1]; None = zeros
    evidence_kinds: Mapping[str, np.ndarray] | None = None  # kind -> (members, skills) evidence of that kind
    pair_affinity: np.ndarray | None = None  # (teams, role pairs) learned compatibility; NaN = no pair
    pair_lift: np.ndarray | None = None  # (teams, role pairs) observed lift together; NaN = no pair


def assemble(inputs: TeamInputs) -> np.ndarray:
    """The (teams, features) float32 matrix in `feature_names(roles)` order, NaN-free."""
    slots = inputs.slots
    n_teams, n_roles = slots.shape
    present = slots >= 0
    safe = np.where(present, slots, 0)
    member, skill_similarity = dict(inputs.member), inputs.skill_similarity
    if len(member["win_rate"]) == 0:
        # No team has any member: one dummy row keeps the gathers below valid; presence masks it out.
        member = {k: np.zeros(1) for k in member}
        skill_similarity = np.zeros((1, skill_similarity.shape[1]))
    # One (members, member features) matrix, gathered once per role instead of once per feature.
    suffixes = list(MEMBER_FEATURES)
    table = np.column_stack(
        [np.zeros(len(member["win_rate"])) if x == "present" else member[x] for x in suffixes]
    ).astype(np.float64)
    neutral = np.array([inputs.base_rate if x in _RATE_SUFFIXES else _NEUTRAL.get(x, 0.0) for x in suffixes])
    blocks: list[np.ndarray] = []
    for r in range(n_roles):
        block = np.where(present[:, r, None], table[safe[:, r]], neutral[None, :])
        block[:, suffixes.index("present")] = present[:, r]
        blocks.append(block)

    if skill_similarity.shape[1] > 0:
        # (teams, roles, skills): each skill is covered by the team's best member for it.
        best = np.where(present[:, :, None], skill_similarity[safe], -1.0).max(axis=1)
    else:
        best = np.where(present, member["text_similarity"][safe], -1.0).max(axis=1, keepdims=True)
    any_member = present.any(axis=1)
    coverage_mean = np.where(any_member, best.mean(axis=1), 0.0)
    coverage_min = np.where(any_member, best.min(axis=1), 0.0)

    size = present.sum(axis=1)
    win = member["win_rate"][safe]
    win_mean = np.where(
        size > 0, np.where(present, win, 0.0).sum(axis=1) / np.maximum(size, 1), inputs.base_rate
    )
    win_min = np.where(size > 0, np.where(present, win, np.inf).min(axis=1), inputs.base_rate)

    if (
        inputs.tag_similarity is not None
        and inputs.tag_similarity.shape[1] > 0
        and len(inputs.member["win_rate"])
    ):
        tag_best = np.where(present[:, :, None], inputs.tag_similarity[safe], -1.0).max(axis=1)
    else:
        tag_best = np.where(present, member["skill_match"][safe], -1.0).max(axis=1, keepdims=True)
    tag_mean = np.where(any_member, tag_best.mean(axis=1), 0.0)
    tag_min = np.where(any_member, tag_best.min(axis=1), 0.0)
    tier = member["tier_rank"][safe]
    tier_mean = np.where(size > 0, np.where(present, tier, 0.0).sum(axis=1) / np.maximum(size, 1), 0.0)
    tier_min = np.where(size > 0, np.where(present, tier, np.inf).min(axis=1), 0.0)
    tier_max = np.where(size > 0, np.where(present, tier, -np.inf).max(axis=1), 0.0)
    cold = np.where(present, member["cold_start"][safe], 0.0).sum(axis=1)
    conflicts = inputs.conflict_pairs if inputs.conflict_pairs is not None else np.zeros(n_teams)
    association = inputs.association
    if association is not None and association.shape[1] > 0 and len(inputs.member["win_rate"]):
        assoc_best = np.where(present[:, :, None], association[safe], 0.0).max(axis=1)
        assoc_mean, assoc_min = assoc_best.mean(axis=1), assoc_best.min(axis=1)
    else:
        assoc_mean = assoc_min = np.zeros(n_teams)
    role_share = np.where(np.arange(n_roles) == 0, 1.0, SUPPORT_EVIDENCE_SHARE)
    evidence_mean, evidence_min = _best_member_coverage(inputs.evidence, present, safe, role_share)

    pairs_valid = np.isfinite(inputs.pair_rates)
    n_pairs = pairs_valid.sum(axis=1)
    joint_deals = np.where(pairs_valid, inputs.pair_deals, 0.0).sum(axis=1)
    joint_rates = np.where(pairs_valid, inputs.pair_rates, 0.0).sum(axis=1)
    kinds = inputs.evidence_kinds or {}
    kind_coverage = {
        kind: _best_member_coverage(kinds.get(kind), present, safe, role_share)[0]
        for kind in ("tag", "description", "certification")
    }
    affinity_mean, affinity_min = _pair_mean_min(inputs.pair_affinity, n_teams)
    lift_mean, lift_min = _pair_mean_min(inputs.pair_lift, n_teams)
    team = {
        "skill_coverage_mean": coverage_mean,
        "skill_coverage_min": coverage_min,
        "team_size": size.astype(np.float64),
        "team_win_rate_mean": win_mean,
        "team_win_rate_min": win_min,
        "pair_joint_deals_mean": joint_deals / np.maximum(n_pairs, 1),
        "pair_joint_win_rate_mean": np.where(
            n_pairs > 0, joint_rates / np.maximum(n_pairs, 1), inputs.base_rate
        ),
        "registered_partner_on_team": inputs.registered_on_team.astype(np.float64),
        "log_deal_size": np.full(n_teams, inputs.log_deal_size),
        "skill_tag_coverage_mean": tag_mean,
        "skill_tag_coverage_min": tag_min,
        "role_completeness": size / max(n_roles, 1),
        "tier_mean": tier_mean,
        "tier_min": tier_min,
        "tier_max": tier_max,
        "cold_start_members": cold,
        "conflict_pairs": np.asarray(conflicts, dtype=np.float64),
        "association_coverage_mean": assoc_mean,
        "association_coverage_min": assoc_min,
        "evidence_coverage_mean": evidence_mean,
        "evidence_coverage_min": evidence_min,
        "tag_evidence_coverage": kind_coverage["tag"],
        "description_evidence_coverage": kind_coverage["description"],
        "certification_evidence_coverage": kind_coverage["certification"],
        "pair_lift_mean": lift_mean,
        "pair_lift_min": lift_min,
        "pair_affinity_mean": affinity_mean,
        "pair_affinity_min": affinity_min,
    }
    # Placed by name in TEAM_FEATURES order: a feature added to one and not the other fails here, at once.
    columns = [team[name] for name in TEAM_FEATURES]
    if len(team) != len(TEAM_FEATURES):
        raise ValueError(f"team features computed but not declared: {sorted(set(team) - set(TEAM_FEATURES))}")
    matrix = np.concatenate([*blocks, np.column_stack(columns)], axis=1).astype(np.float32)
    return np.nan_to_num(matrix, nan=0.0, posinf=0.0, neginf=0.0)


def _best_member_coverage(
    values: np.ndarray | None, present: np.ndarray, safe: np.ndarray, role_share: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and min over skills of the best present member's value per skill, each member's value scaled
    by its role's share; zeros without skills."""
    n_teams = present.shape[0]
    if values is None or values.shape[1] == 0 or values.shape[0] == 0:
        return np.zeros(n_teams), np.zeros(n_teams)
    scaled = values[safe] * role_share[None, :, None]
    best = np.where(present[:, :, None], scaled, 0.0).max(axis=1)
    return best.mean(axis=1), best.min(axis=1)


def _pair_mean_min(values: np.ndarray | None, n_teams: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean and min over a team's member pairs (NaN = a pair with an empty role); 0 without pairs."""
    if values is None or values.shape[1] == 0:
        return np.zeros(n_teams), np.zeros(n_teams)
    valid = np.isfinite(values)
    n_pairs = valid.sum(axis=1)
    mean = np.where(valid, values, 0.0).sum(axis=1) / np.maximum(n_pairs, 1)
    low = np.where(valid, values, np.inf).min(axis=1)
    return mean, np.where(n_pairs > 0, low, 0.0)
