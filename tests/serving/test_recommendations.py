"""POST /v1/recommendations, the batch route and the what-if routes, through a TestClient."""

from __future__ import annotations

from features import schema as s
from models.rules import RULE_MIN_TIER
from tests.serving.conftest import Api, request_body

URL = "/v1/recommendations"


def ids(team: dict) -> dict[str, str]:
    return {m["role"]: m["partner_id"] for m in team["members"]}


def test_recommend_returns_k_teams_from_the_served_model(api: Api) -> None:
    response = api.client.post(URL, json=request_body(k=4), headers=api.read)
    assert response.status_code == 200
    body = response.json()
    assert body["model_version"] == "1"
    assert [t["rank"] for t in body["teams"]] == [1, 2, 3, 4]


def test_recommend_rejects_k_above_the_limit(api: Api) -> None:
    response = api.client.post(URL, json=request_body(k=51), headers=api.read)
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_request"
    assert "k" in response.json()["detail"][0]["loc"]


def test_recommend_rejects_an_unknown_role(api: Api) -> None:
    response = api.client.post(URL, json=request_body(roles=["plumber"]), headers=api.read)
    assert response.status_code == 422
    assert "plumber" in response.json()["message"]


def test_an_excluded_partner_is_never_suggested(api: Api) -> None:
    first = api.client.post(URL, json=request_body(), headers=api.read).json()["teams"][0]
    banned = ids(first)[s.SERVICES]
    body = api.client.post(URL, json=request_body(constraints={"exclude": [banned]}), headers=api.read).json()
    assert all(ids(team)[s.SERVICES] != banned for team in body["teams"])


def test_min_tier_keeps_only_partners_at_or_above_it_and_reports_the_dropped(api: Api) -> None:
    body = api.client.post(URL, json=request_body(constraints={"min_tier": "gold"}), headers=api.read).json()
    engine = api.app.state.holder.current.model.recommender.snapshot
    tiers = {engine.partner(pid)[s.TIER] for team in body["teams"] for pid in ids(team).values()}
    assert tiers <= {"gold", "platinum"}
    assert body["filters_applied"] == ["min_tier: gold"]
    assert body["dropped"] and {d["rule"] for d in body["dropped"]} == {RULE_MIN_TIER}


def test_an_included_partner_is_on_every_team(api: Api) -> None:
    first = api.client.post(URL, json=request_body(k=5), headers=api.read).json()["teams"][-1]
    wanted = ids(first)[s.RESELLER]
    body = api.client.post(URL, json=request_body(constraints={"include": [wanted]}), headers=api.read).json()
    assert all(ids(team)[s.RESELLER] == wanted for team in body["teams"])


def test_including_an_unknown_partner_is_a_404_naming_it(api: Api) -> None:
    response = api.client.post(URL, json=request_body(constraints={"include": ["nobody"]}), headers=api.read)
    assert response.status_code == 404
    assert response.json()["code"] == "unknown_partner" and "nobody" in response.json()["message"]


def test_a_candidate_team_naming_a_role_not_requested_is_a_409(api: Api) -> None:
    body = request_body(roles=[s.SERVICES], candidates={"teams": [{s.RESELLER: "R-anything"}]})
    response = api.client.post(URL, json=body, headers=api.read)
    assert response.status_code == 409 and response.json()["code"] == "conflicting_request"


def test_candidate_partner_ids_limit_the_teams_to_those_partners(api: Api) -> None:
    pool = api.client.post(URL, json=request_body(k=5), headers=api.read).json()["teams"]
    allowed = sorted({pid for team in pool[3:5] for pid in ids(team).values()})
    body = api.client.post(
        URL, json=request_body(candidates={"partner_ids": allowed}), headers=api.read
    ).json()
    assert body["teams"]
    assert {pid for team in body["teams"] for pid in ids(team).values()} <= set(allowed)


def test_explicit_candidate_teams_are_re_ranked_as_given(api: Api) -> None:
    pool = api.client.post(URL, json=request_body(k=3), headers=api.read).json()["teams"]
    given = [ids(team) for team in reversed(pool)]
    body = api.client.post(URL, json=request_body(candidates={"teams": given}), headers=api.read).json()
    assert [ids(team) for team in body["teams"]] == [ids(team) for team in pool]


def test_explain_gives_reasons_contributions_and_credit_shares_summing_to_one(api: Api) -> None:
    team = api.client.post(URL, json=request_body(explain=True), headers=api.read).json()["teams"][0]
    assert team["explanation"] and all("description" in c for c in team["explanation"])
    assert abs(sum(m["credit_share"] for m in team["members"]) - 1.0) < 1e-3
    assert any(m["reasons"] for m in team["members"])


def test_without_explain_no_explanation_is_computed(api: Api) -> None:
    team = api.client.post(URL, json=request_body(), headers=api.read).json()["teams"][0]
    assert team["explanation"] is None


def test_members_come_with_their_reasons_without_asking_for_an_explanation(api: Api) -> None:
    team = api.client.post(URL, json=request_body(), headers=api.read).json()["teams"][0]
    assert any(m["reasons"] for m in team["members"])


def test_reasons_are_the_same_with_or_without_an_explanation(api: Api) -> None:
    plain = api.client.post(URL, json=request_body(), headers=api.read).json()["teams"]
    explained = api.client.post(URL, json=request_body(explain=True), headers=api.read).json()["teams"]
    assert [[m["reasons"] for m in t["members"]] for t in plain] == [
        [m["reasons"] for m in t["members"]] for t in explained
    ]


def test_diversity_spreads_the_suggestions_over_more_partners(api: Api) -> None:
    def distinct(**extra: object) -> int:
        body = api.client.post(URL, json=request_body(k=5, **extra), headers=api.read).json()
        return len({pid for team in body["teams"] for pid in ids(team).values()})

    assert distinct(diversity=0.2) >= distinct()


def test_every_recommendation_is_written_to_the_audit_log(api: Api) -> None:
    body = api.client.post(URL, json=request_body(), headers=api.read).json()
    [entry] = api.store.audit_entries(body["request_id"])
    assert entry["model_version"] == "1"
    assert entry["request"]["k"] == 3
    assert [t["members"] for t in entry["teams"]] == [ids(t) for t in body["teams"]]


def test_a_batch_answers_each_item_on_its_own(api: Api) -> None:
    batch = {"requests": [request_body(k=2), request_body(constraints={"include": ["nobody"]})]}
    body = api.client.post(URL + ":batch", json=batch, headers=api.read).json()
    assert [item["status"] for item in body["results"]] == [200, 404]
    assert len(body["results"][0]["result"]["teams"]) == 2


def test_a_batch_item_with_a_role_outside_the_schema_fails_the_whole_batch(api: Api) -> None:
    batch = {"requests": [request_body(k=2), request_body(roles=["plumber"])]}
    response = api.client.post(URL + ":batch", json=batch, headers=api.read)
    assert response.status_code == 422 and "requests[1].roles" in response.json()["message"]


def test_a_batch_of_more_than_100_is_rejected(api: Api) -> None:
    batch = {"requests": [request_body(k=1)] * 101}
    assert api.client.post(URL + ":batch", json=batch, headers=api.read).status_code == 422


def test_replace_member_keeps_the_others_and_never_returns_the_replaced_partner(api: Api) -> None:
    team = ids(api.client.post(URL, json=request_body(), headers=api.read).json()["teams"][0])
    what_if = {"opportunity": request_body()["opportunity"], "team": team, "replace_role": s.SERVICES}
    body = api.client.post("/v1/what-if/replace-member", json=what_if, headers=api.read).json()
    assert body["teams"]
    for suggestion in map(ids, body["teams"]):
        assert suggestion[s.SERVICES] != team[s.SERVICES]
        assert suggestion[s.INFLUENCE] == team[s.INFLUENCE] and suggestion[s.RESELLER] == team[s.RESELLER]


def test_include_partner_returns_teams_that_all_contain_it(api: Api) -> None:
    last = ids(api.client.post(URL, json=request_body(k=5), headers=api.read).json()["teams"][-1])
    what_if = {"opportunity": request_body()["opportunity"], "partner_id": last[s.INFLUENCE]}
    body = api.client.post("/v1/what-if/include-partner", json=what_if, headers=api.read).json()
    assert body["teams"] and all(ids(t)[s.INFLUENCE] == last[s.INFLUENCE] for t in body["teams"])


def test_an_unknown_query_parameter_is_refused_with_its_name(api: Api) -> None:
    response = api.client.get("/v1/model?verison=2", headers=api.read)
    assert response.status_code == 422
    assert "verison" in response.json()["message"]


def test_a_single_valued_query_parameter_given_twice_is_refused(api: Api) -> None:
    response = api.client.get("/v1/vocabulary/skills?prefix=a&prefix=b", headers=api.read)
    assert response.status_code == 422
    assert "prefix" in response.json()["message"]
