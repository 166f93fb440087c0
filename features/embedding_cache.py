"""Content-hash embedding cache (memory + the store's `embedding_cache` table): only new texts are encoded."""

from __future__ import annotations

import hashlib
import logging
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np
from sqlalchemy import Engine, Insert, select
from sqlalchemy.dialects import postgresql, sqlite

from features.embeddings import Embedder
from features.tables import embedding_cache

logger = logging.getLogger(__name__)

# Keeps the hot set (skill phrases, recent opportunities) in memory without holding a whole catalogue twice.
DEFAULT_MEMORY_ITEMS = 50_000
# Bound on bound parameters per statement (SQLite allows 32k; stay well clear).
_LOOKUP_CHUNK = 500


def text_hash(model_id: str, text: str) -> str:
    return hashlib.sha256(f"{model_id}\n{text}".encode()).hexdigest()


class CachedEmbedder:
    """An `Embedder` that encodes each distinct text once per model; vectors live in memory and the store."""

    def __init__(
        self, embedder: Embedder, engine: Engine | None, memory_items: int = DEFAULT_MEMORY_ITEMS
    ) -> None:
        self.embedder = embedder
        self.engine = engine
        self.model_id = embedder.model_id
        self.dim = embedder.dim
        self.memory_items = memory_items
        self.encoder_calls = 0
        self.texts_encoded = 0
        self._memory: OrderedDict[str, np.ndarray] = OrderedDict()

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if len(texts) == 0:
            return out
        hashes = [text_hash(self.model_id, t) for t in texts]
        found: dict[str, np.ndarray] = {}
        for h in set(hashes):
            vector = self._memory.get(h)
            if vector is not None:
                self._memory.move_to_end(h)
                found[h] = vector
        missing = [h for h in dict.fromkeys(hashes) if h not in found]
        if missing and self.engine is not None:
            found.update(self._read(missing))
        new: dict[str, np.ndarray] = {}
        if len(found) < len(set(hashes)):
            text_of = dict(zip(hashes, texts, strict=True))
            todo = [h for h in dict.fromkeys(hashes) if h not in found]
            vectors = np.asarray(self.embedder.encode([text_of[h] for h in todo]), dtype=np.float32)
            self.encoder_calls += 1
            self.texts_encoded += len(todo)
            new = dict(zip(todo, vectors, strict=True))
            if self.engine is not None:
                self._write(new)
            found.update(new)
        for h, vector in found.items():
            self._remember(h, vector)
        for i, h in enumerate(hashes):
            out[i] = found[h]
        logger.debug(
            "embedded %d texts: %d from cache, %d encoded", len(texts), len(texts) - len(new), len(new)
        )
        return out

    def _remember(self, key: str, vector: np.ndarray) -> None:
        self._memory[key] = vector
        self._memory.move_to_end(key)
        while len(self._memory) > self.memory_items:
            self._memory.popitem(last=False)

    def _read(self, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        assert self.engine is not None
        table = embedding_cache
        result: dict[str, np.ndarray] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(hashes), _LOOKUP_CHUNK):
                chunk = list(hashes[start : start + _LOOKUP_CHUNK])
                rows = conn.execute(
                    select(table.c.text_hash, table.c.dim, table.c.vector).where(
                        table.c.model_id == self.model_id, table.c.text_hash.in_(chunk)
                    )
                )
                for key, dim, blob in rows:
                    if dim == self.dim:
                        result[key] = np.frombuffer(blob, dtype="<f4").astype(np.float32)
        return result

    def _write(self, vectors: dict[str, np.ndarray]) -> None:
        assert self.engine is not None
        rows = [
            {"text_hash": h, "model_id": self.model_id, "dim": self.dim, "vector": v.astype("<f4").tobytes()}
            for h, v in vectors.items()
        ]
        dialect = self.engine.dialect.name
        # Another process may cache the same text meanwhile; the first writer wins, vectors are identical.
        stmt: Insert
        if dialect == "postgresql":
            stmt = postgresql.insert(embedding_cache).on_conflict_do_nothing()
        elif dialect == "sqlite":
            stmt = sqlite.insert(embedding_cache).on_conflict_do_nothing()
        else:
            stmt = embedding_cache.insert()
        with self.engine.begin() as conn:
            for start in range(0, len(rows), _LOOKUP_CHUNK):
                conn.execute(stmt, rows[start : start + _LOOKUP_CHUNK])
