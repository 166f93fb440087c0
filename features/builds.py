"""Feature builds on disk: a saved FeatureSnapshot per build id, with checksums, under PM_HOME/features."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

from features.embeddings import Embedder
from features.snapshot import FeatureSnapshot

BUILD_MANIFEST = "build.json"
LATEST_POINTER = "LATEST"


class FeatureBuildError(Exception):
    """A feature build that is missing or fails verification."""


def new_build_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")


def save_feature_build(
    snapshot: FeatureSnapshot, root: Path, build_id: str | None = None, snapshot_at: datetime | None = None
) -> str:
    """Save the snapshot into a fresh folder, then publish it as the latest build atomically.

    `snapshot_at` is when the store was read: partner changes stamped from then on are not in the build.
    """
    build_id = build_id or new_build_id()
    final_dir = root / build_id
    staging = root / f".{build_id}.tmp"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    checksums = snapshot.save(staging)
    manifest = {
        "build_id": build_id,
        "embedder_id": snapshot.embedder_id,
        "feature_version": snapshot.feature_version,
        "feature_names": list(snapshot.feature_names),
        "roles": list(snapshot.roles),
        "checksums": checksums,
        "created_at": datetime.now(UTC).isoformat(),
        "snapshot_at": snapshot_at.isoformat() if snapshot_at is not None else None,
    }
    (staging / BUILD_MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True))
    staging.rename(final_dir)
    pointer = root / LATEST_POINTER
    tmp_pointer = root / f".{LATEST_POINTER}.tmp"
    tmp_pointer.write_text(build_id)
    tmp_pointer.replace(pointer)
    return build_id


def latest_build_id(root: Path) -> str | None:
    pointer = root / LATEST_POINTER
    if not pointer.is_file():
        return None
    build_id = pointer.read_text().strip()
    return build_id or None


def read_build_manifest(root: Path, build_id: str) -> dict[str, object]:
    path = root / build_id / BUILD_MANIFEST
    if not path.is_file():
        raise FeatureBuildError(f"feature build {build_id!r} not found under {root}")
    data: dict[str, object] = json.loads(path.read_text())
    return data


def load_feature_build(root: Path, build_id: str, embedder: Embedder) -> FeatureSnapshot:
    """Load a build after checking the embedder matches and every file's checksum."""
    manifest = read_build_manifest(root, build_id)
    if manifest["embedder_id"] != embedder.model_id:
        raise FeatureBuildError(
            f"feature build {build_id} was embedded with {manifest['embedder_id']}, "
            f"the configured embedder is {embedder.model_id}"
        )
    checksums = manifest["checksums"]
    assert isinstance(checksums, dict)
    try:
        return FeatureSnapshot.load(root / build_id, embedder, checksums=checksums)
    except ValueError as exc:
        raise FeatureBuildError(f"feature build {build_id} failed verification: {exc}") from exc
