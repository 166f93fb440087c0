"""The one feature code path for training and serving: retrieval per role and the team feature matrix."""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from itertools import combinations
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd

from features import schema as s
from features.embeddings import Embedder
from features.history import (
    DAYS_SINCE_LAST_WIN,
    DEALS,
    INDUSTRY_DEALS,
    INDUSTRY_WIN_RATE,
    JOINT_DEALS,
    JOINT_WIN_RATE,
    MEDIAN_DAYS_TO_CLOSE,
    OPEN_ENGAGEMENTS,
    REGION_WIN_RATE,
    SOURCED_DEALS,
    WIN_RATE,
    PartnerHistory,
    to_day,
)
from features.index import RoleIndex, file_sha256
from features.profiles import opportunity_text, partner_profile_texts
from features.records import EcosystemTables, OpportunityQuery
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


def _clean_partners(partners: pd.DataFrame) -> pd.DataFrame:
    frame = partners.reindex(columns=list(PARTNER_COLUMNS)).sort_values(s.PARTNER_ID, kind="stable")
    frame = frame.reset_index(drop=True)
    frame[s.PARTNER_ID] = frame[s.PARTNER_ID].astype(str)
    frame[s.TIER] = frame[s.TIER].fillna(s.DEFAULT_TIER)
    frame[s.STATUS] = frame[s.STATUS].fillna(s.DEFAULT_PARTNER_STATUS)
    for column in s.LIST_COLUMNS[s.PARTNERS]:
        frame[column] = [list(v) if isinstance(v, list | tuple | np.ndarray) else [] for v in frame[column]]
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
    ) -> None:
        self.roles = tuple(roles)
        self.feature_names = feature_names(self.roles)
        self.feature_descriptions = feature_descriptions(self.roles)
        self.feature_version = FEATURE_VERSION
        self.embedder = embedder
        self.embedder_id = embedder.model_id
        self.indexes = dict(indexes)
        self.history = history
        self._partners = partners
        self._certifications = certifications
        self._vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        # Per-partner arrays in row order, so a team's members are gathered with one fancy index.
        self._ids = partners[s.PARTNER_ID].to_numpy(dtype=object)
        self._row_of = {pid: i for i, pid in enumerate(self._ids)}
        self._role = partners[s.PARTNER_TYPE].to_numpy(dtype=object)
        self._active = (partners[s.STATUS] == s.DEFAULT_PARTNER_STATUS).to_numpy()
        self._tier = partners[s.TIER].map(s.TIER_RANK).fillna(0).to_numpy(dtype=np.float64)
        self._capacity = pd.to_numeric(partners[s.CAPACITY], errors="coerce").to_numpy(dtype=np.float64)
        self._regions = [frozenset(v) for v in partners[s.REGIONS]]
        self._industries = [frozenset(v) for v in partners[s.INDUSTRIES]]
        self._history_code = history.codes(list(self._ids))
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
        counts = np.bincount(cert_rows[keep], minlength=len(self._ids))
        self._cert_offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)

    # -- building ------------------------------------------------------------------------------------
    @classmethod
    def build(
        cls,
        tables: EcosystemTables,
        embedder: Embedder,
        *,
        roles: Sequence[str] = s.DEFAULT_ROLES,
        show_progress: bool = False,
    ) -> FeatureEngine:
        """Embed partner profiles (in batches), index the active partners of each role, index deal history.

        Inactive partners are embedded too: past teams that included them still need their features.
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
        )

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

        codes = self._history_code[members]
        stats = self.history.stats_arrays(
            codes, query.as_of, industry=query.customer_industry, region=query.region
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
        }
        skill_similarity = vectors @ opp.skill_vectors.T

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
        deal_size = query.deal_size if query.deal_size is not None and math.isfinite(query.deal_size) else 0.0
        return assemble(
            TeamInputs(
                slots=slots,
                member=member_values,
                skill_similarity=skill_similarity,
                pair_deals=pair_deals,
                pair_rates=pair_rates,
                registered_on_team=registered,
                log_deal_size=math.log1p(max(deal_size, 0.0)),
                base_rate=self.history.base_rate(query.as_of),
            )
        )

    @staticmethod
    def _has(sets: Sequence[frozenset[str]], rows: np.ndarray, value: str | None) -> np.ndarray:
        if value is None:
            return np.zeros(len(rows))
        return np.fromiter((value in sets[r] for r in rows), dtype=np.float64, count=len(rows))

    def _valid_certifications(self, rows: np.ndarray, as_of: date) -> np.ndarray:
        starts = self._cert_offsets[rows]
        lengths = self._cert_offsets[rows + 1] - starts
        total = int(lengths.sum())
        if total == 0:
            return np.zeros(len(rows))
        # Flatten every member's slice of the certification arrays without a Python loop.
        owner = np.repeat(np.arange(len(rows)), lengths)
        positions = np.repeat(starts - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths) + np.arange(
            total
        )
        day = to_day(as_of)
        valid = (self._cert_issued[positions] <= day) & (self._cert_expires[positions] > day)
        return np.bincount(owner, weights=valid.astype(np.float64), minlength=len(rows))

    # -- lookup ------------------------------------------------------------------------------------------
    def known_partner_ids(self) -> frozenset[str]:
        """Every partner in the build, active or not (past teams may include inactive partners)."""
        return frozenset(self._row_of)

    def partner(self, partner_id: str) -> dict[str, Any]:
        """The partner's profile as plain Python values (for explanations and the UI)."""
        row = self._row_of.get(partner_id)
        if row is None:
            raise KeyError(partner_id)
        record = self._partners.iloc[row]
        out: dict[str, Any] = {}
        for column in PARTNER_COLUMNS:
            value = record[column]
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
        for name in (PARTNERS_FILE, CERTIFICATIONS_FILE, VECTORS_FILE, HISTORY_FILE, ENGINE_META):
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
        return cls(
            roles=roles,
            embedder=embedder,
            partners=partners,
            certifications=certifications,
            vectors=vectors,
            indexes=indexes,
            history=history,
        )


def _embed_in_chunks(embedder: Embedder, texts: Sequence[str], show_progress: bool) -> np.ndarray:
    chunks = range(0, len(texts), EMBED_CHUNK)
    if show_progress:
        from rich.progress import track

        chunks = track(chunks, description="Embedding partner profiles")  # type: ignore[assignment]
    parts = [embedder.encode(texts[start : start + EMBED_CHUNK]) for start in chunks]
    if not parts:
        return np.zeros((0, embedder.dim), dtype=np.float32)
    return np.ascontiguousarray(np.concatenate(parts), dtype=np.float32)
