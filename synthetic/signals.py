"""Observable, noisy signals of the latent partner state: tiers, claimed skills, certifications, capacity."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from synthetic.latent import N_INDUSTRIES, N_SKILLS, PartnerLatent

# tag_noise = 1: real skills are no longer tagged, most partners over-claim, and over-claimers tag more.
EXTRA_OVER_CLAIMERS = 0.7  # share of honest partners that turn over-claimers at tag_noise 1
EXTRA_FAKE_TAGS = 6.0  # more fake tags per over-claimer at tag_noise 1 (today 4 on average)


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


def more_over_claimers(rng: np.random.Generator, partners: PartnerLatent, tag_noise: float) -> PartnerLatent:
    """Partners with a share `EXTRA_OVER_CLAIMERS * tag_noise` of the honest ones turned over-claimers."""
    if tag_noise <= 0:
        return partners
    turned = rng.random(partners.role.size) < EXTRA_OVER_CLAIMERS * tag_noise
    return replace(partners, over_claimer=partners.over_claimer | turned)


def partner_signals(
    rng: np.random.Generator, partners: PartnerLatent, start_day: int, end_day: int, tag_noise: float = 0.0
) -> PartnerSignals:
    """Tiers reward revenue and tenure more than delivery quality; over-claimers tag skills they lack.

    `tag_noise` (0..1) fades the tagging of real skills and adds fake tags; the draws stay the same.
    """
    n = partners.role.size
    strong = partners.proficiency >= 0.35
    weak = (partners.proficiency > 0) & ~strong
    honest = 1.0 - tag_noise
    claims = (
        (strong & (rng.random((n, N_SKILLS)) < 0.85 * honest))
        | (weak & (rng.random((n, N_SKILLS)) < 0.3 * honest))
    )
    fake_rate = (4.0 + EXTRA_FAKE_TAGS * tag_noise) / N_SKILLS
    fake = partners.over_claimer[:, None] & (rng.random((n, N_SKILLS)) < fake_rate)
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
    rng: np.random.Generator,
    partners: PartnerLatent,
    signals: PartnerSignals,
    end_day: int,
    cert_signal: float = 1.0,
) -> CertificationRows:
    """Certifications mostly on real strengths, sometimes on claimed ones; many lapse after 2-3 years.

    `cert_signal` < 1 blends placement and level towards chance: at 0 every (partner, skill) is equally
    likely to be certified (as many certifications overall) at a level unrelated to skill.
    """
    n = partners.role.size
    prof = partners.proficiency
    chance = np.where(prof >= 0.35, 0.25 + 0.5 * prof, np.where(signals.claims, 0.08, 0.0))
    if cert_signal < 1.0:
        chance = cert_signal * chance + (1.0 - cert_signal) * chance.mean()
    partner, skill = np.nonzero(rng.random((n, N_SKILLS)) < chance)
    k = partner.size
    skill_shown = prof[partner, skill]
    level_noise = rng.normal(0.0, 0.15, size=k)
    joined = signals.joined_day[partner]
    issued = joined + (rng.random(k) * np.maximum(end_day - joined, 1)).astype(np.int64)
    valid_years = rng.choice([2, 3], size=k)
    expires = np.where(rng.random(k) < 0.1, -1, issued + np.round(valid_years * 365.25).astype(np.int64))
    if cert_signal < 1.0:  # drawn last so the default stream is unchanged
        skill_shown = cert_signal * skill_shown + (1.0 - cert_signal) * rng.uniform(0.3, 1.0, size=k)
    level = np.searchsorted([0.55, 0.8], skill_shown + level_noise).astype(np.int8)
    return CertificationRows(partner, skill, level, issued, expires)


def no_certifications() -> CertificationRows:
    """The empty certification table of a PRM that records none."""
    empty = np.zeros(0, np.int64)
    return CertificationRows(empty, empty, np.zeros(0, np.int8), empty, empty)
