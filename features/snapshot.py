"""The feature snapshot: the fitted, immutable parts of one build, behind one door for training and serving.

`FeatureSnapshot.build` fits them from the ecosystem's tables; requests only read them. A partner change
builds a new snapshot (`with_partners`, `without_partner`) that the caller swaps in, the way a model
reload is, so readers never wait on a write lock.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd

from features import schema as s
from features.associations import TagAssociation
from features.catalog import PARTNER_COLUMNS, PartnerCatalog, clean_certifications, clean_partners
from features.checksums import file_sha256
from features.embeddings import Embedder
from features.featurizer import MemberBlock, TeamFeaturizer
from features.history import DEALS, PartnerHistory
from features.index import RoleIndex
from features.parallel import IN_PROCESS, Mapper
from features.prepared import PreparedOpportunity
from features.prior import PriorScorer, RolePostings, role_postings
from features.profiles import opportunity_text, partner_profile_texts
from features.records import EcosystemTables, OpportunityQuery
from features.retrieval import Retriever
from features.snapshot_updates import (
    certifications_of,
    embed_phrases,
    holdings,
    phrase_vocabulary,
    updated_parts,
    with_certifications,
    with_rows,
)
from features.team_features import FEATURE_VERSION, feature_descriptions, feature_names
from features.vocabulary import CoHolding, SkillVocabulary, held_matrix

logger = logging.getLogger(__name__)

EMBED_CHUNK: Final = 1024
ENGINE_META = "engine.json"
PARTNERS_FILE = "partners.parquet"
CERTIFICATIONS_FILE = "certifications.parquet"
VECTORS_FILE = "vectors.npy"
HISTORY_FILE = "history.npz"
PHRASES_FILE = "phrases.npz"
ASSOCIATIONS_FILE = "associations.npz"
# The phrases each partner's description mentions, as the build found them: loading reuses them instead of
# scanning every description again (17.6 of 37.7 s of loading 1M partners).
DESCRIBED_FILE = "described.npz"


def index_file(role: str) -> str:
    return f"index-{role}.npz"


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


def _conflict_keys(catalog: PartnerCatalog, pairs: frozenset[frozenset[str]]) -> np.ndarray:
    n = len(catalog)
    keys = []
    for pair in pairs:
        rows = sorted(catalog.row_of[p] for p in pair if p in catalog.row_of)
        if len(rows) == 2:
            keys.append(rows[0] * n + rows[1])
    return np.unique(np.asarray(keys, dtype=np.int64))


@dataclass(frozen=True)
class FeatureSnapshot:
    """Partner catalog, skill vocabulary, deal history, role indexes, retriever and team featurizer."""

    roles: tuple[str, ...]
    embedder: Embedder
    catalog: PartnerCatalog
    vocabulary: SkillVocabulary
    history: PartnerHistory
    indexes: Mapping[str, RoleIndex]
    vectors: np.ndarray
    retriever: Retriever
    featurizer: TeamFeaturizer
    # Partner pairs flagged as channel conflicts (contract v1 has no such table; callers may set them).
    conflicts: frozenset[frozenset[str]] = frozenset()
    # Per role: active partner ids, catalog rows and history codes, built on first use by `companions`.
    _role_members: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    # -- fitting -------------------------------------------------------------------------------------
    @classmethod
    def build(
        cls,
        tables: EcosystemTables,
        embedder: Embedder,
        *,
        roles: Sequence[str] = s.DEFAULT_ROLES,
        show_progress: bool = False,
        associations_until: date | None = None,
        index_exact_max: int | None = None,
        mapper: Mapper = IN_PROCESS,
    ) -> FeatureSnapshot:
        """Embed partner profiles (in batches), index the active partners of each role, index deal history.

        Inactive partners are embedded too: past teams that included them still need their features.
        Tag associations are learned from deals created before `associations_until` when it is given, so
        a training run's later (calibration and test) deals never shape the features it is judged on.
        With a cluster's `mapper`, the history's parallel parts run on its workers while this process
        embeds and builds the rest.
        """
        pending_associations = TagAssociation.submit(_created_before(tables, associations_until), mapper)
        partners = clean_partners(tables.partners)
        certifications = clean_certifications(tables.certifications)
        texts = partner_profile_texts(partners, certifications).tolist()
        vectors = _embed_in_chunks(embedder, texts, show_progress)
        indexes: dict[str, RoleIndex] = {}
        for role in roles:
            rows = np.flatnonzero(
                (
                    (partners[s.PARTNER_TYPE] == role) & (partners[s.STATUS] == s.DEFAULT_PARTNER_STATUS)
                ).to_numpy()
            )
            indexes[role] = RoleIndex.build(
                partners[s.PARTNER_ID].to_numpy()[rows].tolist(), vectors[rows], exact_max=index_exact_max
            )
            logger.info("role %s: %d active partners indexed (%s)", role, len(rows), indexes[role].kind)
        return cls.fit(
            roles=roles,
            embedder=embedder,
            partners=partners,
            certifications=certifications,
            vectors=vectors,
            indexes=indexes,
            history=PartnerHistory.build(tables, mapper),
            associations=pending_associations(),
        )

    @classmethod
    def fit(
        cls,
        *,
        roles: Sequence[str],
        embedder: Embedder,
        partners: pd.DataFrame,
        certifications: pd.DataFrame,
        vectors: np.ndarray,
        indexes: Mapping[str, RoleIndex],
        history: PartnerHistory,
        associations: TagAssociation,
        phrases: Mapping[str, np.ndarray] | None = None,
        conflicts: frozenset[frozenset[str]] = frozenset(),
        previous: SkillVocabulary | None = None,
    ) -> FeatureSnapshot:
        """The parts of a snapshot from cleaned partner and certification frames and their vectors.

        Skill tags and certification names are embedded once (through the embedder's cache) and kept;
        `previous`, the vocabulary of the snapshot this one replaces, lends its description scans when
        the phrase list is unchanged.
        """
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        phrase_map = embed_phrases(embedder, phrases or {}, phrase_vocabulary(partners, certifications))
        vocabulary = SkillVocabulary.of(phrase_map, associations, vectors.shape[1])
        if previous is not None and previous.names == vocabulary.names:
            vocabulary = SkillVocabulary(
                vocabulary.names,
                vocabulary.vectors,
                associations,
                association_columns=vocabulary.association_columns,
                mention_cache=previous.mention_cache,
            )
        ids = partners[s.PARTNER_ID].tolist()
        catalog = PartnerCatalog.build(
            partners,
            certifications,
            phrases=vocabulary.index,
            history_code=history.codes(ids),
            # Phrases each partner's own description highlights: a skill tag anyone can add, a profile
            # sentence naming the partner's strengths is a costlier claim, so it counts as evidence.
            described=vocabulary.mentions(partners[s.DESCRIPTION].tolist()),
        )
        every = np.arange(len(catalog))
        holding = CoHolding.of(held_matrix(holdings(catalog), every, len(vocabulary.names)))
        vocabulary = vocabulary.with_groups(holding.groups(), holding)
        return cls._assembled(
            roles=tuple(roles),
            embedder=embedder,
            catalog=catalog,
            vocabulary=vocabulary,
            history=history,
            indexes=indexes,
            vectors=vectors,
            postings={role: role_postings(catalog, role, len(vocabulary.names)) for role in roles},
            conflicts=conflicts,
        )

    @classmethod
    def _assembled(
        cls,
        *,
        roles: tuple[str, ...],
        embedder: Embedder,
        catalog: PartnerCatalog,
        vocabulary: SkillVocabulary,
        history: PartnerHistory,
        indexes: Mapping[str, RoleIndex],
        vectors: np.ndarray,
        postings: Mapping[str, RolePostings],
        conflicts: frozenset[frozenset[str]],
    ) -> FeatureSnapshot:
        """A snapshot of fitted parts: the retriever and the featurizer are thin views over them."""

        def available(rows: np.ndarray, as_of: date) -> np.ndarray:
            return catalog.available(rows, history.open_engagements(catalog.history_code[rows], as_of))

        retriever = Retriever(
            catalog=catalog,
            indexes=dict(indexes),
            postings=dict(postings),
            prior=PriorScorer(catalog, vocabulary),
            available=available,
        )
        featurizer = TeamFeaturizer(
            roles=roles,
            catalog=catalog,
            vocabulary=vocabulary,
            history=history,
            vectors=vectors,
            conflict_keys=_conflict_keys(catalog, conflicts),
        )
        return cls(
            roles=roles,
            embedder=embedder,
            catalog=catalog,
            vocabulary=vocabulary,
            history=history,
            indexes=dict(indexes),
            vectors=vectors,
            retriever=retriever,
            featurizer=featurizer,
            conflicts=conflicts,
        )

    def _updated(
        self,
        partners: pd.DataFrame,
        certifications: pd.DataFrame,
        vectors: np.ndarray,
        indexes: Mapping[str, RoleIndex],
        rows: np.ndarray,
    ) -> FeatureSnapshot:
        """This snapshot once the catalog rows `rows` changed in the frames (features/snapshot_updates.py)."""
        parts = updated_parts(self, partners, certifications, rows)
        return self._assembled(
            roles=self.roles,
            embedder=self.embedder,
            catalog=parts.catalog,
            vocabulary=parts.vocabulary,
            history=self.history,
            indexes=indexes,
            vectors=vectors,
            postings=parts.postings,
            conflicts=self.conflicts,
        )

    # -- new snapshots -------------------------------------------------------------------------------
    def with_partners(
        self, partners: Sequence[Mapping[str, Any]], certifications: pd.DataFrame | None = None
    ) -> FeatureSnapshot:
        """A new snapshot with these partners added or replaced (their profiles embedded, their role
        indexes updated); this one is left as it was for the readers still using it.

        Each partner holds contract columns (missing ones read as empty); `certifications`, when given,
        replaces the certifications of every listed partner. Deal history is not touched. A partner
        listed twice takes its last listing.
        """
        rows = clean_partners(pd.DataFrame([{c: p.get(c) for c in PARTNER_COLUMNS} for p in partners]))
        rows = rows.drop_duplicates(s.PARTNER_ID, keep="last").reset_index(drop=True)
        ids = set(rows[s.PARTNER_ID])
        certs = self.catalog.certifications
        if certifications is not None:
            certs = with_certifications(certs, clean_certifications(certifications), ids)
        # Only the listed partners' certifications: grouping every partner's cost 21 s at 1M partners.
        listed = certifications_of(certs, ids)
        new_vectors = np.asarray(
            self.embedder.encode(partner_profile_texts(rows, listed).tolist()), dtype=np.float32
        ).reshape(len(rows), -1)
        frame, at = with_rows(self.catalog.partners, rows, self.catalog.row_of)
        vectors = np.concatenate([self.vectors, new_vectors[at >= len(self.catalog)]])
        replaced = at < len(self.catalog)
        vectors[at[replaced]] = new_vectors[replaced]
        indexes = {role: index.copy() for role, index in self.indexes.items()}
        for pid, role, status, vector in zip(
            rows[s.PARTNER_ID], rows[s.PARTNER_TYPE], rows[s.STATUS], new_vectors, strict=True
        ):
            for name, index in indexes.items():
                if name == role and status == s.DEFAULT_PARTNER_STATUS:
                    index.upsert(pid, vector)
                else:
                    index.remove(pid)
        order = np.argsort(at)
        return self._updated(frame, certs, vectors, _compacted(indexes), at[order])

    def without_partner(self, partner_id: str) -> FeatureSnapshot:
        """A new snapshot where the partner is inactive: never a candidate, still known for past teams."""
        row = self.catalog.row_of[partner_id]
        frame = self.catalog.partners.copy()
        # schema names the statuses as (active, inactive); the second is the only non-default one.
        frame.loc[row, s.STATUS] = next(x for x in s.PARTNER_STATUSES if x != s.DEFAULT_PARTNER_STATUS)
        indexes = {role: index.copy() for role, index in self.indexes.items()}
        for index in indexes.values():
            index.remove(partner_id)
        rows = np.asarray([row], dtype=np.int64)
        return self._updated(frame, self.catalog.certifications, self.vectors, _compacted(indexes), rows)

    def with_conflicts(self, pairs: frozenset[frozenset[str]]) -> FeatureSnapshot:
        """A new snapshot that knows these partner pairs as channel conflicts."""
        return self._assembled(
            roles=self.roles,
            embedder=self.embedder,
            catalog=self.catalog,
            vocabulary=self.vocabulary,
            history=self.history,
            indexes=self.indexes,
            vectors=self.vectors,
            postings=self.retriever.postings,
            conflicts=frozenset(frozenset(p) for p in pairs),
        )

    # -- the door requests use -----------------------------------------------------------------------
    @cached_property
    def feature_names(self) -> tuple[str, ...]:
        return feature_names(self.roles)

    @cached_property
    def feature_positions(self) -> dict[str, int]:
        """Feature name -> column of the team matrix (read for every suggested member's reasons)."""
        return {name: i for i, name in enumerate(self.feature_names)}

    @cached_property
    def feature_descriptions(self) -> dict[str, str]:
        return feature_descriptions(self.roles)

    @property
    def feature_version(self) -> int:
        return FEATURE_VERSION

    @property
    def embedder_id(self) -> str:
        return self.embedder.model_id

    def prepare(self, queries: Sequence[OpportunityQuery]) -> list[PreparedOpportunity]:
        """Embed each opportunity's text and its required-skill phrases, all in one encoder call."""
        texts = [opportunity_text(q) for q in queries]
        unique = list(dict.fromkeys([*texts, *(skill for q in queries for skill in q.required_skills)]))
        vectors = self.embedder.encode(unique) if unique else np.zeros((0, self.vectors.shape[1]), np.float32)
        position = {text: i for i, text in enumerate(unique)}
        dim = vectors.shape[1]
        return [
            PreparedOpportunity(
                query=q,
                vector=vectors[position[text]],
                skill_vectors=vectors[[position[skill] for skill in q.required_skills]].reshape(-1, dim),
                association=self.vocabulary.association_rows(self.vocabulary.needs_of(q)),
                vocabulary_id=id(self.vocabulary),
            )
            for q, text in zip(queries, texts, strict=True)
        ]

    def association_of(self, opp: PreparedOpportunity) -> np.ndarray:
        """The opportunity's (needs, phrases) associations, from `prepare` unless prepared elsewhere."""
        if opp.association is not None and opp.vocabulary_id == id(self.vocabulary):
            return opp.association
        return self.vocabulary.association_rows(self.vocabulary.needs_of(opp.query))

    def candidates(self, opp: PreparedOpportunity, role: str, n: int) -> list[str]:
        """Top-`n` available partners of `role` by profile similarity; the registered one first."""
        return self.retriever.text_candidates(opp, role, n)

    def prior_candidates(self, opp: PreparedOpportunity, role: str, n: int) -> list[str]:
        """Top-`n` available partners of `role` by the quality prior (see features.prior)."""
        return self.retriever.prior_candidates(opp, self.association_of(opp), role, n)

    def prior_scores(self, opp: PreparedOpportunity, partner_ids: Sequence[str]) -> np.ndarray:
        """The quality prior of these partners for the opportunity."""
        from features.prior import prior_layout

        layout = prior_layout(self.catalog, self.catalog.rows(partner_ids))
        return self.retriever.prior.scores(opp, self.association_of(opp), layout)

    def role_members(self, role: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Active partners of a role: ids, catalog rows and history codes (built once per snapshot)."""
        if role not in self._role_members:
            index = self.indexes[role]
            ids = index.partner_ids[index.alive]
            rows = self.catalog.rows([str(p) for p in ids])
            self._role_members[role] = (ids, rows, self.catalog.history_code[rows])
        return self._role_members[role]

    def member_block(self, opp: PreparedOpportunity, partner_ids: Sequence[str]) -> MemberBlock:
        """Member features of a request's candidate pool, computed once (pass to `team_features`)."""
        return self.featurizer.member_block(opp, self.association_of(opp), partner_ids)

    def team_features(
        self,
        opp: PreparedOpportunity,
        teams: Sequence[Mapping[str, str | None]],
        members: MemberBlock | None = None,
    ) -> np.ndarray:
        """(teams, features) float32 in `feature_names` order; every fact strictly before `as_of`."""
        return self.featurizer.team_features(opp, self.association_of(opp), teams, members)

    def available(self, partner_ids: Sequence[str], as_of: date) -> np.ndarray:
        """Whether each partner can take a deal on the date: known, active and below capacity."""
        known = [p in self.catalog.row_of for p in partner_ids]
        out = np.zeros(len(partner_ids), dtype=bool)
        rows = self.catalog.rows([p for p, k in zip(partner_ids, known, strict=True) if k])
        out[np.flatnonzero(known)] = self.retriever.available(rows, as_of)
        return out

    def cold_start(self, partner_ids: Sequence[str], as_of: date) -> np.ndarray:
        """The one meaning of cold start (as the member feature): no deal closed before `as_of`."""
        codes = self.history.codes(list(partner_ids))
        return self.history.stats_arrays(codes, as_of, industry=None, region=None)[DEALS] == 0

    def knows(self, partner_id: str) -> bool:
        return partner_id in self.catalog.row_of

    def known_partner_ids(self) -> frozenset[str]:
        """Every partner in the build, active or not (past teams may include inactive partners)."""
        return frozenset(self.catalog.row_of)

    def role_of(self, partner_id: str) -> str | None:
        return self.catalog.role_of(partner_id)

    def partner(self, partner_id: str) -> dict[str, Any]:
        """The partner's profile as plain Python values (a KeyError for an unknown id)."""
        return self.catalog.profile(partner_id)

    # -- persistence ---------------------------------------------------------------------------------
    def save(self, directory: Path) -> dict[str, str]:
        """Write the snapshot as parquet / npy / npz / json (never pickle); returns file name → sha256."""
        directory.mkdir(parents=True, exist_ok=True)
        self.catalog.partners.to_parquet(directory / PARTNERS_FILE, index=False)
        self.catalog.certifications.to_parquet(directory / CERTIFICATIONS_FILE, index=False)
        np.save(directory / VECTORS_FILE, self.vectors, allow_pickle=False)
        self.history.save(directory / HISTORY_FILE)
        self.vocabulary.associations.save(directory / ASSOCIATIONS_FILE)
        with (directory / PHRASES_FILE).open("wb") as fh:
            np.savez(
                fh, phrases=np.asarray(self.vocabulary.names, dtype=np.str_), vectors=self.vocabulary.vectors
            )
        with (directory / DESCRIBED_FILE).open("wb") as fh:
            np.savez(
                fh,
                phrases=np.asarray(self.vocabulary.names, dtype=np.str_),
                offsets=self.catalog.described_offsets,
                codes=self.catalog.described_codes,
            )
        checksums: dict[str, str] = {}
        for role, index in self.indexes.items():
            # One `.npz` per role, and for approximate indexes the plain FAISS file that loading maps.
            checksums.update(index.save(directory / index_file(role)))
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
            DESCRIBED_FILE,
            ENGINE_META,
        ):
            checksums[name] = file_sha256(directory / name)
        return dict(sorted(checksums.items()))

    @classmethod
    def load(
        cls, directory: Path, embedder: Embedder, checksums: Mapping[str, str] | None = None
    ) -> FeatureSnapshot:
        """Load a saved snapshot; any checksum mismatch, missing file or other embedder is a ValueError."""
        for name, expected in (checksums or {}).items():
            path = directory / name
            if not path.is_file():
                raise ValueError(f"feature build file {name} is missing")
            if (actual := file_sha256(path)) != expected:
                raise ValueError(f"feature build file {name} has sha256 {actual}, expected {expected}")
        meta = json.loads((directory / ENGINE_META).read_text())
        if meta["embedder_id"] != embedder.model_id:
            raise ValueError(
                f"feature build was embedded with {meta['embedder_id']}, not {embedder.model_id}"
            )
        if meta["feature_version"] != FEATURE_VERSION:
            raise ValueError(
                f"feature build has feature version {meta['feature_version']}, "
                f"this code computes version {FEATURE_VERSION}"
            )
        roles = tuple(meta["roles"])
        associations_path = directory / ASSOCIATIONS_FILE
        with np.load(directory / PHRASES_FILE, allow_pickle=False) as data:
            phrases = dict(zip(data["phrases"].tolist(), data["vectors"], strict=True))
        partners = clean_partners(pd.read_parquet(directory / PARTNERS_FILE))
        associations = (
            TagAssociation.load(associations_path) if associations_path.is_file() else TagAssociation.empty()
        )
        # Builds saved before the description scans were kept (or whose scans are not verified) scan again.
        scanned = directory / DESCRIBED_FILE
        kept = scanned.is_file() and (checksums is None or DESCRIBED_FILE in checksums)
        return cls.fit(
            roles=roles,
            embedder=embedder,
            partners=partners,
            certifications=clean_certifications(pd.read_parquet(directory / CERTIFICATIONS_FILE)),
            # Mapped read-only, like the approximate indexes: the workers of a server share the pages (a
            # partner change copies the array into the new snapshot).
            vectors=np.load(directory / VECTORS_FILE, mmap_mode="r", allow_pickle=False),
            # Checksums were verified above; RoleIndex.load re-checks only when asked to.
            indexes={role: RoleIndex.load(directory / index_file(role)) for role in roles},
            history=PartnerHistory.load(directory / HISTORY_FILE),
            associations=associations,
            phrases=phrases,
            previous=_saved_scans(scanned, partners, associations) if kept else None,
        )


def _saved_scans(path: Path, partners: pd.DataFrame, associations: TagAssociation) -> SkillVocabulary | None:
    """A vocabulary that lends `fit` the description scans saved with the build (`fit` uses them when its
    phrases are the same); None when they do not match the partners."""
    with np.load(path, allow_pickle=False) as data:
        names = tuple(data["phrases"].tolist())
        offsets, codes = data["offsets"], data["codes"]
    descriptions = partners[s.DESCRIPTION].tolist()
    if len(offsets) != len(descriptions) + 1:
        return None
    cache = dict(zip(descriptions, np.split(codes, offsets[1:-1]), strict=True))
    return SkillVocabulary(names, np.zeros((len(names), 0), np.float32), associations, mention_cache=cache)


def _compacted(indexes: dict[str, RoleIndex]) -> dict[str, RoleIndex]:
    out = {}
    for role, index in indexes.items():
        if index.needs_compaction:
            logger.info("role %s: compacting index (%d tombstones)", role, index.tombstones)
            index = index.compact()
        out[role] = index
    return out
