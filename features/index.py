"""Per-role nearest-neighbour index (FAISS inner product, unit vectors): upserts, removals, checksummed files.

Exact (flat) indexes remove vectors in place; large roles scan half-precision copies (flat16). Above the
exact threshold an HNSW graph answers approximately. A graph cannot delete, so a removed or replaced
partner leaves a tombstone: its old vector stays in the graph, searches skip it (an id filter), and
`compact()` (or a rebuild once `needs_compaction`) drops it for good.

An HNSW index is saved as a plain FAISS file beside its `.npz` (partner ids, tombstones) and memory-mapped
on load, so the worker processes of a server share one copy of its pages through the OS page cache instead
of holding one each. A mapped graph is read-only: partners added or replaced after loading go to a small
exact index in memory (the delta), searched beside the graph, and a copy shares the graph and copies only
the delta and the id arrays.
"""

from __future__ import annotations

import io
import logging
import os
import zipfile
from collections.abc import Mapping, Sequence
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
# Saved as a plain FAISS file and memory-mapped on load (exact indexes stay inside their `.npz`).
MAPPED_KINDS = (HNSW,)
FAISS_SUFFIX = ".faiss"
# Maps the vectors and the graph in place (no copy): pages are shared by every process mapping the file.
# faiss-cpu 1.15 supports this for flat codes and HNSW graphs; a mapped index must never be written to.
MMAP_FLAGS = faiss.IO_FLAG_MMAP_IFC | faiss.IO_FLAG_READ_ONLY
# `auto` scans half precision from this many partners on: the scan is bound by memory there (100k partners,
# roles of 24k-43k: retrieval 4.4 -> 3.0 ms per request, top-5 teams unchanged on 200 requests; scores
# move by ~1e-3, bench/results/index-half-precision.json). Smaller roles stay float32, bit for bit.
HALF_PRECISION_MIN = 20_000
# Default of settings.index_exact_max: exact search over 50k x 384 is ~4 ms here, and above it an
# approximate graph keeps requests fast.
EXACT_MAX = 50_000
HNSW_NEIGHBOURS = 32
HNSW_EF_CONSTRUCTION = 80
# recall@100 vs exact at 100k (bench/results/features.json): 0.91 at efSearch 512, 0.96 at 1024. At 1M
# partners (hashing vectors, roles of 240k-430k): 0.95 at 512, 0.97 at 768, 0.98-0.99 at 1024 with ~4-5 ms
# per search against 14-28 ms exact (bench/results/scale-curve.json).
HNSW_EF_SEARCH = 1024
# Compact an HNSW index once this share of its vectors are tombstones or sit in the delta.
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


def faiss_file(path: Path) -> Path:
    """Where the plain FAISS file of the index saved at `path` (an `.npz`) goes, for mapped kinds."""
    return path.with_suffix(FAISS_SUFFIX)


def _write_atomically(path: Path, write: Any) -> None:
    """Write through a temporary name, then rename: a process that maps the old file keeps reading it
    (truncating a mapped file in place would crash its readers)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


class RoleIndex:
    """Maps FAISS ids back to partner ids; scores are cosine similarities (inputs are unit vectors).

    FAISS id i names `partner_ids[i]`; ids are never reused. `alive[i]` is False once that vector was
    removed or replaced (for HNSW it may still sit in the graph as a tombstone). When `index` is mapped
    from a file (`delta_from` set), ids from `delta_from` on live in `delta`, an exact in-memory index.
    """

    def __init__(
        self,
        index: faiss.Index,
        partner_ids: np.ndarray,
        kind: str,
        dim: int,
        alive: np.ndarray | None = None,
        *,
        delta: faiss.Index | None = None,
        delta_from: int | None = None,
        id_of: Mapping[str, int] | None = None,
    ) -> None:
        if (delta is None) != (delta_from is None):
            raise ValueError("a delta index needs the id it starts from, and only it")
        self.index = index
        self.partner_ids = partner_ids
        self.kind = kind
        self.dim = dim
        self.alive = np.ones(len(partner_ids), dtype=bool) if alive is None else alive.astype(bool)
        self.delta = delta
        self.delta_from = delta_from
        self._live = int(self.alive.sum())
        # Partner id -> FAISS id of the live vectors, built on the first change: a served index that is
        # never changed does not hold a dict of every partner (~100 MB per worker at 1M partners).
        self._ids: dict[str, int] | None = dict(id_of) if id_of is not None else None
        self._filter: tuple[Any, ...] | None = None  # search parameters skipping tombstones, built on demand

    @property
    def _id_of(self) -> dict[str, int]:
        if self._ids is None:
            self._ids = {str(self.partner_ids[i]): int(i) for i in np.flatnonzero(self.alive)}
        return self._ids

    def __len__(self) -> int:
        return self._live

    def __contains__(self, partner_id: object) -> bool:
        return partner_id in self._id_of

    @property
    def mapped(self) -> bool:
        """Whether the main index is memory-mapped from its file (read-only; changes go to the delta)."""
        return self.delta is not None

    @property
    def _vectors(self) -> int:
        return int(self.index.ntotal) + (int(self.delta.ntotal) if self.delta is not None else 0)

    @property
    def tombstones(self) -> int:
        """Vectors still in the index whose partner was removed or replaced."""
        return self._vectors - self._live

    @property
    def delta_size(self) -> int:
        """Vectors added to the in-memory delta since the main index was mapped."""
        return int(self.delta.ntotal) if self.delta is not None else 0

    @property
    def needs_compaction(self) -> bool:
        return self.tombstones + self.delta_size > TOMBSTONE_SHARE * max(self._vectors, 1)

    @property
    def ef_search(self) -> int | None:
        if self.kind != HNSW:
            return None
        inner: Any = faiss.downcast_index(self.index.index)  # type: ignore[attr-defined]
        return int(inner.hnsw.efSearch)

    @ef_search.setter
    def ef_search(self, value: int) -> None:
        """Sets it on the graph, which copies of a mapped index share."""
        if self.kind != HNSW:
            raise ValueError("efSearch applies to HNSW indexes only")
        inner: Any = faiss.downcast_index(self.index.index)  # type: ignore[attr-defined]
        inner.hnsw.efSearch = value
        self._filter = None

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

    def _holder(self, faiss_id: int) -> faiss.Index:
        """The index holding this id: the delta for ids added after mapping, else the main one."""
        if self.delta is not None and self.delta_from is not None and faiss_id >= self.delta_from:
            return self.delta
        return self.index

    def _retire(self, partner_id: str) -> bool:
        old = self._id_of.pop(partner_id, None)
        if old is None:
            return False
        self.alive[old] = False
        self._live -= 1
        holder = self._holder(old)
        if holder is self.delta or self.kind in EXACT_KINDS:
            holder.remove_ids(np.asarray([old], dtype=np.int64))  # type: ignore[arg-type]
        else:
            self._filter = None  # a new tombstone in the graph
        return True

    def upsert(self, partner_id: str, vector: np.ndarray) -> None:
        """Add the partner, or replace its vector, without rebuilding the index."""
        row = np.ascontiguousarray(np.asarray(vector, dtype=np.float32).reshape(1, -1))
        if row.shape[1] != self.dim:
            raise ValueError(f"vector has dimension {row.shape[1]}, the index {self.dim}")
        self._retire(partner_id)
        new_id = len(self.partner_ids)
        # A mapped index is read-only (FAISS aborts the process on a write): new vectors go to the delta.
        target = self.delta if self.delta is not None else self.index
        target.add_with_ids(row, np.asarray([new_id], dtype=np.int64))
        self.partner_ids = np.append(self.partner_ids, np.asarray([partner_id], dtype=np.str_))
        self.alive = np.append(self.alive, True)
        self._id_of[partner_id] = new_id
        self._live += 1

    def remove(self, partner_id: str) -> bool:
        """Take the partner out of search results; False when it was not indexed."""
        return self._retire(partner_id)

    def copy(self) -> RoleIndex:
        """An independent copy: a snapshot changes its copy while readers keep searching the original.

        A mapped index is shared, not copied (nothing writes to it); its delta is copied.
        """
        return RoleIndex(
            self.index if self.mapped else faiss.clone_index(self.index),
            self.partner_ids.copy(),
            self.kind,
            self.dim,
            self.alive.copy(),
            delta=faiss.clone_index(self.delta) if self.delta is not None else None,
            delta_from=self.delta_from,
            id_of=self._ids,
        )

    def _reconstruct(self, ids: np.ndarray) -> np.ndarray:
        """The vectors of these FAISS ids, from the main index or the delta."""
        out = np.zeros((len(ids), self.dim), dtype=np.float32)
        in_delta = ids >= self._main_ids()
        for holder, mine in ((self.index, ~in_delta), (self.delta, in_delta)):
            if holder is not None and mine.any():
                out[mine] = holder.reconstruct_batch(np.ascontiguousarray(ids[mine], dtype=np.int64))
        return out

    def compact(self) -> RoleIndex:
        """A fresh in-memory index of the live vectors only (same kind), dropping tombstones and the delta."""
        live = np.flatnonzero(self.alive)
        vectors = self._reconstruct(live) if len(live) else np.zeros((0, self.dim), dtype=np.float32)
        fresh = RoleIndex.build(self.partner_ids[live].tolist(), vectors, kind=self.kind)
        if self.kind == HNSW and (ef := self.ef_search) is not None:
            fresh.ef_search = ef
        return fresh

    def _main_ids(self) -> int:
        """How many ids the main index was given (the delta's start after them)."""
        return len(self.partner_ids) if self.delta_from is None else self.delta_from

    def _search_parameters(self) -> Any:
        """HNSW search parameters that skip the graph's tombstones; None when it has none.

        The delta removes in place, so every tombstone is in the graph.
        """
        if self.tombstones == 0:
            return None
        if self._filter is None:
            dead = np.flatnonzero(~self.alive[: self._main_ids()]).astype(np.int64)
            batch = faiss.IDSelectorBatch(dead)
            skip = faiss.IDSelectorNot(batch)
            params = faiss.SearchParametersHNSW(  # type: ignore[attr-defined]
                sel=skip, efSearch=int(self.ef_search or HNSW_EF_SEARCH)
            )
            self._filter = (params, skip, batch)  # the selectors must outlive the parameters
        return self._filter[0]

    def search(self, queries: np.ndarray, n: int) -> list[list[tuple[str, float]]]:
        """Top-`n` (partner id, similarity) per query row, best first; fewer when the index is smaller."""
        queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        n = min(n, len(self))
        if n <= 0:
            return [[] for _ in range(queries.shape[0])]
        scores, rows = self._search_main(queries, n)
        if self.delta_size:
            found = self.delta.search(queries, min(n, self.delta_size))  # type: ignore[union-attr]
            scores = np.concatenate([scores, found[0]], axis=1)
            rows = np.concatenate([rows, found[1]], axis=1)
            order = np.argsort(-scores, axis=1, kind="stable")
            scores = np.take_along_axis(scores, order, axis=1)
            rows = np.take_along_axis(rows, order, axis=1)
        alive, ids = self.alive, self.partner_ids
        return [
            [(str(ids[r]), float(sc)) for r, sc in zip(row, score, strict=True) if r >= 0 and alive[r]][:n]
            for row, score in zip(rows, scores, strict=True)
        ]

    def _search_main(self, queries: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        total = int(self.index.ntotal)
        if total == 0:
            empty = np.zeros((queries.shape[0], 0))
            return empty.astype(np.float32), empty.astype(np.int64)
        if self.kind == HNSW:
            # The graph skips tombstones itself: no extra hits to fetch.
            params = self._search_parameters()
            return self.index.search(queries, min(n, total), params=params)
        return self.index.search(queries, min(n, total))

    def save(self, path: Path) -> dict[str, str]:
        """Write the index; returns the sha256 of every file written, by file name.

        Exact kinds: one `.npz` (serialised FAISS index, partner ids, no pickle). Mapped kinds: a plain
        FAISS file (`faiss_file(path)`) that `load` maps, and the `.npz` with the ids, tombstones and delta.
        """
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, Any] = {
            "partner_ids": self.partner_ids,
            "alive": self.alive,
            "kind": np.asarray(self.kind),
            "dim": np.asarray(self.dim, dtype=np.int64),
        }
        written: dict[str, str] = {}
        if self.kind in MAPPED_KINDS:
            main = faiss_file(path)
            _write_atomically(main, lambda tmp: faiss.write_index(self.index, str(tmp)))
            written[main.name] = file_sha256(main)
            arrays["main_ids"] = np.asarray(self._main_ids(), dtype=np.int64)
            if self.delta is not None:
                arrays["delta_index"] = faiss.serialize_index(self.delta)
        else:
            arrays["faiss_index"] = faiss.serialize_index(self.index)

        def write_npz(tmp: Path) -> None:
            with tmp.open("wb") as fh:
                np.savez(fh, **arrays)

        _write_atomically(path, write_npz)
        written[path.name] = file_sha256(path)
        return written

    @classmethod
    def load(cls, path: Path, checksums: Mapping[str, str] | None = None) -> RoleIndex:
        """Load an index saved at `path`, verifying the files `checksums` names (beside `path`) first.

        A mapped kind's FAISS file is memory-mapped: its pages are shared with every other process that
        maps it, and read from disk as searches touch them.
        """
        for name, sha256 in (checksums or {}).items():
            if (actual := file_sha256(path.parent / name)) != sha256:
                raise ValueError(f"index file {path.parent / name} has sha256 {actual}, expected {sha256}")
        delta: faiss.Index | None = None
        delta_from: int | None = None
        try:
            with np.load(io.BytesIO(path.read_bytes()), allow_pickle=False) as data:
                partner_ids = data["partner_ids"]
                alive = data["alive"] if "alive" in data.files else np.ones(len(partner_ids), dtype=bool)
                kind = str(data["kind"])
                dim = int(data["dim"])
                if "faiss_index" in data.files:  # exact kinds, and graphs saved before they were mapped
                    index = faiss.deserialize_index(data["faiss_index"])
                else:
                    index = faiss.read_index(str(faiss_file(path)), MMAP_FLAGS)
                    delta_from = int(data["main_ids"])
                    delta = (
                        faiss.deserialize_index(data["delta_index"])
                        if "delta_index" in data.files
                        else faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
                    )
        except (zipfile.BadZipFile, KeyError, OSError, ValueError, RuntimeError) as exc:
            raise ValueError(f"index file {path} is unreadable: {exc}") from exc
        # Flat indexes hold only live vectors; HNSW graphs keep tombstones too, a delta only live ones.
        if kind in EXACT_KINDS:
            expected = int(alive.sum())
        elif delta_from is None:
            expected = len(partner_ids)
        else:
            expected = delta_from
            if delta is not None and int(delta.ntotal) != int(alive[delta_from:].sum()):
                raise ValueError(f"index file {path}: its delta does not match its ids")
        if index.ntotal != expected or len(alive) != len(partner_ids):
            raise ValueError(
                f"index file {path} holds {index.ntotal} vectors for {len(partner_ids)} partner ids"
            )
        return cls(index, partner_ids, kind, dim, alive, delta=delta, delta_from=delta_from)
