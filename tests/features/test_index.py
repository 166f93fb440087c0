"""RoleIndex: exact search, checksummed save/load and refusal of damaged files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from features.embeddings import normalise_rows
from features.index import FLAT, FLAT16, HNSW, RoleIndex

IDS = ["A", "B", "C", "D"]


def vectors() -> np.ndarray:
    return normalise_rows(np.array([[1, 0, 0], [0.9, 0.1, 0], [0, 1, 0], [0, 0, 1]], dtype=np.float32))


def test_search_returns_the_nearest_partner_first_with_its_cosine() -> None:
    index = RoleIndex.build(IDS, vectors())
    hits = index.search(np.array([1, 0, 0], dtype=np.float32), 2)[0]
    assert [pid for pid, _ in hits] == ["A", "B"]
    assert hits[0][1] == pytest.approx(1.0)


def test_search_returns_fewer_hits_when_n_exceeds_the_index() -> None:
    index = RoleIndex.build(IDS, vectors())
    assert len(index.search(vectors()[:1], 10)[0]) == 4


def test_an_empty_index_returns_no_hits() -> None:
    index = RoleIndex.build([], np.zeros((0, 3), dtype=np.float32))
    assert index.search(np.ones((2, 3), dtype=np.float32), 5) == [[], []]


def test_a_small_index_is_exact_and_a_hnsw_index_can_be_asked_for() -> None:
    assert RoleIndex.build(IDS, vectors()).kind == FLAT
    hnsw = RoleIndex.build(IDS, vectors(), kind=HNSW)
    assert hnsw.search(vectors()[2:3], 1)[0][0][0] == "C"


def test_saved_and_loaded_index_returns_the_same_results(tmp_path: Path) -> None:
    index = RoleIndex.build(IDS, vectors())
    checksum = index.save(tmp_path / "services.npz")
    loaded = RoleIndex.load(tmp_path / "services.npz", checksum)
    queries = normalise_rows(np.array([[0.2, 1, 0], [1, 0, 0.5]], dtype=np.float32))
    assert loaded.search(queries, 3) == index.search(queries, 3)


def test_loading_refuses_a_file_whose_checksum_changed(tmp_path: Path) -> None:
    path = tmp_path / "services.npz"
    checksum = RoleIndex.build(IDS, vectors()).save(path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="sha256"):
        RoleIndex.load(path, checksum)


def test_loading_refuses_an_unreadable_file_without_a_checksum(tmp_path: Path) -> None:
    path = tmp_path / "services.npz"
    RoleIndex.build(IDS, vectors()).save(path)
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(ValueError, match="unreadable"):
        RoleIndex.load(path)


def test_upsert_adds_a_new_partner_without_a_rebuild() -> None:
    index = RoleIndex.build(IDS, vectors())
    index.upsert("E", np.array([0, 0.6, 0.8], dtype=np.float32))
    assert len(index) == 5
    assert index.search(np.array([0, 0.6, 0.8], dtype=np.float32), 1)[0][0][0] == "E"


@pytest.mark.parametrize("kind", [FLAT, FLAT16, HNSW])
def test_upsert_replaces_the_vector_of_a_known_partner(kind: str) -> None:
    index = RoleIndex.build(IDS, vectors(), kind=kind)
    index.upsert("D", np.array([1, 0, 0], dtype=np.float32))
    hits = index.search(np.array([0, 0, 1], dtype=np.float32), 4)[0]
    assert len(index) == 4
    assert [pid for pid, _ in hits].count("D") == 1
    assert dict(hits)["D"] == pytest.approx(0.0)


@pytest.mark.parametrize("kind", [FLAT, FLAT16, HNSW])
def test_a_removed_partner_is_never_returned(kind: str) -> None:
    index = RoleIndex.build(IDS, vectors(), kind=kind)
    assert index.remove("A")
    assert "A" not in {pid for pid, _ in index.search(vectors()[:1], 4)[0]}
    assert len(index.search(vectors()[:1], 4)[0]) == 3


def test_hnsw_removal_leaves_a_tombstone_that_compaction_drops() -> None:
    index = RoleIndex.build(IDS, vectors(), kind=HNSW)
    index.remove("A")
    assert index.tombstones == 1
    compact = index.compact()
    assert (compact.tombstones, len(compact)) == (0, 3)
    assert compact.search(vectors()[2:3], 1)[0][0][0] == "C"


def test_auto_index_is_hnsw_above_the_exact_threshold() -> None:
    assert RoleIndex.build(IDS, vectors(), exact_max=3).kind == HNSW
    assert RoleIndex.build(IDS, vectors(), exact_max=4).kind == FLAT


@pytest.mark.parametrize("kind", [FLAT, FLAT16, HNSW])
def test_an_updated_index_survives_save_and_load(kind: str, tmp_path: Path) -> None:
    index = RoleIndex.build(IDS, vectors(), kind=kind)
    index.remove("B")
    index.upsert("E", np.array([0, 0.6, 0.8], dtype=np.float32))
    checksum = index.save(tmp_path / "i.npz")
    loaded = RoleIndex.load(tmp_path / "i.npz", checksum)
    assert loaded.search(vectors(), 5) == index.search(vectors(), 5)


def test_auto_index_scans_half_precision_from_the_size_where_memory_bounds_the_scan(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("features.index.HALF_PRECISION_MIN", 4)
    assert RoleIndex.build(IDS, vectors()).kind == FLAT16
    assert RoleIndex.build(IDS[:3], vectors()[:3]).kind == FLAT


def test_a_half_precision_index_returns_the_exact_ranking_with_near_exact_cosines() -> None:
    rng = np.random.default_rng(5)
    many = normalise_rows(rng.standard_normal((300, 16)).astype(np.float32))
    ids = [f"P{i}" for i in range(300)]
    exact = RoleIndex.build(ids, many, kind=FLAT).search(many[:5], 10)
    half = RoleIndex.build(ids, many, kind=FLAT16).search(many[:5], 10)
    assert [[p for p, _ in row] for row in half] == [[p for p, _ in row] for row in exact]
    for row_half, row_exact in zip(half, exact, strict=True):
        np.testing.assert_allclose([c for _, c in row_half], [c for _, c in row_exact], atol=2e-3)
