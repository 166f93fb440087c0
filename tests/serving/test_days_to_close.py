"""Expected days to close, value per day and `rank_by` through the API."""

from __future__ import annotations

from dataclasses import replace

import pytest

from models.recommender import TeamRecommender
from tests.serving.conftest import OPPORTUNITY, Api, ApiFactory, ServedModel, fixed_loader, request_body

URL = "/v1/recommendations"
BY_VALUE_PER_DAY = "expected_value_per_day"


def test_every_team_carries_its_expected_days_to_close_and_value_per_day(api: Api) -> None:
    teams = api.client.post(URL, json=request_body(k=4), headers=api.read).json()["teams"]
    assert teams
    for team in teams:
        assert team["expected_days_to_close"] >= 1
        expected = team["win_probability"] * OPPORTUNITY["deal_size"] / team["expected_days_to_close"]
        assert team["expected_value_per_day"] == pytest.approx(expected)


def test_rank_by_expected_value_per_day_orders_the_teams_by_it(api: Api) -> None:
    body = request_body(k=5, rank_by=BY_VALUE_PER_DAY)
    teams = api.client.post(URL, json=body, headers=api.read).json()["teams"]
    values = [team["expected_value_per_day"] for team in teams]
    assert len(values) == 5 and values == sorted(values, reverse=True)
    assert [team["rank"] for team in teams] == [1, 2, 3, 4, 5]


def test_the_default_order_is_still_the_score(api: Api) -> None:
    teams = api.client.post(URL, json=request_body(k=5), headers=api.read).json()["teams"]
    assert [t["score"] for t in teams] == sorted((t["score"] for t in teams), reverse=True)


def test_an_unknown_rank_by_is_refused(api: Api) -> None:
    response = api.client.post(URL, json=request_body(rank_by="fastest"), headers=api.read)
    assert response.status_code == 422
    assert "rank_by" in response.json()["detail"][0]["loc"]


def test_without_a_deal_size_value_per_day_is_null_but_days_to_close_are_given(api: Api) -> None:
    opportunity = {k: v for k, v in OPPORTUNITY.items() if k != "deal_size"}
    body = request_body(opportunity=opportunity, rank_by=BY_VALUE_PER_DAY)
    teams = api.client.post(URL, json=body, headers=api.read).json()["teams"]
    assert teams and all(t["expected_value_per_day"] is None for t in teams)
    assert all(t["expected_days_to_close"] is not None for t in teams)


def test_the_what_if_routes_return_days_to_close(api: Api) -> None:
    first = api.client.post(URL, json=request_body(k=1), headers=api.read).json()["teams"][0]
    partner = first["members"][0]["partner_id"]
    what_if = {"opportunity": OPPORTUNITY, "partner_id": partner, "k": 2, "rank_by": BY_VALUE_PER_DAY}
    teams = api.client.post("/v1/what-if/include-partner", json=what_if, headers=api.read).json()["teams"]
    assert teams and all(t["expected_days_to_close"] is not None for t in teams)


@pytest.fixture()
def api_without_cycle_time(make_api: ApiFactory, served_model: ServedModel) -> Api:
    """The served model as a bundle from before days to close: no cycle-time model."""
    loaded = served_model.model.recommender
    recommender = TeamRecommender(loaded.snapshot, loaded.ranker, loaded.config)
    return make_api(loader=fixed_loader(replace(served_model.model, recommender=recommender)))


def test_a_model_without_a_cycle_time_model_answers_null_days(api_without_cycle_time: Api) -> None:
    api = api_without_cycle_time
    teams = api.client.post(URL, json=request_body(), headers=api.read).json()["teams"]
    assert teams and all(t["expected_days_to_close"] is None for t in teams)
    assert all(t["expected_value_per_day"] is None for t in teams)


def test_a_model_without_days_to_close_refuses_rank_by_value_per_day(api_without_cycle_time: Api) -> None:
    api = api_without_cycle_time
    response = api.client.post(URL, json=request_body(rank_by=BY_VALUE_PER_DAY), headers=api.read)
    assert response.status_code == 422
    assert "cycle-time model" in response.json()["message"]
