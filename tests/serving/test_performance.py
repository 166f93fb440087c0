"""The online report per model version (GET /v1/model/performance) on hand-written answers and outcomes."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert

from features import tables as t
from serving.performance import performance_report
from serving.persistence import ApiStore
from serving.report_schemas import PerformanceReport, ShadowPerformance, VersionPerformance
from tests.serving.conftest import Api, request_body
from tests.serving.shadow import metric

NOW = datetime.now().replace(microsecond=0)


def team(rank: int, **members: str) -> dict[str, Any]:
    return {"rank": rank, "score": 1.0 / rank, "members": members}


def answer(request_id: str, version: str, opportunity_id: str, teams: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "request_id": request_id,
        "key_id": None,
        "route": "/v1/recommendations",
        "model_version": version,
        "request": {},
        "opportunity_id": opportunity_id,
        "teams": teams,
    }


def feedback(request_id: str | None, action: str, reason: str, **about: Any) -> dict[str, Any]:
    return {
        "created_at": NOW,
        "request_id": request_id,
        "opportunity_id": about.pop("opportunity_id", None),
        "partner_id": about.pop("partner_id", None),
        "team": about.pop("team", None),
        "action": action,
        "reason_code": reason,
    }


def outcome(opportunity_id: str, result: str, *members: tuple[str, str]) -> dict[str, Any]:
    return {
        "recorded_at": NOW,
        "opportunity_id": opportunity_id,
        "outcome": result,
        "team": [{"partner_id": pid, "role": role, "sourced": None} for role, pid in members],
    }


def shadow(opportunity_id: str, champion: list[Any], challenger: list[Any], **row: Any) -> dict[str, Any]:
    return {
        "created_at": NOW,
        "request_id": f"shadow-{opportunity_id}",
        "opportunity_id": opportunity_id,
        "champion_version": "1",
        "challenger_version": "2",
        "champion_teams": champion,
        "challenger_teams": challenger,
        **row,
    }


def fill(store: ApiStore) -> None:
    """Version 1 answered o1 and o2, version 2 answered o1 again; o1 was won by A+B, o2 lost by D."""
    store.write_audit(
        [
            answer(
                "r1", "1", "o1", [team(1, services="A", reseller="B"), team(2, services="C", reseller="B")]
            ),
            answer("r2", "1", "o2", [team(1, services="C"), team(2, services="A")]),
            answer("r3", "2", "o1", [team(1, services="C", reseller="B")]),
        ]
    )
    with store.store.writing() as conn:
        conn.execute(
            insert(t.feedback),
            [
                feedback("r1", "accepted", "good_fit", team={"reseller": "B", "services": "A"}),
                feedback("r1", "rejected", "no_capacity", partner_id="C"),
                feedback("r2", "rejected", "wrong_region", partner_id="Z"),
                feedback(None, "rejected", "other", partner_id="A", opportunity_id="o9"),
                feedback("not-on-record", "rejected", "other", partner_id="A"),
            ],
        )
        conn.execute(
            insert(t.outcomes),
            [
                outcome("o1", "won", ("services", "A"), ("reseller", "B")),
                outcome("o2", "lost", ("services", "D")),
            ],
        )
        conn.execute(
            insert(t.shadow_rankings),
            [
                shadow(
                    "o1",
                    [team(1, services="A", reseller="B")],
                    [team(1, services="C", reseller="B"), team(2, services="A", reseller="B")],
                    top1_agrees=False,
                    overlap_at_k=0.5,
                    challenger_ms=10.0,
                ),
                shadow(
                    "o3",
                    [team(1, services="A")],
                    [team(1, services="A")],
                    top1_agrees=True,
                    overlap_at_k=1.0,
                    challenger_ms=20.0,
                ),
            ],
        )


@pytest.fixture()
def report(api: Api) -> PerformanceReport:
    fill(api.store)
    return performance_report(api.store.engine)


def version(report: PerformanceReport, name: str | None) -> VersionPerformance:
    [found] = [v for v in report.versions if v.model_version == name]
    return found


def counts(rate: Any) -> tuple[int, int]:
    return rate.hits, rate.count


def test_requests_and_teams_served_are_counted_per_version(report: PerformanceReport) -> None:
    assert (version(report, "1").requests, version(report, "1").teams_suggested) == (2, 4)
    assert (version(report, "2").requests, version(report, "2").teams_suggested) == (1, 1)


def test_feedback_is_credited_to_the_rank_it_judged_in_its_requests_answer(report: PerformanceReport) -> None:
    v1 = version(report, "1")
    assert (v1.feedback_accepted, v1.feedback_rejected) == (1, 2)
    by_rank = {(r.bucket, r.rank): (r.accepted, r.rejected) for r in v1.acceptance_by_rank}
    assert by_rank == {("ranked", 1): (1, 0), ("ranked", 2): (0, 1), ("not_in_answer", None): (0, 1)}
    assert counts(v1.acceptance_by_rank[0].acceptance) == (1, 1)


def test_feedback_naming_no_request_on_record_has_no_version_and_an_unknown_rank(
    report: PerformanceReport,
) -> None:
    unattributed = version(report, None)
    assert [(r.bucket, r.rejected) for r in unattributed.acceptance_by_rank] == [("unknown", 2)]
    assert unattributed.requests == 0


def test_rejections_are_counted_by_reason_code(report: PerformanceReport) -> None:
    reasons = {r.reason_code: r.count for r in version(report, "1").rejections_by_reason}
    assert reasons == {"no_capacity": 1, "wrong_region": 1}


def test_outcomes_say_whether_the_team_that_worked_the_deal_was_suggested(report: PerformanceReport) -> None:
    o = version(report, "1").outcomes
    assert (o.opportunities, o.won) == (2, 1)
    assert counts(o.actual_team_was_top1) == (1, 2) and o.actual_team_was_top1.rate == 0.5
    assert counts(o.actual_team_in_top_k) == (1, 2)
    assert counts(o.win_rate_when_top1) == (1, 1)
    assert counts(o.win_rate_when_not_suggested) == (0, 1)


def test_win_rates_split_accepted_from_other_opportunities(report: PerformanceReport) -> None:
    o = version(report, "1").outcomes
    assert counts(o.win_rate_accepted) == (1, 1)
    assert counts(o.win_rate_not_accepted) == (0, 1)


def test_a_version_whose_top1_missed_the_winning_team_shows_it(report: PerformanceReport) -> None:
    o = version(report, "2").outcomes
    assert counts(o.actual_team_was_top1) == (0, 1)
    assert counts(o.win_rate_when_top1) == (0, 0) and o.win_rate_when_top1.rate is None


def test_the_shadow_section_summarises_each_champion_challenger_pair(report: PerformanceReport) -> None:
    [pair] = report.shadow
    assert (pair.champion_version, pair.challenger_version, pair.requests) == ("1", "2", 2)
    assert counts(pair.top1_agreement) == (1, 2)
    assert pair.mean_overlap_at_k == pytest.approx(0.75)
    assert pair.mean_challenger_ms == pytest.approx(15.0)


def test_the_shadow_section_says_whose_choices_won_once_outcomes_arrive(report: PerformanceReport) -> None:
    pair: ShadowPerformance = report.shadow[0]
    assert pair.opportunities_with_outcome == 1
    assert counts(pair.champion.actual_team_was_top1) == (1, 1)
    assert counts(pair.champion.win_rate_when_top1) == (1, 1)
    assert counts(pair.challenger.actual_team_was_top1) == (0, 1)
    assert counts(pair.challenger.actual_team_in_top_k) == (1, 1)
    assert counts(pair.challenger.win_rate_when_in_top_k) == (1, 1)


def test_a_store_without_answers_reports_no_version_and_no_shadow(api: Api) -> None:
    empty = performance_report(api.store.engine)
    assert (empty.versions, empty.shadow) == ([], [])


# -- the route ----------------------------------------------------------------------------------------------


def test_the_route_reports_every_version_to_a_read_key(api: Api) -> None:
    fill(api.store)
    response = api.client.get("/v1/model/performance", headers=api.read)
    assert response.status_code == 200
    assert [v["model_version"] for v in response.json()["versions"]] == ["1", "2", None]


def test_the_route_filters_by_version(api: Api) -> None:
    fill(api.store)
    body = api.client.get("/v1/model/performance", params={"version": "2"}, headers=api.read).json()
    assert [v["model_version"] for v in body["versions"]] == ["2"]
    assert [(s["champion_version"], s["challenger_version"]) for s in body["shadow"]] == [("1", "2")]


def test_the_route_leaves_out_records_before_since(api: Api) -> None:
    fill(api.store)
    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    body = api.client.get("/v1/model/performance", params={"since": tomorrow}, headers=api.read).json()
    assert body["versions"] == [] and body["shadow"] == []


def test_the_route_refuses_a_version_that_is_not_a_number(api: Api) -> None:
    response = api.client.get("/v1/model/performance", params={"version": "latest"}, headers=api.read)
    assert response.status_code == 422


def test_the_route_refuses_a_since_before_the_earliest_date(api: Api) -> None:
    response = api.client.get("/v1/model/performance", params={"since": "1800-01-01"}, headers=api.read)
    assert response.status_code == 422


def test_the_route_needs_the_read_scope(api: Api) -> None:
    assert api.client.get("/v1/model/performance", headers=api.write).status_code == 403


def test_the_route_counts_requests_answered_through_the_api(api: Api) -> None:
    api.client.post("/v1/recommendations", json=request_body(), headers=api.read)
    [served] = api.client.get("/v1/model/performance", headers=api.read).json()["versions"]
    assert (served["requests"], served["teams_suggested"]) == (1, 3)


# -- /metrics ------------------------------------------------------------------------------------------------


def test_feedback_is_counted_under_the_version_that_answered_its_request(api: Api) -> None:
    answered = api.client.post("/v1/recommendations", json=request_body(), headers=api.read).json()
    first = answered["teams"][0]
    body = {
        "request_id": answered["request_id"],
        "team": {m["role"]: m["partner_id"] for m in first["members"]},
        "action": "accepted",
        "reason_code": "good_fit",
    }
    assert api.client.post("/v1/feedback", json=body, headers=api.write).status_code == 201
    labels = {"model_version": answered["model_version"], "action": "accepted", "reason": "good_fit"}
    assert metric(api.client.get("/metrics").text, "pm_feedback_total", **labels) == 1


def test_feedback_without_a_request_is_counted_under_an_unknown_version(api: Api) -> None:
    body = {"partner_id": "P1", "action": "rejected", "reason_code": "no_capacity"}
    api.client.post("/v1/feedback", json=body, headers=api.write)
    labels = {"model_version": "unknown", "action": "rejected", "reason": "no_capacity"}
    assert metric(api.client.get("/metrics").text, "pm_feedback_total", **labels) == 1
