"""Slot layout of per-partner lists: exact max and sum reductions, subsets, best-first order."""

from __future__ import annotations

import numpy as np

from features.slots import SlotLists, best_first, padded

# Partner 0 holds three entries, partner 1 none, partner 2 one, partner 3 two.
OWNER = np.array([0, 0, 0, 2, 3, 3])
CODE = np.array([4, 1, 2, 0, 3, 5])
VALUES = np.array([[0.1, 5.0], [0.9, -1.0], [0.3, 2.0], [0.7, 0.0], [0.2, 1.5], [0.4, 0.5]])


def lists(width: int) -> SlotLists:
    return SlotLists.build(OWNER, {"code": CODE, "weight": CODE * 1.0}, 4, fill={"weight": 0.0}, width=width)


def entry_max(layout: SlotLists, table: np.ndarray) -> np.ndarray:
    dense = np.take(padded(table, -np.inf), layout.slots["code"], axis=0)
    return layout.max_of(dense, np.take(table, layout.overflow["code"], axis=0))


def test_max_of_is_each_partners_max_whatever_the_slot_width() -> None:
    table = np.zeros((6, 2))
    table[CODE] = VALUES
    expected = [[0.9, 5.0], [-np.inf, -np.inf], [0.7, 0.0], [0.4, 1.5]]
    for width in (1, 2, 3, 8):
        np.testing.assert_array_equal(entry_max(lists(width), table), expected)


def test_sum_of_adds_every_entry_including_the_overflow() -> None:
    layout = lists(width=1)
    dense = np.where(layout.slots["code"] >= 0, layout.slots["weight"], 0.0)
    np.testing.assert_array_equal(layout.sum_of(dense, layout.overflow["weight"]), [7.0, 0.0, 0.0, 8.0])


def test_entries_past_the_width_go_to_the_overflow_of_their_partner() -> None:
    layout = lists(width=1)
    assert layout.width == 1
    assert layout.overflow_owner.tolist() == [0, 0, 3]
    assert layout.overflow["code"].tolist() == [1, 2, 5]


def test_a_subset_keeps_the_overflow_of_its_partners_only_renumbered() -> None:
    part = lists(width=1).subset(np.array([2, 3]))
    assert part.n == 2
    assert part.slots["code"].tolist() == [[0, 3]]
    assert part.overflow_owner.tolist() == [1]
    assert part.overflow["code"].tolist() == [5]


def test_best_first_blocks_follow_descending_score_with_ties_broken_by_row() -> None:
    rng = np.random.default_rng(3)
    rows = rng.permutation(200)
    scores = rng.integers(0, 20, size=200).astype(float)  # many ties
    blocks = list(best_first(rows, scores, first=7))
    expected = rows[np.lexsort((rows, -scores))]
    assert len(blocks[0]) >= 7
    np.testing.assert_array_equal(np.concatenate(blocks), expected)
