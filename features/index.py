"""Per-role nearest-neighbour index (FAISS inner product, unit vectors): upserts, removals, checksummed file.

Exact (flat) indexes remove vectors in place; large roles scan half-precision copies (flat16). HNSW
graphs cannot delete, so a removed or replaced partner leaves a tombstone: its old vector stays in the
graph, searches fetch extra hits and drop tombstoned ids, and `compact()` (or a rebuild once
`needs_compaction`) drops them for good.
"""

from __future__ import annotations

import io
import logging
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from features.checksums import file_sha256

logger = logging.getLogger(__name__)

FLAT = "flat"
FLAT16 = "flat16"  # exact scan over half-precision vectors: half the memory read per query
HNSW = "hnsw"
AUTO = "auto"
INDEX_KINDS = (FLAT, FLAT16, HNSW)
EXACT_KINDS = (FLAT, FLAT16)  # every vector scanned, removals in place
# `auto` scans half precision from this many partners on: the scan is bound by memory there (100k partners,
# roles of 24k-43k: retrieval 4.4 -> 3.0 ms per request, top-5 teams unchanged on 200 requests; scores
# move by ~1e-3, bench/results/index-half-precision.json). Smaller roles stay float32, bit for bit.
HALF_PRECISION_MIN = 20_000
# Default of settings.index_exact_max: exact search over 50k x 384 is ~4 ms here, and above it an
# approximate graph keeps requests fast.
EXACT_MAX = 50_000
HNSW_NEIGHBOURS = 32
HNSW_EF_CONSTRUCTION = 80
# recall@100 vs exact at 100k (bench/results/features.json): 0.91 at efSearch 512, 0.96 at 1024.
HNSW_EF_SEARCH = 1024
# Compact an HNSW index once this share of its vectors are tombstones (searches overfetch by that many).
TOMBSTONE_SHARE = 0.2


def set_search_threads(n: int) -> None:
    """Threads FAISS may use; entry points call this once (1 per worker: 2 threads ran 2-30x slower here)."""
    faiss.omp_set_num_threads(n)


def _new_index(kind: str, dim: int) -> faiss.Index:
    if kind == FLAT:
        inner: faiss.Index = faiss.IndexFlatIP(dim)
    elif kind == FLAT16:
        inner = faiss.IndexScalarQuantizer(dim, faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT)
    elif kind == HNSW:
        inner = faiss.IndexHNSWFlat(dim, HNSW_NEIGHBOURS, faiss.METRIC_INNER_PRODUCT)
        inner.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        inner.hnsw.efSearch = HNSW_EF_SEARCH
    else:
        raise ValueError(f"unknown index kind {kind!r}; choose one of {', '.join(INDEX_KINDS)}")
    return faiss.IndexIDMap2(inner)


class RoleIndex:
    """Maps FAISS ids back to partner ids; scores are cosine similarities (inputs are unit vectors).

    FAISS id i names `partner_ids[i]`; ids are never reused. `alive[i]` is False once that vector was
    removed or replaced (for HNSW it may still sit in the graph as a tombstone).
    """

    def __init__(
        self,
        index: faiss.Index,
        partner_ids: np.ndarray,
        kind: str,
        dim: int,
        alive: np.ndarray | None = None,
    ) -> None:
        self.index = index
        self.partner_ids = partner_ids
        self.kind = kind
        self.dim = dim
        self.alive = np.ones(len(partner_ids), dtype=bool) if alive is None else alive.astype(bool)
        self._id_of = {str(p): i for i, p in enumerate(partner_ids) if self.alive[i]}

    def __len__(self) -> int:
        return len(self._id_of)

    def __contains__(self, partner_id: object) -> bool:
        return partner_id in self._id_of

    @property
    def tombstones(self) -> int:
        """Vectors still in the index whose partner was removed or replaced."""
        return int(self.index.ntotal) - len(self._id_of)

    @property
    def needs_compaction(self) -> bool:
        return self.tombstones > TOMBSTONE_SHARE * max(int(self.index.ntotal), 1)

    @property
    def ef_search(self) -> int | None:
        if self.kind != HNSW:
            return None
        inner: Any = faiss.downcast_index(self.index.index)  # type: ignore[attr-defined]
        return int(inner.hnsw.efSearch)

    @ef_search.setter
    def ef_search(self, value: int) -> None:
        if self.kind != HNSW:
            raise ValueError("efSearch applies to HNSW indexes only")
        inner: Any = faiss.downcast_index(self.index.index)  # type: ignore[attr-defined]
        inner.hnsw.efSearch = value

    @classmethod
    def build(
        cls,
        partner_ids: Sequence[str],
        vectors: np.ndarray,
        *,
        kind: str = AUTO,
        exact_max: int | None = None,
    ) -> RoleIndex:
        """Index one vector per partner; `auto` is exact up to `exact_max` (EXACT_MAX) partners, else HNSW.

        Exact `auto` indexes of HALF_PRECISION_MIN partners or more scan half-precision vectors (flat16).
        """
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[0] != len(partner_ids):
            raise ValueError(
                f"need one vector row per partner id, got {vectors.shape} for {len(partner_ids)} ids"
            )
        if len(set(partner_ids)) != len(partner_ids):
            raise ValueError("partner ids must be unique within a role index")
        dim = vectors.shape[1]
        if kind == AUTO:
            limit = EXACT_MAX if exact_max is None else exact_max
            if len(partner_ids) > limit:
                kind = HNSW
            else:
                kind = FLAT16 if len(partner_ids) >= HALF_PRECISION_MIN else FLAT
        index = _new_index(kind, dim)
        if len(partner_ids):
            index.add_with_ids(vectors, np.arange(len(partner_ids), dtype=np.int64))
        ids = np.asarray([str(p) for p in partner_ids], dtype=np.str_)
        return cls(index, ids, kind, dim)

    def _retire(self, partner_id: str) -> bool:
        old = self._id_of.pop(partner_id, None)
        if old is None:
            return False
        self.alive[old] = False
        if self.kind in EXACT_KINDS:
            self.index.remove_ids(np.asarray([old], dtype=np.int64))  # type: ignore[arg-type]
        return True

    def upsert(self, partner_id: str, vector: np.ndarray) -> None:
        """Add the partner, or replace its vector, without rebuilding the index."""
        row = np.ascontiguousarray(np.asarray(vector, dtype=np.float32).reshape(1, -1))
        if row.shape[1] != self.dim:
            raise ValueError(f"vector has dimension {row.shape[1]}, the index {self.dim}")
        self._retire(partner_id)
        new_id = len(self.partner_ids)
        self.index.add_with_ids(row, np.asarray([new_id], dtype=np.int64))
        self.partner_ids = np.append(self.partner_ids, np.asarray([partner_id], dtype=np.str_))
        self.alive = np.append(self.alive, True)
        self._id_of[partner_id] = new_id

    def remove(self, partner_id: str) -> bool:
        """Take the partner out of search results; False when it was not indexed."""
        return self._retire(partner_id)

    def copy(self) -> RoleIndex:
        """An independent copy: a snapshot changes its copy while readers keep searching the original."""
        return RoleIndex(
            faiss.clone_index(self.index), self.partner_ids.copy(), self.kind, self.dim, self.alive.copy()
        )

    def compact(self) -> RoleIndex:
        """A fresh index of the live vectors only (same kind), dropping tombstones and unused ids."""
        live = np.flatnonzero(self.alive)
        vectors = (
            np.vstack([self.index.reconstruct(int(i)) for i in live])
            if len(live)
            else np.zeros((0, self.dim), dtype=np.float32)
        )
        fresh = RoleIndex.build(self.partner_ids[live].tolist(), vectors, kind=self.kind)
        if self.kind == HNSW and (ef := self.ef_search) is not None:
            fresh.ef_search = ef
        return fresh

    def search(self, queries: np.ndarray, n: int) -> list[list[tuple[str, float]]]:
        """Top-`n` (partner id, similarity) per query row, best first; fewer when the index is smaller."""
        queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        n = min(n, len(self))
        if n <= 0:
            return [[] for _ in range(queries.shape[0])]
        # Tombstoned vectors can take up to `tombstones` of the places; fetch that many more.
        fetch = min(n + self.tombstones, int(self.index.ntotal))
        scores, rows = self.index.search(queries, fetch)
        alive, ids = self.alive, self.partner_ids
        return [
            [(str(ids[r]), float(sc)) for r, sc in zip(row, score, strict=True) if r >= 0 and alive[r]][:n]
            for row, score in zip(rows, scores, strict=True)
        ]

    def save(self, path: Path) -> str:
        """Write one `.npz` (serialised FAISS index + partner ids, no pickle) and return its sha256."""
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as fh:
            np.savez(
                fh,
                faiss_index=faiss.serialize_index(self.index),
                partner_ids=self.partner_ids,
                alive=self.alive,
                kind=np.asarray(self.kind),
                dim=np.asarray(self.dim, dtype=np.int64),
            )
        return file_sha256(path)

    @classmethod
    def load(cls, path: Path, expected_sha256: str | None = None) -> RoleIndex:
        if expected_sha256 is not None and (actual := file_sha256(path)) != expected_sha256:
            raise ValueError(f"index file {path} has sha256 {actual}, expected {expected_sha256}")
        try:
            with np.load(io.BytesIO(path.read_bytes()), allow_pickle=False) as data:
                index = faiss.deserialize_index(data["faiss_index"])
                partner_ids = data["partner_ids"]
                alive = data["alive"] if "alive" in data.files else np.ones(len(partner_ids), dtype=bool)
                kind = str(data["kind"])
                dim = int(data["dim"])
        except (zipfile.BadZipFile, KeyError, OSError, ValueError, RuntimeError) as exc:
            raise ValueError(f"index file {path} is unreadable: {exc}") from exc
        # Flat indexes hold only live vectors; HNSW graphs keep tombstones too.
        expected = int(alive.sum()) if kind in EXACT_KINDS else len(partner_ids)
        if index.ntotal != expected or len(alive) != len(partner_ids):
            raise ValueError(
                f"index file {path} holds {index.ntotal} vectors for {len(partner_ids)} partner ids"
            )
        return cls(index, partner_ids, kind, dim, alive)
