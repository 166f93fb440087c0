"""A minimal bundle manifest for the model tests that save and load bundles."""

from __future__ import annotations

from collections.abc import Sequence

from models.bundle import BundleManifest


def bundle_manifest(feature_names: Sequence[str], roles: Sequence[str] = ("services",)) -> BundleManifest:
    """A manifest declaring these features and roles, with fixed build, embedder and training stamps."""
    return BundleManifest(
        feature_names=list(feature_names),
        feature_version=1,
        feature_build_id="b1",
        embedder_id="hashing-256",
        embedder_kind="hashing",
        roles=list(roles),
        trained_at="2026-01-01T00:00:00",
    )
