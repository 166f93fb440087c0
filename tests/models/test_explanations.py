"""Why a team is suggested: credit shares, top score terms, the cold-start flag and the reasons' wording."""

from __future__ import annotations

from datetime import date

import numpy as np

from features import schema as s
from features.co_selling import Teammate
from features.embeddings import HashingEmbedder
from features.records import OpportunityQuery
from features.snapshot import FeatureSnapshot
from models.explanations import (
    HeldCertificate,
    certificate_reason,
    credit_shares,
    held_certificates,
    is_cold_start,
    member_reasons,
    partnership_reasons,
    plain_term,
    top_contributions,
)
from tests.features.snapshot_fixtures import tables


def test_credit_shares_follow_each_members_own_positive_feature_contributions() -> None:
    names = ["services_skill_match", "services_win_rate", "influence_skill_match", "team_coverage"]
    contrib = np.array([1.0, 2.0, -0.5, 10.0, 0.3])  # last: the bias, never attributed
    shares = credit_shares({"services": "S1", "influence": "I1", "reseller": None}, names, contrib)
    assert shares == {"S1": 1.0, "I1": 0.0}


def test_credit_is_split_evenly_when_no_member_contributes_positively() -> None:
    names = ["services_skill_match", "influence_skill_match"]
    shares = credit_shares({"services": "S1", "influence": "I1"}, names, np.array([-1.0, -2.0, 0.0]))
    assert shares == {"S1": 0.5, "I1": 0.5}


def test_a_team_without_members_has_no_credit_shares() -> None:
    assert credit_shares({"services": None}, ["services_skill_match"], np.array([1.0, 0.0])) == {}


def test_top_contributions_are_the_largest_terms_by_size_without_the_zero_ones() -> None:
    names = ["a", "b", "c", "d"]
    contrib = np.array([0.1, -3.0, 0.0, 2.0, 9.0])  # last: the bias, never listed
    terms = top_contributions(names, {"b": "B described"}, np.array([1.0, 2.0, 3.0, 4.0]), contrib)
    assert [(t.feature, t.description, t.value) for t in terms] == [
        ("b", "B described", 2.0),
        ("d", "d", 4.0),
        ("a", "a", 1.0),
    ]


def test_a_member_is_a_cold_start_when_its_role_cold_start_feature_is_set() -> None:
    names = {"services_cold_start": 0, "influence_cold_start": 1}
    row = np.array([1.0, 0.0])
    assert is_cold_start(names, row, "services")
    assert not is_cold_start(names, row, "influence")


def _mate(**overrides: object) -> Teammate:
    values: dict[str, object] = {
        "partner_id": "I1",
        "name": "Compass",
        "role": "influence",
        "joint_deals": 4.0,
        "joint_wins": 3.0,
        "expected_rate": 0.4,
        "affinity": 0.0,
    }
    return Teammate(**{**values, **overrides})  # type: ignore[arg-type]


def test_a_member_that_co_sold_with_a_teammate_names_it_with_their_record_together() -> None:
    assert partnership_reasons("S1", [_mate()]) == ["Won 3 of 4 deals with Compass (influence)."]


def test_one_deal_together_reads_in_the_singular() -> None:
    assert partnership_reasons("S1", [_mate(joint_deals=1.0, joint_wins=1.0)]) == [
        "Won 1 of 1 deal with Compass (influence)."
    ]


def test_partners_that_never_met_are_called_compatible_only_when_the_learned_affinity_is_notable() -> None:
    assert partnership_reasons("S1", [_mate(joint_deals=0.0, joint_wins=0.0, affinity=0.001)]) == []
    assert partnership_reasons("S1", [_mate(joint_deals=0.0, joint_wins=0.0, affinity=0.05)]) == [
        "Likely to win with Compass (influence): partners like these two win together."
    ]


QUERY = OpportunityQuery(
    as_of=date(2025, 1, 1), required_skills=("AWS Cloud Migration", "kubernetes", "zero trust")
)


def _reasons(skills: list[str], certificates: tuple[HeldCertificate, ...] | None = None) -> list[str]:
    profile = {s.PARTNER_ID: "S1", s.SKILLS: skills}
    names = {"services_valid_certifications": 0}
    return member_reasons(profile, "services", QUERY, names, np.array([2.0]), certificates)


def test_a_member_names_the_required_skills_it_covers_in_the_requests_order_and_spelling() -> None:
    assert _reasons(["kubernetes", "aws cloud migration", "sap"]) == [
        "Covers 2 of 3 required skills: AWS Cloud Migration, kubernetes.",
        "Holds 2 valid certifications on the opportunity date.",
    ]


def test_a_member_names_its_certificates_with_their_expiry() -> None:
    held = (HeldCertificate("AWS Migration Competency", date(2027, 3, 1)),)
    assert _reasons([], held) == ["Certified: AWS Migration Competency (valid until 2027-03-01)."]


def test_certificates_matching_a_required_skill_are_named_first_and_the_rest_counted() -> None:
    held = (
        HeldCertificate("Azure Fundamentals"),
        HeldCertificate("CKA Kubernetes Administrator", date(2026, 5, 1)),
        HeldCertificate("ISO 27001 Auditor"),
    )
    assert certificate_reason(held, QUERY.required_skills) == (
        "Certified: CKA Kubernetes Administrator (valid until 2026-05-01), Azure Fundamentals and 1 more."
    )


def test_a_member_without_valid_certificates_has_no_certificate_reason() -> None:
    assert _reasons([], ()) == []


def test_held_certificates_are_the_ones_valid_on_the_date_with_their_expiry() -> None:
    catalog = FeatureSnapshot.build(tables(), HashingEmbedder()).catalog
    # S1: aws-sa valid 2022-01-01 to 2024-01-01; aws-migration from 2023-08-01 with no expiry.
    assert held_certificates(catalog, "S1", date(2023, 9, 1)) == (
        HeldCertificate("aws-migration", None),
        HeldCertificate("aws-sa", date(2024, 1, 1)),
    )
    assert held_certificates(catalog, "S1", date(2024, 1, 1)) == (HeldCertificate("aws-migration", None),)
    assert held_certificates(catalog, "nobody", date(2024, 1, 1)) == ()


def test_a_member_score_term_reads_in_a_reps_words() -> None:
    assert plain_term("services_win_rate", ["services", "reseller"], "x") == "the services partner's win rate"


def test_a_team_score_term_reads_in_a_reps_words() -> None:
    assert plain_term("pair_affinity_mean", ["services"], "x") == "partners like these win together"


def test_a_score_term_without_plain_words_falls_back_to_its_description() -> None:
    assert plain_term("mystery_score", ["services"], "a description") == "a description"
