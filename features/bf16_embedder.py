"""all-MiniLM-L6-v2 in bfloat16 on the CPU's bf16 units (AMX / AVX512-BF16), spread over worker processes.

The same weights as `minilm`, rounded to bfloat16 in every Linear layer and run under CPU autocast, so
LayerNorm, softmax, pooling and normalisation stay float32. On generated partner profiles this kept 0.99
of fp32's top-50 (cosine to fp32 >= 0.9999) at 3.2x fp32's rate per core (bench/embedding_scale.py).
Large inputs (a first snapshot build) are split over one single-threaded worker process per core: two
intra-op threads reached 1.7x one thread on quiet cores but fell to a fifth of one thread's rate when other
jobs shared the cores (OpenMP threads wait on each other), while processes do not, and leave torch's
process-wide thread count alone. Workers are spawned, so a script that uses this embedder needs the usual
`if __name__ == "__main__"` guard of multiprocessing; a process that is itself a multiprocessing child (a
uvicorn worker, a pool worker) encodes in-process.
"""

from __future__ import annotations

import logging
import os
import weakref
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import TYPE_CHECKING, Final

import numpy as np

from features.embeddings import SentenceTransformerEmbedder, normalise_rows

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

logger = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE: Final = 32
# Below this many texts one process encodes: starting workers (torch + model each) costs seconds.
DEFAULT_POOL_MIN_TEXTS: Final = 512
# Texts per task sent to a worker: small enough to balance two workers, large enough to batch well.
POOL_PIECE: Final = 256


def native_bf16() -> bool:
    """Whether this CPU computes bfloat16 natively; elsewhere oneDNN emulates it (correct, not faster)."""
    import torch

    # torch's own (private) probes; a torch without them is taken to have no native bf16.
    probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(bool(getattr(torch.cpu, name, lambda: False)()) for name in probes)


def default_workers() -> int:
    """One worker per core this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


class Bf16MiniLMEmbedder(SentenceTransformerEmbedder):
    """all-MiniLM-L6-v2 with bfloat16 Linear layers under CPU autocast; vectors re-normalised in float32."""

    def __init__(
        self,
        batch_size: int = DEFAULT_BATCH_SIZE,
        *,
        workers: int | None = None,
        pool_min_texts: int = DEFAULT_POOL_MIN_TEXTS,
    ) -> None:
        super().__init__(batch_size=batch_size)
        self.model_id = f"{self.model_id}+bf16"
        self.workers = default_workers() if workers is None else max(1, workers)
        self.pool_min_texts = pool_min_texts
        self._pool: ProcessPoolExecutor | None = None

    def _load(self) -> SentenceTransformer:
        import torch

        model = super()._load()
        if not native_bf16():
            logger.warning("this CPU has no native bfloat16: minilm-bf16 stays correct but is not faster")
        # Autocast would cast every weight on every call; cast the Linear layers once instead (same values).
        for module in model.modules():
            if isinstance(module, torch.nn.Linear):
                module.to(torch.bfloat16)
        return model

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        if self.workers > 1 and len(texts) >= self.pool_min_texts and _may_start_workers():
            return self._encode_in_pool(texts)
        return self._encode_here(texts)

    def _encode_here(self, texts: Sequence[str]) -> np.ndarray:
        import torch

        if self._model is None:
            self._model = self._load()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            vectors = self._model.encode(
                list(texts), batch_size=self.batch_size, convert_to_numpy=True, show_progress_bar=False
            )
        # The last LayerNorm runs in float32 under autocast; normalising here keeps unit norms exact.
        return normalise_rows(vectors)

    def _encode_in_pool(self, texts: Sequence[str]) -> np.ndarray:
        if self._pool is None:
            import multiprocessing

            # spawn: a forked torch (OpenMP, oneDNN state) can deadlock; workers import only this module.
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_worker,
                initargs=(self.batch_size,),
            )
            weakref.finalize(self, self._pool.shutdown, wait=False, cancel_futures=True)
            logger.info("encoding with %d bf16 worker processes", self.workers)
        # Similar lengths per piece (little padding), pieces dealt out as workers free up.
        order = np.argsort([len(t) for t in texts], kind="stable")
        pieces = [order[i : i + POOL_PIECE] for i in range(0, len(order), POOL_PIECE)]
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        results = self._pool.map(_encode_in_worker, [[texts[i] for i in rows] for rows in pieces])
        for rows, vectors in zip(pieces, results, strict=True):
            out[rows] = vectors
        return out

    def close(self) -> None:
        """Stop the worker processes (they also stop when the embedder is garbage-collected)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


def _may_start_workers() -> bool:
    import multiprocessing

    return multiprocessing.parent_process() is None


_worker: Bf16MiniLMEmbedder | None = None


def _init_worker(batch_size: int) -> None:
    import torch

    global _worker
    torch.set_num_threads(1)
    _worker = Bf16MiniLMEmbedder(batch_size, workers=1)
    _worker._model = _worker._load()  # at start-up, not inside the first piece of work


def _encode_in_worker(texts: list[str]) -> np.ndarray:
    assert _worker is not None, "worker not initialised"
    return _worker.encode(texts)
