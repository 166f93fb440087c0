"""Rules of engagement applied to candidates before teams are assembled, with the reason for every drop.

What each rule means (and what retrieval already does):
- deal registration: the registered partner is locked into its role on every team unless
  `ignore_registration`; an explicitly excluded registered partner stays excluded;
- `include`: each listed partner is locked into its own role on every team (like a registration);
- `exclude`: never suggested (retrieval drops these, together with inactive partners and
  partners at capacity on the opportunity date);
- `conflicting_pairs`: two partners of a pair never sit on the same team; a partner that conflicts with a
  locked partner is dropped altogether;
- `min_tier`: partners below the tier are dropped;
- `required_certifications`: partners in `certified_roles` (default: the delivering role, services) must
  hold every listed certification valid on the opportunity date (issued on/before, not expired);
- `region_must_match`: partners that do not cover the opportunity's region are dropped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np

from features import schema as s
from features.catalog import REGION, PartnerCatalog

RULE_EXCLUDED = "excluded"
RULE_CONFLICT = "conflicts_with_locked_partner"
RULE_MIN_TIER = "below_min_tier"
RULE_CERTIFICATION = "missing_required_certification"
RULE_REGION = "region_mismatch"
RULE_UNKNOWN = "unknown_partner"
RULE_WRONG_ROLE = "not_in_requested_roles"


@dataclass(frozen=True)
class TeamConstraints:
    """Caller-supplied rules for one request (all optional)."""

    exclude: frozenset[str] = frozenset()
    include: frozenset[str] = frozenset()
    conflicting_pairs: frozenset[frozenset[str]] = frozenset()
    min_tier: str | None = None
    required_certifications: tuple[str, ...] = ()
    certified_roles: tuple[str, ...] = (s.SERVICES,)
    region_must_match: bool = False
    ignore_registration: bool = False
    # Only these partners may be suggested (re-rank a caller's shortlist); None = anyone retrieved.
    allowed: frozenset[str] | None = None

    def __post_init__(self) -> None:
        if self.min_tier is not None and self.min_tier not in s.TIER_RANK:
            raise ValueError(f"unknown tier {self.min_tier!r}; expected one of {', '.join(s.TIERS)}")
        if any(len(pair) != 2 for pair in self.conflicting_pairs):
            raise ValueError("every conflicting pair must name two different partners")
        clash = self.include & self.exclude
        if clash:
            raise ValueError(f"partners both included and excluded: {sorted(clash)}")

    @property
    def filters_partners(self) -> bool:
        """Whether any partner-level rule applies (lets the common no-rule request skip profile look-ups)."""
        return bool(
            self.exclude
            or self.conflicting_pairs
            or self.min_tier
            or self.required_certifications
            or self.region_must_match
            or self.allowed is not None
        )

    @classmethod
    def pairs(cls, pairs: Iterable[Sequence[str]]) -> frozenset[frozenset[str]]:
        """Conflicting pairs from any sequence of two-id sequences."""
        return frozenset(frozenset(pair) for pair in pairs)

    def conflicts_of(self, partner_id: str) -> set[str]:
        pairs = (pair for pair in self.conflicting_pairs if partner_id in pair)
        return {other for pair in pairs for other in pair - {partner_id}}


@dataclass(frozen=True)
class DroppedPartner:
    """A retrieved or named partner that a rule kept off every team."""

    partner_id: str
    role: str | None
    rule: str
    detail: str = ""


def partner_violation(
    catalog: PartnerCatalog,
    partner_id: str,
    constraints: TeamConstraints,
    *,
    region: str | None,
    as_of: date,
) -> tuple[str, str] | None:
    """The first partner-level rule this partner breaks (rule, detail), or None when it is eligible."""
    row = catalog.row_of[partner_id]
    role = str(catalog.role[row])
    if partner_id in constraints.exclude:
        return RULE_EXCLUDED, "on the request's exclusion list"
    if constraints.min_tier is not None and catalog.below_tier(np.asarray([row]), constraints.min_tier)[0]:
        tier = str(catalog.partners[s.TIER].iat[row] or s.DEFAULT_TIER)
        return RULE_MIN_TIER, f"tier {tier} is below {constraints.min_tier}"
    if constraints.region_must_match and region and not catalog.covers(REGION, np.asarray([row]), region)[0]:
        return RULE_REGION, f"does not cover {region}"
    if constraints.required_certifications and role in constraints.certified_roles:
        held = catalog.valid_certificate_names(partner_id, as_of)
        missing = [c for c in constraints.required_certifications if c not in held]
        if missing:
            return RULE_CERTIFICATION, f"no valid {', '.join(missing)} on {as_of.isoformat()}"
    return None


def conflict_free(team: Mapping[str, str | None], constraints: TeamConstraints) -> bool:
    if not constraints.conflicting_pairs:
        return True
    members = {pid for pid in team.values() if pid is not None}
    return not any(pair <= members for pair in constraints.conflicting_pairs)
