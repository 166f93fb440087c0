"""Deal history of a synthetic ecosystem: dates, today's biased team routing, bids, sourcing, registration."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from synthetic.latent import MAX_NEEDS, N_REGIONS, OpportunityLatent, PartnerLatent

CANDIDATES_PER_ROLE = 6  # partners the routing desk looks at per role before picking one
ROLE_PRESENCE = np.array([0.97, 0.55, 0.75])  # how often today's teams staff each role
ALLY_FOLLOW = 0.45  # how often a habitual co-selling ally is pulled in, whatever the true synergy
MAX_FOLLOW = 0.95  # cap of the ally-follow chance under a strong routing bias
CAMP_HABIT = 1.5  # score bonus (Gumbel scale) of a candidate in the services partner's hidden camp
LEAD_RETRIES = 20  # fresh candidate draws for deals that must get a services partner
BID_SPREAD_DAYS = 5  # bids of one request are created within this many days of the request
BIDDER_RETRIES = 20  # re-routings of a bid whose lead already bids for the same request


@dataclass(frozen=True)
class RoutingPolicy:
    """How today's desk routes; the defaults are today's desk.

    `bias` scales every preference: 0 = uniform choice among partners covering the region (no tier, tag,
    popularity, ally or camp preference), 1 = today, > 1 = more biased. `camp` (hidden, -1 = none) makes
    the desk keep support partners in the services partner's camp, a habit that puts camps in history.
    `lead_required`: every deal gets a services partner (one-member teams and bids need a lead).
    """

    bias: float = 1.0
    camp: np.ndarray | None = None
    lead_required: bool = False


TODAYS_DESK = RoutingPolicy()


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
    policy: RoutingPolicy = TODAYS_DESK,
) -> np.ndarray:
    """(m, 3) partner rows (-1 = role empty) picked the way partner desks do it today.

    The desk samples popular partners that cover the region, prefers higher tiers and partners whose
    claimed tags match the opportunity's visible tags, and pulls in habitual allies. It never sees the
    latent proficiency, so teams are plausible but far from the best available.
    """
    m = opps.region.size
    members = np.full((m, 3), -1, np.int64)
    safe_needs = np.where(opps.needs >= 0, opps.needs, 0)
    bias = policy.bias
    # `bias == 1` keeps today's arithmetic exactly (x ** 1.0 and 1.0 * x are exact, but say so plainly).
    weight = partners.popularity if bias == 1.0 else partners.popularity**bias
    region = opps.region.astype(np.int64)
    for r in range(3):
        pool = np.flatnonzero(partners.role == r)
        if pool.size == 0:
            continue
        buckets = _region_buckets(pool, partners.region_cover, weight)

        def pick(rows: np.ndarray, role: int = r, buckets: tuple[np.ndarray, ...] = buckets) -> np.ndarray:
            """Best-scoring candidate per deal in `rows`, -1 where no candidate had joined yet."""
            cand = _sample_in_buckets(rng, buckets, region[rows], CANDIDATES_PER_ROLE)
            overlap = np.zeros(cand.shape, np.float32)
            for j in range(MAX_NEEDS):
                overlap += signals.claims[cand, safe_needs[rows, j : j + 1]] * visible_needs[rows, j : j + 1]
            preference = 0.6 * signals.tier_rank[cand] + 1.5 * overlap
            if bias != 1.0:
                preference = bias * preference
            if policy.camp is not None and role > 0:
                lead = members[rows, 0]
                lead_camp = np.where(lead >= 0, policy.camp[np.maximum(lead, 0)], -1)
                same = (policy.camp[cand] == lead_camp[:, None]) & (lead_camp[:, None] >= 0)
                preference = preference + bias * CAMP_HABIT * same
            score = preference + rng.gumbel(size=cand.shape)
            score = np.where(signals.joined_day[cand] <= created[rows, None], score, -np.inf)
            best = np.argmax(score, axis=1)
            at = np.arange(rows.size)
            return np.where(np.isfinite(score[at, best]), cand[at, best], -1)

        chosen = pick(np.arange(m))
        present = rng.random(m) < ROLE_PRESENCE[r]
        if policy.lead_required and r == 0:
            present[:] = True
            for _ in range(LEAD_RETRIES):  # all candidates not yet joined: look again
                again = np.flatnonzero(chosen < 0)
                if again.size == 0:
                    break
                chosen[again] = pick(again)
            # Still nobody (a tiny or brand-new pool): the longest-standing partner of the role.
            chosen = np.where(chosen >= 0, chosen, pool[np.argmin(signals.joined_day[pool])])
        members[:, r] = np.where(present, chosen, -1)

    def follow(anchor: np.ndarray, role: int, chance: float) -> None:
        ally = np.where(anchor >= 0, allies[np.maximum(anchor, 0), role], -1)
        joined = np.where(ally >= 0, signals.joined_day[np.maximum(ally, 0)], 0) <= created
        use = (ally >= 0) & joined & (rng.random(m) < chance)
        members[:, role] = np.where(use, ally, members[:, role])

    follow_chance = ALLY_FOLLOW if bias == 1.0 else min(MAX_FOLLOW, ALLY_FOLLOW * bias)
    follow(members[:, 0], 1, follow_chance)
    follow(members[:, 0], 2, follow_chance)
    follow(members[:, 1], 2, follow_chance / 2)
    return members


def request_of_bids(rng: np.random.Generator, m: int, bidders: int) -> np.ndarray:
    """(m,) sorted request index of each of `m` bids; requests draw 1..`bidders` bids uniformly."""
    sizes = rng.integers(1, bidders + 1, size=m)  # m requests always hold at least m bids
    ends = np.cumsum(sizes)
    n_requests = int(np.searchsorted(ends, m)) + 1
    sizes = sizes[:n_requests].copy()
    sizes[-1] -= int(ends[n_requests - 1]) - m
    return np.repeat(np.arange(n_requests), sizes)


def bid_days(
    rng: np.random.Generator, request_day: np.ndarray, request: np.ndarray, end_day: int
) -> np.ndarray:
    """Creation day of each bid: its request's day plus a few days, never after `end_day`."""
    offset = rng.integers(0, BID_SPREAD_DAYS, size=request.size)
    return np.minimum(request_day[request] + offset, end_day)


def distinct_bidders(
    members: np.ndarray,
    request: np.ndarray,
    reroute: Callable[[np.ndarray], np.ndarray],
) -> np.ndarray:
    """`members` with each request's bids led by distinct services partners.

    A bid whose lead already leads an earlier bid of its request is routed again (`reroute(rows)` gives
    fresh teams); after BIDDER_RETRIES a duplicate can remain only where the region has too few partners.
    """
    members = members.copy()
    for _ in range(BIDDER_RETRIES):
        lead = members[:, 0]
        # Positions of (request, lead) pairs seen before: sort stably, flag repeats, map back.
        order = np.lexsort((lead, request))
        repeat = np.zeros(request.size, bool)
        a, b = order[1:], order[:-1]
        repeat[a] = (request[a] == request[b]) & (lead[a] == lead[b])
        rows = np.flatnonzero(repeat)
        if rows.size == 0:
            break
        members[rows] = reroute(rows)
    return members


def pick_winners(rng: np.random.Generator, logits: np.ndarray, request: np.ndarray) -> np.ndarray:
    """(m,) bool: at most one winning bid per request, bid i with chance e^l_i / (1 + sum_j e^l_j).

    The 1 is the customer buying from nobody; a request of one bid is won with the sigmoid of its logit,
    like a deal without competition. Gumbel-max over the bids and the "nobody" option draws exactly that.
    """
    starts = np.flatnonzero(np.r_[True, request[1:] != request[:-1]])
    keys = logits + rng.gumbel(size=logits.size)
    nobody = rng.gumbel(size=starts.size)
    best = np.maximum.reduceat(keys, starts)
    group = np.repeat(np.arange(starts.size), np.diff(np.r_[starts, request.size]))
    return (keys == best[group]) & (best[group] > nobody[group])


def bid_sourcing(members: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bids: the lead (services partner) sourced its bid and registered it."""
    sourced = np.zeros(members.shape, bool)
    sourced[:, 0] = members[:, 0] >= 0
    return sourced, members[:, 0].copy()


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
