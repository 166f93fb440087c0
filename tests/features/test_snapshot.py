"""FeatureSnapshot: retrieval with hard filters, point-in-time team features, save/load."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from features import schema as s
from features.embeddings import HashingEmbedder
from features.snapshot import FeatureSnapshot, PreparedOpportunity
from features.team_features import FEATURE_NAMES
from tests.features.snapshot_fixtures import TEAMS, T, aws_query, tables, with_outcome


def features_of(snapshot: FeatureSnapshot, opp: PreparedOpportunity) -> np.ndarray:
    return snapshot.team_features(opp, TEAMS)


def column(snapshot: FeatureSnapshot, matrix: np.ndarray, name: str) -> np.ndarray:
    return matrix[:, snapshot.feature_names.index(name)]


def test_feature_matrix_matches_the_feature_names_and_has_no_nan(snapshot, opp) -> None:
    matrix = features_of(snapshot, opp)
    assert snapshot.feature_names == FEATURE_NAMES
    assert matrix.shape == (len(TEAMS), len(FEATURE_NAMES))
    assert matrix.dtype == np.float32
    assert not np.isnan(matrix).any()


def test_prepare_embeds_one_vector_per_required_skill(snapshot, opp) -> None:
    assert opp.vector.shape == (snapshot.embedder.dim,)
    assert opp.skill_vectors.shape == (2, snapshot.embedder.dim)


def test_same_inputs_give_identical_features(opp) -> None:
    first = FeatureSnapshot.build(tables(), HashingEmbedder())
    second = FeatureSnapshot.build(tables(), HashingEmbedder())
    np.testing.assert_array_equal(features_of(first, opp), features_of(second, opp))


def test_changing_an_outcome_closed_after_as_of_leaves_every_team_feature_unchanged(snapshot, opp) -> None:
    # O5 and O3 close after T; flipping them must be invisible at T.
    changed = FeatureSnapshot.build(
        with_outcome(with_outcome(tables(), "O5", "lost"), "O3", "lost"), HashingEmbedder()
    )
    np.testing.assert_array_equal(features_of(snapshot, opp), features_of(changed, opp))


def test_changing_an_outcome_closed_before_as_of_changes_team_features(snapshot, opp) -> None:
    changed = FeatureSnapshot.build(with_outcome(tables(), "O1", "lost"), HashingEmbedder())
    before = column(snapshot, features_of(snapshot, opp), "services_win_rate")
    after = column(changed, features_of(changed, opp), "services_win_rate")
    assert after[0] < before[0]


def test_member_features_read_the_partner_and_the_opportunity(snapshot, opp) -> None:
    matrix = features_of(snapshot, opp)
    # Team 0: S1 (gold, emea, retail, 2 closed deals, aws-sa valid at T; aws-migration issued after T).
    assert column(snapshot, matrix, "services_tier_rank")[0] == s.TIER_RANK["gold"]
    assert column(snapshot, matrix, "services_region_match")[0] == 1
    assert column(snapshot, matrix, "services_industry_match")[0] == 1
    assert column(snapshot, matrix, "services_deals")[0] == 2
    assert column(snapshot, matrix, "services_valid_certifications")[0] == 1
    assert column(snapshot, matrix, "services_capacity_load")[0] == pytest.approx(0.5)
    assert column(snapshot, matrix, "registered_partner_on_team").tolist() == [0, 0, 0, 0]


def test_a_missing_role_sets_presence_to_zero(snapshot, opp) -> None:
    matrix = features_of(snapshot, opp)
    assert column(snapshot, matrix, "influence_present").tolist() == [1, 1, 0, 0]
    assert column(snapshot, matrix, "team_size").tolist() == [3, 3, 2, 1]


def test_pair_features_count_deals_the_members_closed_together(snapshot, opp) -> None:
    # Team 0 pairs at T: S1-I1 (O1), S1-R1 (O1), I1-R1 (O1) -> one joint deal each.
    matrix = features_of(snapshot, opp)
    assert column(snapshot, matrix, "pair_joint_deals_mean")[0] == pytest.approx(1.0)


def test_registered_partner_on_team_is_flagged(snapshot) -> None:
    opp = snapshot.prepare([aws_query(registered_partner_id="S1")])[0]
    assert column(snapshot, features_of(snapshot, opp), "registered_partner_on_team").tolist() == [1, 0, 1, 0]


def test_team_features_reject_an_unknown_partner(snapshot, opp) -> None:
    with pytest.raises(ValueError, match="NOPE"):
        snapshot.team_features(opp, [{s.SERVICES: "NOPE"}])


def test_candidates_are_ranked_by_similarity_to_the_opportunity(snapshot) -> None:
    opp = snapshot.prepare([aws_query(as_of=T.replace(year=2022))])[0]
    assert snapshot.candidates(opp, s.SERVICES, 3) == ["S1", "S3", "S2"]


def test_capacity_filter_drops_a_partner_at_capacity(snapshot, opp) -> None:
    # S3 has capacity 1 and O4 open at T.
    assert "S3" not in snapshot.candidates(opp, s.SERVICES, 10)


def test_inactive_and_excluded_partners_are_never_candidates(snapshot) -> None:
    opp = snapshot.prepare([aws_query(excluded_partner_ids=frozenset({"S1"}))])[0]
    assert snapshot.candidates(opp, s.SERVICES, 10) == ["S2"]


def test_registered_partner_is_always_the_first_candidate(snapshot) -> None:
    opp = snapshot.prepare([aws_query(registered_partner_id="S2")])[0]
    assert snapshot.candidates(opp, s.SERVICES, 1) == ["S2"]
    assert snapshot.candidates(opp, s.SERVICES, 2) == ["S2", "S1"]


def test_registered_partner_of_another_role_does_not_enter_this_role(snapshot) -> None:
    opp = snapshot.prepare([aws_query(registered_partner_id="I2")])[0]
    assert "I2" not in snapshot.candidates(opp, s.SERVICES, 5)
    assert snapshot.candidates(opp, s.INFLUENCE, 1) == ["I2"]


def test_partner_returns_the_profile_as_plain_values(snapshot) -> None:
    profile = snapshot.partner("S1")
    assert profile["name"] == "Skyway"
    assert profile["role"] == s.SERVICES
    assert profile[s.CAPACITY] == 2
    assert profile[s.REGIONS] == ["emea"]


def test_known_partner_ids_include_inactive_partners(snapshot) -> None:
    assert snapshot.known_partner_ids() == {"S1", "S2", "S3", "S4", "I1", "I2", "R1", "R2"}


def test_a_saved_and_loaded_snapshot_gives_the_same_candidates_and_features(
    snapshot, opp, tmp_path: Path
) -> None:
    checksums = snapshot.save(tmp_path)
    loaded = FeatureSnapshot.load(tmp_path, HashingEmbedder(), checksums)
    assert loaded.roles == snapshot.roles
    np.testing.assert_array_equal(features_of(loaded, opp), features_of(snapshot, opp))
    for role in snapshot.roles:
        assert loaded.candidates(opp, role, 5) == snapshot.candidates(opp, role, 5)


def test_loading_refuses_a_tampered_file(snapshot, tmp_path: Path) -> None:
    checksums = snapshot.save(tmp_path)
    with (tmp_path / "vectors.npy").open("ab") as fh:
        fh.write(b"\0")
    with pytest.raises(ValueError, match="sha256"):
        FeatureSnapshot.load(tmp_path, HashingEmbedder(), checksums)


def test_loading_refuses_a_different_embedder(snapshot, tmp_path: Path) -> None:
    snapshot.save(tmp_path)
    with pytest.raises(ValueError, match="embedded with"):
        FeatureSnapshot.load(tmp_path, HashingEmbedder(dim=64))


def test_a_snapshot_can_serve_a_subset_of_roles(opp) -> None:
    snapshot = FeatureSnapshot.build(tables(), HashingEmbedder(), roles=[s.SERVICES])
    matrix = snapshot.team_features(opp, [{s.SERVICES: "S1"}])
    assert matrix.shape == (1, len(snapshot.feature_names))
    with pytest.raises(ValueError, match="unknown role"):
        snapshot.candidates(opp, s.INFLUENCE, 3)


S9 = {
    s.PARTNER_ID: "S9",
    s.NAME: "Newco",
    s.PARTNER_TYPE: s.SERVICES,
    s.SKILLS: ["aws"],
    s.DESCRIPTION: "Datacentre exit to AWS for retailers",
}


def test_adding_a_new_partner_embeds_only_its_profile() -> None:
    from features.embedding_cache import CachedEmbedder

    cached = CachedEmbedder(HashingEmbedder(), None)
    snapshot = FeatureSnapshot.build(tables(), cached)
    before = cached.texts_encoded
    snapshot.with_partners([S9])
    assert cached.texts_encoded == before + 1


def test_a_new_partner_is_a_candidate_of_the_returned_snapshot_only() -> None:
    snapshot = FeatureSnapshot.build(tables(), HashingEmbedder())
    updated = snapshot.with_partners([S9])
    opp = updated.prepare([aws_query()])[0]
    assert "S9" in updated.candidates(opp, s.SERVICES, 10)
    assert updated.team_features(opp, [{s.SERVICES: "S9"}]).shape == (1, len(updated.feature_names))
    assert "S9" not in snapshot.candidates(opp, s.SERVICES, 10)
    assert not snapshot.knows("S9")


def test_deactivating_a_partner_removes_it_from_candidates_but_keeps_its_features() -> None:
    snapshot = FeatureSnapshot.build(tables(), HashingEmbedder())
    opp = snapshot.prepare([aws_query()])[0]
    updated = snapshot.without_partner("S1")
    assert "S1" not in updated.candidates(opp, s.SERVICES, 10)
    assert "S1" in updated.known_partner_ids()
    assert column(updated, updated.team_features(opp, TEAMS), "services_deals")[0] == 2


def test_deactivating_a_partner_leaves_the_original_snapshot_unchanged() -> None:
    snapshot = FeatureSnapshot.build(tables(), HashingEmbedder())
    opp = snapshot.prepare([aws_query()])[0]
    snapshot.without_partner("S1")
    assert "S1" in snapshot.candidates(opp, s.SERVICES, 10)
    assert snapshot.partner("S1")[s.STATUS] == s.DEFAULT_PARTNER_STATUS


def test_conflict_pairs_are_zero_by_default(snapshot, opp) -> None:
    assert column(snapshot, snapshot.team_features(opp, TEAMS), "conflict_pairs").tolist() == [0, 0, 0, 0]


def test_conflict_pairs_count_the_flagged_member_pairs_of_the_returned_snapshot_only(snapshot, opp) -> None:
    flagged = snapshot.with_conflicts(frozenset({frozenset({"S1", "R1"})}))
    assert column(flagged, flagged.team_features(opp, TEAMS), "conflict_pairs").tolist() == [1, 0, 1, 0]
    assert column(snapshot, snapshot.team_features(opp, TEAMS), "conflict_pairs").tolist() == [0, 0, 0, 0]


def test_matching_certifications_count_only_valid_certifications_close_to_the_need(snapshot) -> None:
    # S1 at T holds aws-sa (valid) and aws-migration (issued after T); need "aws" matches "aws-sa".
    opp = snapshot.prepare([aws_query(required_skills=("aws-sa",))])[0]
    matrix = snapshot.team_features(opp, TEAMS)
    assert column(snapshot, matrix, "services_matching_certifications")[0] == 1
    assert column(snapshot, matrix, "services_matching_certifications")[1] == 0


def test_team_shape_features_read_roles_tiers_and_cold_starts(snapshot, opp) -> None:
    matrix = features_of(snapshot, opp)
    # Team 2: S1 (gold) + R1 (gold), influence empty; team 3: S3 alone (silver, no closed deals).
    assert column(snapshot, matrix, "role_completeness")[2] == pytest.approx(2 / 3)
    assert column(snapshot, matrix, "tier_min")[2] == s.TIER_RANK["gold"]
    assert column(snapshot, matrix, "cold_start_members")[3] == 1


def test_skill_match_prefers_the_partner_whose_tags_name_the_skill(snapshot) -> None:
    opp = snapshot.prepare([aws_query(required_skills=("sap s/4hana",))])[0]
    matrix = snapshot.team_features(opp, [{s.SERVICES: "S1"}, {s.SERVICES: "S2"}])
    skill_match = column(snapshot, matrix, "services_skill_match")
    assert skill_match[1] > skill_match[0]


def test_team_features_are_the_same_when_computed_from_a_member_block(snapshot, opp) -> None:
    block = snapshot.member_block(opp, ["S1", "S2", "I1", "R1", "I2", "R2", "S3"])
    np.testing.assert_array_equal(
        snapshot.team_features(opp, TEAMS, members=block), snapshot.team_features(opp, TEAMS)
    )


def test_team_features_with_a_member_missing_from_the_block_are_computed_in_full(snapshot, opp) -> None:
    block = snapshot.member_block(opp, ["S2"])
    np.testing.assert_array_equal(
        snapshot.team_features(opp, TEAMS, members=block), snapshot.team_features(opp, TEAMS)
    )


def test_a_prepared_opportunity_still_scores_after_an_upsert_adds_new_phrases() -> None:
    snapshot = FeatureSnapshot.build(tables(), HashingEmbedder())
    early = snapshot.prepare([aws_query()])[0]
    updated = snapshot.with_partners(
        [
            {
                s.PARTNER_ID: "S9",
                s.PARTNER_TYPE: s.SERVICES,
                s.SKILLS: ["edge computing"],
                s.DESCRIPTION: "Edge",
            }
        ]
    )
    late = updated.prepare([aws_query()])[0]
    teams = [*TEAMS, {s.SERVICES: "S9"}]
    np.testing.assert_array_equal(updated.team_features(early, teams), updated.team_features(late, teams))


def test_a_returned_partner_profile_is_a_copy(snapshot) -> None:
    snapshot.partner("S1")[s.SKILLS].append("changed by the caller")
    assert "changed by the caller" not in snapshot.partner("S1")[s.SKILLS]


def test_skill_evidence_is_a_share_and_present_only_for_members(snapshot, opp) -> None:
    matrix = features_of(snapshot, opp)
    evidence = column(snapshot, matrix, "services_skill_evidence")
    assert ((evidence >= 0.0) & (evidence <= 1.0)).all()
    absent = column(snapshot, matrix, "services_present") == 0
    assert (evidence[absent] == 0.0).all()


def test_pair_lift_is_positive_for_members_that_won_together(snapshot, opp) -> None:
    # Team 0 at T: S1, I1 and R1 won O1 together; the pair lift is wins beyond their own records.
    matrix = features_of(snapshot, opp)
    assert column(snapshot, matrix, "pair_lift_mean")[0] > 0


def test_a_team_of_one_has_no_pair_features(snapshot, opp) -> None:
    matrix = features_of(snapshot, opp)
    assert column(snapshot, matrix, "pair_lift_mean")[3] == 0.0
    assert column(snapshot, matrix, "pair_affinity_mean")[3] == 0.0
