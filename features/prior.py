"""The retrieval prior: a fixed-weight estimate of each partner's fit, scored for a whole role in one pass."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np

from features.catalog import CERT_LEVEL_WEIGHTS, INDUSTRY, REGION, PartnerCatalog, certificate_valid
from features.history import to_day
from features.prepared import PreparedOpportunity
from features.slots import SlotLists, padded, segments
from features.vocabulary import CERT_MATCH_MIN, SkillVocabulary

# Observable proxies of what wins deals, roughly in the proportions of their effect on win odds (skill
# fit first, then delivery and coverage). Text similarity alone misses region coverage and delivery
# quality, so retrieval unions both lists.
PRIOR_WEIGHTS: Final = {
    "skill_match": 1.0,
    "tag_association": 1.5,
    "certification_association": 0.5,
    "matching_certifications": 0.3,
    "region_match": 0.6,
    "industry_match": 0.3,
    "psat": 0.12,
    "tier_rank": 0.1,
}
MATCHING_CERTIFICATIONS_CAP: Final = 2
# Prior retrieval scores every partner of a role up to this many; above it, only the holders of the
# request's most promising phrases (see `PriorScorer.scored`), as FAISS switches to HNSW.
PRIOR_EXACT_MAX: Final = 20_000
PRIOR_POSTING_PHRASES: Final = 8


@dataclass(frozen=True)
class PriorLayout:
    """Known skill tags and certifications of a set of partner rows, in slots for one-pass prior scoring."""

    rows: np.ndarray
    tags: SlotLists  # field "code": phrase code of each skill tag
    certs: SlotLists  # fields "code", "issued", "expires" (days), "level" (weight) of each certification
    static: np.ndarray  # the prior's request-independent part (PSAT, tier), aligned with `rows`

    def subset(self, positions: np.ndarray) -> PriorLayout:
        """The layout of `rows[positions]` (ascending positions)."""
        return PriorLayout(
            rows=self.rows[positions],
            tags=self.tags.subset(positions),
            certs=self.certs.subset(positions),
            static=self.static[positions],
        )


@dataclass(frozen=True)
class RolePostings:
    """Active partners of one role with, per phrase, which of them hold it (as a skill tag or certificate)."""

    rows: np.ndarray  # partner rows, ascending
    layout: PriorLayout
    phrase_offsets: np.ndarray  # CSR over phrase codes into `holders`
    holders: np.ndarray  # positions into `rows`


def _known_entries(
    catalog: PartnerCatalog, rows: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Skill tags and certifications of `rows` whose phrase is known: (tag owner, tag phrase code,
    certification owner, certification position); owners are positions into `rows`, ascending."""
    owner, positions = segments(catalog.tag_offsets, rows)
    codes = catalog.tag_codes[positions]
    known = codes >= 0
    tag_owner, tag_codes = owner[known], codes[known]
    owner, positions = segments(catalog.cert_offsets, rows)
    known = catalog.cert_codes[positions] >= 0
    return tag_owner, tag_codes, owner[known], positions[known]


def prior_layout(
    catalog: PartnerCatalog,
    rows: np.ndarray,
    entries: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> PriorLayout:
    """The prior's layout of `rows`; `entries` are their `_known_entries` when the caller has them."""
    rows = np.asarray(rows, dtype=np.int64)
    tag_owner, tag_codes, cert_owner, cert_at = entries or _known_entries(catalog, rows)
    certs = {
        "code": catalog.cert_codes[cert_at],
        "issued": catalog.cert_issued[cert_at],
        "expires": catalog.cert_expires[cert_at],
        "level": catalog.cert_level[cert_at],
    }
    w = PRIOR_WEIGHTS
    return PriorLayout(
        rows=rows,
        tags=SlotLists.build(tag_owner, {"code": tag_codes}, len(rows), fill={}),
        # Padding is never valid (issued at +inf), so it counts as no certification.
        certs=SlotLists.build(
            cert_owner, certs, len(rows), fill={"issued": np.inf, "expires": -np.inf, "level": 0.0}
        ),
        static=w["psat"] * catalog.psat[rows] + w["tier_rank"] * catalog.tier[rows],
    )


def role_postings(catalog: PartnerCatalog, role: str, n_phrases: int) -> RolePostings:
    """The active partners of a role, laid out for prior scoring, with their phrase postings."""
    rows = catalog.role_rows(role)
    entries = _known_entries(catalog, rows)
    layout = prior_layout(catalog, rows, entries)
    tag_owner, tag_codes, cert_owner, cert_at = entries
    owner = np.concatenate([tag_owner, cert_owner])
    code = np.concatenate([tag_codes, catalog.cert_codes[cert_at]])
    order = np.lexsort((owner, code))
    counts = np.bincount(code, minlength=n_phrases)
    return RolePostings(
        rows=rows,
        layout=layout,
        phrase_offsets=np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
        holders=owner[order],
    )


@dataclass(frozen=True)
class PriorScorer:
    """Scores partner layouts against a prepared opportunity with PRIOR_WEIGHTS."""

    catalog: PartnerCatalog
    vocabulary: SkillVocabulary

    def scores(self, opp: PreparedOpportunity, association: np.ndarray, layout: PriorLayout) -> np.ndarray:
        """The same values as the member features the prior mirrors (skill_match, tag and certification
        association, matching certifications, region, industry, PSAT, tier), in one pass over slots."""
        query = opp.query
        w = PRIOR_WEIGHTS
        rows, n_rows = layout.rows, len(layout.rows)
        needs = opp.needs
        n_needs = needs.shape[0]
        similarity = self.vocabulary.vectors @ needs.T  # (phrases, needs)
        association = np.maximum(association, 0.0).T  # (phrases, association needs)
        # Skill tags: best similarity per need and best association per association need, in one pass.
        per_phrase = np.concatenate([similarity, association], axis=1)
        tags = layout.tags
        # np.take: a row gather ~4x faster than fancy indexing here.
        best = tags.max_of(
            np.take(padded(per_phrase, -np.inf), tags.slots["code"], axis=0),
            np.take(per_phrase, tags.overflow["code"], axis=0),
        )
        best[np.isneginf(best)] = 0.0  # no known skill tag: no match, as the member feature
        skill = best[:, :n_needs]
        skill[skill < -0.5] = 0.0  # as the member feature: a clearly unrelated best tag counts as none
        n_associations = association.shape[1]
        # Means over needs as one matrix-vector product: ~8x faster than a mean over a column slice.
        tag_weights = np.concatenate(
            [
                np.full(n_needs, w["skill_match"] / n_needs),
                np.full(n_associations, w["tag_association"] / max(n_associations, 1)),
            ]
        )
        # Certifications valid on the date: best level-weighted association, and how many match a need.
        day = to_day(query.as_of)
        certs = layout.certs
        dense, flat = certs.slots, certs.overflow
        valid = certificate_valid(dense["issued"], dense["expires"], day)
        valid_flat = certificate_valid(flat["issued"], flat["expires"], day)
        matchable = similarity.max(axis=1) >= CERT_MATCH_MIN if len(similarity) else np.zeros(0, bool)
        matching = certs.sum_of(
            (np.append(matchable, False)[dense["code"]] & valid).astype(np.float64),
            (matchable[flat["code"]] & valid_flat).astype(np.float64),
        )
        cert_part = np.zeros(n_rows)
        if n_associations:
            # An invalid certification weighs 0 (associations are >= 0, so it never raises the max).
            level = np.where(valid, dense["level"], 0.0)
            level_flat = np.where(valid_flat, flat["level"], 0.0)
            cert_association = certs.max_of(
                np.take(padded(association, 0.0), dense["code"], axis=0) * level[..., None],
                np.take(association, flat["code"], axis=0) * level_flat[:, None],
            )
            weights = np.full(n_associations, w["certification_association"] / n_associations)
            cert_part = np.maximum(cert_association, 0.0) @ weights
        return (
            best @ tag_weights
            + cert_part
            # Capped: a partner certified many times over is not proportionally better.
            + w["matching_certifications"] * np.minimum(matching, MATCHING_CERTIFICATIONS_CAP)
            + w["region_match"] * self.catalog.covers(REGION, rows, query.region)
            + w["industry_match"] * self.catalog.covers(INDUSTRY, rows, query.customer_industry)
            + layout.static
        )

    def scored(
        self,
        opp: PreparedOpportunity,
        association: np.ndarray,
        postings: RolePostings,
        keep: np.ndarray,
        shortlist: bool,
    ) -> tuple[np.ndarray, np.ndarray, bool]:
        """Kept partner rows with their prior scores, and whether every kept one is among them.

        With `shortlist` on a role larger than PRIOR_EXACT_MAX, only the partners holding one of the
        request's PRIOR_POSTING_PHRASES most promising phrases (as a skill tag or certification) are
        scored, the way an approximate index trades a little recall for a fraction of the work (measured
        at 100k partners: recall@30 0.993 against scoring everyone, 3.5x faster; bench/prior_retrieval.py).
        """
        if shortlist and len(postings.rows) > PRIOR_EXACT_MAX:
            holders = np.zeros(len(keep), dtype=bool)
            holders[self._phrase_holders(opp, association, postings)] = True
            picked = np.flatnonzero(holders & keep)
            if len(picked):
                scores = self.scores(opp, association, postings.layout.subset(picked))
                return postings.rows[picked], scores, False
        picked = np.flatnonzero(keep)
        layout = postings.layout if len(picked) == len(postings.rows) else postings.layout.subset(picked)
        return postings.rows[picked], self.scores(opp, association, layout), True

    def _phrase_holders(
        self, opp: PreparedOpportunity, association: np.ndarray, postings: RolePostings
    ) -> np.ndarray:
        """Positions of the role's partners holding one of the request's most promising phrases."""
        w = PRIOR_WEIGHTS
        # A phrase's promise: what holding it adds to the prior on average over the needs.
        potential = w["skill_match"] * np.maximum(self.vocabulary.vectors @ opp.needs.T, 0.0).mean(axis=1)
        association = np.maximum(association, 0.0)
        if association.shape[0]:
            top_level = max(CERT_LEVEL_WEIGHTS.values())
            weight = w["tag_association"] + top_level * w["certification_association"]
            potential = potential + weight * association.mean(axis=0)
        offsets = postings.phrase_offsets
        looked_up = np.argsort(-potential, kind="stable")[:PRIOR_POSTING_PHRASES]
        return np.concatenate(
            [postings.holders[offsets[c] : offsets[c + 1]] for c in looked_up] or [np.zeros(0, np.int64)]
        )
