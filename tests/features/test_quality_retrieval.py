"""Quality-aware retrieval (the snapshot's prior), learned tag associations and the PSAT member feature."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features import schema as s
from features.associations import TagAssociation
from features.embeddings import HashingEmbedder
from features.snapshot import FeatureSnapshot
from tests.features.snapshot_fixtures import TEAMS, tables


def column(snapshot: FeatureSnapshot, matrix: np.ndarray, name: str) -> np.ndarray:
    return matrix[:, snapshot.feature_names.index(name)]


def test_a_need_staffed_with_a_tag_on_several_deals_is_associated_with_it() -> None:
    eco = tables()
    # Three deals needing "datacentre exit", each staffed with S1 (tags "aws", "cloud migration").
    extra = pd.DataFrame(
        {
            s.OPPORTUNITY_ID: ["X1", "X2", "X3"],
            s.REQUIRED_SKILLS: [["datacentre exit"]] * 3,
        }
    )
    opps = pd.concat([eco.opportunities, extra], ignore_index=True)
    seats = pd.DataFrame({s.OPPORTUNITY_ID: ["X1", "X2", "X3"], s.PARTNER_ID: ["S1"] * 3, s.ROLE: s.SERVICES})
    eco = replace(eco, opportunities=opps, deal_partners=pd.concat([eco.deal_partners, seats]))
    association = TagAssociation.build(eco).rows(["datacentre exit"], ["cloud migration", "finance"])
    assert association[0, 0] > 0
    assert association[0, 1] == 0


def test_an_unseen_need_has_no_association(snapshot: FeatureSnapshot) -> None:
    assert snapshot.vocabulary.associations.rows(["never asked for"], ["aws"]).tolist() == [[0.0]]


def test_prior_candidates_prefer_the_partner_covering_the_region(snapshot: FeatureSnapshot, opp) -> None:
    # S2 (north-america, banking) is the only other available services partner besides S1 in emea.
    assert snapshot.prior_candidates(opp, s.SERVICES, 1) == ["S1"]


def test_prior_candidates_apply_the_hard_filters(snapshot: FeatureSnapshot, opp) -> None:
    # S3 is at capacity at T and S4 is inactive.
    assert set(snapshot.prior_candidates(opp, s.SERVICES, 10)) == {"S1", "S2"}


def test_psat_is_a_member_feature_with_the_median_for_unsurveyed_partners(snapshot, opp) -> None:
    matrix = snapshot.team_features(opp, TEAMS)
    assert column(snapshot, matrix, "services_psat")[0] == pytest.approx(8.0)  # S1
    assert column(snapshot, matrix, "influence_psat")[2] == 0.0  # empty role reads neutral


def test_associations_survive_save_and_load(snapshot: FeatureSnapshot, opp, tmp_path: Path) -> None:
    checksums = snapshot.save(tmp_path)
    loaded = FeatureSnapshot.load(tmp_path, HashingEmbedder(), checksums)
    np.testing.assert_array_equal(loaded.team_features(opp, TEAMS), snapshot.team_features(opp, TEAMS))


def test_an_untagged_description_implies_the_tags_its_words_came_with() -> None:
    eco = tables()
    extra = pd.DataFrame(
        {
            s.OPPORTUNITY_ID: [f"X{i}" for i in range(4)],
            s.DESCRIPTION: ["Datacentre exit to AWS", "An AWS datacentre exit", "Payroll upgrade", "Payroll"],
            s.REQUIRED_SKILLS: [["aws rehost"], ["aws rehost"], ["hr suite"], ["hr suite"]],
        }
    )
    eco = replace(eco, opportunities=pd.concat([eco.opportunities, extra], ignore_index=True))
    association = TagAssociation.build(eco)
    # Below the co-occurrence minimum nothing is learned; three deals make "datacentre" count.
    assert association.infer_needs("the datacentre exit we discussed") == []
    more = pd.DataFrame(
        {
            s.OPPORTUNITY_ID: ["X9"],
            s.DESCRIPTION: ["datacentre exit"],
            s.REQUIRED_SKILLS: [["aws rehost"]],
        }
    )
    eco = replace(eco, opportunities=pd.concat([eco.opportunities, more], ignore_index=True))
    assert TagAssociation.build(eco).infer_needs("the datacentre exit we discussed") == ["aws rehost"]


def test_associations_ignore_deals_created_after_the_cutoff() -> None:
    eco = tables()
    late = pd.DataFrame(
        {
            s.OPPORTUNITY_ID: ["X1", "X2", "X3"],
            s.REQUIRED_SKILLS: [["datacentre exit"]] * 3,
            s.CREATED_AT: pd.to_datetime(["2030-01-01"] * 3),
        }
    )
    opps = pd.concat([eco.opportunities, late], ignore_index=True)
    seats = pd.DataFrame({s.OPPORTUNITY_ID: ["X1", "X2", "X3"], s.PARTNER_ID: ["S1"] * 3, s.ROLE: s.SERVICES})
    eco = replace(eco, opportunities=opps, deal_partners=pd.concat([eco.deal_partners, seats]))
    snapshot = FeatureSnapshot.build(
        eco, HashingEmbedder(), associations_until=pd.Timestamp("2029-01-01").date()
    )
    assert snapshot.vocabulary.associations.rows(["datacentre exit"], ["cloud migration"]).sum() == 0


def test_prior_scores_of_some_partners_equal_their_scores_among_all(snapshot: FeatureSnapshot, opp) -> None:
    ids = snapshot.catalog.ids.tolist()
    every = snapshot.prior_scores(opp, ids)
    np.testing.assert_array_equal(snapshot.prior_scores(opp, ids[1::2]), every[1::2])


def test_a_shortlisted_prior_starts_with_holders_of_the_most_promising_phrase(
    snapshot: FeatureSnapshot, opp, monkeypatch: pytest.MonkeyPatch
) -> None:
    exact = snapshot.prior_candidates(opp, s.SERVICES, 10)
    monkeypatch.setattr("features.prior.PRIOR_EXACT_MAX", 0)
    monkeypatch.setattr("features.prior.PRIOR_POSTING_PHRASES", 1)
    shortlisted = snapshot.prior_candidates(opp, s.SERVICES, 10)
    # The best-scored partner holds the top phrase here, so the shortlist finds it ...
    assert shortlisted[0] == exact[0]
    # ... and when the shortlist runs out it carries on over everyone, without repeats.
    assert sorted(shortlisted) == sorted(exact)


def test_prior_scores_are_the_weighted_member_features_of_each_partner(
    snapshot: FeatureSnapshot, opp
) -> None:
    # The prior re-computes member features in one pass over all partners; it must agree with them.
    from features.prior import MATCHING_CERTIFICATIONS_CAP, PRIOR_WEIGHTS

    partners = sorted(p for p in snapshot.known_partner_ids() if snapshot.role_of(p) == s.SERVICES)
    matrix = snapshot.team_features(opp, [{s.SERVICES: p} for p in partners])
    expected = sum(
        weight
        * (
            np.minimum(column(snapshot, matrix, f"services_{name}"), MATCHING_CERTIFICATIONS_CAP)
            if name == "matching_certifications"
            else column(snapshot, matrix, f"services_{name}")
        )
        for name, weight in PRIOR_WEIGHTS.items()
    )
    np.testing.assert_allclose(snapshot.prior_scores(opp, partners), expected, atol=1e-5)


def test_prior_scores_do_not_depend_on_how_many_entries_sit_in_slots(
    snapshot: FeatureSnapshot, opp, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = snapshot.catalog.ids.tolist()
    monkeypatch.setattr("features.slots.SLOT_WIDTH", 1)  # most tags and certifications overflow
    narrow = snapshot.prior_scores(opp, ids)
    monkeypatch.setattr("features.slots.SLOT_WIDTH", 64)  # none do
    np.testing.assert_allclose(snapshot.prior_scores(opp, ids), narrow, atol=1e-12)
