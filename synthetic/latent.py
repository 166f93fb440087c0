"""Hidden state of a synthetic ecosystem: partner abilities, alliances and opportunity needs."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from synthetic.vocabulary import INDUSTRIES, REGIONS, SKILLS

N_SKILLS = len(SKILLS)
N_INDUSTRIES = len(INDUSTRIES)
N_REGIONS = len(REGIONS)
MAX_NEEDS = 3  # latent skills an opportunity needs, padded with -1
DIFFICULTY_SD = 0.9  # today's sd of the per-deal difficulty (Scenario.noise)
INDEPENDENT_SHARE = 0.2  # partners outside every camp when a scenario has camps
# Hidden scale: the log deal size a partner can carry, centred a little above the typical deal and spread
# by tier (revenue, visible), popularity (partly visible through history) and an unseen part.
SCALE_CENTRE = float(np.log(150e3))
SCALE_PER_TIER = 0.45
SCALE_PER_LOG_POPULARITY = 0.3
SCALE_UNSEEN_SD = 0.5

ROLE_SHARES = np.array([0.45, 0.25, 0.30])  # services, influence, reseller
REGION_SHARES = np.array([0.28, 0.08, 0.12, 0.10, 0.13, 0.06, 0.15, 0.08])
# Industry -> skills that dominate its demand (hand-set so e.g. health records are a healthcare need).
_INDUSTRY_FOCUS: dict[str, tuple[str, ...]] = {
    "financial-services": ("payments", "compliance", "zero-trust", "mainframe", "dwh", "genai"),
    "healthcare": ("ehr", "compliance", "iam", "backup-dr", "genai", "digital-workplace"),
    "retail": ("ecommerce", "cdp", "supply-chain", "edge", "computer-vision", "payments"),
    "manufacturing": ("iot", "ot-security", "computer-vision", "sap-s4hana", "supply-chain", "private-5g"),
    "public-sector": ("compliance", "servicenow", "digital-workplace", "vdi", "zero-trust", "mainframe"),
    "telecommunications": ("private-5g", "kubernetes", "sdwan", "contact-center", "observability", "edge"),
    "energy-utilities": ("ot-security", "iot", "sap-s4hana", "hpc", "backup-dr", "edge"),
    "media-entertainment": ("cdp", "ecommerce", "genai", "hpc", "lakehouse", "observability"),
    "transportation-logistics": ("supply-chain", "iot", "oracle-erp", "edge", "sdwan", "contact-center"),
    "education": ("digital-workplace", "vdi", "iam", "dynamics", "bi", "network-security"),
}
# Skills that only make sense in a few industries.
_NICHE: dict[str, tuple[str, ...]] = {
    "ehr": ("healthcare",),
    "payments": ("financial-services", "retail"),
    "ot-security": ("manufacturing", "energy-utilities", "transportation-logistics"),
    "private-5g": ("telecommunications", "manufacturing", "transportation-logistics", "energy-utilities"),
}


@dataclass(frozen=True)
class PartnerLatent:
    """True abilities of every partner (row i = partner i); only the generator and the truth see these."""

    role: np.ndarray  # int8 index into DEFAULT_ROLES
    proficiency: np.ndarray  # float32 (n, N_SKILLS) in [0, 1], sparse
    execution: np.ndarray  # float32 (n,) in [0, 1]
    industry_expertise: np.ndarray  # float32 (n, N_INDUSTRIES) in [0, 1]
    region_cover: np.ndarray  # bool (n, N_REGIONS)
    popularity: np.ndarray  # float64 (n,) > 0; how often today's routing picks the partner
    over_claimer: np.ndarray  # bool (n,)
    active: np.ndarray  # bool (n,)


@dataclass(frozen=True)
class Synergy:
    """Pair effects on the win logit; `keys` = lo * n_partners + hi, sorted, for searchsorted look-ups."""

    keys: np.ndarray  # int64
    values: np.ndarray  # float32

    def lookup(self, a: np.ndarray, b: np.ndarray, n_partners: int) -> np.ndarray:
        """Synergy of pairs (a[i], b[i]); 0 for unknown pairs or when either index is -1."""
        lo, hi = np.minimum(a, b).astype(np.int64), np.maximum(a, b).astype(np.int64)
        key = lo * n_partners + hi
        out = np.zeros(key.shape, dtype=np.float32)
        if self.keys.size == 0:
            return out
        pos = np.minimum(np.searchsorted(self.keys, key), self.keys.size - 1)
        hit = (self.keys[pos] == key) & (lo >= 0)
        out[hit] = self.values[pos[hit]]
        return out


@dataclass(frozen=True)
class OpportunityLatent:
    """What each opportunity truly needs and how hard it is."""

    customer: np.ndarray  # int64 customer index
    industry: np.ndarray  # int16
    region: np.ndarray  # int16
    needs: np.ndarray  # int16 (m, MAX_NEEDS), -1 padded, first need is the main one
    need_weights: np.ndarray  # float32 (m, MAX_NEEDS), 0 where padded
    log_size: np.ndarray  # float64 natural log of the contract value
    difficulty: np.ndarray  # float32 per-opportunity shift of the win logit (buyer, competition)


def industry_skill_affinity(rng: np.random.Generator) -> np.ndarray:
    """(N_INDUSTRIES, N_SKILLS) demand distribution per industry: a random base plus hand-set foci."""
    keys = [s.key for s in SKILLS]
    base = rng.dirichlet(np.full(N_SKILLS, 0.6), size=N_INDUSTRIES) * 0.5 + 0.5 / N_SKILLS
    for i, industry in enumerate(INDUSTRIES):
        for key in _INDUSTRY_FOCUS[industry]:
            base[i, keys.index(key)] += 0.06
    for key, industries in _NICHE.items():
        for i, industry in enumerate(INDUSTRIES):
            if industry not in industries:
                base[i, keys.index(key)] *= 0.05
    return base / base.sum(axis=1, keepdims=True)


def top_k_without_replacement(rng: np.random.Generator, log_weights: np.ndarray, k: int) -> np.ndarray:
    """Indices of k distinct categories per row, drawn by weight (Gumbel top-k trick), best first."""
    keys = log_weights + rng.gumbel(size=log_weights.shape).astype(log_weights.dtype)
    part = np.argpartition(-keys, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(keys, part, axis=1), axis=1)
    return np.take_along_axis(part, order, axis=1)


def sample_partners(
    rng: np.random.Generator, n: int, affinity: np.ndarray, solo: bool = False
) -> PartnerLatent:
    """Partners with sparse proficiency (a few strong skills each), tied to their industries.

    `solo`: every partner is a services partner (one-member teams), drawn from the same stream.
    """
    role = rng.choice(3, size=n, p=ROLE_SHARES).astype(np.int8)
    if solo:
        role[:] = 0

    n_ind = 1 + rng.binomial(2, 0.35, size=n)
    ind_rank = top_k_without_replacement(rng, np.zeros((n, N_INDUSTRIES), np.float32), 3)
    industry_expertise = np.zeros((n, N_INDUSTRIES), np.float32)
    rows = np.arange(n)
    for j in range(3):  # at most three industries; loop over slots, not rows
        has = j < n_ind
        industry_expertise[rows[has], ind_rank[has, j]] = rng.uniform(0.45, 1.0, size=int(has.sum()))

    region_cover = np.zeros((n, N_REGIONS), bool)
    home = rng.choice(N_REGIONS, size=n, p=REGION_SHARES)
    region_cover[rows, home] = True
    extra = rng.random((n, N_REGIONS)) < 0.12
    global_player = rng.random(n) < 0.04
    region_cover |= extra | global_player[:, None]

    # Skills follow the primary industry's demand, blurred so partners are not industry clones.
    log_pref = np.log(0.5 * affinity[ind_rank[:, 0]] + 0.5 / N_SKILLS).astype(np.float32)
    n_strong = 2 + rng.binomial(3, 0.35, size=n)
    picks = top_k_without_replacement(rng, log_pref, 7)
    proficiency = np.zeros((n, N_SKILLS), np.float32)
    for j in range(7):
        strong = j < n_strong
        weak = (j >= n_strong) & (j < n_strong + 2)
        weak_value = np.where(weak, rng.uniform(0.1, 0.35, size=n), 0.0)
        value = np.where(strong, rng.beta(4.0, 1.6, size=n), weak_value)
        proficiency[rows, picks[:, j]] = value
    role_depth = np.array([1.0, 0.9, 0.65], np.float32)  # resellers know products less deeply
    proficiency *= role_depth[role][:, None]

    execution = rng.beta(2.5, 2.5, size=n).astype(np.float32)
    popularity = np.exp(rng.normal(0.0, 1.0, size=n) + 0.8 * (execution - 0.5))
    return PartnerLatent(
        role=role,
        proficiency=proficiency,
        execution=execution,
        industry_expertise=industry_expertise,
        region_cover=region_cover,
        popularity=popularity,
        over_claimer=rng.random(n) < 0.25,
        active=rng.random(n) >= 0.05,
    )


def sample_synergy(rng: np.random.Generator, partners: PartnerLatent) -> tuple[Synergy, np.ndarray]:
    """Alliances between partners of different roles sharing a region; returns the synergy and an ally table.

    The ally table (n, 3) names, per partner and other role, the partner it habitually co-sells with
    (-1 if none); today's routing follows these habits whatever the true synergy, so history holds them.
    """
    n = partners.role.size
    allies = np.full((n, 3), -1, np.int64)
    home = np.argmax(partners.region_cover, axis=1)
    los: list[np.ndarray] = []
    his: list[np.ndarray] = []
    for a_role, b_role, share in ((0, 1, 0.30), (0, 2, 0.30), (1, 2, 0.15)):
        a = np.flatnonzero((partners.role == a_role) & (rng.random(n) < share))
        b_pool = np.flatnonzero(partners.role == b_role)
        if a.size == 0 or b_pool.size == 0:
            continue
        # Same-region partner of the other role: sort the pool by region and draw inside the block.
        b_sorted = b_pool[np.argsort(home[b_pool], kind="stable")]
        starts = np.searchsorted(home[b_sorted], np.arange(N_REGIONS))
        ends = np.searchsorted(home[b_sorted], np.arange(N_REGIONS), side="right")
        ra = home[a]
        count = ends[ra] - starts[ra]
        ok = count > 0
        a = a[ok]
        b = b_sorted[starts[ra[ok]] + (rng.random(a.size) * count[ok]).astype(np.int64)]
        allies[a, b_role] = b
        allies[b, a_role] = np.where(allies[b, a_role] < 0, a, allies[b, a_role])
        los.append(np.minimum(a, b))
        his.append(np.maximum(a, b))
    lo = np.concatenate(los) if los else np.zeros(0, np.int64)
    hi = np.concatenate(his) if his else np.zeros(0, np.int64)
    keys = np.unique(lo * n + hi)
    positive = rng.random(keys.size) < 0.6
    magnitude = rng.uniform(0.4, 1.1, size=keys.size)
    values = np.where(positive, magnitude, -magnitude).astype(np.float32)
    return Synergy(keys=keys.astype(np.int64), values=values), allies


def sample_opportunities(
    rng: np.random.Generator, m: int, affinity: np.ndarray, noise: float = DIFFICULTY_SD, chunk: int = 250_000
) -> OpportunityLatent:
    """Opportunities of a pool of customers (repeat buyers), with 1-3 latent needs drawn by industry."""
    n_customers = max(1, m // 4)
    cust_industry = rng.choice(N_INDUSTRIES, size=n_customers).astype(np.int16)
    cust_region = rng.choice(N_REGIONS, size=n_customers, p=REGION_SHARES).astype(np.int16)
    # Heavy-tailed customer activity: a few key accounts buy often.
    cust_weight = rng.pareto(1.5, size=n_customers) + 0.1
    cum = np.cumsum(cust_weight)
    customer = np.minimum(np.searchsorted(cum, rng.random(m) * cum[-1]), n_customers - 1)
    industry = cust_industry[customer]
    region = cust_region[customer]

    needs = np.empty((m, MAX_NEEDS), np.int16)
    log_aff = np.log(affinity).astype(np.float32)
    for start in range(0, m, chunk):  # chunks bound memory of the (m, N_SKILLS) Gumbel keys
        stop = min(m, start + chunk)
        needs[start:stop] = top_k_without_replacement(rng, log_aff[industry[start:stop]], MAX_NEEDS)
    n_needs = rng.choice([1, 2, 3], size=m, p=[0.3, 0.45, 0.25])
    pad = np.arange(MAX_NEEDS)[None, :] >= n_needs[:, None]
    needs[pad] = -1
    need_weights = np.where(pad, 0.0, rng.uniform(0.4, 1.0, size=(m, MAX_NEEDS))).astype(np.float32)
    need_weights[:, 0] = 1.0

    size_mu = np.log([250e3, 180e3, 90e3, 150e3, 200e3, 220e3, 160e3, 80e3, 110e3, 60e3])
    log_size = size_mu[industry] + rng.normal(0.0, 1.0, size=m)
    difficulty = rng.normal(0.0, noise, size=m).astype(np.float32)
    return OpportunityLatent(
        customer=customer,
        industry=industry,
        region=region,
        needs=needs,
        need_weights=need_weights,
        log_size=log_size,
        difficulty=difficulty,
    )


def repeat_opportunities(opps: OpportunityLatent, rows: np.ndarray) -> OpportunityLatent:
    """Rows `rows` of `opps` (repeats allowed): the bids of one customer request share its latent state."""
    return OpportunityLatent(**{f.name: getattr(opps, f.name)[rows] for f in fields(opps)})


def sample_camps(rng: np.random.Generator, n: int, camps: int) -> np.ndarray:
    """(n,) int16 hidden camp per partner, -1 for independents (all -1 when `camps` is 0)."""
    if camps <= 0:
        return np.full(n, -1, np.int16)
    camp = rng.integers(0, camps, size=n).astype(np.int16)
    camp[rng.random(n) < INDEPENDENT_SHARE] = -1
    return camp


def camp_relation(a: np.ndarray, b: np.ndarray, camps: int) -> tuple[np.ndarray, np.ndarray]:
    """(same, rival) masks of camp pairs; camps c and (c + 1) mod `camps` are rivals, -1 is nobody's.

    With two or three camps every other camp is a rival; from four on some camps are neutral to each other.
    """
    both = (a >= 0) & (b >= 0)
    same = both & (a == b)
    ring = camps if camps > 1 else 1
    rival = both & (a != b) & (((a + 1) % ring == b) | ((b + 1) % ring == a))
    return same, rival


def partner_scale(rng: np.random.Generator, tier_rank: np.ndarray, popularity: np.ndarray) -> np.ndarray:
    """(n,) float32 hidden log deal size each partner can carry; higher tiers and popular ones carry more."""
    n = tier_rank.size
    centred_tier = tier_rank.astype(np.float64) - 1.0  # ranks 0..3 with shares 40/30/20/10 average 1.0
    scale = (
        SCALE_CENTRE + SCALE_PER_TIER * centred_tier + SCALE_PER_LOG_POPULARITY * np.log(popularity)
        + rng.normal(0.0, SCALE_UNSEEN_SD, size=n)
    )
    return scale.astype(np.float32)
