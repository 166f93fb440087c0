"""The prior's shortlist for large roles: holders of promising phrases, capped by an estimated prior."""

from __future__ import annotations

import numpy as np
import pytest

from features import schema as s
from features.embeddings import HashingEmbedder
from features.snapshot import FeatureSnapshot
from tests.features.snapshot_fixtures import aws_query, tables


def shortlisted_ids(snapshot: FeatureSnapshot, opp, role: str) -> list[str]:
    postings = snapshot.retriever.postings[role]
    rows, _, complete = snapshot.retriever.prior.scored(
        opp, snapshot.association_of(opp), postings, np.ones(len(postings.rows), bool), shortlist=True
    )
    assert not complete
    return [str(p) for p in snapshot.catalog.ids[rows]]


@pytest.fixture()
def large_roles(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every role counts as large: the shortlist is used, and keeps at most two partners."""
    monkeypatch.setattr("features.prior.PRIOR_EXACT_MAX", 0)
    monkeypatch.setattr("features.prior.PRIOR_SHORTLIST_MAX", 2)


def test_a_capped_shortlist_keeps_the_partners_with_the_best_prior(
    snapshot: FeatureSnapshot, opp, large_roles: None
) -> None:
    members = snapshot.role_members(s.SERVICES)[0].tolist()
    scores = snapshot.prior_scores(opp, members)
    best_two = {members[i] for i in np.argsort(-scores)[:2]}
    assert set(shortlisted_ids(snapshot, opp, s.SERVICES)) == best_two


def test_prior_candidates_carry_on_over_everyone_when_the_capped_shortlist_runs_out(
    snapshot: FeatureSnapshot, opp, monkeypatch: pytest.MonkeyPatch
) -> None:
    exact = snapshot.prior_candidates(opp, s.SERVICES, 10)
    monkeypatch.setattr("features.prior.PRIOR_EXACT_MAX", 0)
    monkeypatch.setattr("features.prior.PRIOR_SHORTLIST_MAX", 1)
    assert snapshot.prior_candidates(opp, s.SERVICES, 10) == exact


@pytest.mark.parametrize("exact_max", [0, 10**9])
def test_an_excluded_partner_is_never_a_prior_candidate(
    snapshot: FeatureSnapshot, exact_max: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("features.prior.PRIOR_EXACT_MAX", exact_max)
    opp = snapshot.prepare([aws_query()])[0]
    first = snapshot.prior_candidates(opp, s.SERVICES, 10)[0]
    excluding = snapshot.prepare([aws_query(excluded_partner_ids=frozenset({first, "NOT-A-PARTNER"}))])[0]
    assert first not in snapshot.prior_candidates(excluding, s.SERVICES, 10)


def test_a_role_without_partners_has_no_prior_candidates_even_with_exclusions() -> None:
    snapshot = FeatureSnapshot.build(tables(), HashingEmbedder(), roles=(s.SERVICES, "alliances"))
    opp = snapshot.prepare([aws_query(excluded_partner_ids=frozenset({"S1"}))])[0]
    assert snapshot.prior_candidates(opp, "alliances", 5) == []
