"""Partner writes update a snapshot in place of a refit: the result must equal `FeatureSnapshot.fit` over the
same partners, and the snapshot written over must stay as it was for its readers."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import fields
from datetime import date
from typing import Any, Final

import numpy as np
import pandas as pd
import pytest

from features import schema as s
from features.catalog import PARTNER_COLUMNS, PartnerCatalog, clean_certifications
from features.embeddings import HashingEmbedder
from features.prior import RolePostings
from features.queries import queries_from_frame
from features.slots import SlotLists
from features.snapshot import FeatureSnapshot
from features.snapshot_updates import with_certifications
from synthetic import generate_ecosystem
from tests.features.snapshot_fixtures import tables

PARTNERS: Final = 300
OPPORTUNITIES: Final = 600
QUERIES: Final = 4  # opportunities whose candidates and team features are compared
CANDIDATES: Final = 12
AS_OF: Final = date(2024, 6, 1)
# Memos, not state: PartnerCatalog fields that `fit` leaves empty and requests fill.
MEMOS: Final = {"_coverage", "_profiles", "_columns"}

Change = Callable[[FeatureSnapshot], FeatureSnapshot]
CHANGED_OR_NOT: Final = ((s.SERVICES, 0), (s.SERVICES, 1), (s.RESELLER, 0))


@pytest.fixture(scope="module")
def eco() -> Any:
    return generate_ecosystem(PARTNERS, OPPORTUNITIES, seed=11).tables


@pytest.fixture(scope="module")
def generated(eco: Any) -> FeatureSnapshot:
    return FeatureSnapshot.build(eco, HashingEmbedder())


@pytest.fixture(scope="module")
def tiny() -> FeatureSnapshot:
    return FeatureSnapshot.build(tables(), HashingEmbedder())


# -- what is compared ----------------------------------------------------------------------------------
def refit(updated: FeatureSnapshot, original: FeatureSnapshot) -> FeatureSnapshot:
    """`fit` from scratch over the updated snapshot's partners, as the writes did before they were
    incremental (the original's phrases lent, so the vocabulary only grows)."""
    return FeatureSnapshot.fit(
        roles=updated.roles,
        embedder=updated.embedder,
        partners=updated.catalog.partners,
        certifications=updated.catalog.certifications,
        vectors=updated.vectors,
        indexes=updated.indexes,
        history=updated.history,
        associations=original.vocabulary.associations,
        phrases=original.vocabulary.phrase_map(),
        conflicts=updated.conflicts,
    )


def assert_same_catalog(a: PartnerCatalog, b: PartnerCatalog) -> None:
    pd.testing.assert_frame_equal(a.partners, b.partners)
    pd.testing.assert_frame_equal(a.certifications, b.certifications)
    for f in fields(PartnerCatalog):
        if f.name in MEMOS or f.name in ("partners", "certifications"):
            continue
        mine, theirs = getattr(a, f.name), getattr(b, f.name)
        if isinstance(mine, np.ndarray):
            assert mine.dtype == theirs.dtype, f.name
            np.testing.assert_array_equal(mine, theirs, err_msg=f.name)
        else:
            assert mine == theirs, f.name


def assert_same_slots(a: SlotLists, b: SlotLists) -> None:
    assert a.n == b.n
    assert a.slots.keys() == b.slots.keys()
    for name in a.slots:
        np.testing.assert_array_equal(a.slots[name], b.slots[name], err_msg=name)
        np.testing.assert_array_equal(a.overflow[name], b.overflow[name], err_msg=name)
    np.testing.assert_array_equal(a.overflow_owner, b.overflow_owner)


def assert_same_postings(a: RolePostings, b: RolePostings) -> None:
    np.testing.assert_array_equal(a.rows, b.rows)
    np.testing.assert_array_equal(a.phrase_offsets, b.phrase_offsets)
    np.testing.assert_array_equal(a.holders, b.holders)
    np.testing.assert_array_equal(a.layout.rows, b.layout.rows)
    np.testing.assert_array_equal(a.layout.static, b.layout.static)
    assert_same_slots(a.layout.tags, b.layout.tags)
    assert_same_slots(a.layout.certs, b.layout.certs)


def assert_same_parts(a: FeatureSnapshot, b: FeatureSnapshot) -> None:
    assert_same_catalog(a.catalog, b.catalog)
    assert a.vocabulary.names == b.vocabulary.names
    np.testing.assert_array_equal(a.vocabulary.vectors, b.vocabulary.vectors)
    np.testing.assert_array_equal(a.vocabulary.groups, b.vocabulary.groups)
    np.testing.assert_array_equal(a.vocabulary.association_columns, b.vocabulary.association_columns)
    assert a.retriever.postings.keys() == b.retriever.postings.keys()
    for role in a.retriever.postings:
        assert_same_postings(a.retriever.postings[role], b.retriever.postings[role])
    np.testing.assert_array_equal(a.featurizer.conflict_keys, b.featurizer.conflict_keys)


def answers(snapshot: FeatureSnapshot, eco: Any) -> list[Any]:
    """Text and prior candidates per role and the team features of the prior's best teams, per query."""
    queries = queries_from_frame(eco.opportunities.head(QUERIES), as_of=AS_OF)
    out: list[Any] = []
    for opp in snapshot.prepare(queries):
        found = {role: snapshot.prior_candidates(opp, role, CANDIDATES) for role in snapshot.roles}
        out.append({role: snapshot.candidates(opp, role, CANDIDATES) for role in snapshot.roles})
        out.append(found)
        teams = [{role: (ids[i] if i < len(ids) else None) for role, ids in found.items()} for i in range(4)]
        out.append(snapshot.team_features(opp, teams).tolist())
    return out


def assert_refit_equal(updated: FeatureSnapshot, original: FeatureSnapshot, eco: Any) -> None:
    fresh = refit(updated, original)
    assert_same_parts(updated, fresh)
    assert answers(updated, eco) == answers(fresh, eco)


# -- the changes ---------------------------------------------------------------------------------------
def active_partner(snapshot: FeatureSnapshot, role: str = s.SERVICES, nth: int = 0) -> dict[str, Any]:
    frame = snapshot.catalog.partners
    mine = frame[(frame[s.PARTNER_TYPE] == role) & (frame[s.STATUS] == s.DEFAULT_PARTNER_STATUS)]
    return snapshot.catalog.profile(str(mine.iloc[nth][s.PARTNER_ID]))


def changed(snapshot: FeatureSnapshot, nth: int = 0, **values: Any) -> FeatureSnapshot:
    partner = active_partner(snapshot, nth=nth)
    return snapshot.with_partners([{**{c: partner[c] for c in PARTNER_COLUMNS}, **values}])


def new_partner(pid: str, **values: Any) -> dict[str, Any]:
    return {
        s.PARTNER_ID: pid,
        s.NAME: "Newco",
        s.PARTNER_TYPE: s.INFLUENCE,
        s.REGIONS: ["emea"],
        s.SKILLS: ["aws", "sap"],
        s.DESCRIPTION: "Cloud strategy for retail",
        s.PSAT: 9.5,
        **values,
    }


CHANGES: Final[dict[str, Change]] = {
    "a_new_description": lambda snap: changed(snap, description="Datacentre exit and cloud operations"),
    "new_skills_it_already_knows": lambda snap: changed(snap, skills=list(snap.vocabulary.names[:6])),
    "a_skill_nobody_had": lambda snap: changed(snap, skills=["quantum annealing", "aws"]),
    "no_skills_at_all": lambda snap: changed(snap, skills=[]),
    "another_region": lambda snap: changed(snap, regions=["atlantis"]),
    "another_role": lambda snap: changed(snap, partner_type=s.RESELLER),
    "an_inactive_status": lambda snap: changed(snap, status="inactive"),
    "a_psat_that_moves_the_median": lambda snap: changed(snap, nth=1, psat=None),
    "a_new_partner": lambda snap: snap.with_partners([new_partner("ZZ-NEW")]),
    "a_new_partner_sorting_first": lambda snap: snap.with_partners([new_partner("0-FIRST")]),
    "several_partners_at_once": lambda snap: snap.with_partners(
        [
            new_partner("ZZ-NEW-2", partner_type=s.SERVICES, skills=["a phrase no one used"]),
            {**active_partner(snap, s.RESELLER), s.TIER: "platinum"},
            {**active_partner(snap, s.INFLUENCE, 1), s.STATUS: "inactive"},
            new_partner("ZZ-NEW-1"),
        ]
    ),
    "deactivation": lambda snap: snap.without_partner(str(active_partner(snap)[s.PARTNER_ID])),
    "new_certifications": lambda snap: snap.with_partners(
        [active_partner(snap)],
        pd.DataFrame(
            {
                s.PARTNER_ID: [active_partner(snap)[s.PARTNER_ID]] * 2,
                s.CERTIFICATION: ["aws-sa", "a certificate nobody held"],
                s.LEVEL: ["expert", None],
                s.ISSUED_AT: pd.to_datetime(["2022-01-01", None]),
                s.EXPIRES_AT: pd.to_datetime([None, "2030-01-01"]),
            }
        ),
    ),
    "a_description_naming_a_phrase_others_describe": lambda snap: changed(
        snap, nth=2, skills=["retail"], description="Retail"
    ),
    "two_writes_in_a_row": lambda snap: changed(
        snap.with_partners([new_partner("ZZ-NEW")]).without_partner("ZZ-NEW"), skills=["edge computing"]
    ),
}


@pytest.mark.parametrize("change", CHANGES.values(), ids=CHANGES.keys())
def test_a_write_gives_the_snapshot_a_refit_gives(
    change: Change, generated: FeatureSnapshot, eco: Any
) -> None:
    assert_refit_equal(change(generated), generated, eco)


@pytest.mark.parametrize("change", CHANGES.values(), ids=CHANGES.keys())
def test_a_write_on_a_tiny_ecosystem_gives_the_snapshot_a_refit_gives(
    change: Change, tiny: FeatureSnapshot
) -> None:
    # Few partners per role: slots grow and shrink with a single partner's lists.
    assert_refit_equal(change(tiny), tiny, tables())


@pytest.mark.parametrize("change", CHANGES.values(), ids=CHANGES.keys())
def test_a_write_leaves_the_snapshot_it_was_made_from_unchanged(change: Change, eco: Any) -> None:
    snapshot = FeatureSnapshot.build(eco, HashingEmbedder())
    before = answers(snapshot, eco)
    catalog = copy.deepcopy(snapshot.catalog)
    postings = copy.deepcopy(dict(snapshot.retriever.postings))
    groups = snapshot.vocabulary.groups.copy()
    change(snapshot)
    assert_same_catalog(snapshot.catalog, catalog)
    for role, kept in postings.items():
        assert_same_postings(snapshot.retriever.postings[role], kept)
    np.testing.assert_array_equal(snapshot.vocabulary.groups, groups)
    assert answers(snapshot, eco) == before


def test_a_write_keeps_coverage_memos_equal_to_fresh_ones(generated: FeatureSnapshot, eco: Any) -> None:
    answers(generated, eco)  # fills the memos
    updated = CHANGES["another_region"](generated)
    assert updated.catalog._coverage
    fresh = refit(updated, generated).catalog
    for (kind, value), mask in updated.catalog._coverage.items():
        np.testing.assert_array_equal(mask, fresh.covers(kind, np.arange(len(fresh)), value))


def test_a_write_serves_the_changed_profile(generated: FeatureSnapshot) -> None:
    partner = active_partner(generated)
    generated.partner(str(partner[s.PARTNER_ID]))  # fills the profile memo
    updated = changed(generated, description="Rewritten")
    assert updated.partner(str(partner[s.PARTNER_ID]))[s.DESCRIPTION] == "Rewritten"


def test_a_write_keeps_the_profiles_already_read_equal_to_fresh_ones(eco: Any) -> None:
    snapshot = FeatureSnapshot.build(eco, HashingEmbedder())
    # Two partners the write leaves alone, one it changes (the reseller).
    ids = [str(active_partner(snapshot, role, i)[s.PARTNER_ID]) for role, i in CHANGED_OR_NOT]
    for pid in ids:
        snapshot.partner(pid)  # fills the profile memos
    updated = CHANGES["several_partners_at_once"](snapshot)
    fresh = refit(updated, snapshot)
    for pid in [*ids, "ZZ-NEW-1", "ZZ-NEW-2"]:
        assert updated.partner(pid) == fresh.partner(pid)


def test_conflicts_give_the_snapshot_a_refit_gives(generated: FeatureSnapshot, eco: Any) -> None:
    ids = [str(active_partner(generated, role)[s.PARTNER_ID]) for role in (s.SERVICES, s.RESELLER)]
    assert_refit_equal(generated.with_conflicts(frozenset({frozenset(ids)})), generated, eco)


def sorted_again(held: pd.DataFrame, given: pd.DataFrame, ids: set[str]) -> pd.DataFrame:
    """The certifications as a write had them before: concatenated, then the whole frame sorted again."""
    certs = pd.concat(
        [held[~held[s.PARTNER_ID].isin(ids)], given[given[s.PARTNER_ID].isin(ids)]], ignore_index=True
    )
    return certs.sort_values([s.PARTNER_ID, s.CERTIFICATION], kind="stable").reset_index(drop=True)


GIVEN_CERTIFICATIONS: Final = {
    "replacing_a_partners_certificates": (["S1"], ["S1", "S1"]),
    "removing_a_partners_certificates": (["S2"], []),
    "adding_them_for_a_partner_sorting_first": (["A0"], ["A0"]),
    "adding_them_for_a_partner_sorting_last": (["ZZ"], ["ZZ", "ZZ"]),
    "several_partners_and_some_not_listed": (["S1", "I1", "ZZ"], ["I1", "ZZ", "S2", "S1"]),
}


@pytest.mark.parametrize(("ids", "owners"), GIVEN_CERTIFICATIONS.values(), ids=GIVEN_CERTIFICATIONS.keys())
def test_certifications_are_spliced_as_sorting_them_again_would(ids: list[str], owners: list[str]) -> None:
    held = clean_certifications(tables().certifications)
    given = clean_certifications(
        pd.DataFrame(
            {
                s.PARTNER_ID: owners,
                s.CERTIFICATION: [f"cert-{i % 2}" for i in range(len(owners))],
                s.LEVEL: ["expert"] * len(owners),
                s.ISSUED_AT: pd.to_datetime(["2022-01-01"] * len(owners)),
                s.EXPIRES_AT: pd.to_datetime([None] * len(owners)),
            }
        )
    )
    # Values and order: an empty given frame (object columns) no longer turns the text columns to object.
    pd.testing.assert_frame_equal(
        with_certifications(held, given, set(ids)), sorted_again(held, given, set(ids)), check_dtype=False
    )


def test_removing_certifications_keeps_the_column_types() -> None:
    held = clean_certifications(tables().certifications)
    given = clean_certifications(pd.DataFrame(columns=held.columns))
    assert with_certifications(held, given, {"S2"}).dtypes.equals(held.dtypes)
