"""How a partner write changes a feature snapshot's parts: only the changed rows are read again.

`FeatureSnapshot.with_partners` / `without_partner` (features/snapshot.py) hand the changed frames and rows
here and assemble a snapshot from the parts returned; the result equals `FeatureSnapshot.fit` over the same
frames (tests/features/test_snapshot_updates.py). A refit of every partner took ~1.5 s of each write at
100k partners and ~30 s at 1M.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from features import schema as s
from features.catalog import PartnerCatalog
from features.embeddings import Embedder
from features.prior import RolePostings, updated_postings
from features.vocabulary import CoHolding, SkillVocabulary, held_matrix

if TYPE_CHECKING:
    from features.snapshot import FeatureSnapshot


def phrase_vocabulary(partners: pd.DataFrame, certifications: pd.DataFrame) -> list[str]:
    """Skill tags and certification names: the phrases every partner is matched through."""
    tags = set(map(str, chain.from_iterable(partners[s.SKILLS])))
    return sorted(tags | set(certifications[s.CERTIFICATION].astype(str)))


def embed_phrases(
    embedder: Embedder, known: Mapping[str, np.ndarray], wanted: Sequence[str]
) -> dict[str, np.ndarray]:
    """`known` plus vectors of the wanted phrases it lacks (one encoder call)."""
    out = dict(known)
    missing = [p for p in wanted if p not in out]
    if missing:
        out.update(zip(missing, np.asarray(embedder.encode(missing), dtype=np.float32), strict=True))
    return out


def holdings(catalog: PartnerCatalog) -> list[tuple[np.ndarray, np.ndarray]]:
    """What partners hold, as CSR (offsets, phrase codes): skill tags, certificates, described phrases."""
    return [
        (catalog.tag_offsets, catalog.tag_codes),
        (catalog.cert_offsets, catalog.cert_codes),
        (catalog.described_offsets, catalog.described_codes),
    ]


def with_rows(
    frame: pd.DataFrame, rows: pd.DataFrame, row_of: Mapping[str, int]
) -> tuple[pd.DataFrame, np.ndarray]:
    """A copy of the partner frame with `rows` (cleaned, unique ids) in place of the partners it knows and
    after the others, in id order; and the row each of `rows` sits at."""
    frame = frame.copy()
    at = np.asarray([row_of.get(pid, -1) for pid in rows[s.PARTNER_ID]], dtype=np.int64)
    for i in np.flatnonzero(at >= 0):
        frame.iloc[at[i]] = rows.iloc[i]
    new = np.flatnonzero(at < 0)
    if len(new):
        at[new] = len(frame) + np.arange(len(new))
        appended = [{str(k): v for k, v in r.items()} for r in rows.iloc[new].to_dict("records")]
        frame = pd.concat([frame, pd.DataFrame(appended, columns=frame.columns)], ignore_index=True)
    return frame, at


def _spans(certifications: pd.DataFrame, ids: set[str]) -> list[tuple[str, int, int]]:
    """(partner, first row, end row) of each partner's certificates in a frame sorted by partner, in id
    order: two binary searches each instead of comparing every row (1.7M certificates at 1M partners)."""
    owners = certifications[s.PARTNER_ID].array
    return [(pid, bisect_left(owners, pid), bisect_right(owners, pid)) for pid in sorted(ids)]


def certifications_of(certifications: pd.DataFrame, ids: set[str]) -> pd.DataFrame:
    """The certificates of these partners (the frame sorted by partner, as cleaned)."""
    rows = [np.arange(first, end) for _, first, end in _spans(certifications, ids)]
    return certifications.iloc[np.concatenate([np.zeros(0, dtype=np.int64), *rows])]


def with_certifications(held: pd.DataFrame, given: pd.DataFrame, ids: set[str]) -> pd.DataFrame:
    """The certifications (sorted by partner and name) with those of the partners `ids` replaced by the
    given ones (cleaned, so sorted alike): the kept slices and the given certificates in id order, not the
    frame filtered and sorted again (~1 s of every write at 1M partners)."""
    given = given[given[s.PARTNER_ID].isin(ids)]
    by_partner = dict(list(given.groupby(s.PARTNER_ID, sort=False)))
    pieces, done = [], 0
    for pid, first, end in _spans(held, ids):
        pieces.append(held.iloc[done:first])
        if pid in by_partner:
            pieces.append(by_partner[pid])
        done = end
    return pd.concat([*pieces, held.iloc[done:]], ignore_index=True)


def _mentioning(descriptions: pd.Series, phrases: Sequence[str]) -> np.ndarray:
    """Rows whose description contains one of the phrases (case-insensitive): the only ones whose mentions
    a vocabulary grown by these phrases can change (`phrase_mentions` cannot match an absent phrase)."""
    lowered = [p.lower() for p in phrases if p.strip()]
    if not lowered:
        return np.zeros(0, dtype=np.int64)
    texts = descriptions.astype(str).str.lower().tolist()
    return np.asarray([i for i, text in enumerate(texts) if any(p in text for p in lowered)], dtype=np.int64)


@dataclass(frozen=True)
class UpdatedParts:
    """The parts of a snapshot a write changes; the rest (history, embedder, roles) stays the old one's."""

    catalog: PartnerCatalog
    vocabulary: SkillVocabulary
    postings: dict[str, RolePostings]


def updated_parts(
    snapshot: FeatureSnapshot, partners: pd.DataFrame, certifications: pd.DataFrame, rows: np.ndarray
) -> UpdatedParts:
    """The snapshot's parts once the catalog rows `rows` (ascending; those past its end appended) changed in
    the frames: equal to `fit` over them, but only those rows are read again.

    The phrases they bring are embedded and their holders counted; when a new phrase joins the vocabulary,
    the descriptions that mention it are scanned again too.
    """
    part = partners.iloc[rows].reset_index(drop=True)
    listed = certifications_of(certifications, set(part[s.PARTNER_ID]))
    vocabulary, remap = _grown_vocabulary(snapshot, part, listed)
    if remap is not None:
        new = [name for name in vocabulary.names if name not in snapshot.vocabulary.index]
        rows = np.union1d(rows, _mentioning(partners[s.DESCRIPTION], new))
        part = partners.iloc[rows].reset_index(drop=True)
        listed = certifications_of(certifications, set(part[s.PARTNER_ID]))
    catalog = snapshot.catalog.with_rows(
        partners,
        certifications,
        rows,
        PartnerCatalog.build(
            part,
            listed,
            phrases=vocabulary.index,
            history_code=snapshot.history.codes(part[s.PARTNER_ID].tolist()),
            described=vocabulary.mentions(part[s.DESCRIPTION].tolist()),
        ),
        remap,
    )
    vocabulary = _regrouped(snapshot, vocabulary, catalog, rows, remap)
    n_phrases = len(vocabulary.names)
    postings = {
        role: updated_postings(postings, catalog, role, rows, n_phrases, remap)
        for role, postings in snapshot.retriever.postings.items()
    }
    return UpdatedParts(catalog, vocabulary, postings)


def _grown_vocabulary(
    snapshot: FeatureSnapshot, partners: pd.DataFrame, certifications: pd.DataFrame
) -> tuple[SkillVocabulary, np.ndarray | None]:
    """The vocabulary with the phrases these partners and certificates hold that it lacks (embedded), and
    the new code of each old phrase; the snapshot's vocabulary and None when it has them all."""
    known = snapshot.vocabulary.index
    wanted = phrase_vocabulary(partners, certifications)
    if all(phrase in known for phrase in wanted):
        return snapshot.vocabulary, None
    phrases = embed_phrases(snapshot.embedder, snapshot.vocabulary.phrase_map(), wanted)
    grown = SkillVocabulary.of(phrases, snapshot.vocabulary.associations, snapshot.vectors.shape[1])
    return grown, np.asarray(grown.index.get_indexer(known), dtype=np.int64)


def _regrouped(
    snapshot: FeatureSnapshot,
    vocabulary: SkillVocabulary,
    catalog: PartnerCatalog,
    rows: np.ndarray,
    remap: np.ndarray | None,
) -> SkillVocabulary:
    """`vocabulary` with the skill groups of `catalog`, whose `rows` changed since the snapshot's: the
    co-holding counts lose those rows' old phrases and gain their new ones."""
    n_phrases = len(vocabulary.names)
    added = held_matrix(holdings(catalog), rows, n_phrases)
    holding = snapshot.vocabulary.co_holding
    if holding is None:
        holding = CoHolding.of(held_matrix(holdings(catalog), np.arange(len(catalog)), n_phrases))
        return vocabulary.with_groups(holding.groups(), holding)
    before = rows[rows < len(snapshot.catalog)]
    removed = held_matrix(holdings(snapshot.catalog), before, len(snapshot.vocabulary.names))
    if remap is None and len(before) == len(rows) and (removed != added).nnz == 0:
        return vocabulary  # the changed partners hold what they held: same counts, same groups
    holding = holding.updated(removed, added, len(catalog), remap)
    return vocabulary.with_groups(holding.groups(), holding)
