"""Embedders and the content-hash embedding cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Engine, create_engine

from features.embedder_factory import make_embedder
from features.embedding_cache import CachedEmbedder
from features.embeddings import HashingEmbedder, SentenceTransformerEmbedder
from features.snapshot import FeatureSnapshot
from features.tables import metadata
from tests.features.snapshot_fixtures import tables, with_description


@pytest.fixture()
def sqlite_engine(tmp_path: Path) -> Engine:
    engine = create_engine(f"sqlite:///{tmp_path / 'store.db'}")
    metadata.create_all(engine)
    return engine


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b)


def test_hashing_embedder_returns_normalised_float32_rows() -> None:
    vectors = HashingEmbedder().encode(["AWS cloud migration", "SAP finance"])
    assert vectors.dtype == np.float32
    assert vectors.shape == (2, 256)
    assert np.linalg.norm(vectors, axis=1) == pytest.approx([1.0, 1.0])


def test_hashing_embedder_puts_similar_texts_closer() -> None:
    a, b, c = HashingEmbedder().encode(
        ["AWS cloud migration", "migration to AWS cloud", "SAP S/4HANA finance"]
    )
    assert cosine(a, b) > cosine(a, c)


def test_hashing_embedder_is_deterministic_across_instances() -> None:
    assert np.array_equal(HashingEmbedder().encode(["same text"]), HashingEmbedder().encode(["same text"]))


def test_an_empty_text_embeds_to_a_zero_vector_not_nan() -> None:
    assert not np.isnan(HashingEmbedder().encode([""])).any()


def test_make_embedder_rejects_an_unknown_kind_and_names_the_choices() -> None:
    with pytest.raises(ValueError, match="minilm, hashing"):
        make_embedder("word2vec")


def test_make_embedder_builds_the_hashing_fake() -> None:
    assert isinstance(make_embedder("hashing"), HashingEmbedder)


def test_cached_embedder_returns_the_wrapped_embedders_vectors(sqlite_engine: Engine) -> None:
    texts = ["AWS cloud migration", "SAP finance", "AWS cloud migration"]
    cached = CachedEmbedder(HashingEmbedder(), sqlite_engine)
    np.testing.assert_array_equal(cached.encode(texts), HashingEmbedder().encode(texts))
    np.testing.assert_array_equal(
        CachedEmbedder(HashingEmbedder(), sqlite_engine).encode(texts), cached.encode(texts)
    )


def test_cached_embedder_encodes_each_distinct_text_once() -> None:
    cached = CachedEmbedder(HashingEmbedder(), None)
    cached.encode(["a b", "c d", "a b"])
    cached.encode(["c d", "a b"])
    assert (cached.encoder_calls, cached.texts_encoded) == (1, 2)


def test_cache_keeps_vectors_of_different_models_apart(sqlite_engine: Engine) -> None:
    CachedEmbedder(HashingEmbedder(), sqlite_engine).encode(["AWS"])
    other = CachedEmbedder(HashingEmbedder(dim=64), sqlite_engine)
    assert other.encode(["AWS"]).shape == (1, 64)
    assert other.texts_encoded == 1


def test_rebuilding_the_snapshot_reembeds_only_the_changed_partner(sqlite_engine: Engine) -> None:
    eco = tables()
    first = CachedEmbedder(HashingEmbedder(), sqlite_engine)
    FeatureSnapshot.build(eco, first)
    # Profiles plus 9 distinct skill tags and 3 certification names, each embedded once.
    assert first.texts_encoded == len(eco.partners) + 12

    # A fresh process: nothing in memory, everything in the store.
    unchanged = CachedEmbedder(HashingEmbedder(), sqlite_engine)
    FeatureSnapshot.build(eco, unchanged)
    assert (unchanged.encoder_calls, unchanged.texts_encoded) == (0, 0)

    changed = CachedEmbedder(HashingEmbedder(), sqlite_engine)
    FeatureSnapshot.build(with_description(eco, "S2", "SAP S/4HANA and SuccessFactors partner"), changed)
    assert (changed.encoder_calls, changed.texts_encoded) == (1, 1)


@pytest.mark.integration
def test_minilm_loads_offline_and_ranks_a_cloud_migration_closest_to_aws_migration() -> None:
    embedder = SentenceTransformerEmbedder()
    query, aws, sap = embedder.encode(
        ["datacentre exit to AWS", "AWS cloud migration", "SAP S/4HANA finance"]
    )
    assert embedder.encode(["x"]).shape == (1, embedder.dim)
    assert cosine(query, aws) > cosine(query, sap)
