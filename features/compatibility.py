"""Partner compatibility learned from co-selling outcomes: a signed low-rank embedding of the co-sell graph.

Why: members that win together matter more than any member alone, and most pairs a recommendation
proposes have never worked together. Pair statistics cannot say anything about them; an embedding can.
For every closed deal, the outcome minus what the members' own records predict (the residual) is spread
over the deal's member pairs, and the pair matrix of residuals is completed by a low-rank factorisation (its
factors, fitted on observed pairs only, may be negative, so rival camps are kept as well as alliances). Two
partners that never met are then compatible when the partners they each won with are: a camp, a shared
alliance network, a delivery style.

Point in time: the embedding is rebuilt at checkpoints (`cutoffs`), each from deals closed before it. A
query on day d reads the last checkpoint at or before d, so no feature of a deal sees its own outcome or
any later one, and training rows and live requests read the same function.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import scipy.sparse as sp

from features.parallel import IN_PROCESS, Mapper

RANK: Final = 8  # embedding dimensions
ALS_RIDGE: Final = 10.0  # ridge per factor row, in pseudo-observations (chosen on simulated camps, see tests)
ALS_ITERATIONS: Final = 15
RATE_SHRINK: Final = 5.0  # pseudo-deals at the base rate behind each member's expected win rate
MAX_CHECKPOINTS: Final = 12
MIN_CHECKPOINT_DAYS: Final = 60  # no two checkpoints closer than this
_PREFIX: Final = "compat_"


def pair_residuals(
    deal: np.ndarray, code: np.ndarray, won: np.ndarray, n_codes: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per member pair (a < b) of the given deal rows: codes and the summed outcome residual, plus counts.

    `deal`, `code`, `won` are aligned member rows (one per partner on a closed deal). A member's expected
    win rate is its smoothed rate over these same deals; a deal's expectation is its members' mean.
    """
    if deal.size == 0:
        empty = np.zeros(0, np.int64)
        return empty, empty, np.zeros(0)
    base = float(won.mean())
    wins = np.bincount(code, weights=won, minlength=n_codes)
    deals = np.bincount(code, minlength=n_codes).astype(np.float64)
    rate = (wins + RATE_SHRINK * base) / (deals + RATE_SHRINK)
    _, deal_index = np.unique(deal, return_inverse=True)
    n_deals = int(deal_index.max()) + 1
    size = np.bincount(deal_index, minlength=n_deals)
    expected = np.bincount(deal_index, weights=rate[code], minlength=n_deals) / np.maximum(size, 1)
    outcome = np.bincount(deal_index, weights=won, minlength=n_deals) / np.maximum(size, 1)
    residual = outcome - expected
    # Member pairs within each deal: a self-join on the deal index, kept once per unordered pair.
    order = np.argsort(deal_index, kind="stable")
    d_sorted, c_sorted = deal_index[order], code[order]
    left: list[np.ndarray] = []
    right: list[np.ndarray] = []
    which: list[np.ndarray] = []
    for offset in range(1, int(size.max()) if size.size else 1):
        i = np.arange(d_sorted.size)
        j = i + offset
        ok = j < d_sorted.size
        ok[ok] &= d_sorted[j[ok]] == d_sorted[i[ok]]
        left.append(c_sorted[i[ok]])
        right.append(c_sorted[j[ok]])
        which.append(d_sorted[i[ok]])
    if not left:
        empty = np.zeros(0, np.int64)
        return empty, empty, np.zeros(0)
    a, b, d = np.concatenate(left), np.concatenate(right), np.concatenate(which)
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    keep = lo != hi
    keys = lo[keep].astype(np.int64) * n_codes + hi[keep]
    unique, inverse = np.unique(keys, return_inverse=True)
    summed = np.bincount(inverse, weights=residual[d[keep]], minlength=unique.size)
    counts = np.bincount(inverse, minlength=unique.size).astype(np.float64)
    return unique, summed, counts


def embed_pairs(
    keys: np.ndarray, summed: np.ndarray, counts: np.ndarray, n_codes: int, rank: int
) -> np.ndarray:
    """(n_codes, 2 * rank) factors [U | V] with U_a . V_b ~ the mean residual of pair (a, b).

    A ridge matrix completion fitted by alternating least squares on the OBSERVED pairs only (each deal of
    a pair is one observation of its residual; unobserved pairs are unknown, not zero), so two partners
    that never met get a value from the partners each of them did meet. scikit-learn and scipy offer no
    factorisation that skips unobserved entries, hence the few lines below. Seeded: deterministic.
    """
    factors = np.zeros((n_codes, 2 * rank), np.float32)
    if keys.size == 0 or n_codes < 2:
        return factors
    lo, hi = keys // n_codes, keys % n_codes
    rng = np.random.default_rng(0)
    u_all = rng.normal(0.0, 0.1, (n_codes, rank))
    v_all = rng.normal(0.0, 0.1, (n_codes, rank))
    # Only partners in an observed pair are solved: the others' factors are exactly 0 (their equations are
    # ridge-only), and they do not enter anyone else's. At 100k partners the early checkpoints hold a
    # fraction of them; the initial draws are still made for all, so the result is the same as solving all.
    active, local = np.unique(np.concatenate([lo, hi]), return_inverse=True)
    n_active = active.size
    rows, cols = local, np.concatenate([local[lo.size :], local[: lo.size]])
    shape = (n_active, n_active)
    residual = sp.csr_matrix((np.concatenate([summed, summed]), (rows, cols)), shape=shape)
    observed = sp.csr_matrix((np.concatenate([counts, counts]), (rows, cols)), shape=shape)
    u, v = u_all[active], v_all[active]
    ridge = ALS_RIDGE * np.eye(rank)[None, :, :]
    # g_b g_b^T is symmetric: only its upper triangle goes through the sparse product (36 columns instead
    # of 64 at rank 8), the one cost that grows with the observed pairs (198 of 489 s at 5M deal rows).
    upper, lower = np.triu_indices(rank)
    gram = np.empty((n_active, rank, rank))
    for _ in range(ALS_ITERATIONS):
        for solve, given in ((u, v), (v, u)):
            # Per row a: (sum_b c_ab g_b g_b^T + ridge) x_a = sum_b s_ab g_b, all rows in one batch.
            packed = np.asarray(observed @ (given[:, upper] * given[:, lower]))
            gram[:, upper, lower] = packed
            gram[:, lower, upper] = packed
            solve[:] = np.linalg.solve(gram + ridge, np.asarray(residual @ given)[:, :, None])[:, :, 0]
    factors[active, :rank] = u
    factors[active, rank:] = v
    return factors


def checkpoint_factors(
    cutoff: int,
    deal: np.ndarray,
    code: np.ndarray,
    won: np.ndarray,
    close_day: np.ndarray,
    n_codes: int,
    rank: int,
) -> np.ndarray:
    """The embedding of one checkpoint: from the member rows of deals closed before `cutoff` only."""
    seen = close_day < cutoff
    keys, summed, counts = pair_residuals(deal[seen], code[seen], won[seen], n_codes)
    return embed_pairs(keys, summed, counts, n_codes, rank)


def checkpoint_days(close_days: np.ndarray) -> np.ndarray:
    """Evenly spaced checkpoints over the closing days, the last one after every closed deal."""
    if close_days.size == 0:
        return np.zeros(0, np.int64)
    first, last = int(close_days.min()) + 1, int(close_days.max()) + 1
    count = max(1, min(MAX_CHECKPOINTS, (last - first) // MIN_CHECKPOINT_DAYS + 1))
    return np.unique(np.linspace(first, last, count).round().astype(np.int64))


@dataclass(frozen=True)
class Compatibility:
    """Low-rank partner embeddings [U | V] per checkpoint; rows are the history's partner codes."""

    cutoffs: np.ndarray  # int64 days since epoch, ascending; checkpoint i saw deals closed before cutoffs[i]
    factors: np.ndarray  # float32 (checkpoints, n_codes, 2 * rank)
    # Candidate factor matrices of `best_partners`, by (checkpoint, candidate array); built on use.
    _bases: dict[tuple[int, int, int], np.ndarray] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def empty(cls, n_codes: int = 0) -> Compatibility:
        return cls(np.zeros(0, np.int64), np.zeros((0, n_codes, 2 * RANK), np.float32))

    @classmethod
    def build(
        cls,
        deal: np.ndarray,
        code: np.ndarray,
        won: np.ndarray,
        close_day: np.ndarray,
        n_codes: int,
        rank: int = RANK,
        mapper: Mapper = IN_PROCESS,
    ) -> Compatibility:
        """One embedding per checkpoint from closed deals' member rows (deal id, partner code, won, day)."""
        return cls.submit(deal, code, won, close_day, n_codes, rank, mapper)()

    @classmethod
    def submit(
        cls,
        deal: np.ndarray,
        code: np.ndarray,
        won: np.ndarray,
        close_day: np.ndarray,
        n_codes: int,
        rank: int = RANK,
        mapper: Mapper = IN_PROCESS,
    ) -> Callable[[], Compatibility]:
        """`build`, started: the checkpoints are independent, so a cluster fits them side by side while
        the caller goes on; the returned call waits for them."""
        cutoffs = checkpoint_days(close_day)
        if cutoffs.size == 0 or n_codes < 3:
            return lambda: cls.empty(n_codes)
        gather = mapper.map(
            checkpoint_factors,
            cutoffs.tolist(),
            deal,
            code,
            won.astype(np.float64),
            close_day,
            n_codes,
            rank,
        )

        def result() -> Compatibility:
            factors = np.zeros((cutoffs.size, n_codes, 2 * rank), np.float32)
            for i, checkpoint in enumerate(gather()):
                factors[i] = checkpoint
            return cls(cutoffs, factors)

        return result

    @property
    def rank(self) -> int:
        return self.factors.shape[2] // 2

    def checkpoint(self, day: int) -> int:
        """Index of the last checkpoint at or before `day`; -1 when none is."""
        return int(np.searchsorted(self.cutoffs, day, side="right")) - 1

    def affinity(self, codes_a: np.ndarray, codes_b: np.ndarray, day: int) -> np.ndarray:
        """Learned compatibility of pairs (a[i], b[i]) as of `day` (0 for unknown partners or no history).

        Symmetric: the mean of U_a . V_b and U_b . V_a, in units of the deal outcome's residual (a win
        probability difference).
        """
        a, b = np.broadcast_arrays(np.asarray(codes_a), np.asarray(codes_b))
        out = np.zeros(a.shape)
        c = self.checkpoint(day)
        if c < 0:
            return out
        known = (a >= 0) & (b >= 0) & (a != b)
        f, k = self.factors[c], self.rank
        fa, fb = f[a[known]], f[b[known]]
        out[known] = 0.5 * (
            np.einsum("ij,ij->i", fa[:, :k], fb[:, k:]) + np.einsum("ij,ij->i", fb[:, :k], fa[:, k:])
        )
        return out

    def partner_scores(self, anchors: np.ndarray, candidates: np.ndarray, day: int) -> np.ndarray:
        """(candidates,) summed affinity of each candidate code to every anchor code, as of `day`."""
        c = self.checkpoint(day)
        out = np.zeros(candidates.shape[0])
        anchors = anchors[anchors >= 0]
        if c < 0 or anchors.size == 0:
            return out
        f, k = self.factors[c], self.rank
        towards = f[anchors].sum(axis=0)  # [sum U | sum V] of the anchors
        known = candidates >= 0
        g = f[candidates[known]]
        out[known] = 0.5 * (g[:, :k] @ towards[k:] + g[:, k:] @ towards[:k])
        out[np.isin(candidates, anchors)] = 0.0
        return out

    def affinity_matrix(self, anchors: np.ndarray, candidates: np.ndarray, day: int) -> np.ndarray:
        """(candidates, anchors) affinity of every candidate code to each anchor code, as of `day`."""
        out = np.zeros((candidates.shape[0], anchors.shape[0]))
        c = self.checkpoint(day)
        if c < 0 or not anchors.size:
            return out
        f, k = self.factors[c], self.rank
        fa = f[np.maximum(anchors, 0)]
        known = candidates >= 0
        g = f[candidates[known]]
        out[known] = 0.5 * (g[:, :k] @ fa[:, k:].T + g[:, k:] @ fa[:, :k].T)
        out[:, anchors < 0] = 0.0
        out[candidates[:, None] == anchors[None, :]] = 0.0
        return out

    def best_partners(
        self, anchors: np.ndarray, candidates: np.ndarray, day: int, n: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """(anchors, n) positions in `candidates` of each anchor's most compatible partners, and their
        affinities, best first (a maximum inner-product search: affinity is [U_c | V_c] . [V_a | U_a] / 2)."""
        import faiss  # only the serving path's companion search needs it

        c = self.checkpoint(day)
        n = min(n, candidates.shape[0])
        if c < 0 or not anchors.size or n <= 0:
            return np.zeros((anchors.size, 0), np.int64), np.zeros((anchors.size, 0))
        f, k = self.factors[c], self.rank
        key = (c, id(candidates), candidates.shape[0])
        base = self._bases.get(key)
        if base is None:  # per role and checkpoint once: the callers pass the same candidate array
            base = np.ascontiguousarray(
                np.where((candidates >= 0)[:, None], f[np.maximum(candidates, 0)], 0.0), dtype=np.float32
            )
            self._bases[key] = base
        fa = f[np.maximum(anchors, 0)]
        queries = np.ascontiguousarray(0.5 * np.concatenate([fa[:, k:], fa[:, :k]], axis=1), dtype=np.float32)
        scores, positions = faiss.knn(
            queries, np.ascontiguousarray(base), n, metric=faiss.METRIC_INNER_PRODUCT
        )
        scores[anchors < 0] = 0.0
        scores[candidates[np.maximum(positions, 0)] == anchors[:, None]] = (
            0.0  # a partner is not its own companion
        )
        return positions.astype(np.int64), scores.astype(np.float64)

    # -- persistence (inside the history's npz) ------------------------------------------------------------
    def arrays(self) -> dict[str, np.ndarray]:
        return {
            f"{_PREFIX}cutoffs": self.cutoffs,
            f"{_PREFIX}factors": self.factors,
        }

    @classmethod
    def from_arrays(cls, data: Mapping[str, np.ndarray], n_codes: int) -> Compatibility:
        if f"{_PREFIX}cutoffs" not in data:
            return cls.empty(n_codes)
        return cls(data[f"{_PREFIX}cutoffs"], data[f"{_PREFIX}factors"])

    @staticmethod
    def owns(key: str) -> bool:
        return key.startswith(_PREFIX)
