"""POST /v1/opportunities/{id}/outcome: the outcome becomes deal history, with provenance and conflicts."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from features import schema as s
from features import tables as t
from features.contract import load_export
from features.export_files import write_export
from tests.features.conftest import tiny_tables
from tests.serving.conftest import Api, request_body

DETAILS = {"customer_industry": "retail", "region": "emea-north", "created_at": "2024-01-10"}
OUTCOME: dict[str, Any] = {
    "outcome": "won",
    "closed_at": "2024-03-01",
    "team": [{"partner_id": "P1", "role": "services", "sourced": True}],
}


@pytest.fixture
def api(fresh_api: Api, tmp_path: Path) -> Api:
    """An API whose database holds the tiny export: P1-P3, O1 won (team P1 P2 P3), O2 open."""
    folder = tmp_path / "export"
    write_export(tiny_tables(), folder, "csv")
    fresh_api.store.store.ingest(load_export(folder))
    return fresh_api


def post(api: Api, opportunity_id: str, body: dict[str, Any], **headers: str) -> Any:
    return api.client.post(
        f"/v1/opportunities/{opportunity_id}/outcome", json=body, headers={**api.write, **headers}
    )


def opportunity(api: Api, opportunity_id: str) -> dict[str, Any] | None:
    opp = t.opportunities
    with api.store.engine.connect() as conn:
        row = conn.execute(select(opp).where(opp.c[s.OPPORTUNITY_ID] == opportunity_id)).mappings().first()
    return dict(row) if row is not None else None


def test_an_outcome_with_details_adds_a_closed_opportunity_and_says_so(api: Api) -> None:
    response = post(api, "NEW-1", {**OUTCOME, "opportunity": DETAILS})
    assert response.status_code == 201
    assert response.json()["history_status"] == "added" and "NEW-1" in response.json()["detail"]
    row = opportunity(api, "NEW-1")
    assert row is not None and (row[s.OUTCOME], row[t.ORIGIN]) == ("won", t.ORIGIN_API)
    [logged] = api.store.rows("outcomes")
    assert (logged["status"], logged["opportunity"]["created_at"]) == ("added", "2024-01-10")


def test_an_unknown_opportunity_without_details_is_422_saying_what_to_do(api: Api) -> None:
    response = post(api, "NEW-1", OUTCOME)
    assert response.status_code == 422
    assert response.json()["code"] == "opportunity_details_needed"
    assert "`opportunity`" in response.json()["message"] and "recommendation" in response.json()["message"]
    assert api.store.rows("outcomes") == []


def test_an_outcome_after_a_recommendation_takes_that_requests_details(api: Api) -> None:
    body = request_body(opportunity={**request_body()["opportunity"], "opportunity_id": "REC-1"})
    assert api.client.post("/v1/recommendations", json=body, headers=api.read).status_code == 200
    response = post(api, "REC-1", {**OUTCOME, "closed_at": None})
    assert response.status_code == 201 and response.json()["history_status"] == "added"
    row = opportunity(api, "REC-1")
    assert row is not None
    assert (row[s.CUSTOMER_INDUSTRY], row[s.CREATED_AT]) == ("financial-services", date.today())


def test_an_outcome_naming_an_unknown_partner_is_422_and_writes_nothing(api: Api) -> None:
    body = {**OUTCOME, "team": [{"partner_id": "P404", "role": "services"}], "opportunity": DETAILS}
    response = post(api, "NEW-1", body)
    assert response.status_code == 422 and response.json()["code"] == "outcome_breaks_contract"
    assert "team[0].partner_id: unknown partner_id 'P404'" in response.json()["message"]
    assert opportunity(api, "NEW-1") is None and api.store.rows("outcomes") == []


def test_an_outcome_closing_before_its_creation_is_422(api: Api) -> None:
    response = post(api, "NEW-1", {**OUTCOME, "closed_at": "2023-01-01", "opportunity": DETAILS})
    assert response.status_code == 422
    assert "opportunity.closed_at: closed_at '2023-01-01' is before created_at" in response.json()["message"]


def test_an_outcome_closes_an_exported_open_opportunity(api: Api) -> None:
    response = post(api, "O2", OUTCOME)
    assert response.status_code == 201 and response.json()["history_status"] == "closed"
    row = opportunity(api, "O2")
    assert row is not None and (row[s.OUTCOME], row[t.ORIGIN]) == ("won", t.ORIGIN_API)


def test_an_outcome_contradicting_an_exported_closed_deal_is_409_and_logged_as_a_conflict(api: Api) -> None:
    response = post(api, "O1", {**OUTCOME, "outcome": "lost"})
    assert response.status_code == 409 and response.json()["code"] == "outcome_conflict"
    assert "as won" in response.json()["message"] and "export" in response.json()["message"]
    row = opportunity(api, "O1")
    assert row is not None and row[s.OUTCOME] == "won"
    [logged] = api.store.rows("outcomes")
    assert logged["status"] == "conflict"


def test_an_outcome_agreeing_with_an_exported_closed_deal_is_recorded_unchanged(api: Api) -> None:
    team = [
        {"partner_id": p, "role": r} for p, r in (("P1", "services"), ("P2", "influence"), ("P3", "reseller"))
    ]
    response = post(api, "O1", {"outcome": "won", "team": team})
    assert response.status_code == 201 and response.json()["history_status"] == "unchanged"


def test_posting_the_same_outcome_twice_changes_nothing_the_second_time(api: Api) -> None:
    body = {**OUTCOME, "opportunity": DETAILS}
    first = post(api, "NEW-1", body).json()
    stored = opportunity(api, "NEW-1")
    again = post(api, "NEW-1", body).json()
    assert (again["id"], again["history_status"]) == (first["id"], "unchanged")
    assert opportunity(api, "NEW-1") == stored and len(api.store.rows("outcomes")) == 1


def test_a_corrected_outcome_updates_the_api_record(api: Api) -> None:
    post(api, "NEW-1", {**OUTCOME, "opportunity": DETAILS})
    response = post(api, "NEW-1", {**OUTCOME, "outcome": "lost"})
    assert response.json()["history_status"] == "updated"
    row = opportunity(api, "NEW-1")
    assert row is not None and row[s.OUTCOME] == "lost"


def test_an_idempotency_key_replays_the_first_answer(api: Api) -> None:
    body = {**OUTCOME, "opportunity": DETAILS}
    first = post(api, "NEW-1", body, **{"Idempotency-Key": "outcome-1"})
    again = post(api, "NEW-1", body, **{"Idempotency-Key": "outcome-1"})
    assert again.headers.get("Idempotent-Replayed") == "true" and again.json() == first.json()


def test_a_replayed_conflict_is_409_again(api: Api) -> None:
    body = {**OUTCOME, "outcome": "lost"}
    post(api, "O1", body, **{"Idempotency-Key": "outcome-2"})
    again = post(api, "O1", body, **{"Idempotency-Key": "outcome-2"})
    assert again.status_code == 409 and again.json()["code"] == "outcome_conflict"
