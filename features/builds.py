"""Feature builds on disk: a saved FeatureSnapshot per build id, with checksums, under PM_HOME/features."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

from features.snapshot import FeatureSnapshot

BUILD_MANIFEST = "build.json"
LATEST_POINTER = "LATEST"


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
