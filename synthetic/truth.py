"""The hidden win model of a synthetic ecosystem: true win probability of any team and the oracle team."""

from __future__ import annotations

import itertools
import json
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from features.schema import DEFAULT_ROLES
from synthetic.latent import Synergy, camp_relation

TRUTH_DIR = "truth"
ARRAYS_FILE = "truth.npz"
MODEL_FILE = "win_model.json"
ORACLE_SHORTLIST = 12  # best partners per role by their own contribution
ORACLE_PER_NEED = 3  # plus the most proficient partners per role for each needed skill
ORACLE_PER_CAMP = 3  # plus the best partners per role of each camp, so all-camp teams can be found
# plus both ends of the best positive-synergy pairs per pair of roles: a pair can win through its synergy
# when neither end is among the best alone (brute force over small ecosystems found such teams 3-5% better)
ORACLE_PAIRS = 4


@dataclass(frozen=True)
class WinModel:
    """Coefficients of the logistic win model; role weights follow DEFAULT_ROLES order.

    logit = intercept + coverage * C + execution * E + industry * I + region * R + synergy * (pair effects)
            + camp_same * (#same-camp pairs) + camp_rival * (#rival-camp pairs)
            + per_support_role * (#filled non-services roles) + missing_services * [no services partner]
            - size * (log deal size - reference_log_size) - size_interaction * G + opportunity difficulty
    where C = need-weighted mean over the opportunity's latent skills of the best member's proficiency
    (scaled by its role's coverage weight), E, I, R are role-weighted sums over the members, and G is the
    role-weighted sum of how far the log deal size exceeds each member's hidden scale. Camps c and
    (c + 1) mod `camps` are rivals (see latent.camp_relation).
    """

    # Tuned so today's routing wins ~35% and the oracle team ~0.75 on average (see bench/generator.py).
    intercept: float = -2.2
    coverage: float = 1.8
    execution: float = 0.9
    industry: float = 0.5
    region: float = 0.5
    per_support_role: float = 0.2
    missing_services: float = -0.8
    size: float = 0.3
    synergy: float = 0.4  # scales the pair effects stored with the truth
    reference_log_size: float = float(np.log(120e3))
    coverage_role_weights: tuple[float, ...] = (1.0, 0.7, 0.45)
    execution_role_weights: tuple[float, ...] = (0.5, 0.25, 0.25)
    industry_role_weights: tuple[float, ...] = (0.5, 0.3, 0.2)
    region_role_weights: tuple[float, ...] = (0.5, 0.2, 0.3)
    camps: int = 0  # 0 = no camps
    camp_same: float = 0.0
    camp_rival: float = 0.0
    size_interaction: float = 0.0
    size_role_weights: tuple[float, ...] = (0.5, 0.25, 0.25)


@dataclass
class GroundTruth:
    """Latent partner and opportunity state plus the win model; row i of partner arrays = partner_ids[i]."""

    partner_ids: np.ndarray
    partner_role: np.ndarray
    proficiency: np.ndarray
    execution: np.ndarray
    industry_expertise: np.ndarray
    region_cover: np.ndarray
    active: np.ndarray
    synergy: Synergy
    opportunity_ids: np.ndarray
    opp_industry: np.ndarray
    opp_region: np.ndarray
    needs: np.ndarray
    need_weights: np.ndarray
    log_size: np.ndarray
    difficulty: np.ndarray
    model: WinModel = field(default_factory=WinModel)
    roles: tuple[str, ...] = DEFAULT_ROLES
    # Optional state (empty = absent, as in truth saved before scenarios): camp per partner (-1 = none),
    # hidden scale per partner (log deal size it can carry), customer request per opportunity (-1 = none).
    camp: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int16))
    scale: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    opp_request: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    _partner_index: pd.Index = field(init=False, repr=False)
    _opp_index: pd.Index = field(init=False, repr=False)

    def __post_init__(self) -> None:
        n, m = self.partner_ids.size, self.opportunity_ids.size
        if self.camp.size == 0:
            self.camp = np.full(n, -1, np.int16)
        if self.scale.size == 0:
            self.scale = np.zeros(n, np.float32)
        if self.opp_request.size == 0:
            self.opp_request = np.full(m, -1, np.int64)
        self._partner_index = pd.Index(self.partner_ids)
        self._opp_index = pd.Index(self.opportunity_ids)
        self._pools = [np.flatnonzero((self.partner_role == r) & self.active) for r in range(len(self.roles))]
        lo, hi = self.synergy.keys // max(n, 1), self.synergy.keys % max(n, 1)
        self._pair_lo, self._pair_hi = lo, hi
        src, dst = np.concatenate([lo, hi]), np.concatenate([hi, lo])
        val = np.concatenate([self.synergy.values, self.synergy.values])
        order = np.argsort(src, kind="stable")
        self._ally_src, self._ally_dst, self._ally_val = src[order], dst[order], val[order]

    # -- core -----------------------------------------------------------------------------------

    def logits(self, opp_idx: np.ndarray, members: np.ndarray) -> np.ndarray:
        """Win logits for opportunity rows `opp_idx` (B,) and member rows `members` (B, roles), -1 = empty."""
        m = self.model
        n_partners = self.partner_ids.size
        needs = self.needs[opp_idx]
        valid = needs >= 0
        safe_needs = np.where(valid, needs, 0)
        weights = self.need_weights[opp_idx]
        ind = self.opp_industry[opp_idx]
        reg = self.opp_region[opp_idx]
        best = np.zeros(needs.shape, np.float32)
        execution = np.zeros(opp_idx.shape, np.float32)
        industry = np.zeros(opp_idx.shape, np.float32)
        region = np.zeros(opp_idx.shape, np.float32)
        present = members >= 0
        for r in range(members.shape[1]):
            p = present[:, r]
            idx = np.where(p, members[:, r], 0)
            prof = self.proficiency[idx[:, None], safe_needs] * (m.coverage_role_weights[r] * p)[:, None]
            best = np.maximum(best, prof)
            execution += m.execution_role_weights[r] * self.execution[idx] * p
            industry += m.industry_role_weights[r] * self.industry_expertise[idx, ind] * p
            region += m.region_role_weights[r] * self.region_cover[idx, reg] * p
        coverage = (best * weights * valid).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        synergy = np.zeros(opp_idx.shape, np.float32)
        for r, s in itertools.combinations(range(members.shape[1]), 2):
            synergy += self.synergy.lookup(members[:, r], members[:, s], n_partners)
        logit = (
            m.intercept
            + m.coverage * coverage
            + m.execution * execution
            + m.industry * industry
            + m.region * region
            + m.synergy * synergy
            + m.per_support_role * present[:, 1:].sum(axis=1)
            + m.missing_services * ~present[:, 0]
            - m.size * (self.log_size[opp_idx] - m.reference_log_size)
            + self.difficulty[opp_idx]
        ).astype(np.float64)
        # Scenario terms are skipped at their zero defaults, so today's logits stay bit for bit the same.
        if m.camps and (m.camp_same or m.camp_rival):
            logit += self._camp_effect(members)
        if m.size_interaction:
            logit -= m.size_interaction * self._size_gap(opp_idx, members, range(members.shape[1]))
        return logit

    def _camp_effect(self, members: np.ndarray) -> np.ndarray:
        m = self.model
        effect = np.zeros(members.shape[0], np.float64)
        camp = np.where(members >= 0, self.camp[np.maximum(members, 0)], -1)
        for r, s in itertools.combinations(range(members.shape[1]), 2):
            same, rival = camp_relation(camp[:, r], camp[:, s], m.camps)
            effect += m.camp_same * same + m.camp_rival * rival
        return effect

    def _size_gap(self, opp_idx: np.ndarray, members: np.ndarray, roles: Iterable[int]) -> np.ndarray:
        """Role-weighted log size the members cannot carry (members: (B, roles), or (B,) of one role)."""
        m = self.model
        log_size = self.log_size[opp_idx]
        gap = np.zeros(np.shape(opp_idx), np.float64)
        for r in roles:
            rows = members[:, r] if members.ndim == 2 else members
            lacking = np.maximum(log_size - self.scale[np.maximum(rows, 0)], 0.0) * (rows >= 0)
            gap += m.size_role_weights[r] * lacking
        return gap

    def probabilities(self, opp_idx: np.ndarray, members: np.ndarray) -> np.ndarray:
        """`logits` through the logistic function."""
        return 1.0 / (1.0 + np.exp(-self.logits(opp_idx, members)))

    # -- public API by id -----------------------------------------------------------------------

    def opportunity_rows(self, opportunity_ids: Sequence[str]) -> np.ndarray:
        rows = self._opp_index.get_indexer(pd.Index(list(opportunity_ids), dtype=object))
        if (rows < 0).any():
            unknown = [o for o, r in zip(opportunity_ids, rows, strict=True) if r < 0][:5]
            raise KeyError(f"unknown opportunity ids: {unknown}")
        return rows

    def member_rows(self, teams: Sequence[Mapping[str, str | None]]) -> np.ndarray:
        """(B, roles) partner rows of teams given as role -> partner_id; -1 where the role is empty."""
        unknown_roles = set().union(*(t.keys() for t in teams)) - set(self.roles) if teams else set()
        if unknown_roles:
            raise KeyError(f"unknown roles: {sorted(unknown_roles)}")
        members = np.full((len(teams), len(self.roles)), -1, np.int64)
        for r, role in enumerate(self.roles):
            ids = [t.get(role) for t in teams]
            rows = self._partner_index.get_indexer(pd.Index(ids, dtype=object))
            given = np.array([i is not None for i in ids], bool)
            if (given & (rows < 0)).any():
                bad = [i for i, ok in zip(ids, given & (rows < 0), strict=True) if ok][:5]
                raise KeyError(f"unknown partner ids: {bad}")
            members[:, r] = rows
        return members

    def win_probability(
        self, opportunity_ids: Sequence[str], teams: Sequence[Mapping[str, str | None]]
    ) -> np.ndarray:
        """True win probability of teams[i] (role -> partner_id, None = empty) on opportunity_ids[i]."""
        if len(opportunity_ids) != len(teams):
            raise ValueError("opportunity_ids and teams must have the same length")
        return self.probabilities(self.opportunity_rows(opportunity_ids), self.member_rows(teams))

    def oracle_team(
        self,
        opportunity_id: str,
        *,
        roles: Sequence[str] | None = None,
        eligible: Callable[[str], bool] | None = None,
    ) -> tuple[dict[str, str | None], float]:
        """Best achievable team of active (and `eligible`) partners for one opportunity, with its probability.

        Approximation: per role, a shortlist of the partners with the best own contribution (skills,
        execution, industry, region, minus the deal size they cannot carry), the most proficient ones per
        needed skill, the best few of every camp, both ends of the best positive-synergy pairs, and the
        synergy allies of all of those; then an exact search over every combination of shortlists (empty
        role included). The skill-coverage term is a max over members, so complementary specialists are
        kept by the per-skill shortlist; a team of one camp is built from that camp's own best; a pair
        that wins through its synergy is kept whole. Brute force over every team of 120-partner
        ecosystems (tests/synthetic/test_truth.py) finds nothing 1% better.
        """
        wanted = set(self.roles if roles is None else roles)
        if wanted - set(self.roles):
            raise KeyError(f"unknown roles: {sorted(wanted - set(self.roles))}")
        o = int(self.opportunity_rows([opportunity_id])[0])
        shortlists: list[list[int]] = []
        own = np.full(self.partner_ids.size, -np.inf)  # own contribution of each shortlisted role's pool
        for r, role in enumerate(self.roles):
            shortlists.append(self._shortlist(o, r, eligible, own) if role in wanted else [])
        for r, s in itertools.combinations(range(len(self.roles)), 2):
            if self.roles[r] in wanted and self.roles[s] in wanted:
                ends_r, ends_s = self._best_pairs(r, s, own, eligible)
                shortlists[r] = list(dict.fromkeys(shortlists[r] + ends_r))
                shortlists[s] = list(dict.fromkeys(shortlists[s] + ends_s))
        for r, ally_role in itertools.product(range(len(self.roles)), range(len(self.roles))):
            if r == ally_role or self.roles[ally_role] not in wanted:
                continue
            extra = self._allies(np.array(shortlists[r], np.int64), ally_role, eligible)
            shortlists[ally_role] = list(dict.fromkeys(shortlists[ally_role] + extra))
        options = [np.array([*s, -1], np.int64) for s in shortlists]
        scores = self._grid_logits(o, options)
        at = np.unravel_index(int(np.argmax(scores)), scores.shape)
        members = np.array([[options[r][at[r]] for r in range(len(self.roles))]], np.int64)
        team = {
            role: (str(self.partner_ids[members[0, r]]) if members[0, r] >= 0 else None)
            for r, role in enumerate(self.roles)
            if role in wanted
        }
        return team, float(self.probabilities(np.array([o]), members)[0])

    # -- oracle helpers -------------------------------------------------------------------------

    def _grid_logits(self, o: int, options: Sequence[np.ndarray]) -> np.ndarray:
        """`logits` of every team drawn from `options` (partner rows per role, -1 = empty) for opportunity o.

        Array of shape (len(options[0]), len(options[1]), ...). Sums per-member and per-pair terms by
        broadcasting instead of scoring teams row by row: 5-10x faster on the oracle's ~50k teams.
        """
        m = self.model
        n_roles = len(options)
        needs = self.needs[o]
        safe_needs = np.where(needs >= 0, needs, 0)
        weights = self.need_weights[o] * (needs >= 0)

        def on_axis(values: np.ndarray, *axes: int) -> np.ndarray:
            shape = [1] * n_roles
            for a, size in zip(axes, values.shape, strict=False):
                shape[a] = size
            return values.reshape(shape + list(values.shape[len(axes):]))

        best = np.zeros([1] * n_roles + [needs.size], np.float32)
        total = np.zeros([1] * n_roles, np.float64)
        for r, rows in enumerate(options):
            present = rows >= 0
            idx = np.maximum(rows, 0)
            scale = (m.coverage_role_weights[r] * present)[:, None]
            prof = self.proficiency[idx[:, None], safe_needs[None, :]] * scale
            best = np.maximum(best, on_axis(prof, r))
            own = (
                m.execution * m.execution_role_weights[r] * self.execution[idx]
                + m.industry * m.industry_role_weights[r] * self.industry_expertise[idx, self.opp_industry[o]]
                + m.region * m.region_role_weights[r] * self.region_cover[idx, self.opp_region[o]]
            ) * present
            own = own + (m.per_support_role * present if r > 0 else m.missing_services * ~present)
            if m.size_interaction:
                own = own - m.size_interaction * self._size_gap(np.full(rows.size, o), rows, [r])
            total = total + on_axis(own.astype(np.float64), r)
        coverage = (best * weights).sum(axis=-1) / max(float(weights.sum()), 1e-9)
        total = total + m.coverage * coverage
        camps = m.camps and (m.camp_same or m.camp_rival)
        for r, s in itertools.combinations(range(n_roles), 2):
            a, b = np.meshgrid(options[r], options[s], indexing="ij")
            a, b = a.ravel(), b.ravel()
            pair = m.synergy * self.synergy.lookup(a, b, self.partner_ids.size).astype(np.float64)
            if camps:
                camp_a = np.where(a >= 0, self.camp[np.maximum(a, 0)], -1)
                camp_b = np.where(b >= 0, self.camp[np.maximum(b, 0)], -1)
                same, rival = camp_relation(camp_a, camp_b, m.camps)
                pair = pair + m.camp_same * same + m.camp_rival * rival
            total = total + on_axis(pair.reshape(options[r].size, options[s].size), r, s)
        constant = m.intercept - m.size * (self.log_size[o] - m.reference_log_size) + self.difficulty[o]
        return total + float(constant)

    def _shortlist(
        self, o: int, r: int, eligible: Callable[[str], bool] | None, own_out: np.ndarray
    ) -> list[int]:
        """Shortlist of role r for opportunity o; writes the pool's own contributions into `own_out`."""
        m = self.model
        pool = self._pools[r]
        if pool.size == 0:
            return []
        needs = self.needs[o]
        needs, weights = needs[needs >= 0], self.need_weights[o][needs >= 0]
        prof = self.proficiency[pool[:, None], needs[None, :]]
        own = (
            m.coverage * m.coverage_role_weights[r] * (prof * weights).sum(axis=1) / weights.sum()
            + m.execution * m.execution_role_weights[r] * self.execution[pool]
            + m.industry * m.industry_role_weights[r] * self.industry_expertise[pool, self.opp_industry[o]]
            + m.region * m.region_role_weights[r] * self.region_cover[pool, self.opp_region[o]]
        )
        if m.size_interaction:
            own = own - m.size_interaction * self._size_gap(np.full(pool.size, o), pool, [r])
        own_out[pool] = own
        chosen = self._top(pool, own, ORACLE_SHORTLIST, eligible)
        for j in range(needs.size):
            chosen += self._top(pool, prof[:, j] + 1e-3 * own, ORACLE_PER_NEED, eligible)
        if m.camps and (m.camp_same or m.camp_rival):
            for c in range(m.camps):
                in_camp = self.camp[pool] == c
                chosen += self._top(pool[in_camp], own[in_camp], ORACLE_PER_CAMP, eligible)
        return list(dict.fromkeys(chosen))

    def _best_pairs(
        self, r: int, s: int, own: np.ndarray, eligible: Callable[[str], bool] | None
    ) -> tuple[list[int], list[int]]:
        """Role-r and role-s ends of the ORACLE_PAIRS positive-synergy pairs with the best joint score."""
        m = self.model
        lo, hi, value = self._pair_lo, self._pair_hi, self.synergy.values
        flip = self.partner_role[lo] == s
        a, b = np.where(flip, hi, lo), np.where(flip, lo, hi)
        keep = (value > 0) & (self.partner_role[a] == r) & (self.partner_role[b] == s)
        a, b, value = a[keep], b[keep], value[keep]
        score = own[a] + own[b] + m.synergy * value
        if m.camps and (m.camp_same or m.camp_rival):
            same, rival = camp_relation(self.camp[a], self.camp[b], m.camps)
            score = score + m.camp_same * same + m.camp_rival * rival
        ends_r: list[int] = []
        ends_s: list[int] = []
        for i in np.argsort(-score, kind="stable"):
            if not np.isfinite(score[i]) or len(ends_r) == ORACLE_PAIRS:
                break
            pair = (int(a[i]), int(b[i]))
            if eligible is None or all(eligible(str(self.partner_ids[p])) for p in pair):
                ends_r.append(pair[0])
                ends_s.append(pair[1])
        return ends_r, ends_s

    def _top(
        self, pool: np.ndarray, score: np.ndarray, k: int, eligible: Callable[[str], bool] | None
    ) -> list[int]:
        """The k best-scoring eligible rows of `pool`, best first."""
        out: list[int] = []
        if pool.size == 0:
            return out
        window = 4 * k
        while True:  # partial sorts of a growing window: a full sort of the pool is rarely needed
            window = min(window, pool.size)
            if window < pool.size:
                head = np.argpartition(-score, window - 1)[:window]
            else:
                head = np.arange(pool.size)
            head = head[np.argsort(-score[head], kind="stable")]
            out = [int(i) for i in pool[head] if eligible is None or eligible(str(self.partner_ids[i]))]
            if len(out) >= k or window == pool.size:
                return out[:k]
            window *= 4

    def _allies(self, rows: np.ndarray, role: int, eligible: Callable[[str], bool] | None) -> list[int]:
        lo = np.searchsorted(self._ally_src, rows)
        hi = np.searchsorted(self._ally_src, rows, side="right")
        idx = np.concatenate([np.arange(a, b) for a, b in zip(lo, hi, strict=True)] + [np.zeros(0, np.int64)])
        dst = self._ally_dst[idx]
        keep = (self._ally_val[idx] > 0) & (self.partner_role[dst] == role) & self.active[dst]
        dst = dst[keep]
        return [int(i) for i in dst if eligible is None or eligible(str(self.partner_ids[i]))]

    # -- persistence ----------------------------------------------------------------------------

    def _arrays(self) -> dict[str, np.ndarray]:
        return {
            "partner_ids": self.partner_ids.astype(str),
            "partner_role": self.partner_role,
            "proficiency": self.proficiency,
            "execution": self.execution,
            "industry_expertise": self.industry_expertise,
            "region_cover": self.region_cover,
            "active": self.active,
            "synergy_keys": self.synergy.keys,
            "synergy_values": self.synergy.values,
            "opportunity_ids": self.opportunity_ids.astype(str),
            "opp_industry": self.opp_industry,
            "opp_region": self.opp_region,
            "needs": self.needs,
            "need_weights": self.need_weights,
            "log_size": self.log_size,
            "difficulty": self.difficulty,
            "camp": self.camp,
            "scale": self.scale,
            "opp_request": self.opp_request,
        }

    def save(self, directory: Path) -> Path:
        """Write `directory/truth/` (an uncompressed npz with fixed timestamps, plus JSON); returns it."""
        out = Path(directory) / TRUTH_DIR
        out.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(out / ARRAYS_FILE, "w", compression=zipfile.ZIP_STORED) as zf:
            for name, array in self._arrays().items():
                # A fixed timestamp keeps the file byte-identical across runs with the same seed.
                info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
                with zf.open(info, "w", force_zip64=True) as fh:
                    np.lib.format.write_array(fh, np.ascontiguousarray(array), allow_pickle=False)
        payload = {"roles": list(self.roles), "win_model": asdict(self.model)}
        (out / MODEL_FILE).write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")
        return out

    @classmethod
    def load(cls, directory: Path) -> GroundTruth:
        """Load from an export folder `DIR` or its `DIR/truth` sub-folder."""
        directory = Path(directory)
        if (directory / TRUTH_DIR / ARRAYS_FILE).exists():
            directory = directory / TRUTH_DIR
        if not (directory / ARRAYS_FILE).exists():
            raise FileNotFoundError(f"no {ARRAYS_FILE} under {directory}")
        payload = json.loads((directory / MODEL_FILE).read_text())
        raw = payload["win_model"]
        model = WinModel(**{k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()})  # type: ignore[arg-type]
        with np.load(directory / ARRAYS_FILE, allow_pickle=False) as data:
            a = {name: data[name] for name in data.files}
        return cls(
            partner_ids=a["partner_ids"].astype(object),
            partner_role=a["partner_role"],
            proficiency=a["proficiency"],
            execution=a["execution"],
            industry_expertise=a["industry_expertise"],
            region_cover=a["region_cover"],
            active=a["active"],
            synergy=Synergy(keys=a["synergy_keys"], values=a["synergy_values"]),
            opportunity_ids=a["opportunity_ids"].astype(object),
            opp_industry=a["opp_industry"],
            opp_region=a["opp_region"],
            needs=a["needs"],
            need_weights=a["need_weights"],
            log_size=a["log_size"],
            difficulty=a["difficulty"],
            model=model,
            roles=tuple(payload["roles"]),
            # Absent in truth saved before scenarios: empty means "no camps, no scale, no requests".
            camp=a.get("camp", np.zeros(0, np.int16)),
            scale=a.get("scale", np.zeros(0, np.float32)),
            opp_request=a.get("opp_request", np.zeros(0, np.int64)),
        )
