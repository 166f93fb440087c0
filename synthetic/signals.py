"""Observable, noisy signals of the latent partner state: tiers, claimed skills, certifications, capacity."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from synthetic.latent import N_INDUSTRIES, N_SKILLS, PartnerLatent


@dataclass(frozen=True)
class PartnerSignals:
    """What a PRM records about each partner (row i = partner i)."""

    tier_rank: np.ndarray  # int8 index into schema.TIERS
    claims: np.ndarray  # bool (n, N_SKILLS)
    listed_industries: np.ndarray  # bool (n, N_INDUSTRIES)
    capacity: np.ndarray  # float64, NaN = unknown
    psat: np.ndarray  # float64, NaN = not surveyed
    joined_day: np.ndarray  # int64 days since epoch


@dataclass(frozen=True)
class CertificationRows:
    """One row per (partner, certified skill)."""

    partner: np.ndarray
    skill: np.ndarray
    level: np.ndarray  # index into vocabulary.CERT_LEVELS
    issued_day: np.ndarray
    expires_day: np.ndarray  # -1 = no expiry


def partner_signals(
    rng: np.random.Generator, partners: PartnerLatent, start_day: int, end_day: int
) -> PartnerSignals:
    """Tiers reward revenue and tenure more than delivery quality; over-claimers tag skills they lack."""
    n = partners.role.size
    strong = partners.proficiency >= 0.35
    weak = (partners.proficiency > 0) & ~strong
    claims = (strong & (rng.random((n, N_SKILLS)) < 0.85)) | (weak & (rng.random((n, N_SKILLS)) < 0.3))
    fake = partners.over_claimer[:, None] & (rng.random((n, N_SKILLS)) < 4.0 / N_SKILLS)
    claims |= fake

    # Tier mixes delivery quality with popularity (revenue) and noise, then cuts by fixed shares.
    tier_score = (
        1.2 * partners.execution + 0.35 * np.log(partners.popularity) + 0.1 * strong.sum(axis=1)
        + rng.normal(0.0, 0.45, size=n)
    )
    cuts = np.quantile(tier_score, [0.4, 0.7, 0.9]) if n else np.zeros(3)
    tier_rank = np.searchsorted(cuts, tier_score).astype(np.int8)

    listed_industries = (partners.industry_expertise > 0) | (rng.random((n, N_INDUSTRIES)) < 0.03)
    capacity = rng.poisson(6.0, size=n).astype(np.float64)
    capacity[rng.random(n) < 0.08] = 0.0
    capacity[rng.random(n) < 0.15] = np.nan
    psat = np.round(np.clip(4.0 + 5.0 * partners.execution + rng.normal(0.0, 1.0, size=n), 0.0, 10.0), 1)
    psat[rng.random(n) < 0.2] = np.nan
    # Most partners predate the history window; ~15% join during it (cold starts).
    newcomer = rng.random(n) < 0.15
    joined_day = np.where(
        newcomer,
        start_day + (rng.random(n) * (end_day - start_day)).astype(np.int64),
        start_day - 30 - (rng.random(n) * 8 * 365).astype(np.int64),
    )
    return PartnerSignals(tier_rank, claims, listed_industries, capacity, psat, joined_day.astype(np.int64))


def certifications(
    rng: np.random.Generator, partners: PartnerLatent, signals: PartnerSignals, end_day: int
) -> CertificationRows:
    """Certifications mostly on real strengths, sometimes on claimed ones; many lapse after 2-3 years."""
    n = partners.role.size
    prof = partners.proficiency
    chance = np.where(prof >= 0.35, 0.25 + 0.5 * prof, np.where(signals.claims, 0.08, 0.0))
    partner, skill = np.nonzero(rng.random((n, N_SKILLS)) < chance)
    k = partner.size
    level = np.searchsorted([0.55, 0.8], prof[partner, skill] + rng.normal(0.0, 0.15, size=k)).astype(np.int8)
    joined = signals.joined_day[partner]
    issued = joined + (rng.random(k) * np.maximum(end_day - joined, 1)).astype(np.int64)
    valid_years = rng.choice([2, 3], size=k)
    expires = np.where(rng.random(k) < 0.1, -1, issued + np.round(valid_years * 365.25).astype(np.int64))
    return CertificationRows(partner, skill, level, issued, expires)
