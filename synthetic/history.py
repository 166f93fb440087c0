"""Deal history of a synthetic ecosystem: dates, today's biased team routing, sourcing and registration."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from synthetic.latent import MAX_NEEDS, N_REGIONS, OpportunityLatent, PartnerLatent

CANDIDATES_PER_ROLE = 6  # partners the routing desk looks at per role before picking one
ROLE_PRESENCE = np.array([0.97, 0.55, 0.75])  # how often today's teams staff each role
ALLY_FOLLOW = 0.45  # how often a habitual co-selling ally is pulled in, whatever the true synergy


@dataclass(frozen=True)
class RoutingSignals:
    """What today's routing can see about partners: tier, claimed skills, join date."""

    tier_rank: np.ndarray  # int (n,)
    claims: np.ndarray  # bool (n, N_SKILLS) skills the partner claims as tags
    joined_day: np.ndarray  # int64 days since epoch


def created_days(rng: np.random.Generator, m: int, end_day: int, years: int) -> np.ndarray:
    """Creation days spread over `years` before `end_day`, denser recently (a growing programme)."""
    span = int(round(years * 365.25))
    return end_day - span + np.floor(span * rng.random(m) ** 0.8).astype(np.int64)


def cycle_days(
    rng: np.random.Generator, log_size: np.ndarray, won: np.ndarray, reference: float
) -> np.ndarray:
    """Days from creation to close: bigger deals take longer; wins close a little faster."""
    days = np.exp(np.log(45.0) + 0.25 * (log_size - reference) + rng.normal(0.0, 0.45, size=log_size.size))
    return np.clip(np.round(days * np.where(won, 0.85, 1.0)), 5, 540).astype(np.int64)


def _region_buckets(role_pool: np.ndarray, cover: np.ndarray, weight: np.ndarray) -> tuple[np.ndarray, ...]:
    """Partners of one role grouped by covered region (+ a last bucket with all), with cumulative weights."""
    reg, pos = np.nonzero(cover[role_pool].T)  # row-major over regions: grouped by region
    members = np.concatenate([role_pool[pos], role_pool])
    bucket = np.concatenate([reg, np.full(role_pool.size, N_REGIONS)])
    cum = np.cumsum(weight[members])
    starts = np.searchsorted(bucket, np.arange(N_REGIONS + 1))
    ends = np.searchsorted(bucket, np.arange(N_REGIONS + 1), side="right")
    return members, cum, starts, ends


def _sample_in_buckets(
    rng: np.random.Generator, buckets: tuple[np.ndarray, ...], region: np.ndarray, k: int
) -> np.ndarray:
    """(m, k) popularity-weighted draws among partners covering each opportunity's region."""
    members, cum, starts, ends = buckets
    b = np.where(ends[region] > starts[region], region, N_REGIONS)  # empty region: anyone of the role
    lo = np.where(starts[b] > 0, cum[np.maximum(starts[b] - 1, 0)], 0.0)
    hi = cum[ends[b] - 1]
    u = lo[:, None] + rng.random((region.size, k)) * (hi - lo)[:, None]
    pos = np.searchsorted(cum, u, side="right")
    pos = np.clip(pos, starts[b][:, None], (ends[b] - 1)[:, None])
    return members[pos]


def route_teams(
    rng: np.random.Generator,
    partners: PartnerLatent,
    allies: np.ndarray,
    signals: RoutingSignals,
    opps: OpportunityLatent,
    visible_needs: np.ndarray,
    created: np.ndarray,
) -> np.ndarray:
    """(m, 3) partner rows (-1 = role empty) picked the way partner desks do it today.

    The desk samples popular partners that cover the region, prefers higher tiers and partners whose
    claimed tags match the opportunity's visible tags, and pulls in habitual allies. It never sees the
    latent proficiency, so teams are plausible but far from the best available.
    """
    m = opps.region.size
    members = np.full((m, 3), -1, np.int64)
    safe_needs = np.where(opps.needs >= 0, opps.needs, 0)
    for r in range(3):
        pool = np.flatnonzero(partners.role == r)
        if pool.size == 0:
            continue
        buckets = _region_buckets(pool, partners.region_cover, partners.popularity)
        cand = _sample_in_buckets(rng, buckets, opps.region.astype(np.int64), CANDIDATES_PER_ROLE)
        overlap = np.zeros(cand.shape, np.float32)
        for j in range(MAX_NEEDS):
            overlap += signals.claims[cand, safe_needs[:, j : j + 1]] * visible_needs[:, j : j + 1]
        score = 0.6 * signals.tier_rank[cand] + 1.5 * overlap + rng.gumbel(size=cand.shape)
        score = np.where(signals.joined_day[cand] <= created[:, None], score, -np.inf)
        pick = np.argmax(score, axis=1)
        chosen = cand[np.arange(m), pick]
        ok = np.isfinite(score[np.arange(m), pick]) & (rng.random(m) < ROLE_PRESENCE[r])
        members[:, r] = np.where(ok, chosen, -1)

    def follow(anchor: np.ndarray, role: int, chance: float) -> None:
        ally = np.where(anchor >= 0, allies[np.maximum(anchor, 0), role], -1)
        joined = np.where(ally >= 0, signals.joined_day[np.maximum(ally, 0)], 0) <= created
        use = (ally >= 0) & joined & (rng.random(m) < chance)
        members[:, role] = np.where(use, ally, members[:, role])

    follow(members[:, 0], 1, ALLY_FOLLOW)
    follow(members[:, 0], 2, ALLY_FOLLOW)
    follow(members[:, 1], 2, ALLY_FOLLOW / 2)
    return members


def sourcing(rng: np.random.Generator, members: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(m, 3) bool `sourced` flags (at most one per deal) and the registered partner row per deal (-1 none).

    About half the deals are partner-sourced, mostly by services or reseller partners; most sourced deals
    are registered, nearly always by the sourcing partner, sometimes by the reseller that transacts.
    """
    m = members.shape[0]
    present = members >= 0
    keys = np.where(present, np.log([0.5, 0.15, 0.35]) + rng.gumbel(size=members.shape), -np.inf)
    who = np.argmax(keys, axis=1)
    has = present.any(axis=1) & (rng.random(m) < 0.55)
    sourced = np.zeros(members.shape, bool)
    sourced[np.flatnonzero(has), who[has]] = True
    sourcer = members[np.arange(m), who]
    registers = has & (rng.random(m) < 0.7)
    by_reseller = (rng.random(m) < 0.1) & present[:, 2]
    registered = np.where(registers, np.where(by_reseller, members[:, 2], sourcer), -1)
    return sourced, registered
