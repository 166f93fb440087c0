"""Skill evidence: phrases a description highlights, skill groups by co-holding, evidence coverage."""

from __future__ import annotations

import numpy as np

from features.team_features import (
    FEATURE_NAMES,
    MEMBER_FEATURES,
    SUPPORT_EVIDENCE_SHARE,
    TeamInputs,
    assemble,
)
from features.vocabulary import phrase_mentions, skill_groups


def test_phrase_mentions_finds_known_phrases_as_whole_words_longest_first() -> None:
    phrases = ["aws landing zone", "landing zone", "siem", "siem platform", "AWS Migration Competency"]
    texts = [
        "Acme is known for AWS landing zone and siem, serving banks.",
        "Nothing relevant; siemens is not siem-ish.",
        "a siem platform",
        "holds the aws migration competency",
    ]
    offsets, codes = phrase_mentions(texts, phrases)
    found = [sorted(codes[offsets[i] : offsets[i + 1]].tolist()) for i in range(len(texts))]
    # "landing zone" inside "aws landing zone" is not a second mention; "siemens" is not "siem".
    assert found == [[0, 2], [2], [3], [4]]


def test_phrase_mentions_without_phrases_is_empty() -> None:
    offsets, codes = phrase_mentions(["anything"], [])
    assert offsets.tolist() == [0, 0] and codes.size == 0


def test_skill_groups_split_phrases_that_different_partners_hold() -> None:
    # Phrases 0-2 are held together by partners 0-5, phrases 3-5 by partners 6-11; phrase 6 by nobody.
    codes = np.array([c for p in range(12) for c in ([0, 1, 2] if p < 6 else [3, 4, 5])])
    offsets = np.arange(0, len(codes) + 1, 3)
    groups = skill_groups([(offsets, codes)], 12, 7)
    assert groups[0] == groups[1] == groups[2] >= 0
    assert groups[3] == groups[4] == groups[5] >= 0
    assert groups[0] != groups[3]
    assert groups[6] == -1


def test_evidence_coverage_takes_the_best_member_per_skill_with_support_roles_discounted() -> None:
    n_members = 3
    member = {suffix: np.full(n_members, 0.5) for suffix in MEMBER_FEATURES if suffix != "present"}
    # Member 0 (services) is strong on skill 0, member 1 (influence) on skill 1, member 2 on nothing.
    evidence = np.array([[0.8, 0.0], [0.2, 1.0], [0.0, 0.0]])
    slots = np.array([[0, 1, 2], [0, -1, -1]])
    matrix = assemble(
        TeamInputs(
            slots=slots,
            member=member,
            skill_similarity=np.zeros((n_members, 2)),
            pair_deals=np.zeros((2, 3)),
            pair_rates=np.full((2, 3), np.nan),
            registered_on_team=np.zeros(2),
            log_deal_size=0.0,
            base_rate=0.4,
            evidence=evidence,
        )
    )
    mean = matrix[:, FEATURE_NAMES.index("evidence_coverage_mean")]
    low = matrix[:, FEATURE_NAMES.index("evidence_coverage_min")]
    np.testing.assert_allclose(mean, [(0.8 + SUPPORT_EVIDENCE_SHARE) / 2, 0.4], rtol=1e-6)
    np.testing.assert_allclose(low, [SUPPORT_EVIDENCE_SHARE, 0.0], rtol=1e-6)


def test_without_evidence_the_coverage_is_zero() -> None:
    member = {suffix: np.zeros(1) for suffix in MEMBER_FEATURES if suffix != "present"}
    matrix = assemble(
        TeamInputs(
            slots=np.array([[0, -1, -1]]),
            member=member,
            skill_similarity=np.zeros((1, 0)),
            pair_deals=np.zeros((1, 3)),
            pair_rates=np.full((1, 3), np.nan),
            registered_on_team=np.zeros(1),
            log_deal_size=0.0,
            base_rate=0.4,
        )
    )
    assert matrix[0, FEATURE_NAMES.index("evidence_coverage_mean")] == 0.0


def test_an_upserted_partners_description_is_scanned_like_every_other() -> None:
    from features import schema as s
    from features.embeddings import HashingEmbedder
    from features.snapshot import FeatureSnapshot
    from tests.features.snapshot_fixtures import tables

    snapshot = FeatureSnapshot.build(tables(), HashingEmbedder())
    updated = snapshot.with_partners(
        [
            {
                s.PARTNER_ID: "S9",
                s.PARTNER_TYPE: s.SERVICES,
                s.SKILLS: ["finance"],
                s.DESCRIPTION: "Known for cloud migration and managed cloud",
            }
        ]
    )
    # The update re-derived every partner from the mention cache; a full scan must agree with it.
    catalog, names = updated.catalog, updated.vocabulary.names
    fresh_offsets, fresh_codes = phrase_mentions(catalog.partners[s.DESCRIPTION].tolist(), names)
    np.testing.assert_array_equal(catalog.described_offsets, fresh_offsets)
    np.testing.assert_array_equal(catalog.described_codes, fresh_codes)
    row = catalog.row_of["S9"]
    mine = catalog.described_codes[catalog.described_offsets[row] : catalog.described_offsets[row + 1]]
    assert sorted(names[c] for c in mine) == ["cloud migration", "managed cloud"]
