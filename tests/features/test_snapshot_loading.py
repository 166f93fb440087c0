"""Loading a saved snapshot fast: partner vectors mapped, description scans kept with the build."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from features.embeddings import HashingEmbedder
from features.snapshot import DESCRIBED_FILE, VECTORS_FILE, FeatureSnapshot


def test_a_loaded_snapshot_describes_partners_as_the_saved_one(
    snapshot: FeatureSnapshot, tmp_path: Path
) -> None:
    loaded = FeatureSnapshot.load(tmp_path, HashingEmbedder(), snapshot.save(tmp_path))
    np.testing.assert_array_equal(loaded.catalog.described_offsets, snapshot.catalog.described_offsets)
    np.testing.assert_array_equal(loaded.catalog.described_codes, snapshot.catalog.described_codes)


def test_loading_does_not_scan_the_descriptions_again(
    snapshot: FeatureSnapshot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checksums = snapshot.save(tmp_path)

    def no_scan(*_: object) -> None:
        raise AssertionError("descriptions scanned again")

    monkeypatch.setattr("features.vocabulary.phrase_mentions", no_scan)
    assert FeatureSnapshot.load(tmp_path, HashingEmbedder(), checksums).knows("S1")


def test_a_build_saved_without_description_scans_still_loads(
    snapshot: FeatureSnapshot, tmp_path: Path
) -> None:
    checksums = snapshot.save(tmp_path)
    (tmp_path / DESCRIBED_FILE).unlink()
    del checksums[DESCRIBED_FILE]
    loaded = FeatureSnapshot.load(tmp_path, HashingEmbedder(), checksums)
    np.testing.assert_array_equal(loaded.catalog.described_codes, snapshot.catalog.described_codes)


def test_loading_refuses_tampered_description_scans(snapshot: FeatureSnapshot, tmp_path: Path) -> None:
    checksums = snapshot.save(tmp_path)
    (tmp_path / DESCRIBED_FILE).write_bytes(b"not the saved scans")
    with pytest.raises(ValueError, match=DESCRIBED_FILE):
        FeatureSnapshot.load(tmp_path, HashingEmbedder(), checksums)


def test_the_partner_vectors_of_a_loaded_snapshot_are_mapped_read_only(
    snapshot: FeatureSnapshot, tmp_path: Path
) -> None:
    loaded = FeatureSnapshot.load(tmp_path, HashingEmbedder(), snapshot.save(tmp_path))
    assert not loaded.vectors.flags.writeable
    assert isinstance(loaded.vectors.base, np.memmap) or isinstance(loaded.vectors, np.memmap)
    np.testing.assert_array_equal(loaded.vectors, np.load(tmp_path / VECTORS_FILE))
