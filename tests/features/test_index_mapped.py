"""Approximate (HNSW) role indexes saved as plain FAISS files and memory-mapped on load: sync and sharing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from features import schema as s
from features.embeddings import HashingEmbedder, normalise_rows
from features.index import FLAT, FLAT16, HNSW, RoleIndex, faiss_file
from features.snapshot import FeatureSnapshot, index_file
from tests.features.snapshot_fixtures import aws_query, tables

IDS = [f"P{i}" for i in range(60)]
NEW = np.array([1, 0, 0, 0], dtype=np.float32)


def vectors(n: int = len(IDS), seed: int = 3) -> np.ndarray:
    return normalise_rows(np.random.default_rng(seed).standard_normal((n, 4)).astype(np.float32))


def mapped(tmp_path: Path, ids: list[str] = IDS) -> RoleIndex:
    """An HNSW index of `ids`, saved and loaded back (so memory-mapped)."""
    path = tmp_path / "index.npz"
    RoleIndex.build(ids, vectors(len(ids)), kind=HNSW).save(path)
    return RoleIndex.load(path)


def hit_ids(index: RoleIndex, query: np.ndarray, n: int) -> list[str]:
    return [pid for pid, _ in index.search(query, n)[0]]


def test_an_approximate_index_is_saved_as_a_plain_faiss_file_beside_its_npz(tmp_path: Path) -> None:
    written = RoleIndex.build(IDS, vectors(), kind=HNSW).save(tmp_path / "index.npz")
    assert sorted(written) == ["index.faiss", "index.npz"]
    assert faiss_file(tmp_path / "index.npz").is_file()


@pytest.mark.parametrize("kind", [FLAT, FLAT16])
def test_an_exact_index_stays_one_npz_held_in_memory(kind: str, tmp_path: Path) -> None:
    written = RoleIndex.build(IDS, vectors(), kind=kind).save(tmp_path / "index.npz")
    assert list(written) == ["index.npz"]
    assert not RoleIndex.load(tmp_path / "index.npz").mapped


def test_a_loaded_approximate_index_is_memory_mapped_and_answers_as_before(tmp_path: Path) -> None:
    built = RoleIndex.build(IDS, vectors(), kind=HNSW)
    built.save(tmp_path / "index.npz")
    loaded = RoleIndex.load(tmp_path / "index.npz")
    assert loaded.mapped
    assert loaded.search(vectors()[:5], 10) == built.search(vectors()[:5], 10)


def test_a_partner_added_to_a_mapped_index_is_found(tmp_path: Path) -> None:
    index = mapped(tmp_path)
    index.upsert("NEW", NEW)
    assert (len(index), index.delta_size) == (len(IDS) + 1, 1)
    assert hit_ids(index, NEW, 1) == ["NEW"]


def test_a_replaced_partner_of_a_mapped_index_is_found_once_by_its_new_vector(tmp_path: Path) -> None:
    index = mapped(tmp_path)
    index.upsert("P7", NEW)
    hits = index.search(NEW, len(IDS))[0]
    assert [pid for pid, _ in hits].count("P7") == 1
    assert hits[0] == ("P7", pytest.approx(1.0))


def test_a_removed_partner_of_a_mapped_index_is_never_returned(tmp_path: Path) -> None:
    index = mapped(tmp_path)
    index.upsert("NEW", NEW)
    assert index.remove("P3") and index.remove("NEW")
    found = hit_ids(index, vectors()[3], len(IDS))
    assert "P3" not in found and "NEW" not in found
    assert len(found) == len(IDS) - 1


def test_a_graph_with_many_tombstones_still_returns_n_live_partners(tmp_path: Path) -> None:
    index = mapped(tmp_path)
    for pid in IDS[:45]:
        index.remove(pid)
    assert index.tombstones == 45
    assert len(hit_ids(index, vectors()[0], 10)) == 10
    assert set(hit_ids(index, vectors()[0], 15)) == set(IDS[45:])


def test_a_copy_of_a_mapped_index_shares_the_graph_and_changes_alone(tmp_path: Path) -> None:
    index = mapped(tmp_path)
    copy = index.copy()
    copy.upsert("NEW", NEW)
    copy.remove("P1")
    assert copy.index is index.index
    assert "NEW" not in index and "P1" in index
    assert "P1" in hit_ids(index, vectors()[1], 1)


def test_a_mapped_index_with_changes_survives_save_and_load(tmp_path: Path) -> None:
    index = mapped(tmp_path)
    index.upsert("NEW", NEW)
    index.upsert("P5", -NEW)
    index.remove("P9")
    checksums = index.save(tmp_path / "again" / "index.npz")
    loaded = RoleIndex.load(tmp_path / "again" / "index.npz", checksums)
    assert (loaded.mapped, loaded.delta_size, loaded.tombstones) == (True, 2, 2)
    queries = np.vstack([NEW, -NEW, vectors()[9]])
    assert loaded.search(queries, 20) == index.search(queries, 20)


def test_saving_over_a_mapped_file_leaves_the_loaded_index_readable(tmp_path: Path) -> None:
    index = mapped(tmp_path)
    before = index.search(vectors()[:3], 5)
    RoleIndex.build(IDS[:10], vectors(10, seed=9), kind=HNSW).save(tmp_path / "index.npz")
    assert index.search(vectors()[:3], 5) == before


def test_loading_refuses_a_faiss_file_whose_checksum_changed(tmp_path: Path) -> None:
    path = tmp_path / "index.npz"
    checksums = RoleIndex.build(IDS, vectors(), kind=HNSW).save(path)
    data = bytearray(faiss_file(path).read_bytes())
    data[len(data) // 2] ^= 0xFF
    faiss_file(path).write_bytes(bytes(data))
    with pytest.raises(ValueError, match="sha256"):
        RoleIndex.load(path, checksums)


def test_loading_refuses_an_index_whose_faiss_file_is_missing(tmp_path: Path) -> None:
    path = tmp_path / "index.npz"
    RoleIndex.build(IDS, vectors(), kind=HNSW).save(path)
    faiss_file(path).unlink()
    with pytest.raises(ValueError, match="unreadable"):
        RoleIndex.load(path)


def test_compacting_a_mapped_index_keeps_the_live_partners_in_memory(tmp_path: Path) -> None:
    index = mapped(tmp_path)
    index.upsert("NEW", NEW)
    index.remove("P0")
    fresh = index.compact()
    assert (fresh.mapped, fresh.tombstones, len(fresh)) == (False, 0, len(IDS))
    assert hit_ids(fresh, NEW, 1) == ["NEW"]
    assert "P0" not in fresh


def test_a_snapshot_with_approximate_roles_lists_and_maps_their_faiss_files(tmp_path: Path) -> None:
    snapshot = FeatureSnapshot.build(tables(), HashingEmbedder(), index_exact_max=0)
    checksums = snapshot.save(tmp_path)
    assert f"index-{s.SERVICES}.faiss" in checksums and index_file(s.SERVICES) in checksums
    loaded = FeatureSnapshot.load(tmp_path, HashingEmbedder(), checksums)
    assert all(index.mapped for index in loaded.indexes.values())
    opp = loaded.prepare([aws_query()])[0]
    assert loaded.candidates(opp, s.SERVICES, 5) == snapshot.candidates(opp, s.SERVICES, 5)


def test_a_partner_synced_into_a_loaded_snapshot_is_a_candidate_there_only(tmp_path: Path) -> None:
    snapshot = FeatureSnapshot.build(tables(), HashingEmbedder(), index_exact_max=0)
    loaded = FeatureSnapshot.load(tmp_path, HashingEmbedder(), snapshot.save(tmp_path))
    partner = {
        s.PARTNER_ID: "S9",
        s.NAME: "Nimbus Migrations",
        s.PARTNER_TYPE: s.SERVICES,
        s.SKILLS: ["aws", "migration"],
        s.DESCRIPTION: "Datacentre exit to AWS for retailers",
    }
    updated = loaded.with_partners([partner]).without_partner("S1")
    opp = updated.prepare([aws_query()])[0]
    assert "S9" in updated.candidates(opp, s.SERVICES, 10)
    assert "S1" not in updated.candidates(opp, s.SERVICES, 10)
    assert "S9" not in loaded.candidates(opp, s.SERVICES, 10)
    assert "S1" in loaded.candidates(opp, s.SERVICES, 10)
