"""The bf16 MiniLM embedder (`minilm-bf16`): its contract, its worker processes, its closeness to fp32."""

from __future__ import annotations

import numpy as np
import pytest

from features import schema as s
from features.bf16_embedder import Bf16MiniLMEmbedder
from features.catalog import clean_certifications, clean_partners
from features.embedder_factory import make_embedder
from features.embeddings import MINILM_BF16, MINILM_DIM, SentenceTransformerEmbedder
from features.profiles import partner_profile_texts
from synthetic import generate_ecosystem


def test_make_embedder_builds_the_bf16_minilm_in_its_own_vector_space() -> None:
    embedder = make_embedder(MINILM_BF16)
    assert isinstance(embedder, Bf16MiniLMEmbedder)
    assert embedder.dim == MINILM_DIM
    # Its vectors are cached apart from fp32 ones: they differ in the fourth decimal.
    assert embedder.model_id.endswith("+bf16")
    assert embedder.model_id != SentenceTransformerEmbedder().model_id
    assert embedder.workers >= 1


def test_no_texts_embed_to_no_rows_without_loading_the_model() -> None:
    embedder = Bf16MiniLMEmbedder()
    assert embedder.encode([]).shape == (0, MINILM_DIM)
    assert embedder._model is None


def generated_texts(partners: int, opportunities: int) -> tuple[list[str], list[str]]:
    """Real profile texts of generated partners and opportunity texts, as bench/feature_pipeline.py builds."""
    eco = generate_ecosystem(partners, opportunities, seed=3)
    profiles = partner_profile_texts(
        clean_partners(eco.tables.partners), clean_certifications(eco.tables.certifications)
    ).tolist()
    opps = eco.tables.opportunities
    queries = [
        f"{d} Required skills: {', '.join(k)}."
        for d, k in zip(opps[s.DESCRIPTION], opps[s.REQUIRED_SKILLS], strict=True)
    ]
    return profiles[:partners], queries[:opportunities]


@pytest.mark.integration
def test_bf16_stays_close_to_fp32_on_generated_profiles() -> None:
    profiles, queries = generated_texts(100, 16)
    fp32, bf16 = SentenceTransformerEmbedder(), Bf16MiniLMEmbedder(workers=1)
    ref_p, ref_q = fp32.encode(profiles), fp32.encode(queries)
    got_p, got_q = bf16.encode(profiles), bf16.encode(queries)
    assert got_p.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(got_p, axis=1), 1.0, rtol=1e-5)
    assert (ref_p * got_p).sum(axis=1).min() > 0.999
    # Each query's top 20 profiles: the same as fp32's but for rare swaps at the cut.
    top = lambda p, q: np.argsort(-(q @ p.T), axis=1)[:, :20]  # noqa: E731
    overlap = [len(set(a) & set(b)) / 20 for a, b in zip(top(ref_p, ref_q), top(got_p, got_q), strict=True)]
    assert np.mean(overlap) >= 0.95


@pytest.mark.integration
def test_worker_processes_return_the_in_process_vectors_in_input_order() -> None:
    texts = [f"partner {i}: {'AWS cloud migration ' * (i % 5)}SAP finance" for i in range(12)]
    pooled = Bf16MiniLMEmbedder(batch_size=4, workers=2, pool_min_texts=8)
    try:
        vectors = pooled.encode(texts)
        assert pooled._pool is not None and pooled._model is None  # the workers encoded, not this process
    finally:
        pooled.close()
    here = Bf16MiniLMEmbedder(batch_size=4, workers=1).encode(texts)
    assert (vectors * here).sum(axis=1).min() > 0.9999
