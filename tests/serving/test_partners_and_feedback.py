"""Partner sync (PUT/GET/DELETE, bulk), deal outcomes and rep feedback."""

from __future__ import annotations

from typing import Any

from features import schema as s
from tests.serving.conftest import Api, ApiFactory, request_body

PARTNER: dict[str, Any] = {
    "name": "Northwind Cloud Services",
    "partner_type": "services",
    "tier": "gold",
    "regions": ["emea-north"],
    "skills": ["aws cloud migration"],
    "capacity": 4,
    "certifications": [{"certification": "aws-advanced", "expires_at": "2030-01-01"}],
}


def test_a_put_partner_can_be_read_back(fresh_api: Api) -> None:
    put = fresh_api.client.put("/v1/partners/NEW-1", json=PARTNER, headers=fresh_api.write)
    assert put.status_code == 200 and put.json()["written"] == 1
    got = fresh_api.client.get("/v1/partners/NEW-1", headers=fresh_api.read).json()
    assert (got["name"], got["tier"], got["capacity"]) == (PARTNER["name"], "gold", 4)


def test_a_new_partner_is_served_only_once_the_index_holds_it(fresh_api: Api) -> None:
    put = fresh_api.client.put("/v1/partners/NEW-2", json=PARTNER, headers=fresh_api.write).json()
    got = fresh_api.client.get("/v1/partners/NEW-2", headers=fresh_api.read).json()
    assert put["served_now"] and got["served"] and got["cold_start"]


def test_a_synced_partner_is_suggested_at_once_as_cold_start(fresh_api: Api) -> None:
    body = request_body(candidates={"partner_ids": ["NEW-3"]}, roles=[s.SERVICES])

    def members() -> list[dict[str, Any]]:
        teams = fresh_api.client.post("/v1/recommendations", json=body, headers=fresh_api.read).json()[
            "teams"
        ]
        return [m for team in teams for m in team["members"]]

    assert members() == []
    fresh_api.client.put("/v1/partners/NEW-3", json=PARTNER, headers=fresh_api.write)
    [member] = members()
    assert member["partner_id"] == "NEW-3" and member["cold_start"]


def test_a_partner_with_an_unknown_role_is_rejected(fresh_api: Api) -> None:
    response = fresh_api.client.put(
        "/v1/partners/X", json={**PARTNER, "partner_type": "plumber"}, headers=fresh_api.write
    )
    assert response.status_code == 422
    assert "plumber" in response.json()["message"]


def test_a_partner_with_psat_above_ten_is_rejected(fresh_api: Api) -> None:
    assert (
        fresh_api.client.put(
            "/v1/partners/X", json={**PARTNER, "psat": 11}, headers=fresh_api.write
        ).status_code
        == 422
    )


def test_reading_an_unknown_partner_is_404(fresh_api: Api) -> None:
    response = fresh_api.client.get("/v1/partners/nobody", headers=fresh_api.read)
    assert response.status_code == 404 and response.json()["code"] == "not_found"


def test_a_bulk_upsert_writes_every_partner(fresh_api: Api) -> None:
    bulk = {"partners": [{**PARTNER, "partner_id": f"B-{i}"} for i in range(3)]}
    assert (
        fresh_api.client.post("/v1/partners:bulk", json=bulk, headers=fresh_api.write).json()["written"] == 3
    )
    assert fresh_api.client.get("/v1/partners/B-2", headers=fresh_api.read).status_code == 200


def test_a_bulk_upsert_with_a_duplicate_id_writes_nothing(fresh_api: Api) -> None:
    bulk = {"partners": [{**PARTNER, "partner_id": "D-1"}, {**PARTNER, "partner_id": "D-1"}]}
    assert fresh_api.client.post("/v1/partners:bulk", json=bulk, headers=fresh_api.write).status_code == 409
    assert fresh_api.client.get("/v1/partners/D-1", headers=fresh_api.read).status_code == 404


def test_a_deleted_partner_is_no_longer_suggested(fresh_api: Api) -> None:
    first = fresh_api.client.post("/v1/recommendations", json=request_body(), headers=fresh_api.read).json()[
        "teams"
    ][0]
    top = next(m for m in first["members"] if m["role"] == s.SERVICES)
    # The API database starts empty: the partner is synced first, as a PRM would.
    fresh_api.client.put(
        f"/v1/partners/{top['partner_id']}", json={**PARTNER, "name": top["name"]}, headers=fresh_api.write
    )
    assert (
        fresh_api.client.delete(f"/v1/partners/{top['partner_id']}", headers=fresh_api.write).status_code
        == 200
    )
    body = fresh_api.client.post("/v1/recommendations", json=request_body(k=5), headers=fresh_api.read).json()
    assert all(m["partner_id"] != top["partner_id"] for t in body["teams"] for m in t["members"])
    assert (
        fresh_api.client.get(f"/v1/partners/{top['partner_id']}", headers=fresh_api.read).json()["status"]
        == "inactive"
    )


def test_deleting_an_unknown_partner_is_404(fresh_api: Api) -> None:
    assert fresh_api.client.delete("/v1/partners/nobody", headers=fresh_api.write).status_code == 404


def test_an_outcome_is_stored_with_its_team(fresh_api: Api) -> None:
    # The outcome becomes deal history, so its partner must be known and its opportunity described.
    fresh_api.client.put("/v1/partners/P1", json=PARTNER, headers=fresh_api.write)
    outcome = {
        "outcome": "won",
        "closed_at": "2025-03-01",
        "team": [{"partner_id": "P1", "role": "services"}],
        "opportunity": {"created_at": "2025-01-01"},
    }
    response = fresh_api.client.post("/v1/opportunities/opp-9/outcome", json=outcome, headers=fresh_api.write)
    assert response.status_code == 201
    [row] = fresh_api.store.rows("outcomes")
    assert (row[s.OPPORTUNITY_ID], row[s.OUTCOME], row["team"][0]["partner_id"]) == ("opp-9", "won", "P1")


def test_an_open_outcome_is_rejected(fresh_api: Api) -> None:
    outcome = {"outcome": "open", "team": [{"partner_id": "P1", "role": "services"}]}
    assert (
        fresh_api.client.post(
            "/v1/opportunities/o/outcome", json=outcome, headers=fresh_api.write
        ).status_code
        == 422
    )


def test_feedback_is_stored_with_its_reason_code(fresh_api: Api) -> None:
    feedback = {"team": {"services": "P1"}, "action": "accepted", "reason_code": "good_fit"}
    assert fresh_api.client.post("/v1/feedback", json=feedback, headers=fresh_api.write).status_code == 201
    [row] = fresh_api.store.rows("feedback")
    assert (row["action"], row["reason_code"], row["team"]) == ("accepted", "good_fit", {"services": "P1"})


def test_feedback_with_an_unknown_reason_code_is_rejected(fresh_api: Api) -> None:
    feedback = {"partner_id": "P1", "action": "rejected", "reason_code": "vibes"}
    assert fresh_api.client.post("/v1/feedback", json=feedback, headers=fresh_api.write).status_code == 422


def _top_services_partner(api: Api) -> dict[str, Any]:
    first = api.client.post("/v1/recommendations", json=request_body(), headers=api.read).json()["teams"][0]
    return next(m for m in first["members"] if m["role"] == s.SERVICES)


def _suggested(api: Api) -> set[str]:
    body = api.client.post("/v1/recommendations", json=request_body(k=5), headers=api.read).json()
    return {m["partner_id"] for t in body["teams"] for m in t["members"]}


def test_a_deleted_partner_stays_unsuggested_after_a_restart(make_api: ApiFactory) -> None:
    first = make_api(fresh=True)
    top = _top_services_partner(first)
    first.client.put(
        f"/v1/partners/{top['partner_id']}", json={**PARTNER, "name": top["name"]}, headers=first.write
    )
    first.client.delete(f"/v1/partners/{top['partner_id']}", headers=first.write)
    restarted = make_api(fresh=True, database=first)
    assert top["partner_id"] not in _suggested(restarted)


def test_a_deleted_partner_stays_unsuggested_after_a_reload(fresh_api: Api) -> None:
    top = _top_services_partner(fresh_api)
    pid = top["partner_id"]
    fresh_api.client.put(
        f"/v1/partners/{pid}", json={**PARTNER, "name": top["name"]}, headers=fresh_api.write
    )
    fresh_api.client.delete(f"/v1/partners/{pid}", headers=fresh_api.write)
    assert fresh_api.client.post("/v1/admin/reload", json={}, headers=fresh_api.admin).status_code == 200
    assert pid not in _suggested(fresh_api)


def test_a_partner_added_through_the_api_is_served_after_a_restart(make_api: ApiFactory) -> None:
    first = make_api(fresh=True)
    first.client.put("/v1/partners/NEW-R", json=PARTNER, headers=first.write)
    restarted = make_api(fresh=True, database=first)
    assert restarted.client.get("/v1/partners/NEW-R", headers=restarted.read).json()["served"]
