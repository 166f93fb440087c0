"""Rep feedback withholds rejected partners and teams from their opportunity, and busy partners."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import insert

from features import schema as s
from features import tables as t
from serving.answers import challenger_rankings
from serving.feedback_rules import RULE_NO_CAPACITY, RULE_REJECTED_BY_REP, feedback_rules
from serving.schemas import RecommendationRequest
from tests.serving.conftest import OPPORTUNITY, Api, ApiFactory

URL = "/v1/recommendations"
BATCH = "/v1/recommendations:batch"
# Capacity holds read on every request, so a report posted by a test counts for its next request.
UNCACHED = {"feedback_cache_seconds": 0}


def ask(api: Api, opportunity_id: str | None = "opp-1", k: int = 3, **overrides: Any) -> dict[str, Any]:
    opportunity = {**OPPORTUNITY, **({"opportunity_id": opportunity_id} if opportunity_id else {})}
    opportunity.update(overrides.pop("opportunity", {}))
    response = api.client.post(URL, json={"opportunity": opportunity, "k": k, **overrides}, headers=api.read)
    assert response.status_code == 200, response.text
    return dict(response.json())


def members(team: dict[str, Any]) -> dict[str, str]:
    return {m["role"]: m["partner_id"] for m in team["members"]}


def suggested(body: dict[str, Any]) -> set[str]:
    return {pid for team in body["teams"] for pid in members(team).values()}


def top_services(api: Api, opportunity_id: str | None = "opp-1") -> str:
    return members(ask(api, opportunity_id)["teams"][0])[s.SERVICES]


def reject(api: Api, reason: str, opportunity_id: str = "opp-1", **about: Any) -> None:
    feedback = {"opportunity_id": opportunity_id, "action": "rejected", "reason_code": reason, **about}
    assert api.client.post("/v1/feedback", json=feedback, headers=api.write).status_code == 201


def reported_no_capacity(api: Api, partner_id: str, days_ago: int) -> None:
    """A no_capacity rejection stored as if a rep had posted it `days_ago` days ago."""
    row = {
        "created_at": datetime.now().replace(microsecond=0) - timedelta(days=days_ago),
        s.OPPORTUNITY_ID: "opp-old",
        s.PARTNER_ID: partner_id,
        "action": "rejected",
        "reason_code": "no_capacity",
    }
    with api.store.store.writing() as conn:
        conn.execute(insert(t.feedback), row)


def drop_of(body: dict[str, Any], partner_id: str) -> dict[str, Any]:
    return next(d for d in body["dropped"] if d["partner_id"] == partner_id)


def test_a_partner_rejected_for_an_opportunity_is_not_suggested_again_for_it(api: Api) -> None:
    partner = top_services(api)
    reject(api, "wrong_skills", partner_id=partner)
    assert partner not in suggested(ask(api, k=5))


def test_a_rejection_is_listed_in_dropped_with_its_rule_reason_and_date(api: Api) -> None:
    partner = top_services(api)
    reject(api, "channel_conflict", partner_id=partner)
    dropped = drop_of(ask(api), partner)
    assert dropped["rule"] == RULE_REJECTED_BY_REP and dropped["role"] == s.SERVICES
    assert "channel_conflict" in dropped["detail"] and date.today().isoformat() in dropped["detail"]


def test_an_already_engaged_partner_is_still_suggested_for_another_opportunity(api: Api) -> None:
    partner = top_services(api)
    reject(api, "already_engaged", partner_id=partner)
    assert top_services(api, "opp-2") == partner


def test_a_rejection_with_reason_good_fit_excludes_no_one(api: Api) -> None:
    partner = top_services(api)
    reject(api, "good_fit", partner_id=partner)
    assert top_services(api) == partner


def test_an_accepted_suggestion_excludes_no_one(api: Api) -> None:
    partner = top_services(api)
    feedback = {
        "opportunity_id": "opp-1",
        "partner_id": partner,
        "action": "accepted",
        "reason_code": "other",
    }
    assert api.client.post("/v1/feedback", json=feedback, headers=api.write).status_code == 201
    assert top_services(api) == partner


def test_a_rejected_team_is_not_returned_again_but_its_members_are_not_withheld(api: Api) -> None:
    before = [members(team) for team in ask(api, k=4)["teams"]]
    reject(api, "customer_preference", team=before[0])
    after = ask(api, k=3)
    assert [members(team) for team in after["teams"]] == before[1:4]
    assert [team["rank"] for team in after["teams"]] == [1, 2, 3]
    assert after["dropped"] == []


def test_a_rejection_applies_to_its_own_item_of_a_batch_only(api: Api) -> None:
    partner = top_services(api)
    reject(api, "relationship", partner_id=partner)
    items = [{"opportunity": {**OPPORTUNITY, "opportunity_id": o}, "k": 5} for o in ("opp-1", "opp-2")]
    body = api.client.post(BATCH, json={"requests": items}, headers=api.read).json()
    first, second = (item["result"] for item in body["results"])
    assert partner not in suggested(first) and partner in suggested(second)


def test_turning_opportunity_rejections_off_suggests_a_rejected_partner_again(make_api: ApiFactory) -> None:
    api = make_api(feedback_opportunity_rejections=False)
    partner = top_services(api)
    reject(api, "wrong_region", partner_id=partner)
    assert top_services(api) == partner


def test_a_no_capacity_report_withholds_the_partner_from_every_opportunity(make_api: ApiFactory) -> None:
    api = make_api(**UNCACHED)
    partner = top_services(api)
    reject(api, "no_capacity", partner_id=partner)
    for opportunity_id in ("opp-2", None):
        body = ask(api, opportunity_id, k=5)
        assert partner not in suggested(body)
        dropped = drop_of(body, partner)
        assert dropped["rule"] == RULE_NO_CAPACITY and date.today().isoformat() in dropped["detail"]


def test_a_no_capacity_hold_lasts_the_configured_days(make_api: ApiFactory) -> None:
    api = make_api(feedback_capacity_hold_days=14, **UNCACHED)
    partner = top_services(api)
    reported_no_capacity(api, partner, days_ago=13)
    assert partner not in suggested(ask(api, "opp-2", k=5))


def test_a_no_capacity_hold_expires_after_the_configured_days(make_api: ApiFactory) -> None:
    api = make_api(feedback_capacity_hold_days=14, **UNCACHED)
    partner = top_services(api)
    reported_no_capacity(api, partner, days_ago=15)
    assert top_services(api, "opp-2") == partner


def test_a_hold_of_zero_days_turns_capacity_holds_off(make_api: ApiFactory) -> None:
    api = make_api(feedback_capacity_hold_days=0, **UNCACHED)
    partner = top_services(api)
    reject(api, "no_capacity", partner_id=partner)
    assert top_services(api, "opp-2") == partner


def test_capacity_reports_are_read_at_most_once_per_cache_period(make_api: ApiFactory) -> None:
    api = make_api(feedback_cache_seconds=3600)
    partner = top_services(api)
    reject(api, "no_capacity", partner_id=partner)
    assert top_services(api, "opp-2") == partner  # the holds were read by the first request


def test_an_included_partner_wins_over_a_rejection(api: Api) -> None:
    partner = top_services(api)
    reject(api, "wrong_skills", partner_id=partner)
    body = ask(api, constraints={"include": [partner]})
    assert all(members(team)[s.SERVICES] == partner for team in body["teams"])
    assert all(d["partner_id"] != partner for d in body["dropped"])


def test_the_registered_partner_is_never_withheld_by_feedback(make_api: ApiFactory) -> None:
    api = make_api(**UNCACHED)
    partner = top_services(api)
    reject(api, "no_capacity", partner_id=partner)
    reject(api, "already_engaged", partner_id=partner)
    body = ask(api, opportunity={"registered_partner_id": partner})
    assert all(members(team)[s.SERVICES] == partner for team in body["teams"])
    assert all(d["partner_id"] != partner for d in body["dropped"])


def test_the_challenger_ranks_a_shadowed_request_with_the_same_feedback_rules(api: Api) -> None:
    partner = top_services(api)
    reject(api, "wrong_skills", partner_id=partner)
    request = RecommendationRequest.model_validate(
        {"opportunity": {**OPPORTUNITY, "opportunity_id": "opp-1"}, "k": 5}
    )
    rules = feedback_rules(api.app.state)
    [ranking] = challenger_rankings(rules, api.app.state.holder.current, [request])
    assert ranking is not None
    assert partner not in {pid for team in ranking.teams for pid in team["members"].values()}
