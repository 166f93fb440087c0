"""The hidden win model of a synthetic ecosystem: true win probability of any team and the oracle team."""

from __future__ import annotations

import itertools
import json
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from features.schema import DEFAULT_ROLES
from synthetic.latent import Synergy

TRUTH_DIR = "truth"
ARRAYS_FILE = "truth.npz"
MODEL_FILE = "win_model.json"
ORACLE_SHORTLIST = 12  # best partners per role by their own contribution
ORACLE_PER_NEED = 3  # plus the most proficient partners per role for each needed skill


@dataclass(frozen=True)
class WinModel:
    """Coefficients of the logistic win model; role weights follow DEFAULT_ROLES order.

    logit = intercept + coverage * C + execution * E + industry * I + region * R + synergy * (pair effects)
            + per_support_role * (#filled non-services roles) + missing_services * [no services partner]
            - size * (log deal size - reference_log_size) + opportunity difficulty
    where C = need-weighted mean over the opportunity's latent skills of the best member's proficiency
    (scaled by its role's coverage weight), and E, I, R are role-weighted sums over the members.
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
    _partner_index: pd.Index = field(init=False, repr=False)
    _opp_index: pd.Index = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._partner_index = pd.Index(self.partner_ids)
        self._opp_index = pd.Index(self.opportunity_ids)
        self._pools = [np.flatnonzero((self.partner_role == r) & self.active) for r in range(len(self.roles))]
        n = self.partner_ids.size
        lo, hi = self.synergy.keys // max(n, 1), self.synergy.keys % max(n, 1)
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
        return (
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
        execution, industry, region), the most proficient ones per needed skill, and the synergy allies
        of all of those; then an exact search over every combination of shortlists (empty role included).
        The skill-coverage term is a max over members, so complementary specialists are kept by the
        per-skill shortlist; a partner outside every shortlist could only win through rare combinations.
        """
        wanted = set(self.roles if roles is None else roles)
        if wanted - set(self.roles):
            raise KeyError(f"unknown roles: {sorted(wanted - set(self.roles))}")
        o = int(self.opportunity_rows([opportunity_id])[0])
        shortlists: list[list[int]] = []
        for r, role in enumerate(self.roles):
            shortlists.append(self._shortlist(o, r, eligible) if role in wanted else [])
        for r, ally_role in itertools.product(range(len(self.roles)), range(len(self.roles))):
            if r == ally_role or self.roles[ally_role] not in wanted:
                continue
            extra = self._allies(np.array(shortlists[r], np.int64), ally_role, eligible)
            shortlists[ally_role] = list(dict.fromkeys(shortlists[ally_role] + extra))
        grid = np.array(list(itertools.product(*[s + [-1] for s in shortlists])), np.int64)
        probs = self.probabilities(np.full(len(grid), o), grid)
        best = int(np.argmax(probs))
        team = {
            role: (str(self.partner_ids[grid[best, r]]) if grid[best, r] >= 0 else None)
            for r, role in enumerate(self.roles)
            if role in wanted
        }
        return team, float(probs[best])

    # -- oracle helpers -------------------------------------------------------------------------

    def _shortlist(self, o: int, r: int, eligible: Callable[[str], bool] | None) -> list[int]:
        m = self.model
        pool = self._pools[r]
        needs = self.needs[o]
        needs, weights = needs[needs >= 0], self.need_weights[o][needs >= 0]
        prof = self.proficiency[pool[:, None], needs[None, :]]
        own = (
            m.coverage * m.coverage_role_weights[r] * (prof * weights).sum(axis=1) / weights.sum()
            + m.execution * m.execution_role_weights[r] * self.execution[pool]
            + m.industry * m.industry_role_weights[r] * self.industry_expertise[pool, self.opp_industry[o]]
            + m.region * m.region_role_weights[r] * self.region_cover[pool, self.opp_region[o]]
        )
        chosen = self._top(pool, own, ORACLE_SHORTLIST, eligible)
        for j in range(needs.size):
            chosen += self._top(pool, prof[:, j] + 1e-3 * own, ORACLE_PER_NEED, eligible)
        return list(dict.fromkeys(chosen))

    def _top(
        self, pool: np.ndarray, score: np.ndarray, k: int, eligible: Callable[[str], bool] | None
    ) -> list[int]:
        """The k best-scoring eligible rows of `pool`, best first."""
        out: list[int] = []
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
        )
