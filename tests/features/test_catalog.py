"""The rules every layer shares: certificate validity, capacity and availability."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from features.catalog import at_capacity, certificate_valid
from features.embeddings import HashingEmbedder
from features.snapshot import FeatureSnapshot
from tests.features.snapshot_fixtures import T, tables

DAY = 19_000


@pytest.fixture(scope="module")
def snapshot() -> FeatureSnapshot:
    return FeatureSnapshot.build(tables(), HashingEmbedder())


def valid(issued: float, expires: float) -> bool:
    return bool(certificate_valid(np.array([issued]), np.array([expires]), DAY)[0])


def test_a_certificate_issued_on_the_day_is_valid_that_day() -> None:
    assert valid(DAY, DAY + 1)


def test_a_certificate_issued_the_day_after_is_not_yet_valid() -> None:
    assert not valid(DAY + 1, np.inf)


def test_a_certificate_expiring_on_the_day_is_no_longer_valid_that_day() -> None:
    assert not valid(DAY - 10, DAY)


def test_a_certificate_without_dates_is_always_valid() -> None:
    assert valid(-np.inf, np.inf)


def test_a_partner_with_an_unknown_capacity_is_never_at_capacity() -> None:
    assert not at_capacity(np.array([np.nan]), np.array([1_000.0]))[0]


def test_a_partner_is_at_capacity_when_its_open_engagements_reach_it() -> None:
    assert at_capacity(np.array([2.0, 2.0, 0.0]), np.array([2.0, 1.0, 0.0])).tolist() == [True, False, True]


def test_the_catalog_counts_only_active_partners_below_capacity_as_available(snapshot) -> None:
    catalog = snapshot.catalog
    rows = catalog.rows(["S1", "S3", "S4"])  # S1 capacity 2, S3 capacity 1, S4 inactive
    assert catalog.available(rows, np.array([1.0, 1.0, 0.0])).tolist() == [True, False, False]


def test_snapshot_availability_reads_open_engagements_on_the_date(snapshot) -> None:
    # At T: S1 has one open deal of capacity 2, S3 one of capacity 1, S4 is inactive, S2 has no capacity.
    assert snapshot.available(["S1", "S2", "S3", "S4"], T).tolist() == [True, True, False, False]


def test_a_partner_the_snapshot_does_not_know_is_unavailable(snapshot) -> None:
    assert snapshot.available(["NOPE", "S1"], T).tolist() == [False, True]


def test_a_partner_now_at_capacity_was_available_before_its_deal_was_created(snapshot) -> None:
    # S3's only deal (O4, created 2023-06-01) is still open at T.
    assert snapshot.available(["S3"], date(2023, 5, 1)).tolist() == [True]


def test_the_catalog_counts_a_certificate_from_its_issue_day(snapshot) -> None:
    # S1: aws-sa valid 2022-01-01 .. 2024-01-01 (exclusive); aws-migration issued 2023-08-01.
    assert snapshot.catalog.valid_certificate_names("S1", T) == {"aws-sa"}
    assert snapshot.catalog.valid_certificate_names("S1", date(2023, 8, 1)) == {"aws-sa", "aws-migration"}


def test_the_catalog_drops_a_certificate_on_its_expiry_day(snapshot) -> None:
    assert snapshot.catalog.valid_certificate_names("S1", date(2024, 1, 1)) == {"aws-migration"}
