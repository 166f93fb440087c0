"""Semantic skill matching with the real default encoder (all-MiniLM-L6-v2), loaded once per module."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from features import schema as s
from features.embedder_factory import make_embedder
from features.embedding_cache import CachedEmbedder
from features.embeddings import DEFAULT_EMBEDDER
from features.snapshot import FeatureSnapshot
from tests.features.snapshot_fixtures import aws_query, tables

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory: pytest.TempPathFactory) -> FeatureSnapshot:
    cache_dir: Path = tmp_path_factory.mktemp("models")
    return FeatureSnapshot.build(
        tables(), CachedEmbedder(make_embedder(DEFAULT_EMBEDDER, cache_dir=cache_dir), None)
    )


def skill_match(snapshot: FeatureSnapshot, need: str, partner_ids: list[str]) -> np.ndarray:
    opp = snapshot.prepare([aws_query(required_skills=(need,))])[0]
    matrix = snapshot.team_features(opp, [{s.SERVICES: pid} for pid in partner_ids])
    return matrix[:, snapshot.feature_names.index("services_skill_match")]


def test_a_datacentre_exit_need_matches_a_partner_claiming_aws_cloud_migration(
    snapshot: FeatureSnapshot,
) -> None:
    # S1 claims "aws" and "cloud migration"; S2 claims "sap s/4hana" and "finance".
    migration, sap = skill_match(snapshot, "datacentre exit to AWS", ["S1", "S2"])
    assert migration > sap


def test_skill_phrases_are_embedded_once_and_then_served_from_the_cache(snapshot: FeatureSnapshot) -> None:
    embedder = snapshot.embedder
    assert isinstance(embedder, CachedEmbedder)
    skill_match(snapshot, "ERP finance rollout", ["S2"])
    calls = embedder.encoder_calls
    skill_match(snapshot, "ERP finance rollout", ["S1", "S2"])
    assert embedder.encoder_calls == calls


def test_the_onnx_int8_encoder_exports_once_and_stays_close_to_fp32(
    snapshot: FeatureSnapshot, tmp_path_factory: pytest.TempPathFactory
) -> None:
    cache_dir: Path = tmp_path_factory.mktemp("models")
    texts = ["AWS cloud migration", "SAP S/4HANA finance", "retail analytics", "network security"]
    fp32, int8 = (
        snapshot.embedder.encode(texts),
        make_embedder("minilm-int8", cache_dir=cache_dir).encode(texts),
    )
    assert len(list(cache_dir.glob("*.onnx"))) == 2
    assert (fp32 * int8).sum(axis=1).min() > 0.97
