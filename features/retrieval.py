"""Candidate retrieval per role: nearest profiles by text (FAISS) and best partners by the quality prior."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Final

import numpy as np

from features.catalog import PartnerCatalog
from features.index import RoleIndex
from features.prepared import PreparedOpportunity
from features.prior import PriorScorer, RolePostings
from features.slots import best_first

# FAISS cannot filter on metadata: fetch this many times `n` (plus the exclusions) and filter afterwards.
OVERFETCH: Final = 3

# Whether each of these rows can take a deal on the date (active, below capacity).
Availability = Callable[[np.ndarray, date], np.ndarray]


@dataclass(frozen=True)
class Retriever:
    """Text and prior candidates of each role; both apply the same hard filters (active, not excluded,
    not at capacity on the opportunity date) and put the registered partner first in text retrieval."""

    catalog: PartnerCatalog
    indexes: Mapping[str, RoleIndex]
    postings: Mapping[str, RolePostings]
    prior: PriorScorer
    available: Availability

    def _check_role(self, role: str) -> None:
        if role not in self.indexes:
            raise ValueError(f"unknown role {role!r}; this build has {', '.join(self.indexes)}")

    def text_candidates(self, opp: PreparedOpportunity, role: str, n: int) -> list[str]:
        """Top-`n` partner ids of `role` by profile similarity after hard filters; registered one first."""
        self._check_role(role)
        index, query = self.indexes[role], opp.query
        excluded = query.excluded_partner_ids
        chosen: list[str] = []
        registered = query.registered_partner_id
        row = self.catalog.row_of.get(registered) if registered else None
        if registered and row is not None and self.catalog.role[row] == role and registered not in excluded:
            chosen.append(registered)
        if n <= len(chosen):
            return chosen[:n]
        fetch = min(len(index), OVERFETCH * n + len(excluded) + len(chosen))
        while True:
            hits = [
                pid
                for pid, _ in index.search(opp.vector, fetch)[0]
                if pid not in excluded and pid not in chosen
            ]
            available = self.available(self.catalog.rows(hits), query.as_of)
            picked = [hits[i] for i in np.flatnonzero(available)][: n - len(chosen)]
            if len(picked) + len(chosen) >= n or fetch >= len(index):
                return chosen + picked
            fetch = min(len(index), fetch * 4)

    def prior_candidates(
        self, opp: PreparedOpportunity, association: np.ndarray, role: str, n: int
    ) -> list[str]:
        """Top-`n` partner ids of `role` by the prior over every available partner of the role.

        Complements text retrieval, whose nearest profiles need not cover the region or deliver well.
        Ties break by partner row (id order), so the result is deterministic.
        """
        self._check_role(role)
        if n <= 0:
            return []
        query = opp.query
        postings = self.postings[role]
        keep = np.ones(len(postings.rows), dtype=bool)
        if query.excluded_partner_ids and len(postings.rows):
            # Looked up by row (the role's rows are ascending), not by comparing every partner's id.
            excluded = [self.catalog.row_of.get(p) for p in query.excluded_partner_ids]
            rows = np.asarray([r for r in excluded if r is not None], dtype=np.int64)
            at = np.minimum(np.searchsorted(postings.rows, rows), len(postings.rows) - 1)
            keep[at[postings.rows[at] == rows]] = False
        if not keep.any():
            return []
        # Capacity needs each partner's open engagements at the date: check the best-scored first, in
        # growing slices, instead of every partner of the role.
        rows, scores, complete = self.prior.scored(opp, association, postings, keep, shortlist=True)
        chosen = self._first_available(rows, scores, n, query.as_of)
        if len(chosen) < n and not complete:
            # The shortlist ran out of available partners: rank everyone and carry on from there.
            everyone, all_scores, _ = self.prior.scored(opp, association, postings, keep, shortlist=False)
            unseen = ~np.isin(everyone, rows)
            more = self._first_available(everyone[unseen], all_scores[unseen], n - len(chosen), query.as_of)
            chosen += more
        return [str(pid) for pid in self.catalog.ids[np.asarray(chosen[:n], dtype=np.int64)]]

    def _first_available(self, rows: np.ndarray, scores: np.ndarray, n: int, as_of: date) -> list[int]:
        """The first `n` rows by descending score (ties by row) that are available on `as_of`."""
        chosen: list[int] = []
        for block in best_first(rows, scores, 4 * n):
            chosen.extend(block[self.available(block, as_of)].tolist())
            if len(chosen) >= n:
                break
        return chosen[:n]
