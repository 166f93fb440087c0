"""Outcomes posted to the API become deal history (features/outcome_history.py), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest
from sqlalchemy import insert, select

from features import history as h
from features import schema as s
from features import tables as t
from features.contract import load_export
from features.history import PartnerHistory
from features.outcome_history import (
    BREAKS_CONTRACT,
    NEEDS_DETAILS,
    AppliedOutcome,
    OutcomeRejected,
    OutcomeStatus,
    ReportedOutcome,
    Seat,
    apply_outcome,
)
from features.store import Store
from tests.features.conftest import WriteExport, tiny_tables, with_table

# The tiny export: P1 services, P2 influence, P3 reseller; O1 won (closed 2023-04-20, team P1 P2 P3),
# O2 open (created 2023-06-01, no team).
TEAM = (Seat("P1", s.SERVICES, True), Seat("P2", s.INFLUENCE))
DETAILS: dict[str, Any] = {
    s.CUSTOMER_INDUSTRY: "retail",
    s.REGION: "emea-north",
    s.REQUIRED_SKILLS: ["sap"],
    s.CREATED_AT: "2023-08-01",
}


@pytest.fixture
def exported(store: Store, write: WriteExport) -> Store:
    """The store holding the tiny export."""
    store.ingest(load_export(write(tiny_tables())))
    return store


def report(store: Store, opportunity_id: str = "API-1", **fields: Any) -> AppliedOutcome:
    values: dict[str, Any] = {"outcome": s.WON, "team": TEAM, "closed_at": date(2023, 9, 1)}
    values.update(fields)
    with store.writing() as conn:
        return apply_outcome(conn, ReportedOutcome(opportunity_id, **values), roles=s.DEFAULT_ROLES)


def stored(store: Store, opportunity_id: str) -> dict[str, Any]:
    opp = t.opportunities
    with store.engine.connect() as conn:
        row = conn.execute(select(opp).where(opp.c[s.OPPORTUNITY_ID] == opportunity_id)).mappings().one()
    return dict(row)


def team_of(store: Store, opportunity_id: str) -> set[tuple[str, str]]:
    seats = t.deal_partners
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(seats.c[s.PARTNER_ID], seats.c[s.ROLE]).where(seats.c[s.OPPORTUNITY_ID] == opportunity_id)
        ).all()
    return {(str(p), str(r)) for p, r in rows}


def audit(store: Store, opportunity_id: str, created_at: datetime, **opportunity: Any) -> None:
    request = {"opportunity": {"opportunity_id": opportunity_id, "description": "", **opportunity}, "k": 3}
    with store.writing() as conn:
        conn.execute(
            insert(t.audit_log),
            {
                "request_id": "r",
                "created_at": created_at,
                "route": "/v1/recommendations",
                "model_version": "1",
                "request": request,
                "teams": [],
                s.OPPORTUNITY_ID: opportunity_id,
            },
        )


def test_an_outcome_for_a_new_opportunity_adds_it_closed_with_its_team(exported: Store) -> None:
    applied = report(exported, details=DETAILS)
    row = stored(exported, "API-1")
    assert applied.status is OutcomeStatus.ADDED
    assert (row[s.OUTCOME], row[s.CLOSED_AT], row[s.CREATED_AT]) == (
        s.WON,
        date(2023, 9, 1),
        date(2023, 8, 1),
    )
    assert row[t.ORIGIN] == t.ORIGIN_API
    assert team_of(exported, "API-1") == {("P1", s.SERVICES), ("P2", s.INFLUENCE)}


def test_an_outcome_without_details_for_an_unknown_opportunity_is_rejected(exported: Store) -> None:
    with pytest.raises(OutcomeRejected, match="request a recommendation") as info:
        report(exported)
    assert info.value.code == NEEDS_DETAILS


def test_details_come_from_the_latest_recommendation_request_for_the_id(exported: Store) -> None:
    audit(exported, "API-1", datetime(2023, 7, 1, 9), customer_industry="banking")
    audit(exported, "API-1", datetime(2023, 7, 20, 9), customer_industry="retail", required_skills=[" sap "])
    report(exported)
    row = stored(exported, "API-1")
    assert (row[s.CUSTOMER_INDUSTRY], row[s.REQUIRED_SKILLS]) == ("retail", ["sap"])


def test_a_recommendation_request_without_created_at_dates_the_opportunity_on_its_day(
    exported: Store,
) -> None:
    audit(exported, "API-1", datetime(2023, 7, 20, 9))
    report(exported)
    assert stored(exported, "API-1")[s.CREATED_AT] == date(2023, 7, 20)


def test_closed_at_defaults_to_today(exported: Store) -> None:
    report(exported, closed_at=None, details=DETAILS)
    assert stored(exported, "API-1")[s.CLOSED_AT] == date.today()


def test_an_outcome_closes_an_exported_open_opportunity_and_keeps_its_details(exported: Store) -> None:
    applied = report(exported, "O2", details={**DETAILS, s.CUSTOMER_INDUSTRY: "mining"}, deal_size=900.0)
    row = stored(exported, "O2")
    assert applied.status is OutcomeStatus.CLOSED
    assert (row[s.OUTCOME], row[s.CUSTOMER_INDUSTRY], row[s.DEAL_SIZE]) == (s.WON, "banking", 900.0)
    assert row[t.ORIGIN] == t.ORIGIN_API
    assert team_of(exported, "O2") == {("P1", s.SERVICES), ("P2", s.INFLUENCE)}


def test_an_outcome_agreeing_with_an_exported_closed_deal_changes_nothing(exported: Store) -> None:
    team = (Seat("P1", s.SERVICES), Seat("P2", s.INFLUENCE), Seat("P3", s.RESELLER))
    before = stored(exported, "O1")
    applied = report(exported, "O1", team=team, closed_at=None)
    assert applied.status is OutcomeStatus.UNCHANGED
    assert stored(exported, "O1") == before


def test_an_outcome_contradicting_an_exported_closed_deal_is_a_conflict_the_export_wins(
    exported: Store,
) -> None:
    before, team = stored(exported, "O1"), team_of(exported, "O1")
    applied = report(exported, "O1", outcome=s.LOST)
    assert applied.status is OutcomeStatus.CONFLICT
    assert "as won" in applied.detail and "export" in applied.detail
    assert (stored(exported, "O1"), team_of(exported, "O1")) == (before, team)


def test_the_same_outcome_twice_leaves_the_record_unchanged_the_second_time(exported: Store) -> None:
    report(exported, details=DETAILS)
    before = stored(exported, "API-1")
    assert report(exported, details=DETAILS).status is OutcomeStatus.UNCHANGED
    assert stored(exported, "API-1") == before


def test_a_later_outcome_with_other_values_corrects_an_api_record(exported: Store) -> None:
    report(exported, details=DETAILS)
    applied = report(exported, outcome=s.LOST, team=(Seat("P1", s.SERVICES),))
    assert applied.status is OutcomeStatus.UPDATED
    assert stored(exported, "API-1")[s.OUTCOME] == s.LOST
    assert stored(exported, "API-1")[s.CREATED_AT] == date(2023, 8, 1)  # the earlier call's details stay
    assert team_of(exported, "API-1") == {("P1", s.SERVICES)}


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"team": (Seat("P404", s.SERVICES),)}, "team[0].partner_id: unknown partner_id 'P404'"),
        ({"team": (Seat("P1", "plumber"),)}, "team[0].role: 'plumber' not one of"),
        (
            {"closed_at": date(2023, 7, 1)},
            "opportunity.closed_at: closed_at '2023-07-01' is before created_at",
        ),
        ({"details": {**DETAILS, s.REGISTERED_PARTNER_ID: "P9"}}, "opportunity.registered_partner_id"),
        (
            {"team": (Seat("P1", s.SERVICES), Seat("P1", s.SERVICES))},
            "team[1].opportunity_id,partner_id,role: duplicate key",
        ),
    ],
    ids=["unknown-partner", "invalid-role", "closed-before-created", "unknown-registered", "duplicate-seat"],
)
def test_an_outcome_breaking_the_contract_is_rejected_naming_the_field(
    exported: Store, fields: dict[str, Any], expected: str
) -> None:
    with pytest.raises(OutcomeRejected) as info:
        report(exported, **{"details": DETAILS, **fields})
    assert info.value.code == BREAKS_CONTRACT
    assert expected in str(info.value)


def test_a_second_won_bid_for_one_request_is_rejected_and_writes_nothing(
    store: Store, write: WriteExport
) -> None:
    tables = tiny_tables()
    store.ingest(
        load_export(
            write(with_table(tables, opportunities=tables.opportunities.assign(request_id=["R1", ""])))
        )
    )
    counts = store.counts()
    with pytest.raises(OutcomeRejected, match="request 'R1' has more than one won bid"):
        report(store, details={**DETAILS, s.REQUEST_ID: "R1"})
    assert store.counts() == counts


def test_an_export_listing_an_api_record_replaces_it_and_counts_it(
    exported: Store, write: WriteExport
) -> None:
    report(exported, "O2")  # closes the exported open O2 through the API
    summary = exported.ingest(load_export(write(tiny_tables())))
    row = stored(exported, "O2")
    assert summary.replaced_api == 1
    assert (row[s.OUTCOME], row[t.ORIGIN]) == (s.OPEN, t.ORIGIN_EXPORT)
    assert team_of(exported, "O2") == set()


def test_an_export_not_listing_an_api_record_keeps_it(exported: Store, write: WriteExport) -> None:
    report(exported, details=DETAILS)
    summary = exported.ingest(load_export(write(tiny_tables())))
    assert summary.replaced_api == 0
    assert stored(exported, "API-1")[t.ORIGIN] == t.ORIGIN_API


def test_a_deal_closed_through_the_api_counts_only_for_opportunities_created_after_it_closed(
    exported: Store,
) -> None:
    before = PartnerHistory.build(exported.load_tables())
    report(exported, details=DETAILS)  # P1 won API-1, closed 2023-09-01
    after = PartnerHistory.build(exported.load_tables())

    def deals(history: PartnerHistory, created_at: date) -> int:
        return int(history.stats(["P1"], created_at, industry=None, region=None).iloc[0][h.DEALS])

    assert deals(after, date(2023, 9, 2)) == deals(before, date(2023, 9, 2)) + 1
    assert deals(after, date(2023, 8, 31)) == deals(before, date(2023, 8, 31))
