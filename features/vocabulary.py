"""The skill vocabulary: phrases (skill tags, certification names) with their vectors, skill groups and
their associations with what deals asked for."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

import numpy as np
import pandas as pd

from features.associations import ASSOCIATION_MIN_COUNT, TagAssociation
from features.records import OpportunityQuery
from features.slots import segments

if TYPE_CHECKING:
    from scipy.sparse import csr_matrix

# A certification "matches the need" when its name is at least this close (cosine) to a required skill.
CERT_MATCH_MIN: Final = 0.5
# Each phrase links to this many most co-held phrases when grouping phrases into skills.
CO_HOLDING_NEIGHBOURS: Final = 3


@dataclass(frozen=True)
class SkillVocabulary:
    """Phrases in code order, their vectors, their skill groups (-1: none) and tag associations."""

    names: tuple[str, ...]
    vectors: np.ndarray  # (phrases, dim) float32
    associations: TagAssociation
    groups: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    association_columns: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    # Phrase mentions per description text; valid for this vocabulary only, shared with snapshots that
    # keep it (scanning 100k descriptions costs ~1 s, a partner update changes one).
    mention_cache: dict[str, np.ndarray] = field(default_factory=dict, repr=False, compare=False)
    # The co-holding counts `groups` was read from, kept so a partner change updates them (see CoHolding).
    co_holding: CoHolding | None = field(default=None, repr=False, compare=False)

    @classmethod
    def of(cls, phrases: dict[str, np.ndarray], associations: TagAssociation, dim: int) -> SkillVocabulary:
        """The vocabulary of these embedded phrases, before skill groups are known (see `with_groups`)."""
        names = tuple(sorted(phrases))
        vectors = (
            np.vstack([phrases[p] for p in names]).astype(np.float32)
            if names
            else np.zeros((0, dim), dtype=np.float32)
        )
        return cls(names, vectors, associations, association_columns=associations.columns(names))

    def with_groups(self, groups: np.ndarray, co_holding: CoHolding | None = None) -> SkillVocabulary:
        return SkillVocabulary(
            self.names,
            self.vectors,
            self.associations,
            groups,
            self.association_columns,
            self.mention_cache,
            co_holding,
        )

    @property
    def index(self) -> pd.Index:
        return pd.Index(self.names, dtype=object)

    def phrase_map(self) -> dict[str, np.ndarray]:
        return dict(zip(self.names, self.vectors, strict=True))

    # -- per request ---------------------------------------------------------------------------------
    def needs_of(self, query: OpportunityQuery) -> list[str]:
        """The skill tags to match partners against: the request's plus those its description implies.

        Buyers often tag only part of what the description asks for (or nothing at all); on the 3k/30k
        generated ecosystem adding the implied tags raised the top-1 team's true win probability on the
        calibration slice from 0.566 (inferred only for untagged requests) to 0.573.
        """
        inferred = self.associations.infer_needs(query.description)
        return list(dict.fromkeys([*query.required_skills, *inferred]))

    def association_rows(self, needs: Sequence[str]) -> np.ndarray:
        """(needs, phrases) tag associations with columns in this vocabulary's phrase order."""
        return self.associations.rows(list(needs), self.association_columns)

    def matches_a_need(self, needs: np.ndarray) -> np.ndarray:
        """Per phrase, whether its name is close enough to one of the need vectors (CERT_MATCH_MIN)."""
        return (self.vectors @ needs.T).max(axis=1) >= CERT_MATCH_MIN

    def skill_match_of(self, association: np.ndarray) -> np.ndarray:
        """(needs, phrases) in [0, 1]: how surely each phrase names a skill the need asks for.

        Co-staffing associations of single phrases are noisy (one staffed partner's other skills leak in);
        averaged over a phrase's skill group they are not. Per need, relative to its best group, squared to
        push unrelated groups towards 0.
        """
        groups = self.groups
        if association.shape[0] == 0 or association.shape[1] == 0 or groups.max(initial=-1) < 0:
            return np.zeros_like(association)
        known = groups >= 0
        n_groups = int(groups.max()) + 1
        size = np.bincount(groups[known], minlength=n_groups).astype(np.float64)
        by_group = np.zeros((association.shape[0], n_groups))
        np.add.at(by_group.T, groups[known], association[:, known].T)
        by_group /= np.maximum(size, 1.0)
        peak = by_group.max(axis=1, keepdims=True)
        relative = np.divide(by_group, peak, out=np.zeros_like(by_group), where=peak > 0) ** 2
        return np.where(known[None, :], relative[:, np.maximum(groups, 0)], 0.0)

    # -- fitting -------------------------------------------------------------------------------------
    def mentions(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """CSR (offsets, phrase codes) of the known phrases each text mentions; texts already scanned
        under this vocabulary are looked up, not scanned again."""
        seen = self.mention_cache
        fresh = [text for text in dict.fromkeys(texts) if text not in seen]
        if fresh:
            offsets, codes = phrase_mentions(fresh, self.names)
            seen.update((text, codes[offsets[i] : offsets[i + 1]]) for i, text in enumerate(fresh))
        found = [seen[text] for text in texts]
        counts = np.fromiter(map(len, found), dtype=np.int64, count=len(found))
        offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        codes = np.concatenate(found) if found else np.zeros(0, dtype=np.int64)
        return offsets, codes.astype(np.int64)


def held_matrix(
    held: Sequence[tuple[np.ndarray, np.ndarray]], rows: np.ndarray, n_phrases: int
) -> csr_matrix:
    """(rows, phrases) 1.0 where the partner of `rows` holds the phrase: `held` lists CSR (offsets, phrase
    codes) of skill tags, certifications and described phrases; a phrase held twice counts once."""
    from scipy.sparse import csr_matrix

    owners, codes = [], []
    for offsets, phrase_codes in held:
        owner, positions = segments(offsets, rows)
        known = phrase_codes[positions] >= 0
        owners.append(owner[known])
        codes.append(phrase_codes[positions][known])
    owner, code = np.concatenate(owners), np.concatenate(codes)
    matrix = csr_matrix((np.ones(len(owner)), (owner, code)), shape=(len(rows), n_phrases))
    matrix.data[:] = 1.0  # a phrase held twice by one partner (tag and certificate) counts once
    return matrix


@dataclass(frozen=True)
class CoHolding:
    """How many partners hold each phrase and each pair of phrases: what skill groups are read from.

    Kept beside the groups so that a partner change subtracts the partner's old phrases and adds its new
    ones instead of counting every partner again (exact: the counts are whole numbers).
    """

    owners: int
    count: np.ndarray  # (phrases,) holders of each phrase
    together: csr_matrix  # (phrases, phrases) holders of both phrases

    @classmethod
    def of(cls, held: csr_matrix) -> CoHolding:
        """The counts of a (partners, phrases) `held_matrix` of every partner."""
        return cls(held.shape[0], np.asarray(held.sum(axis=0)).ravel(), (held.T @ held).tocsr())

    def updated(
        self, removed: csr_matrix, added: csr_matrix, owners: int, remap: np.ndarray | None = None
    ) -> CoHolding:
        """The counts once the changed partners' `removed` holdings (in these counts' phrase codes) are
        gone and their `added` ones are in; `remap` (old code -> new code) renumbers when the vocabulary grew
        (`added` is in the new codes)."""
        count, together = self.count, self.together
        if remap is not None:
            n_phrases = added.shape[1]
            count = np.zeros(n_phrases)
            count[remap] = self.count
            together = _recoded(together, remap, n_phrases, square=True)
            removed = _recoded(removed, remap, n_phrases, square=False)
        count = count - np.asarray(removed.sum(axis=0)).ravel() + np.asarray(added.sum(axis=0)).ravel()
        together = (together - (removed.T @ removed) + (added.T @ added)).tocsr()
        together.eliminate_zeros()
        return CoHolding(owners, count, together)

    def groups(self) -> np.ndarray:
        """Connected groups of phrases linked to their CO_HOLDING_NEIGHBOURS most co-held phrases (positive
        PMI over holders, at least ASSOCIATION_MIN_COUNT shared holders); -1 for phrases with no link.

        Sparse throughout: a real export can hold tens of thousands of free-text tags, whose dense
        co-holding matrix would not fit in memory.
        """
        from scipy.sparse import coo_matrix
        from scipy.sparse.csgraph import connected_components

        n_phrases = len(self.count)
        count = self.count
        together = self.together.tocoo()
        i, j, shared = together.row, together.col, together.data
        keep = (i != j) & (shared >= ASSOCIATION_MIN_COUNT)
        i, j, shared = i[keep], j[keep], shared[keep]
        pmi = np.log(shared * max(self.owners, 1) / (count[i] * count[j]))
        positive = pmi > 0
        i, j, pmi = i[positive], j[positive], pmi[positive]
        # Per phrase its strongest links, ties by the other phrase's code.
        order = np.lexsort((j, -pmi, i))
        i, j = i[order], j[order]
        first = np.searchsorted(i, i, side="left")
        nearest = np.arange(len(i)) - first < CO_HOLDING_NEIGHBOURS
        rows, cols = i[nearest], j[nearest]
        graph = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(n_phrases, n_phrases))
        _, labels = connected_components(graph, directed=False)
        has_link = np.zeros(n_phrases, dtype=bool)
        has_link[rows] = True
        has_link[cols] = True
        # Renumber so the groups of linked phrases are 0..k-1.
        _, dense = np.unique(labels[has_link], return_inverse=True)
        out = np.full(n_phrases, -1, dtype=np.int64)
        out[has_link] = dense
        return out


def _recoded(matrix: csr_matrix, remap: np.ndarray, n_phrases: int, *, square: bool) -> csr_matrix:
    """`matrix` with its phrase columns renumbered by `remap`, and its rows too when `square` (phrases by
    phrases)."""
    from scipy.sparse import coo_matrix

    old = matrix.tocoo()
    rows, n_rows = (remap[old.row], n_phrases) if square else (old.row, matrix.shape[0])
    return coo_matrix((old.data, (rows, remap[old.col])), shape=(n_rows, n_phrases)).tocsr()


def skill_groups(held: Sequence[tuple[np.ndarray, np.ndarray]], n_rows: int, n_phrases: int) -> np.ndarray:
    """Skill group of each phrase from what partners hold: `held` lists CSR (offsets, phrase codes) of
    skill tags, certifications and described phrases. Phrases the same partners hold name the same skill
    in different words; -1 for a phrase no partner shares with another."""
    return CoHolding.of(held_matrix(held, np.arange(n_rows), n_phrases)).groups()


def phrase_mentions(texts: Sequence[str], phrases: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """CSR (offsets, phrase codes) of the known phrases each text mentions (case-insensitive, whole words)."""
    by_lower: dict[str, list[int]] = {}
    for code, phrase in enumerate(phrases):
        if phrase.strip():
            by_lower.setdefault(phrase.lower(), []).append(code)
    counts = np.zeros(len(texts), dtype=np.int64)
    codes: list[int] = []
    if by_lower:
        # Longest first, so a phrase inside a longer one is not matched instead of it.
        alternation = "|".join(re.escape(p) for p in sorted(by_lower, key=len, reverse=True))
        pattern = re.compile(rf"(?<![a-z0-9])(?:{alternation})(?![a-z0-9])")
        for i, text in enumerate(texts):
            found = sorted({c for m in pattern.findall(str(text).lower()) for c in by_lower[m]})
            counts[i] = len(found)
            codes.extend(found)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return offsets, np.asarray(codes, dtype=np.int64)
