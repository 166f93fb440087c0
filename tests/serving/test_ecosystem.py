"""Ecosystem KPIs and track records over the tiny ecosystem's closed deals, by hand, and their routes.

Closed deals (tests/features/snapshot_fixtures.py): O1 won 100k in 59 days by S1 (sourced), I1, R1;
O2 lost by S1, I2, R2; O3 won 80k in 122 days by S2, I1; O5 won 120k in 198 days by S1, I1. O4 is open.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from features.contract import ValidatedExport
from features.records import EcosystemTables
from features.store import Store
from serving.ecosystem import DealBooks, certification_statuses, deal_book, ecosystem_kpis, track_record
from serving.report_schemas import CoSeller, DealSplit, Rate
from tests.features.snapshot_fixtures import tables, with_outcome
from tests.serving.conftest import Api

BOOK = deal_book(tables())


def test_kpis_count_closed_deals_with_or_without_partners() -> None:
    assert ecosystem_kpis(BOOK).closed_deals == 4


def test_kpis_give_win_rate_and_velocity_by_partners_per_deal() -> None:
    by_size = {k.partners: k for k in ecosystem_kpis(BOOK).by_team_size}
    assert by_size["1"].win_rate == Rate(hits=0, count=0, rate=None)
    assert (by_size["2"].win_rate.rate, by_size["2"].median_days_to_close) == (1.0, 160.0)
    assert (
        by_size["3+"].win_rate.hits,
        by_size["3+"].win_rate.count,
        by_size["3+"].median_days_to_close,
    ) == (
        1,
        2,
        59.0,
    )


def test_a_won_deal_with_a_sourcing_partner_is_sourced_revenue_and_the_rest_influenced() -> None:
    kpis = ecosystem_kpis(BOOK)
    assert kpis.sourced == DealSplit(deals=1, won=1, revenue=100_000.0)
    assert kpis.influenced == DealSplit(deals=3, won=2, revenue=200_000.0)


def test_top_pairs_rank_joint_wins_then_win_rate_then_ids() -> None:
    pairs = ecosystem_kpis(BOOK).top_pairs
    assert [(p.partner_ids, p.joint_wins, p.win_rate.count) for p in pairs] == [
        (["I1", "S1"], 2, 2),
        (["I1", "R1"], 1, 1),
        (["I1", "S2"], 1, 1),
        (["R1", "S1"], 1, 1),
    ]
    assert pairs[0].names == ["Compass", "Skyway"]


def test_since_keeps_only_deals_closed_on_or_after_the_day() -> None:
    kpis = ecosystem_kpis(BOOK, since=date(2023, 6, 1))
    assert (kpis.closed_deals, kpis.sourced.deals, kpis.influenced) == (
        2,
        0,
        DealSplit(deals=2, won=2, revenue=200_000.0),
    )


def test_a_track_record_counts_the_partners_deals_wins_and_sourcing() -> None:
    record = track_record(BOOK, "S1")
    assert (record.deals, record.wins, record.win_rate.rate) == (3, 2, pytest.approx(2 / 3))
    assert record.sourced == DealSplit(deals=1, won=1, revenue=100_000.0)
    assert record.influenced == DealSplit(deals=2, won=1, revenue=120_000.0)
    assert record.median_days_to_close == 128.5


def test_a_partner_wins_most_with_those_it_shared_the_most_won_deals_with() -> None:
    assert track_record(BOOK, "S1").wins_most_with == [
        CoSeller(partner_id="I1", name="Compass", joint_wins=2, joint_deals=2),
        CoSeller(partner_id="R1", name="Marketly", joint_wins=1, joint_deals=1),
    ]


def test_a_partner_without_closed_deals_has_an_empty_track_record() -> None:
    record = track_record(BOOK, "S4")
    assert (record.deals, record.win_rate.rate, record.median_days_to_close, record.wins_most_with) == (
        0,
        None,
        None,
        [],
    )


def test_a_certificate_is_valid_until_the_day_it_expires() -> None:
    rows = [{"certification": "aws-sa", "issued_at": date(2022, 1, 1), "expires_at": date(2024, 1, 1)}]
    assert certification_statuses(rows, date(2023, 12, 31))[0].valid_today
    assert not certification_statuses(rows, date(2024, 1, 1))[0].valid_today


def test_a_certificate_without_dates_is_always_valid() -> None:
    assert certification_statuses([{"certification": "sap-s4"}], date(2030, 1, 1))[0].valid_today


def _ingest(store: Store, eco: EcosystemTables) -> None:
    store.ingest(ValidatedExport(eco, Path("tiny")))


@pytest.fixture()
def store(tmp_path: Path) -> Store:
    st = Store(f"sqlite:///{tmp_path / 'store.db'}")
    st.migrate()
    _ingest(st, tables())
    return st


def test_the_deal_book_is_reused_until_the_stores_deals_change(store: Store) -> None:
    books = DealBooks(store)
    first = books.current()
    assert books.current() is first
    _ingest(store, with_outcome(tables(), "O2", "won"))
    assert books.current() is not first
    assert books.kpis().influenced.won == 3


def test_the_deal_book_is_rebuilt_once_it_is_older_than_its_maximum_age(store: Store) -> None:
    now = [0.0]
    books = DealBooks(store, max_age_seconds=60.0, clock=lambda: now[0])
    first = books.current()
    now[0] = 61.0
    assert books.current() is not first


def test_kpis_of_a_store_without_deals_are_empty(api: Api) -> None:
    body = api.client.get("/v1/ecosystem/kpis", headers=api.read).json()
    assert (body["closed_deals"], body["top_pairs"], body["sourced"]["revenue"]) == (0, [], 0.0)


def test_kpis_follow_the_deals_the_store_holds(api: Api) -> None:
    _ingest(api.store.store, tables())
    body = api.client.get("/v1/ecosystem/kpis?since=2023-06-01&pairs=1", headers=api.read).json()
    assert (body["closed_deals"], body["influenced"]["revenue"], len(body["top_pairs"])) == (2, 200_000.0, 1)


def test_kpis_need_the_read_scope(api: Api) -> None:
    assert api.client.get("/v1/ecosystem/kpis", headers=api.write).status_code == 403


def test_kpis_refuse_more_pairs_than_the_limit(api: Api) -> None:
    response = api.client.get("/v1/ecosystem/kpis?pairs=51", headers=api.read)
    assert response.status_code == 422


def test_a_partner_profile_carries_its_track_record_and_certificates(api: Api) -> None:
    _ingest(api.store.store, tables())
    body = api.client.get("/v1/partners/S1", headers=api.read).json()
    assert (body["track_record"]["wins"], body["track_record"]["wins_most_with"][0]["partner_id"]) == (
        2,
        "I1",
    )
    assert {c["certification"]: c["valid_today"] for c in body["certifications"]} == {
        "aws-migration": True,
        "aws-sa": False,
    }
