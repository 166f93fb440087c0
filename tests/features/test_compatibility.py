"""Partner compatibility learned from co-selling outcomes (features/compatibility.py)."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score

from features.compatibility import Compatibility, checkpoint_days, pair_residuals

N_PARTNERS = 600
CAMPS = 3


def _camp_history(seed: int = 0, deals: int = 8000) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Three-member deals drawn at random; same-camp pairs add to the win logit, rival pairs subtract."""
    rng = np.random.default_rng(seed)
    camp = rng.integers(0, CAMPS, N_PARTNERS)
    members = rng.integers(0, N_PARTNERS, (deals, 3))
    logit = np.full(deals, -0.3)
    for i, j in ((0, 1), (0, 2), (1, 2)):
        a, b = camp[members[:, i]], camp[members[:, j]]
        logit += np.where(a == b, 1.2, np.where((a - b) % CAMPS == 1, -1.2, 0.0))
    won = (rng.random(deals) < 1.0 / (1.0 + np.exp(-logit))).astype(np.float64)
    rows = {
        "deal": np.repeat(np.arange(deals), 3),
        "code": members.ravel().astype(np.int64),
        "won": np.repeat(won, 3),
        "close_day": np.repeat(np.arange(deals) // 8, 3).astype(np.int64),
    }
    return camp, rows


def test_partners_of_one_camp_get_a_higher_affinity_than_rivals_who_never_met() -> None:
    camp, rows = _camp_history()
    compat = Compatibility.build(n_codes=N_PARTNERS, **rows)
    rng = np.random.default_rng(1)
    a, b = rng.integers(0, N_PARTNERS, 20000), rng.integers(0, N_PARTNERS, 20000)
    keys = set(pair_residuals(rows["deal"], rows["code"], rows["won"], N_PARTNERS)[0].tolist())
    never_met = np.array(
        [min(x, y) * N_PARTNERS + max(x, y) not in keys and x != y for x, y in zip(a, b, strict=True)]
    )
    a, b = a[never_met], b[never_met]
    affinity = compat.affinity(a, b, day=10**6)
    same = camp[a] == camp[b]
    assert roc_auc_score(same, affinity) > 0.6


def test_affinity_before_the_first_checkpoint_is_zero() -> None:
    _, rows = _camp_history()
    compat = Compatibility.build(n_codes=N_PARTNERS, **rows)
    first = int(compat.cutoffs[0])
    assert np.all(compat.affinity(np.arange(10), np.arange(10, 20), day=first - 1) == 0.0)


def test_a_later_outcome_does_not_change_the_affinity_on_an_earlier_day() -> None:
    _, rows = _camp_history()
    flipped = dict(rows)
    late = rows["close_day"] >= rows["close_day"].max() - 30
    flipped["won"] = np.where(late, 1.0 - rows["won"], rows["won"])
    before = Compatibility.build(n_codes=N_PARTNERS, **rows)
    after = Compatibility.build(n_codes=N_PARTNERS, **flipped)
    day = int(rows["close_day"].max()) - 31
    a, b = np.arange(0, 300), np.arange(300, 600)
    np.testing.assert_array_equal(before.affinity(a, b, day), after.affinity(a, b, day))


def test_checkpoints_end_after_the_last_closed_deal() -> None:
    days = np.array([100, 400, 900])
    assert checkpoint_days(days)[-1] == 901


def test_partner_scores_sum_the_affinity_to_every_anchor() -> None:
    _, rows = _camp_history()
    compat = Compatibility.build(n_codes=N_PARTNERS, **rows)
    anchors, candidates = np.array([3, 7]), np.arange(20, 40)
    expected = compat.affinity(3, candidates, 10**6) + compat.affinity(7, candidates, 10**6)
    np.testing.assert_allclose(compat.partner_scores(anchors, candidates, 10**6), expected, rtol=1e-5)


def test_no_pairs_give_an_embedding_of_zeros() -> None:
    rows = {
        "deal": np.arange(50),
        "code": np.arange(50) % 10,
        "won": np.ones(50),
        "close_day": np.arange(50, dtype=np.int64),
    }
    compat = Compatibility.build(n_codes=10, **rows)
    assert np.all(compat.factors == 0.0)


def test_the_affinity_matrix_matches_pairwise_affinity() -> None:
    _, rows = _camp_history()
    compat = Compatibility.build(n_codes=N_PARTNERS, **rows)
    anchors, candidates = np.array([3, 7, -1]), np.arange(0, 40)
    matrix = compat.affinity_matrix(anchors, candidates, 10**6)
    np.testing.assert_allclose(matrix[:, 1], compat.affinity(7, candidates, 10**6), rtol=1e-5, atol=1e-9)
    assert np.all(matrix[:, 2] == 0.0) and matrix[3, 0] == 0.0


def test_the_best_partners_are_the_highest_affinities_best_first() -> None:
    _, rows = _camp_history()
    compat = Compatibility.build(n_codes=N_PARTNERS, **rows)
    candidates = np.arange(100, 400)
    positions, scores = compat.best_partners(np.array([5]), candidates, 10**6, n=3)
    expected = np.argsort(-compat.affinity(5, candidates, 10**6))[:3]
    np.testing.assert_array_equal(positions[0], expected)
    assert scores[0, 0] >= scores[0, 1] >= scores[0, 2]
