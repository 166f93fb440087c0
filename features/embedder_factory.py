"""Choosing an embedder by name: the torch and hashing ones in `embeddings`, bf16 and ONNX ones beside it."""

from __future__ import annotations

from pathlib import Path

from features.bf16_embedder import Bf16MiniLMEmbedder
from features.embeddings import (
    EMBEDDER_KINDS,
    HASHING,
    MINILM,
    MINILM_BF16,
    MINILM_FP32,
    MINILM_INT8,
    MINILM_ONNX,
    Embedder,
    HashingEmbedder,
    SentenceTransformerEmbedder,
)
from features.onnx_embedder import FP32, INT8, OnnxMiniLMEmbedder


def make_embedder(kind: str, *, cache_dir: Path | None = None) -> Embedder:
    """Build the embedder of this kind; ONNX kinds export their model once into `cache_dir` (required)."""
    if kind in (MINILM_FP32, MINILM):
        return SentenceTransformerEmbedder()
    if kind == MINILM_BF16:
        return Bf16MiniLMEmbedder()
    if kind in (MINILM_INT8, MINILM_ONNX):
        if cache_dir is None:
            raise ValueError(f"embedder {kind!r} needs a folder to export its ONNX model into")
        return OnnxMiniLMEmbedder(cache_dir, INT8 if kind == MINILM_INT8 else FP32)
    if kind == HASHING:
        return HashingEmbedder()
    raise ValueError(f"unknown embedder {kind!r}; choose one of {', '.join(EMBEDDER_KINDS)}")
