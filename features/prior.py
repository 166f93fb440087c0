"""The retrieval prior: a fixed-weight estimate of each partner's fit, scored for a whole role in one pass."""

from __future__ import annotations

from dataclasses import dataclass, replace
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
PRIOR_POSTING_PHRASES: Final = 8  # at most 8: the shortlist keeps which ones a partner holds in a byte
# Of those holders, at most this many are scored in full: the best by an estimate of their prior (see
# `_shortlist`). At 1M partners a phrase has ~13k holders per role: scoring every holder of 8 phrases took
# 62 ms per request (3 roles), these 2000 15 ms, with recall@30 against scoring every partner 0.996 and
# 0.993; at 100k partners the cap changes nothing (0.984 both; bench/scale_curve.py's homes).
PRIOR_SHORTLIST_MAX: Final = 2_000
# Slot padding of the layouts' fields besides the code; a padded certification is never valid (issued at
# +inf), so it counts as no certification.
TAG_FILL: Final[dict[str, float]] = {}
CERT_FILL: Final = {"issued": np.inf, "expires": -np.inf, "level": 0.0}


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
    return PriorLayout(
        rows=rows,
        tags=SlotLists.build(tag_owner, {"code": tag_codes}, len(rows), fill=TAG_FILL),
        certs=SlotLists.build(cert_owner, certs, len(rows), fill=CERT_FILL),
        static=_static(catalog, rows),
    )


def _static(catalog: PartnerCatalog, rows: np.ndarray) -> np.ndarray:
    """The prior's request-independent part of `rows`: PSAT and tier."""
    w = PRIOR_WEIGHTS
    return w["psat"] * catalog.psat[rows] + w["tier_rank"] * catalog.tier[rows]


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


def updated_postings(
    postings: RolePostings,
    catalog: PartnerCatalog,
    role: str,
    changed: np.ndarray,
    n_phrases: int,
    remap: np.ndarray | None = None,
) -> RolePostings:
    """The postings of `role` once the catalog rows `changed` (ascending) were replaced or appended:
    equal to `role_postings(catalog, role, n_phrases)`, but only the changed rows' entries are laid out;
    `remap` (old phrase code -> new, ascending) renumbers the kept ones when the phrase vocabulary grew."""
    keep = ~np.isin(postings.rows, changed)
    added = changed[(catalog.role[changed] == role) & catalog.active[changed]]
    if keep.all() and not len(added) and remap is None:
        # Still a new static part: PSAT's fill (the median) may have moved with the change.
        return replace(postings, layout=replace(postings.layout, static=_static(catalog, postings.rows)))
    kept_rows = postings.rows[keep]
    # Result positions of the added rows (`at`) and of the kept ones (`mine`), both ascending.
    at = np.searchsorted(kept_rows, added) + np.arange(len(added))
    mine = np.delete(np.arange(len(kept_rows) + len(added)), at)
    rows = np.empty(len(mine) + len(at), dtype=np.int64)
    rows[mine], rows[at] = kept_rows, added
    entries = _known_entries(catalog, added)
    fresh = prior_layout(catalog, added, entries)
    kept = postings.layout.subset(np.flatnonzero(keep))
    tags, certs = kept.tags, kept.certs
    if remap is not None:
        tags, certs = tags.recoded(remap), certs.recoded(remap)
    layout = PriorLayout(
        rows=rows,
        tags=tags.merged(fresh.tags, at, TAG_FILL),
        certs=certs.merged(fresh.certs, at, CERT_FILL),
        static=_static(catalog, rows),
    )
    # Kept holders, renumbered, stay sorted by (code, position): a grown vocabulary keeps the phrase order.
    old_codes = np.repeat(np.arange(len(postings.phrase_offsets) - 1), np.diff(postings.phrase_offsets))
    position = np.full(len(postings.rows), -1, dtype=np.int64)
    position[keep] = mine
    held = keep[postings.holders]
    codes = old_codes[held] if remap is None else remap[old_codes[held]]
    holders = position[postings.holders[held]]
    tag_owner, tag_codes, cert_owner, cert_at = entries
    new_codes = np.concatenate([tag_codes, catalog.cert_codes[cert_at]])
    new_holders = at[np.concatenate([tag_owner, cert_owner])]
    order = np.lexsort((new_holders, new_codes))
    new_codes, new_holders = new_codes[order], new_holders[order]
    # Merged by the key (code, position), as `role_postings` sorts them.
    size = len(rows) + 1
    into = np.searchsorted(codes * size + holders, new_codes * size + new_holders)
    codes = np.insert(codes, into, new_codes)
    return RolePostings(
        rows=rows,
        layout=layout,
        phrase_offsets=np.concatenate([[0], np.cumsum(np.bincount(codes, minlength=n_phrases))]).astype(
            np.int64
        ),
        holders=np.insert(holders, into, new_holders),
    )


def _tag_weights(n_needs: int, n_associations: int) -> np.ndarray:
    """Weights that turn each need's best skill-tag similarity and each association need's best tag
    association into the prior's skill-tag part (means over needs, weighted)."""
    w = PRIOR_WEIGHTS
    return np.concatenate(
        [
            np.full(n_needs, w["skill_match"] / max(n_needs, 1)),
            np.full(n_associations, w["tag_association"] / max(n_associations, 1)),
        ]
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
        tag_weights = _tag_weights(n_needs, n_associations)
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
        considered, the way an approximate index trades a little recall for a fraction of the work (measured
        at 100k partners: recall@30 0.993 against scoring everyone, 3.5x faster; bench/prior_retrieval.py),
        and of those the PRIOR_SHORTLIST_MAX with the best estimate are scored, so the work per request
        stays bounded as the role grows.
        """
        if shortlist and len(postings.rows) > PRIOR_EXACT_MAX:
            picked = self._shortlist(opp, association, postings, keep)
            if len(picked):
                scores = self.scores(opp, association, postings.layout.subset(picked))
                return postings.rows[picked], scores, False
        picked = np.flatnonzero(keep)
        layout = postings.layout if len(picked) == len(postings.rows) else postings.layout.subset(picked)
        return postings.rows[picked], self.scores(opp, association, layout), True

    def _phrase_promise(self, opp: PreparedOpportunity, association: np.ndarray) -> np.ndarray:
        """Per phrase: what holding it adds to the prior on average over the needs."""
        w = PRIOR_WEIGHTS
        potential = w["skill_match"] * np.maximum(self.vocabulary.vectors @ opp.needs.T, 0.0).mean(axis=1)
        association = np.maximum(association, 0.0)
        if association.shape[0]:
            top_level = max(CERT_LEVEL_WEIGHTS.values())
            weight = w["tag_association"] + top_level * w["certification_association"]
            potential = potential + weight * association.mean(axis=0)
        return np.asarray(potential, dtype=np.float64)

    def _shortlist(
        self, opp: PreparedOpportunity, association: np.ndarray, postings: RolePostings, keep: np.ndarray
    ) -> np.ndarray:
        """Ascending positions of the kept partners holding one of the request's most promising phrases;
        when there are more than PRIOR_SHORTLIST_MAX, the ones whose prior is estimated highest."""
        offsets, holders = postings.phrase_offsets, postings.holders
        looked_up = np.argsort(-self._phrase_promise(opp, association), kind="stable")[:PRIOR_POSTING_PHRASES]
        # Which of the looked-up phrases each partner holds, one bit each.
        held = np.zeros(len(postings.rows), dtype=np.uint8)
        for bit, c in enumerate(looked_up):
            held[holders[offsets[c] : offsets[c + 1]]] |= np.uint8(1 << bit)
        candidates = np.flatnonzero((held > 0) & keep)
        if len(candidates) <= PRIOR_SHORTLIST_MAX:
            return candidates
        # The estimate: the prior's skill-tag part over the looked-up phrases only (each need's best among
        # the ones a partner holds: one value per combination of them), plus the parts that need no phrase
        # (coverage, PSAT, tier); certifications are left out. Recall@30 at 1M partners (against scoring
        # every partner): 0.91 when the estimate summed the promise of each phrase held, 0.993 so.
        per_phrase = np.concatenate(
            [np.maximum(self.vocabulary.vectors @ opp.needs.T, 0.0), np.maximum(association, 0.0).T], axis=1
        )[looked_up]
        combinations = (np.arange(1 << len(looked_up))[:, None] >> np.arange(len(looked_up))) & 1
        best = (combinations[:, :, None] * per_phrase[None, :, :]).max(axis=1)
        tag_part = best @ _tag_weights(opp.needs.shape[0], association.shape[0])
        rows, query, w = postings.rows[candidates], opp.query, PRIOR_WEIGHTS
        estimate = (
            tag_part[held[candidates]]
            + postings.layout.static[candidates]
            + w["region_match"] * self.catalog.covers(REGION, rows, query.region)
            + w["industry_match"] * self.catalog.covers(INDUSTRY, rows, query.customer_industry)
        )
        # The best PRIOR_SHORTLIST_MAX (a partition, then a sort of those only); ties at the cut go to the
        # lower row, as everywhere else in retrieval.
        cut = len(estimate) - PRIOR_SHORTLIST_MAX
        top = np.flatnonzero(estimate >= np.partition(estimate, cut)[cut])
        chosen = top[np.lexsort((candidates[top], -estimate[top]))][:PRIOR_SHORTLIST_MAX]
        return np.sort(candidates[chosen])
