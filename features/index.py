"""Per-role nearest-neighbour index (FAISS inner product over normalised vectors) and its checksummed file."""

from __future__ import annotations

import hashlib
import io
import logging
import zipfile
from collections.abc import Sequence
from pathlib import Path

import faiss
import numpy as np

logger = logging.getLogger(__name__)

FLAT = "flat"
HNSW = "hnsw"
AUTO = "auto"
INDEX_KINDS = (FLAT, HNSW)
# Exact search over 100k x 384 takes ~7 ms here; beyond this an approximate graph keeps requests fast.
HNSW_THRESHOLD = 200_000
HNSW_NEIGHBOURS = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 128


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def set_search_threads(n: int) -> None:
    """Threads FAISS may use; entry points call this once (1 per worker: 2 threads ran 2-30x slower here)."""
    faiss.omp_set_num_threads(n)


def _new_index(kind: str, dim: int) -> faiss.Index:
    if kind == FLAT:
        inner: faiss.Index = faiss.IndexFlatIP(dim)
    elif kind == HNSW:
        inner = faiss.IndexHNSWFlat(dim, HNSW_NEIGHBOURS, faiss.METRIC_INNER_PRODUCT)
        inner.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        inner.hnsw.efSearch = HNSW_EF_SEARCH
    else:
        raise ValueError(f"unknown index kind {kind!r}; choose one of {', '.join(INDEX_KINDS)}")
    return faiss.IndexIDMap2(inner)


class RoleIndex:
    """Maps FAISS row ids back to partner ids; scores are cosine similarities (inputs are unit vectors)."""

    def __init__(self, index: faiss.Index, partner_ids: np.ndarray, kind: str, dim: int) -> None:
        self.index = index
        self.partner_ids = partner_ids
        self.kind = kind
        self.dim = dim

    def __len__(self) -> int:
        return len(self.partner_ids)

    @classmethod
    def build(cls, partner_ids: Sequence[str], vectors: np.ndarray, *, kind: str = AUTO) -> RoleIndex:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[0] != len(partner_ids):
            raise ValueError(
                f"need one vector row per partner id, got {vectors.shape} for {len(partner_ids)} ids"
            )
        dim = vectors.shape[1]
        if kind == AUTO:
            kind = HNSW if len(partner_ids) > HNSW_THRESHOLD else FLAT
        index = _new_index(kind, dim)
        if len(partner_ids):
            index.add_with_ids(vectors, np.arange(len(partner_ids), dtype=np.int64))
        ids = np.asarray([str(p) for p in partner_ids], dtype=np.str_)
        return cls(index, ids, kind, dim)

    def search(self, queries: np.ndarray, n: int) -> list[list[tuple[str, float]]]:
        """Top-`n` (partner id, similarity) per query row, best first; fewer when the index is smaller."""
        queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        n = min(n, len(self.partner_ids))
        if n <= 0:
            return [[] for _ in range(queries.shape[0])]
        scores, rows = self.index.search(queries, n)
        return [
            [(str(self.partner_ids[r]), float(sc)) for r, sc in zip(row, score, strict=True) if r >= 0]
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
                kind = str(data["kind"])
                dim = int(data["dim"])
        except (zipfile.BadZipFile, KeyError, OSError, ValueError, RuntimeError) as exc:
            raise ValueError(f"index file {path} is unreadable: {exc}") from exc
        if index.ntotal != len(partner_ids):
            raise ValueError(
                f"index file {path} holds {index.ntotal} vectors for {len(partner_ids)} partner ids"
            )
        return cls(index, partner_ids, kind, dim)
