"""Where the feature build's parallel parts run (features/parallel.py); cutting them changes nothing."""

from __future__ import annotations

import numpy as np
import pytest

from features.associations import TagAssociation
from features.parallel import IN_PROCESS, InProcess, pieces
from synthetic.ecosystem import generate_ecosystem


class ThreeSlots(InProcess):
    """In process, but cut like a three-worker cluster: the pieces are what a cluster would run."""

    @property
    def slots(self) -> int:
        return 3


def _scaled(item: int, factor: int, offset: int) -> int:
    return item * factor + offset


def _refused(item: int) -> int:
    raise AssertionError(f"piece {item} ran before its results were asked for")


def test_in_process_runs_every_piece_with_the_shared_arguments_in_item_order() -> None:
    assert IN_PROCESS.map(_scaled, [3, 1, 2], 10, 5)() == [35, 15, 25]


def test_in_process_runs_nothing_until_the_results_are_asked_for() -> None:
    gather = IN_PROCESS.map(_refused, [1, 2])
    with pytest.raises(AssertionError, match="piece 1"):
        gather()


def test_in_process_work_is_one_piece_and_a_cluster_gets_several_per_worker() -> None:
    assert pieces(IN_PROCESS, per_slot=4) == 1
    assert pieces(ThreeSlots(), per_slot=4) == 12


def test_word_associations_counted_in_pieces_equal_those_counted_at_once() -> None:
    tables = generate_ecosystem(60, 900, seed=5).tables
    whole = TagAssociation.build(tables)
    cut = TagAssociation.build(tables, ThreeSlots())
    assert len(whole.words) > 50  # the ecosystem has description words worth associating
    np.testing.assert_array_equal(cut.words, whole.words)
    np.testing.assert_array_equal(cut.word_pmi, whole.word_pmi)
    np.testing.assert_array_equal(cut.pmi, whole.pmi)
