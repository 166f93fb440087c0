"""Quality-aware retrieval (the engine's prior), learned tag associations and the PSAT member feature."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features import schema as s
from features.embeddings import HashingEmbedder
from features.history import TagAssociation
from features.snapshot import FeatureSnapshot, PreparedOpportunity
from tests.features.snapshot_fixtures import TEAMS, aws_query, tables


@pytest.fixture(scope="module")
def engine() -> FeatureSnapshot:
    return FeatureSnapshot.build(tables(), HashingEmbedder())


@pytest.fixture(scope="module")
def opp(engine: FeatureSnapshot) -> PreparedOpportunity:
    return engine.prepare([aws_query()])[0]


def column(engine: FeatureSnapshot, matrix: np.ndarray, name: str) -> np.ndarray:
    return matrix[:, engine.feature_names.index(name)]


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


def test_an_unseen_need_has_no_association(engine: FeatureSnapshot) -> None:
    assert engine.associations.rows(["never asked for"], ["aws"]).tolist() == [[0.0]]


def test_prior_candidates_prefer_the_partner_covering_the_region(engine: FeatureSnapshot, opp) -> None:
    # S2 (north-america, banking) is the only other available services partner besides S1 in emea.
    assert engine.prior_candidates(opp, s.SERVICES, 1) == ["S1"]


def test_prior_candidates_apply_the_hard_filters(engine: FeatureSnapshot, opp) -> None:
    # S3 is at capacity at T and S4 is inactive.
    assert set(engine.prior_candidates(opp, s.SERVICES, 10)) == {"S1", "S2"}


def test_psat_is_a_member_feature_with_the_median_for_unsurveyed_partners(engine, opp) -> None:
    matrix = engine.team_features(opp, TEAMS)
    assert column(engine, matrix, "services_psat")[0] == pytest.approx(8.0)  # S1
    assert column(engine, matrix, "influence_psat")[2] == 0.0  # empty role reads neutral


def test_associations_survive_save_and_load(engine: FeatureSnapshot, opp, tmp_path: Path) -> None:
    checksums = engine.save(tmp_path)
    loaded = FeatureSnapshot.load(tmp_path, HashingEmbedder(), checksums)
    np.testing.assert_array_equal(loaded.team_features(opp, TEAMS), engine.team_features(opp, TEAMS))


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
    engine = FeatureSnapshot.build(eco, HashingEmbedder(), associations_until=pd.Timestamp("2029-01-01").date())
    assert engine.associations.rows(["datacentre exit"], ["cloud migration"]).sum() == 0


def test_prior_scores_of_some_partners_equal_their_scores_among_all(engine: FeatureSnapshot, opp) -> None:
    rows = np.arange(len(engine.known_partner_ids()))
    every = engine.prior_scores(opp, rows)
    np.testing.assert_array_equal(engine.prior_scores(opp, rows[1::2]), every[1::2])


def test_a_shortlisted_prior_starts_with_holders_of_the_most_promising_phrase(
    engine: FeatureSnapshot, opp, monkeypatch: pytest.MonkeyPatch
) -> None:
    exact = engine.prior_candidates(opp, s.SERVICES, 10)
    monkeypatch.setattr("features.snapshot.PRIOR_EXACT_MAX", 0)
    monkeypatch.setattr("features.snapshot.PRIOR_POSTING_PHRASES", 1)
    shortlisted = engine.prior_candidates(opp, s.SERVICES, 10)
    # The best-scored partner holds the top phrase here, so the shortlist finds it ...
    assert shortlisted[0] == exact[0]
    # ... and when the shortlist runs out it carries on over everyone, without repeats.
    assert sorted(shortlisted) == sorted(exact)


def test_prior_scores_are_the_weighted_member_features_of_each_partner(engine: FeatureSnapshot, opp) -> None:
    # The prior re-computes member features in one pass over all partners; it must agree with them.
    from features.snapshot import MATCHING_CERTIFICATIONS_CAP, PRIOR_WEIGHTS

    partners = sorted(p for p in engine.known_partner_ids() if engine.role_of(p) == s.SERVICES)
    matrix = engine.team_features(opp, [{s.SERVICES: p} for p in partners])
    expected = sum(
        weight
        * (
            np.minimum(column(engine, matrix, f"services_{name}"), MATCHING_CERTIFICATIONS_CAP)
            if name == "matching_certifications"
            else column(engine, matrix, f"services_{name}")
        )
        for name, weight in PRIOR_WEIGHTS.items()
    )
    rows = np.asarray([sorted(engine.known_partner_ids()).index(p) for p in partners])
    np.testing.assert_allclose(engine.prior_scores(opp, rows), expected, atol=1e-5)


def test_prior_scores_do_not_depend_on_how_many_entries_sit_in_slots(
    engine: FeatureSnapshot, opp, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = np.arange(len(engine.known_partner_ids()))
    monkeypatch.setattr("features.slots.SLOT_WIDTH", 1)  # most tags and certifications overflow
    narrow = engine.prior_scores(opp, rows)
    monkeypatch.setattr("features.slots.SLOT_WIDTH", 64)  # none do
    np.testing.assert_allclose(engine.prior_scores(opp, rows), narrow, atol=1e-12)
