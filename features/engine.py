"""The one feature code path for training and serving: retrieval per role and the team feature matrix."""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from itertools import chain, combinations
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd

from features import schema as s
from features.checksums import file_sha256
from features.embeddings import Embedder
from features.history import (
    ASSOCIATION_MIN_COUNT,
    DAYS_SINCE_LAST_WIN,
    DEALS,
    INDUSTRY_DEALS,
    INDUSTRY_WIN_RATE,
    INFLUENCED_DEALS,
    INFLUENCED_REVENUE,
    JOINT_DEALS,
    JOINT_WIN_RATE,
    MEAN_LOG_DEAL_SIZE,
    MEDIAN_DAYS_TO_CLOSE,
    OPEN_ENGAGEMENTS,
    RECENCY_WIN_RATE,
    REGION_WIN_RATE,
    SKILL_WIN_RATE,
    SOURCED_DEALS,
    SOURCED_REVENUE,
    WIN_RATE,
    PartnerHistory,
    TagAssociation,
    to_day,
)
from features.index import RoleIndex
from features.profiles import opportunity_text, partner_profile_texts
from features.records import EcosystemTables, OpportunityQuery
from features.slots import SlotLists, best_first, padded, segments
from features.team_features import (
    DAYS_CAP,
    FEATURE_VERSION,
    TeamInputs,
    assemble,
    feature_descriptions,
    feature_names,
)

logger = logging.getLogger(__name__)

EMBED_CHUNK: Final = 1024
# FAISS cannot filter on metadata: fetch this many times `n` (plus the exclusions) and filter afterwards.
OVERFETCH: Final = 3

ENGINE_META = "engine.json"
PARTNERS_FILE = "partners.parquet"
CERTIFICATIONS_FILE = "certifications.parquet"
VECTORS_FILE = "vectors.npy"
HISTORY_FILE = "history.npz"
PHRASES_FILE = "phrases.npz"
ASSOCIATIONS_FILE = "associations.npz"
# Certification levels are free text in the contract; the usual ladder reads as growing depth, anything
# else (or no level) as the entry level. Multiplies a certification's association with a need.
CERT_LEVEL_WEIGHTS: Final = {"associate": 1.0, "professional": 1.5, "expert": 2.0}
# A certification "matches the need" when its name is at least this close (cosine) to a required skill.
CERT_MATCH_MIN: Final = 0.5
# Weights of the retrieval prior (`FeatureEngine.prior_scores`): observable proxies of what wins deals,
# roughly in the proportions of their effect on win odds (skill fit first, then delivery and coverage).
# Text similarity alone misses region coverage and delivery quality, so retrieval unions both lists.
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
# Prior retrieval scores every partner of a role up to this many; above it, only the holders of the
# request's most promising phrases (see `FeatureEngine._prior_scored`), as FAISS switches to HNSW.
PRIOR_EXACT_MAX: Final = 20_000
PRIOR_POSTING_PHRASES: Final = 8
MATCHING_CERTIFICATIONS_CAP: Final = 2
# Each phrase links to this many most co-held phrases when grouping phrases into skills (`_phrase_skills`).
CO_HOLDING_NEIGHBOURS: Final = 3
# How much each kind of claim says about a partner's real depth in a skill (`_skill_evidence`), in [0, 1]:
# a free skill tag little, a strength the partner's own description highlights more, a certification
# most, growing with its level (associate + level step per CERT_LEVEL_WEIGHTS unit above 1).
EVIDENCE_WEIGHTS: Final = {
    "tag": 0.25,
    "description": 0.55,
    "certification": 0.45,
    "certification_level": 0.35,
}
PARTNER_COLUMNS: Final = s.COLUMNS[s.PARTNERS]
CERTIFICATION_COLUMNS: Final = s.COLUMNS[s.CERTIFICATIONS]


def index_file(role: str) -> str:
    return f"index-{role}.npz"


@dataclass(frozen=True)
class PreparedOpportunity:
    """An opportunity with its text and required-skill phrases embedded (rows align with required_skills)."""

    query: OpportunityQuery
    vector: np.ndarray
    skill_vectors: np.ndarray
    # (needs, engine phrases) tag associations, resolved once per request; valid for `generation` only
    # (a partner upsert can add phrases and so columns).
    association: np.ndarray | None = None
    generation: int = -1
    # Per-request memo (member features of the planned candidates); shared by `dataclasses.replace` copies.
    memo: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class MemberBlock:
    """Per-member inputs of the team features for one opportunity, rows aligned with `rows`."""

    rows: np.ndarray
    values: dict[str, np.ndarray]
    skill_similarity: np.ndarray  # (members, required skills)
    tag_similarity: np.ndarray  # (members, needs) best skill-tag match
    association: np.ndarray  # (members, association needs) best tag/certification PMI
    evidence: np.ndarray  # (members, association needs) skill evidence in [0, 1]

    def take(self, positions: np.ndarray) -> MemberBlock:
        return MemberBlock(
            rows=self.rows[positions],
            values={k: v[positions] for k, v in self.values.items()},
            skill_similarity=self.skill_similarity[positions],
            tag_similarity=self.tag_similarity[positions],
            association=self.association[positions],
            evidence=self.evidence[positions],
        )


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


def _clean_partners(partners: pd.DataFrame) -> pd.DataFrame:
    frame = partners.reindex(columns=list(PARTNER_COLUMNS)).sort_values(s.PARTNER_ID, kind="stable")
    frame = frame.reset_index(drop=True)
    frame[s.PARTNER_ID] = frame[s.PARTNER_ID].astype(str)
    frame[s.TIER] = frame[s.TIER].fillna(s.DEFAULT_TIER)
    frame[s.STATUS] = frame[s.STATUS].fillna(s.DEFAULT_PARTNER_STATUS)
    for column in s.LIST_COLUMNS[s.PARTNERS]:
        # `tolist()` first: iterating an Arrow-backed column element by element cost ~1 s at 100k partners.
        values = frame[column].tolist()
        frame[column] = [list(v) if isinstance(v, list | tuple | np.ndarray) else [] for v in values]
    frame[s.DESCRIPTION] = frame[s.DESCRIPTION].where(frame[s.DESCRIPTION].notna(), "")
    return frame


def _clean_certifications(certifications: pd.DataFrame) -> pd.DataFrame:
    frame = certifications.reindex(columns=list(CERTIFICATION_COLUMNS))
    for column in s.DATE_COLUMNS[s.CERTIFICATIONS]:
        frame[column] = pd.to_datetime(frame[column])
    frame[s.PARTNER_ID] = frame[s.PARTNER_ID].astype(str)
    return frame.sort_values([s.PARTNER_ID, s.CERTIFICATION], kind="stable").reset_index(drop=True)


class FeatureEngine:
    """Partner vectors, a `RoleIndex` per role and `PartnerHistory`; one build serves training and serving."""

    def __init__(
        self,
        *,
        roles: Sequence[str],
        embedder: Embedder,
        partners: pd.DataFrame,
        certifications: pd.DataFrame,
        vectors: np.ndarray,
        indexes: Mapping[str, RoleIndex],
        history: PartnerHistory,
        phrases: Mapping[str, np.ndarray] | None = None,
        associations: TagAssociation | None = None,
    ) -> None:
        self.roles = tuple(roles)
        self.feature_names = feature_names(self.roles)
        self.feature_descriptions = feature_descriptions(self.roles)
        self.feature_version = FEATURE_VERSION
        self.embedder = embedder
        self.embedder_id = embedder.model_id
        self.indexes = dict(indexes)
        self.history = history
        self.associations = associations or TagAssociation.empty()
        self._partners = partners
        self._certifications = certifications
        self._vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        # Skill tags and certification names, embedded once (through the embedder's cache) and kept here.
        self._phrases: dict[str, np.ndarray] = dict(phrases or {})
        self._conflicts: frozenset[frozenset[str]] = frozenset()
        # Phrase mentions per description text, for the vocabulary they were scanned with.
        self._mention_cache: tuple[tuple[str, ...], dict[str, np.ndarray]] = ((), {})
        self._embed_phrases(self._phrase_vocabulary())
        self._derive()

    def _phrase_vocabulary(self) -> list[str]:
        tags = set(map(str, chain.from_iterable(self._partners[s.SKILLS])))
        return sorted(tags | set(self._certifications[s.CERTIFICATION].astype(str)))

    def _embed_phrases(self, phrases: Sequence[str]) -> None:
        missing = [p for p in phrases if p not in self._phrases]
        if missing:
            vectors = self.embedder.encode(missing)
            self._phrases.update(zip(missing, np.asarray(vectors, dtype=np.float32), strict=True))

    def _derive(self) -> None:
        """Per-partner arrays in row order, so a team's members are gathered with one fancy index."""
        partners, certifications = self._partners, self._certifications
        self._ids = partners[s.PARTNER_ID].to_numpy(dtype=object)
        self._row_of = {pid: i for i, pid in enumerate(self._ids)}
        self._role = partners[s.PARTNER_TYPE].to_numpy(dtype=object)
        self._active = (partners[s.STATUS] == s.DEFAULT_PARTNER_STATUS).to_numpy(copy=True)
        self._tier = partners[s.TIER].map(s.TIER_RANK).fillna(0).to_numpy(dtype=np.float64)
        self._capacity = pd.to_numeric(partners[s.CAPACITY], errors="coerce").to_numpy(dtype=np.float64)
        psat = pd.to_numeric(partners[s.PSAT], errors="coerce").to_numpy(dtype=np.float64)
        # Unsurveyed partners read as the median partner: no evidence either way.
        self._psat = np.where(np.isnan(psat), np.nanmedian(psat) if np.isfinite(psat).any() else 0.0, psat)
        self._regions = [frozenset(v) for v in partners[s.REGIONS]]
        self._industries = [frozenset(v) for v in partners[s.INDUSTRIES]]
        # "Which partners cover region/industry X", over every partner, built once per value: the prior
        # scores every partner of a role per request, and a Python scan of 100k sets cost tens of ms.
        self._membership: dict[tuple[int, str], np.ndarray] = {}
        self._postings: dict[str, RolePostings] = {}
        self._profiles: dict[int, dict[str, Any]] = {}
        self._partner_columns: dict[str, np.ndarray] | None = None
        self._history_code = self.history.codes(list(self._ids))
        self._phrase_names = sorted(self._phrases)
        phrase_index = pd.Index(self._phrase_names, dtype=object)
        dim = self._vectors.shape[1]
        self._phrase_vectors = (
            np.vstack([self._phrases[p] for p in self._phrase_names]).astype(np.float32)
            if self._phrase_names
            else np.zeros((0, dim), dtype=np.float32)
        )
        skills = partners[s.SKILLS]
        lengths = np.fromiter(map(len, skills), dtype=np.int64, count=len(skills))
        self._tag_offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        self._tag_codes = np.asarray(
            phrase_index.get_indexer(pd.Index(list(map(str, chain.from_iterable(skills))), dtype=object)),
            dtype=np.int64,
        )
        cert_rows = np.asarray(
            [self._row_of.get(p, -1) for p in certifications[s.PARTNER_ID]], dtype=np.int64
        )
        keep = cert_rows >= 0
        order = np.argsort(cert_rows[keep], kind="stable")
        issued = certifications[s.ISSUED_AT].to_numpy(dtype="datetime64[D]")[keep][order]
        expires = certifications[s.EXPIRES_AT].to_numpy(dtype="datetime64[D]")[keep][order]
        # Unknown dates never restrict: issued at -inf, expiring at +inf.
        self._cert_issued = np.where(np.isnat(issued), -np.inf, issued.astype(np.int64).astype(np.float64))
        self._cert_expires = np.where(np.isnat(expires), np.inf, expires.astype(np.int64).astype(np.float64))
        names = certifications[s.CERTIFICATION].astype(str).to_numpy(dtype=object)[keep][order]
        self._cert_codes = np.asarray(phrase_index.get_indexer(pd.Index(names, dtype=object)), dtype=np.int64)
        levels = certifications[s.LEVEL].astype(str).str.lower().to_numpy(dtype=object)[keep][order]
        self._cert_level = np.asarray([CERT_LEVEL_WEIGHTS.get(v, 1.0) for v in levels], dtype=np.float64)
        counts = np.bincount(cert_rows[keep], minlength=len(self._ids))
        self._cert_offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        self._conflict_keys = self._encode_conflicts(self._conflicts)
        # Phrases each partner's own description highlights: a skill tag anyone can add, a profile sentence
        # naming the partner's strengths is a costlier claim, so it counts as evidence beside certificates.
        self._described_offsets, self._described_codes = self._description_mentions(
            partners[s.DESCRIPTION].tolist()
        )
        self._phrase_skill = self._phrase_skills()
        self._association_columns = self.associations.columns(self._phrase_names)
        self._generation = getattr(self, "_generation", 0) + 1

    # -- conflicts -------------------------------------------------------------------------------------
    @property
    def conflicts(self) -> frozenset[frozenset[str]]:
        """Partner pairs flagged as channel conflicts (contract v1 has no such table; callers may set it)."""
        return self._conflicts

    @conflicts.setter
    def conflicts(self, pairs: frozenset[frozenset[str]]) -> None:
        self._conflicts = frozenset(frozenset(p) for p in pairs)
        self._conflict_keys = self._encode_conflicts(self._conflicts)

    def _encode_conflicts(self, pairs: frozenset[frozenset[str]]) -> np.ndarray:
        n = len(self._ids)
        keys = []
        for pair in pairs:
            rows = sorted(self._row_of[p] for p in pair if p in self._row_of)
            if len(rows) == 2:
                keys.append(rows[0] * n + rows[1])
        return np.unique(np.asarray(keys, dtype=np.int64))

    # -- building ------------------------------------------------------------------------------------
    @classmethod
    def build(
        cls,
        tables: EcosystemTables,
        embedder: Embedder,
        *,
        roles: Sequence[str] = s.DEFAULT_ROLES,
        show_progress: bool = False,
        associations_until: date | None = None,
    ) -> FeatureEngine:
        """Embed partner profiles (in batches), index the active partners of each role, index deal history.

        Inactive partners are embedded too: past teams that included them still need their features.
        Tag associations are learned from deals created before `associations_until` when it is given, so
        a training run's later (calibration and test) deals never shape the features it is judged on.
        """
        partners = _clean_partners(tables.partners)
        certifications = _clean_certifications(tables.certifications)
        # Profile text is today's snapshot (the export has no history of profiles); listing every
        # certification keeps it independent of the build date. Dated validity is a separate feature.
        texts = partner_profile_texts(partners, certifications, as_of=None).tolist()
        vectors = _embed_in_chunks(embedder, texts, show_progress)
        indexes: dict[str, RoleIndex] = {}
        for role in roles:
            rows = np.flatnonzero(
                (
                    (partners[s.PARTNER_TYPE] == role) & (partners[s.STATUS] == s.DEFAULT_PARTNER_STATUS)
                ).to_numpy()
            )
            indexes[role] = RoleIndex.build(partners[s.PARTNER_ID].to_numpy()[rows].tolist(), vectors[rows])
            logger.info("role %s: %d active partners indexed (%s)", role, len(rows), indexes[role].kind)
        history = PartnerHistory.build(tables)
        return cls(
            roles=roles,
            embedder=embedder,
            partners=partners,
            certifications=certifications,
            vectors=vectors,
            indexes=indexes,
            history=history,
            associations=TagAssociation.build(_created_before(tables, associations_until)),
        )

    # -- incremental updates --------------------------------------------------------------------------
    def upsert_partner(self, partner: Mapping[str, Any], certifications: pd.DataFrame | None = None) -> None:
        """Add or replace one partner: embed only its profile, update its role index in place.

        `partner` holds contract columns (missing ones read as empty); `certifications`, when given,
        replaces that partner's certifications. Deal history is not touched (it changes with a rebuild).
        """
        row = _clean_partners(pd.DataFrame([{c: partner.get(c) for c in PARTNER_COLUMNS}]))
        partner_id = str(row[s.PARTNER_ID].iloc[0])
        certs = self._certifications
        if certifications is not None:
            mine = _clean_certifications(certifications)
            certs = pd.concat(
                [certs[certs[s.PARTNER_ID] != partner_id], mine[mine[s.PARTNER_ID] == partner_id]],
                ignore_index=True,
            )
            self._certifications = certs.sort_values([s.PARTNER_ID, s.CERTIFICATION], kind="stable")
            self._certifications = self._certifications.reset_index(drop=True)
        text = partner_profile_texts(row, self._certifications, as_of=None).tolist()
        vector = np.asarray(self.embedder.encode(text), dtype=np.float32)[0]
        existing = self._row_of.get(partner_id)
        if existing is None:
            self._partners = pd.concat([self._partners, row], ignore_index=True)
            self._vectors = np.ascontiguousarray(np.vstack([self._vectors, vector[None, :]]))
        else:
            self._partners.iloc[existing] = row.iloc[0]
            self._vectors[existing] = vector
        self._embed_phrases(self._phrase_vocabulary())
        self._derive()
        active = bool(row[s.STATUS].iloc[0] == s.DEFAULT_PARTNER_STATUS)
        for role, index in self.indexes.items():
            if role == row[s.PARTNER_TYPE].iloc[0] and active:
                index.upsert(partner_id, vector)
            else:
                index.remove(partner_id)
        self._compact_indexes()

    def deactivate_partner(self, partner_id: str) -> None:
        """Mark the partner inactive: never a candidate again, still known for past teams' features."""
        row = self._row_of.get(partner_id)
        if row is None:
            raise KeyError(partner_id)
        # schema names the statuses as (active, inactive); the second is the only non-default one.
        self._partners.loc[row, s.STATUS] = next(
            x for x in s.PARTNER_STATUSES if x != s.DEFAULT_PARTNER_STATUS
        )
        self._active[row] = False
        self._postings.clear()
        self._profiles.pop(row, None)
        self._partner_columns = None
        for index in self.indexes.values():
            index.remove(partner_id)
        self._compact_indexes()

    def _compact_indexes(self) -> None:
        for role, index in self.indexes.items():
            if index.needs_compaction:
                logger.info("role %s: compacting index (%d tombstones)", role, index.tombstones)
                self.indexes[role] = index.compact()

    # -- retrieval -----------------------------------------------------------------------------------
    def prepare(self, queries: Sequence[OpportunityQuery]) -> list[PreparedOpportunity]:
        """Embed each opportunity's text and its required-skill phrases, all in one encoder call."""
        texts = [opportunity_text(q) for q in queries]
        unique = list(dict.fromkeys([*texts, *(skill for q in queries for skill in q.required_skills)]))
        vectors = (
            self.embedder.encode(unique) if unique else np.zeros((0, self._vectors.shape[1]), np.float32)
        )
        position = {text: i for i, text in enumerate(unique)}
        dim = vectors.shape[1]
        return [
            PreparedOpportunity(
                query=q,
                vector=vectors[position[text]],
                skill_vectors=vectors[[position[skill] for skill in q.required_skills]].reshape(-1, dim),
                association=self._association_rows(self._association_needs(q)),
                generation=self._generation,
            )
            for q, text in zip(queries, texts, strict=True)
        ]

    def candidates(self, opp: PreparedOpportunity, role: str, n: int) -> list[str]:
        """Top-`n` partner ids of `role` by profile similarity after hard filters; registered one first.

        Filters: active, not excluded, not at capacity on `as_of` (open engagements >= capacity).
        """
        if role not in self.indexes:
            raise ValueError(f"unknown role {role!r}; this engine has {', '.join(self.roles)}")
        index, query = self.indexes[role], opp.query
        excluded = query.excluded_partner_ids
        chosen: list[str] = []
        registered = query.registered_partner_id
        row = self._row_of.get(registered) if registered else None
        if registered and row is not None and self._role[row] == role and registered not in excluded:
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
            rows = np.asarray([self._row_of[pid] for pid in hits], dtype=np.int64)
            available = self._available(rows, query.as_of)
            picked = [hits[i] for i in np.flatnonzero(available)][: n - len(chosen)]
            if len(picked) + len(chosen) >= n or fetch >= len(index):
                return chosen + picked
            fetch = min(len(index), fetch * 4)

    def prior_scores(self, opp: PreparedOpportunity, rows: np.ndarray) -> np.ndarray:
        """A cheap, fixed-weight estimate of each partner row's fit to the opportunity (see PRIOR_WEIGHTS).

        The same values as the member features it mirrors (skill_match, tag and certification association,
        matching certifications, region, industry, PSAT, tier), computed in one pass over slotted tags.
        """
        return self._layout_prior_scores(opp, self._prior_layout(rows))

    def _known_entries(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Skill tags and certifications of `rows` whose phrase is known: (tag owner, tag phrase code,
        certification owner, certification position); owners are positions into `rows`, ascending."""
        owner, positions = segments(self._tag_offsets, rows)
        codes = self._tag_codes[positions]
        known = codes >= 0
        tag_owner, tag_codes = owner[known], codes[known]
        owner, positions = segments(self._cert_offsets, rows)
        known = self._cert_codes[positions] >= 0
        return tag_owner, tag_codes, owner[known], positions[known]

    def _prior_layout(
        self,
        rows: np.ndarray,
        entries: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None,
    ) -> PriorLayout:
        """The prior's layout of `rows`; `entries` are their `_known_entries` when the caller has them."""
        rows = np.asarray(rows, dtype=np.int64)
        tag_owner, tag_codes, cert_owner, cert_at = entries or self._known_entries(rows)
        certs = {
            "code": self._cert_codes[cert_at],
            "issued": self._cert_issued[cert_at],
            "expires": self._cert_expires[cert_at],
            "level": self._cert_level[cert_at],
        }
        w = PRIOR_WEIGHTS
        return PriorLayout(
            rows=rows,
            tags=SlotLists.build(tag_owner, {"code": tag_codes}, len(rows), fill={}),
            # Padding is never valid (issued at +inf), so it counts as no certification.
            certs=SlotLists.build(
                cert_owner, certs, len(rows), fill={"issued": np.inf, "expires": -np.inf, "level": 0.0}
            ),
            static=w["psat"] * self._psat[rows] + w["tier_rank"] * self._tier[rows],
        )

    def _layout_prior_scores(self, opp: PreparedOpportunity, layout: PriorLayout) -> np.ndarray:
        query = opp.query
        w = PRIOR_WEIGHTS
        rows, n_rows = layout.rows, len(layout.rows)
        needs = opp.skill_vectors if len(opp.skill_vectors) else opp.vector.reshape(1, -1)
        n_needs = needs.shape[0]
        similarity = self._phrase_vectors @ needs.T  # (phrases, needs)
        association = np.maximum(self._association_of(opp), 0.0).T  # (phrases, association needs)
        # Skill tags: best similarity per need and best association per association need, in one pass.
        per_phrase = np.concatenate([similarity, association], axis=1)
        tags = layout.tags
        # np.take: a row gather ~4x faster than fancy indexing here.
        best = tags.max_of(
            np.take(padded(per_phrase, -np.inf), tags.slots["code"], axis=0),
            np.take(per_phrase, tags.overflow["code"], axis=0),
        )
        best[np.isneginf(best)] = 0.0  # no known skill tag: no match, as `_best_tag_match`
        skill = best[:, :n_needs]
        skill[skill < -0.5] = 0.0  # as `_best_tag_match`: a clearly unrelated best tag counts as none
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
        valid = (dense["issued"] <= day) & (dense["expires"] > day)
        valid_flat = (flat["issued"] <= day) & (flat["expires"] > day)
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
            + w["region_match"] * self._has(self._regions, rows, query.region)
            + w["industry_match"] * self._has(self._industries, rows, query.customer_industry)
            + layout.static
        )

    def prior_candidates(self, opp: PreparedOpportunity, role: str, n: int) -> list[str]:
        """Top-`n` partner ids of `role` by `prior_scores` over every available partner of the role.

        Same hard filters as `candidates`; complements text retrieval, whose nearest profiles need not
        cover the region or deliver well. Ties break by partner id, so the result is deterministic.
        """
        if role not in self.indexes:
            raise ValueError(f"unknown role {role!r}; this engine has {', '.join(self.roles)}")
        if n <= 0:
            return []
        query = opp.query
        postings = self._role_postings(role)
        keep = np.ones(len(postings.rows), dtype=bool)
        if query.excluded_partner_ids:
            keep &= ~np.isin(self._ids[postings.rows], list(query.excluded_partner_ids))
        if not keep.any():
            return []
        # Capacity needs each partner's open engagements at the date: check the best-scored first, in
        # growing slices, instead of every partner of the role.
        rows, scores, complete = self._prior_scored(opp, postings, keep, shortlist=True)
        chosen = self._first_available(rows, scores, n, query.as_of)
        if len(chosen) < n and not complete:
            # The shortlist ran out of available partners: rank everyone and carry on from there.
            everyone, all_scores, _ = self._prior_scored(opp, postings, keep, shortlist=False)
            unseen = ~np.isin(everyone, rows)
            more = self._first_available(everyone[unseen], all_scores[unseen], n - len(chosen), query.as_of)
            chosen += more
        return [str(pid) for pid in self._ids[np.asarray(chosen[:n], dtype=np.int64)]]

    def _first_available(self, rows: np.ndarray, scores: np.ndarray, n: int, as_of: date) -> list[int]:
        """The first `n` rows by descending score (ties by row) that are available on `as_of`."""
        chosen: list[int] = []
        for block in best_first(rows, scores, 4 * n):
            chosen.extend(block[self._available(block, as_of)].tolist())
            if len(chosen) >= n:
                break
        return chosen[:n]

    def _role_postings(self, role: str) -> RolePostings:
        postings = self._postings.get(role)
        if postings is None:
            rows = np.flatnonzero((self._role == role) & self._active)
            entries = self._known_entries(rows)
            layout = self._prior_layout(rows, entries)
            tag_owner, tag_codes, cert_owner, cert_at = entries
            owner = np.concatenate([tag_owner, cert_owner])
            code = np.concatenate([tag_codes, self._cert_codes[cert_at]])
            order = np.lexsort((owner, code))
            counts = np.bincount(code, minlength=len(self._phrase_names))
            postings = RolePostings(
                rows=rows,
                layout=layout,
                phrase_offsets=np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
                holders=owner[order],
            )
            self._postings[role] = postings
        return postings

    def _prior_scored(
        self, opp: PreparedOpportunity, postings: RolePostings, keep: np.ndarray, shortlist: bool
    ) -> tuple[np.ndarray, np.ndarray, bool]:
        """Kept partner rows with their prior scores, and whether every kept one is among them.

        With `shortlist` on a role larger than PRIOR_EXACT_MAX, only the partners holding one of the
        request's PRIOR_POSTING_PHRASES most promising phrases (as a skill tag or certification) are
        scored, the way an approximate index trades a little recall for a fraction of the work (measured
        at 100k partners: recall@30 0.993 against scoring everyone, 3.5x faster; bench/prior_retrieval.py).
        """
        if shortlist and len(postings.rows) > PRIOR_EXACT_MAX:
            holders = np.zeros(len(keep), dtype=bool)
            holders[self._phrase_holders(opp, postings)] = True
            picked = np.flatnonzero(holders & keep)
            if len(picked):
                scores = self._layout_prior_scores(opp, postings.layout.subset(picked))
                return postings.rows[picked], scores, False
        picked = np.flatnonzero(keep)
        layout = postings.layout if len(picked) == len(postings.rows) else postings.layout.subset(picked)
        return postings.rows[picked], self._layout_prior_scores(opp, layout), True

    def _phrase_holders(self, opp: PreparedOpportunity, postings: RolePostings) -> np.ndarray:
        """Positions of the role's partners holding one of the request's most promising phrases."""
        w = PRIOR_WEIGHTS
        needs = opp.skill_vectors if len(opp.skill_vectors) else opp.vector.reshape(1, -1)
        # A phrase's promise: what holding it adds to the prior on average over the needs.
        potential = w["skill_match"] * np.maximum(self._phrase_vectors @ needs.T, 0.0).mean(axis=1)
        association = np.maximum(self._association_of(opp), 0.0)
        if association.shape[0]:
            top_level = max(CERT_LEVEL_WEIGHTS.values())
            weight = w["tag_association"] + top_level * w["certification_association"]
            potential = potential + weight * association.mean(axis=0)
        offsets = postings.phrase_offsets
        looked_up = np.argsort(-potential, kind="stable")[:PRIOR_POSTING_PHRASES]
        return np.concatenate(
            [postings.holders[offsets[c] : offsets[c + 1]] for c in looked_up] or [np.zeros(0, np.int64)]
        )

    def _open_engagements(self, rows: np.ndarray, as_of: date) -> np.ndarray:
        codes = self._history_code[rows]
        return self.history.open_engagements(codes, as_of)

    def _available(self, rows: np.ndarray, as_of: date) -> np.ndarray:
        if len(rows) == 0:
            return np.zeros(0, dtype=bool)
        capacity = self._capacity[rows]
        at_capacity = ~np.isnan(capacity) & (self._open_engagements(rows, as_of) >= capacity)
        return np.asarray(self._active[rows] & ~at_capacity)

    # -- features --------------------------------------------------------------------------------------
    def team_features(
        self, opp: PreparedOpportunity, teams: Sequence[Mapping[str, str | None]]
    ) -> np.ndarray:
        """(teams, features) float32 in `feature_names` order; every fact strictly before `as_of`."""
        query = opp.query
        row_of = self._row_of
        try:
            flat = [
                row_of[pid] if pid is not None else -1 for team in teams for pid in map(team.get, self.roles)
            ]
        except KeyError as exc:
            raise ValueError(f"team member {exc.args[0]!r} is not a known partner") from exc
        rows = np.asarray(flat, dtype=np.int64).reshape(len(teams), len(self.roles))
        members, inverse = np.unique(rows, return_inverse=True)
        # np.unique sorts, so an empty slot (-1) takes position 0 and shifts every member by one.
        shift = 1 if len(members) and members[0] < 0 else 0
        slots = np.where(rows >= 0, inverse.reshape(rows.shape) - shift, -1)
        members = members[shift:]

        block = self._member_block(opp, members)
        member_values = block.values
        deal_size = query.deal_size if query.deal_size is not None and math.isfinite(query.deal_size) else 0.0
        log_deal_size = math.log1p(max(deal_size, 0.0))

        role_pairs = list(combinations(range(len(self.roles)), 2))
        team_codes = np.where(rows >= 0, self._history_code[np.maximum(rows, 0)], -1)
        pair_deals = np.zeros((len(teams), len(role_pairs)))
        pair_rates = np.full((len(teams), len(role_pairs)), np.nan)
        for k, (i, j) in enumerate(role_pairs):
            both = (rows[:, i] >= 0) & (rows[:, j] >= 0)
            joint = self.history.pair_arrays(team_codes[:, i], team_codes[:, j], query.as_of)
            pair_deals[:, k] = joint[JOINT_DEALS]
            pair_rates[:, k] = np.where(both, joint[JOINT_WIN_RATE], np.nan)

        registered_row = row_of.get(query.registered_partner_id) if query.registered_partner_id else None
        registered = (
            (rows == registered_row).any(axis=1) if registered_row is not None else np.zeros(len(teams))
        )
        conflict_pairs = np.zeros(len(teams))
        if len(self._conflict_keys):
            n = len(self._ids)
            for i, j in role_pairs:
                a, b = rows[:, i], rows[:, j]
                keys = np.minimum(a, b) * n + np.maximum(a, b)
                conflict_pairs += (a >= 0) & (b >= 0) & np.isin(keys, self._conflict_keys)
        return assemble(
            TeamInputs(
                slots=slots,
                member=member_values,
                skill_similarity=block.skill_similarity,
                pair_deals=pair_deals,
                pair_rates=pair_rates,
                registered_on_team=registered,
                log_deal_size=log_deal_size,
                base_rate=self.history.base_rate(query.as_of),
                tag_similarity=block.tag_similarity if len(opp.skill_vectors) else None,
                conflict_pairs=conflict_pairs,
                association=block.association,
                evidence=block.evidence,
            )
        )

    def remember_members(self, opp: PreparedOpportunity, partner_ids: Sequence[str]) -> None:
        """Compute the member features of these partners once for this request (the beam search's pool).

        Later `team_features` calls on the same opportunity gather from it instead of recomputing history
        stats and skill matches per stage.
        """
        rows = np.unique(np.asarray([self._row_of[p] for p in partner_ids if p in self._row_of], np.int64))
        opp.memo["members"] = (self._generation, self._compute_member_block(opp, rows))

    def _member_block(self, opp: PreparedOpportunity, members: np.ndarray) -> MemberBlock:
        remembered = opp.memo.get("members")
        if remembered is not None and remembered[0] == self._generation and len(remembered[1].rows):
            block: MemberBlock = remembered[1]
            positions = np.minimum(np.searchsorted(block.rows, members), len(block.rows) - 1)
            if np.array_equal(block.rows[positions], members):
                return block.take(positions)
        return self._compute_member_block(opp, members)

    def _compute_member_block(self, opp: PreparedOpportunity, members: np.ndarray) -> MemberBlock:
        """Everything per member that `team_features` needs, for sorted unique partner rows."""
        query = opp.query
        codes = self._history_code[members]
        stats = self.history.stats_arrays(
            codes,
            query.as_of,
            industry=query.customer_industry,
            region=query.region,
            skills=query.required_skills,
        )
        vectors = self._vectors[members]
        capacity = self._capacity[members]
        open_now = stats[OPEN_ENGAGEMENTS]
        load = np.where(
            np.isnan(capacity), 0.0, np.where(capacity > 0, open_now / np.maximum(capacity, 1), 1.0)
        )
        member_values = {
            "text_similarity": vectors @ opp.vector,
            "region_match": self._has(self._regions, members, query.region),
            "industry_match": self._has(self._industries, members, query.customer_industry),
            "tier_rank": self._tier[members],
            "valid_certifications": self._valid_certifications(members, query.as_of),
            "win_rate": stats[WIN_RATE],
            "industry_win_rate": stats[INDUSTRY_WIN_RATE],
            "region_win_rate": stats[REGION_WIN_RATE],
            "deals": stats[DEALS],
            "industry_deals": stats[INDUSTRY_DEALS],
            "cold_start": (stats[DEALS] == 0).astype(np.float64),
            "capacity_load": load,
            "median_days_to_close": np.nan_to_num(stats[MEDIAN_DAYS_TO_CLOSE], nan=0.0),
            "days_since_last_win": np.minimum(
                np.nan_to_num(stats[DAYS_SINCE_LAST_WIN], nan=DAYS_CAP), DAYS_CAP
            ),
            "sourced_deals": stats[SOURCED_DEALS],
            "psat": self._psat[members],
        }
        deal_size = query.deal_size if query.deal_size is not None and math.isfinite(query.deal_size) else 0.0
        log_deal_size = math.log1p(max(deal_size, 0.0))
        # Needs to match tags and certifications against: the skill phrases, else the opportunity text.
        needs = opp.skill_vectors if len(opp.skill_vectors) else opp.vector.reshape(1, -1)
        tag_similarity = self._best_tag_match(members, needs)
        member_size = stats[MEAN_LOG_DEAL_SIZE]
        member_values.update(
            {
                "skill_match": tag_similarity.mean(axis=1),
                "matching_certifications": self._valid_certifications(members, query.as_of, needs),
                "skill_win_rate": stats[SKILL_WIN_RATE],
                "recency_win_rate": stats[RECENCY_WIN_RATE],
                "influenced_deals": stats[INFLUENCED_DEALS],
                "log_sourced_revenue": np.log1p(stats[SOURCED_REVENUE]),
                "log_influenced_revenue": np.log1p(stats[INFLUENCED_REVENUE]),
                "deal_size_gap": np.where(
                    np.isfinite(member_size) & (deal_size > 0), log_deal_size - member_size, 0.0
                ),
            }
        )
        skill_similarity = vectors @ opp.skill_vectors.T
        association = self._association_of(opp)
        tag_association = self._best_tag_association(members, association)
        cert_association = self._best_cert_association(members, association, query.as_of)
        member_values["tag_association"] = _row_mean(tag_association)
        member_values["certification_association"] = _row_mean(cert_association)
        evidence = self._skill_evidence(members, association, query.as_of)
        member_values["skill_evidence"] = _row_mean(evidence)

        return MemberBlock(
            rows=members,
            values=member_values,
            skill_similarity=skill_similarity,
            tag_similarity=tag_similarity,
            association=np.maximum(tag_association, cert_association),
            evidence=evidence,
        )

    def _has(self, sets: Sequence[frozenset[str]], rows: np.ndarray, value: str | None) -> np.ndarray:
        if value is None:
            return np.zeros(len(rows))
        key = (id(sets), value)
        mask = self._membership.get(key)
        if mask is None:
            mask = np.fromiter((value in members for members in sets), dtype=np.float64, count=len(sets))
            self._membership[key] = mask
        return mask[rows]

    def _best_tag_match(self, rows: np.ndarray, needs: np.ndarray) -> np.ndarray:
        """(members, needs): cosine of each member's best skill tag to each need; 0 without tags."""
        owner, positions = segments(self._tag_offsets, rows)
        codes = self._tag_codes[positions]
        known = codes >= 0
        if not known.any():
            return np.zeros((len(rows), len(needs)))
        # Similarity per distinct phrase once, then gathered per tag occurrence.
        phrase_similarity = self._phrase_vectors @ needs.T
        out = _segment_max(owner[known], phrase_similarity[codes[known]], len(rows), fill=0.0)
        out[out < -0.5] = 0.0
        return out

    def _association_needs(self, query: OpportunityQuery) -> list[str]:
        """The skill tags to match partners against: the request's plus those its description implies.

        Buyers often tag only part of what the description asks for (or nothing at all); on the 3k/30k
        generated ecosystem adding the implied tags raised the top-1 team's true win probability on the
        calibration slice from 0.566 (inferred only for untagged requests) to 0.573.
        """
        inferred = self.associations.infer_needs(query.description)
        return list(dict.fromkeys([*query.required_skills, *inferred]))

    def _association_rows(self, needs: Sequence[str]) -> np.ndarray:
        """(needs, phrases) tag associations with columns in this engine's phrase order."""
        return self.associations.rows(list(needs), self._association_columns)

    def _association_of(self, opp: PreparedOpportunity) -> np.ndarray:
        """The opportunity's associations, computed in `prepare` unless the phrase list changed since."""
        if opp.association is not None and opp.generation == self._generation:
            return opp.association
        return self._association_rows(self._association_needs(opp.query))

    def _best_tag_association(self, rows: np.ndarray, association: np.ndarray) -> np.ndarray:
        """(members, needs): each member's best-associated skill tag per need; 0 without tags."""
        owner, positions = segments(self._tag_offsets, rows)
        return self._best_of(owner, self._tag_codes[positions], len(rows), association)

    def _skill_evidence(self, rows: np.ndarray, association: np.ndarray, as_of: date) -> np.ndarray:
        """(members, needs) in [0, 1]: per need, the strongest evidence that the member has the skill.

        A phrase matches a need through its skill group (`_skill_match_of`); the match is weighted by the
        kind of claim (EVIDENCE_WEIGHTS): a skill tag costs nothing to add, a phrase the partner's own
        description highlights is a public statement, a certification (held on the date or earlier) was
        examined. Kept per need, before any averaging: coverage is the best member per need, so evidence
        must be too.
        """
        match = self._skill_match_of(association)
        owner, positions = segments(self._tag_offsets, rows)
        tags = self._best_of(owner, self._tag_codes[positions], len(rows), match)
        owner, positions = segments(self._described_offsets, rows)
        described = self._best_of(owner, self._described_codes[positions], len(rows), match)
        owner, positions = segments(self._cert_offsets, rows)
        # Issued before the date, expired or not: a lapsed certificate still shows the skill was examined.
        valid = self._cert_issued[positions] <= to_day(as_of)
        level = self._cert_level[positions][valid]
        # Level weight 1 (associate) .. 2 (expert) onto the certification's evidence range.
        strength = EVIDENCE_WEIGHTS["certification"] + EVIDENCE_WEIGHTS["certification_level"] * (level - 1.0)
        codes = self._cert_codes[positions][valid]
        certified = self._best_of(owner[valid], codes, len(rows), match, strength)
        return np.maximum.reduce(
            [EVIDENCE_WEIGHTS["tag"] * tags, EVIDENCE_WEIGHTS["description"] * described, certified]
        )

    def _description_mentions(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """CSR (offsets, phrase codes) of the known phrases each description mentions.

        Scanning 100k descriptions costs ~1 s, and a partner upsert re-derives every partner: texts already
        scanned under the same phrase vocabulary are looked up, not scanned again.
        """
        vocabulary = tuple(self._phrase_names)
        if self._mention_cache[0] != vocabulary:
            self._mention_cache = (vocabulary, {})
        seen = self._mention_cache[1]
        fresh = [text for text in dict.fromkeys(texts) if text not in seen]
        if fresh:
            offsets, codes = _phrase_mentions(fresh, vocabulary)
            seen.update((text, codes[offsets[i] : offsets[i + 1]]) for i, text in enumerate(fresh))
        found = [seen[text] for text in texts]
        counts = np.fromiter(map(len, found), dtype=np.int64, count=len(found))
        offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        codes = np.concatenate(found) if found else np.zeros(0, dtype=np.int64)
        return offsets, codes.astype(np.int64)

    def _phrase_skills(self) -> np.ndarray:
        """Skill group of each phrase: phrases the same partners hold (tags, certifications, described
        phrases) name the same skill in different words; -1 for a phrase no partner shares with another."""
        n_rows, n_phrases = len(self._ids), len(self._phrase_names)
        owners, codes = [], []
        for offsets, phrase_codes in (
            (self._tag_offsets, self._tag_codes),
            (self._cert_offsets, self._cert_codes),
            (self._described_offsets, self._described_codes),
        ):
            owner, positions = segments(offsets, np.arange(n_rows))
            known = phrase_codes[positions] >= 0
            owners.append(owner[known])
            codes.append(phrase_codes[positions][known])
        return _co_holding_groups(np.concatenate(owners), np.concatenate(codes), n_rows, n_phrases)

    def _skill_match_of(self, association: np.ndarray) -> np.ndarray:
        """(needs, phrases) in [0, 1]: how surely each phrase names a skill the need asks for.

        Co-staffing associations of single phrases are noisy (one staffed partner's other skills leak in);
        averaged over a phrase's skill group they are not. Per need, relative to its best group, squared to
        push unrelated groups towards 0.
        """
        groups = self._phrase_skill
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

    def _best_cert_association(self, rows: np.ndarray, association: np.ndarray, as_of: date) -> np.ndarray:
        """(members, needs): best association per need among certifications valid on `as_of`."""
        owner, positions = segments(self._cert_offsets, rows)
        day = to_day(as_of)
        valid = (self._cert_issued[positions] <= day) & (self._cert_expires[positions] > day)
        return self._best_of(
            owner[valid],
            self._cert_codes[positions][valid],
            len(rows),
            association,
            self._cert_level[positions][valid],
        )

    @staticmethod
    def _best_of(
        owner: np.ndarray,
        codes: np.ndarray,
        n: int,
        association: np.ndarray,
        weights: np.ndarray | None = None,
    ) -> np.ndarray:
        known = codes >= 0
        if not (association.shape[0] and known.any()):
            return np.zeros((n, association.shape[0]))
        values = association[:, codes[known]].T
        if weights is not None:
            values = values * weights[known, None]
        return np.maximum(_segment_max(owner[known], values, n, fill=0.0), 0.0)

    def _valid_certifications(
        self, rows: np.ndarray, as_of: date, needs: np.ndarray | None = None
    ) -> np.ndarray:
        """Certifications valid on `as_of` per member; with `needs`, only those matching a need."""
        owner, positions = segments(self._cert_offsets, rows)
        if len(positions) == 0:
            return np.zeros(len(rows))
        day = to_day(as_of)
        valid = (self._cert_issued[positions] <= day) & (self._cert_expires[positions] > day)
        if needs is not None:
            codes = self._cert_codes[positions]
            # Whether each distinct phrase matches a need, once, then gathered per certification.
            phrase_matches = (self._phrase_vectors @ needs.T).max(axis=1) >= CERT_MATCH_MIN
            valid &= (codes >= 0) & phrase_matches[np.maximum(codes, 0)]
        return np.bincount(owner, weights=valid.astype(np.float64), minlength=len(rows))

    # -- lookup ------------------------------------------------------------------------------------------
    def known_partner_ids(self) -> frozenset[str]:
        """Every partner in the build, active or not (past teams may include inactive partners)."""
        return frozenset(self._row_of)

    def knows(self, partner_id: str) -> bool:
        """Whether the build holds this partner (one dict lookup, no copy of the ids)."""
        return partner_id in self._row_of

    def role_of(self, partner_id: str) -> str | None:
        """The partner's role, or None for an unknown id, without building its whole profile."""
        row = self._row_of.get(partner_id)
        return None if row is None else str(self._role[row])

    def partner(self, partner_id: str) -> dict[str, Any]:
        """The partner's profile as plain Python values (for explanations and the UI)."""
        row = self._row_of.get(partner_id)
        if row is None:
            raise KeyError(partner_id)
        # Profiles are read per team member on every response: build each once (a pandas row costs ~0.3 ms).
        cached = self._profiles.get(row)
        if cached is None:
            cached = self._profile(row)
            self._profiles[row] = cached
        return {k: list(v) if isinstance(v, list) else v for k, v in cached.items()}

    def _profile(self, row: int) -> dict[str, Any]:
        if self._partner_columns is None:
            # Column arrays, built on first use: reading one row of them is ~50x cheaper than `iloc`.
            self._partner_columns = {c: self._partners[c].to_numpy(dtype=object) for c in PARTNER_COLUMNS}
        out: dict[str, Any] = {}
        for column in PARTNER_COLUMNS:
            value = self._partner_columns[column][row]
            if column in s.LIST_COLUMNS[s.PARTNERS]:
                out[column] = [str(v) for v in value]
            elif value is None or (not isinstance(value, str) and pd.isna(value)):
                out[column] = None
            elif isinstance(value, pd.Timestamp):
                out[column] = value.date()
            elif isinstance(value, np.generic):
                out[column] = value.item()
            else:
                out[column] = value
        out["role"] = out[s.PARTNER_TYPE]
        return out

    # -- persistence -------------------------------------------------------------------------------------
    def save(self, directory: Path) -> dict[str, str]:
        """Write the engine as parquet / npy / npz / json (never pickle); returns file name → sha256."""
        directory.mkdir(parents=True, exist_ok=True)
        self._partners.to_parquet(directory / PARTNERS_FILE, index=False)
        self._certifications.to_parquet(directory / CERTIFICATIONS_FILE, index=False)
        np.save(directory / VECTORS_FILE, self._vectors, allow_pickle=False)
        self.history.save(directory / HISTORY_FILE)
        self.associations.save(directory / ASSOCIATIONS_FILE)
        with (directory / PHRASES_FILE).open("wb") as fh:
            np.savez(
                fh,
                phrases=np.asarray(self._phrase_names, dtype=np.str_),
                vectors=self._phrase_vectors,
            )
        checksums = {}
        for role, index in self.indexes.items():
            checksums[index_file(role)] = index.save(directory / index_file(role))
        meta = {
            "roles": list(self.roles),
            "embedder_id": self.embedder_id,
            "feature_version": self.feature_version,
            "feature_names": list(self.feature_names),
        }
        (directory / ENGINE_META).write_text(json.dumps(meta, indent=2))
        for name in (
            PARTNERS_FILE,
            CERTIFICATIONS_FILE,
            VECTORS_FILE,
            HISTORY_FILE,
            ASSOCIATIONS_FILE,
            PHRASES_FILE,
            ENGINE_META,
        ):
            checksums[name] = file_sha256(directory / name)
        return dict(sorted(checksums.items()))

    @classmethod
    def load(
        cls, directory: Path, embedder: Embedder, checksums: Mapping[str, str] | None = None
    ) -> FeatureEngine:
        """Load a saved engine; any checksum mismatch, missing file or different embedder is a ValueError."""
        for name, expected in (checksums or {}).items():
            path = directory / name
            if not path.is_file():
                raise ValueError(f"feature build file {path} is missing")
            if (actual := file_sha256(path)) != expected:
                raise ValueError(f"feature build file {path} has sha256 {actual}, expected {expected}")
        meta = json.loads((directory / ENGINE_META).read_text())
        if meta["embedder_id"] != embedder.model_id:
            raise ValueError(
                f"feature build at {directory} was embedded with {meta['embedder_id']}, "
                f"not {embedder.model_id}"
            )
        if meta["feature_version"] != FEATURE_VERSION:
            raise ValueError(
                f"feature build at {directory} has feature version {meta['feature_version']}, "
                f"this code computes version {FEATURE_VERSION}"
            )
        roles = tuple(meta["roles"])
        partners = _clean_partners(pd.read_parquet(directory / PARTNERS_FILE))
        certifications = _clean_certifications(pd.read_parquet(directory / CERTIFICATIONS_FILE))
        vectors = np.load(directory / VECTORS_FILE, allow_pickle=False)
        # Checksums were verified above; RoleIndex.load re-checks only when asked to.
        indexes = {role: RoleIndex.load(directory / index_file(role)) for role in roles}
        history = PartnerHistory.load(directory / HISTORY_FILE)
        associations_path = directory / ASSOCIATIONS_FILE
        associations = TagAssociation.load(associations_path) if associations_path.is_file() else None
        with np.load(directory / PHRASES_FILE, allow_pickle=False) as data:
            phrases = dict(zip(data["phrases"].tolist(), data["vectors"], strict=True))
        return cls(
            roles=roles,
            embedder=embedder,
            partners=partners,
            certifications=certifications,
            vectors=vectors,
            indexes=indexes,
            history=history,
            phrases=phrases,
            associations=associations,
        )


def _row_mean(values: np.ndarray) -> np.ndarray:
    """Mean per row; 0 for rows of an empty (no required skills) matrix."""
    return values.mean(axis=1) if values.shape[1] else np.zeros(values.shape[0])


def _embed_in_chunks(embedder: Embedder, texts: Sequence[str], show_progress: bool) -> np.ndarray:
    chunks = range(0, len(texts), EMBED_CHUNK)
    if show_progress:
        from rich.progress import track

        chunks = track(chunks, description="Embedding partner profiles")  # type: ignore[assignment]
    parts = [embedder.encode(texts[start : start + EMBED_CHUNK]) for start in chunks]
    if not parts:
        return np.zeros((0, embedder.dim), dtype=np.float32)
    return np.ascontiguousarray(np.concatenate(parts), dtype=np.float32)


def _created_before(tables: EcosystemTables, until: date | None) -> EcosystemTables:
    """The tables restricted to opportunities created before `until` (and their deal seats)."""
    if until is None:
        return tables
    opps = tables.opportunities[tables.opportunities[s.CREATED_AT] < pd.Timestamp(until)]
    seats = tables.deal_partners[tables.deal_partners[s.OPPORTUNITY_ID].isin(opps[s.OPPORTUNITY_ID])]
    return EcosystemTables(
        partners=tables.partners,
        certifications=tables.certifications,
        opportunities=opps,
        deal_partners=seats,
    )


def _phrase_mentions(texts: Sequence[str], phrases: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
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


def _co_holding_groups(owner: np.ndarray, code: np.ndarray, n_owners: int, n_phrases: int) -> np.ndarray:
    """Connected groups of phrases linked to their CO_HOLDING_NEIGHBOURS most co-held phrases (positive
    PMI over holders, at least ASSOCIATION_MIN_COUNT shared holders); -1 for phrases with no link.

    Sparse throughout: a real export can hold tens of thousands of free-text tags, whose dense
    co-holding matrix would not fit in memory.
    """
    from scipy.sparse import coo_matrix, csr_matrix
    from scipy.sparse.csgraph import connected_components

    held = csr_matrix((np.ones(len(owner)), (owner, code)), shape=(n_owners, n_phrases))
    held.data[:] = 1.0  # a phrase held twice by one partner (tag and certificate) counts once
    count = np.asarray(held.sum(axis=0)).ravel()
    together = (held.T @ held).tocoo()
    i, j, shared = together.row, together.col, together.data
    keep = (i != j) & (shared >= ASSOCIATION_MIN_COUNT)
    i, j, shared = i[keep], j[keep], shared[keep]
    pmi = np.log(shared * max(n_owners, 1) / (count[i] * count[j]))
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


def _segment_max(owner: np.ndarray, values: np.ndarray, n: int, *, fill: float) -> np.ndarray:
    """Row-wise maximum of `values` per owner (owners ascending, as `segments` yields them); `fill` for
    owners with no values. `maximum.reduceat` over contiguous runs is far faster than `maximum.at`."""
    out = np.full((n, values.shape[1]), fill)
    if len(owner) == 0:
        return out
    starts = np.flatnonzero(np.concatenate([[True], owner[1:] != owner[:-1]]))
    out[owner[starts]] = np.maximum.reduceat(values, starts, axis=0)
    return out
