"""Shadow scoring: the challenger ranks answered requests again, never changing or breaking the answer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from core.settings import ServingSettings
from features import tables as t
from features.prepared import PreparedOpportunity
from models.registry import LoadedModel, load_model_dir
from serving.model_holder import Serving
from serving.ranking import Ranker, RankResult, RankSpec
from serving.shadow import overlap_at_k, top1_agrees
from tests.serving.conftest import Api, ServedModel, corrupt_copy, request_body
from tests.serving.shadow import (
    CHALLENGER,
    CHAMPION,
    ChallengerAlias,
    ShadowApiFactory,
    metric,
    shadow_apis,
)


@pytest.fixture()
def make_shadow_api(tmp_path: Path, served_model: ServedModel) -> Iterator[ShadowApiFactory]:
    yield from shadow_apis(tmp_path, served_model)


def shadow_rows(api: Api) -> list[dict[str, Any]]:
    with api.store.engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(t.shadow_rankings)).mappings()]


def team(rank: int, **members: str) -> dict[str, Any]:
    return {"rank": rank, "score": 1.0 / rank, "members": members}


def recommend(api: Api, **overrides: Any) -> dict[str, Any]:
    response = api.client.post("/v1/recommendations", json=request_body(**overrides), headers=api.read)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


class BrokenRanker(Ranker):
    """A challenger whose every ranking fails, as a model with a bug would."""

    def rank(self, opp: PreparedOpportunity, spec: RankSpec) -> RankResult:
        raise RuntimeError("the challenger is broken")


# -- comparing two rankings ----------------------------------------------------------------------------


def test_top1_agrees_when_both_put_the_same_members_first_in_any_role_order() -> None:
    champion = [team(1, services="A", reseller="B"), team(2, services="C")]
    challenger = [team(1, reseller="B", services="A")]
    assert top1_agrees(champion, challenger)


def test_top1_disagrees_when_the_first_teams_differ() -> None:
    assert not top1_agrees([team(1, services="A")], [team(1, services="C"), team(2, services="A")])


def test_overlap_at_k_is_one_for_the_same_teams_in_another_order() -> None:
    champion = [team(1, services="A"), team(2, services="B")]
    challenger = [team(1, services="B"), team(2, services="A")]
    assert overlap_at_k(champion, challenger, k=2) == 1.0


def test_overlap_at_k_is_zero_when_no_team_is_shared() -> None:
    assert overlap_at_k([team(1, services="A")], [team(1, services="B")], k=1) == 0.0


def test_overlap_at_k_counts_shared_teams_out_of_the_k_requested() -> None:
    champion = [team(1, services="A"), team(2, services="B"), team(3, services="C")]
    challenger = [team(1, services="C"), team(2, services="D")]
    assert overlap_at_k(champion, challenger, k=3) == 1 / 3


# -- the API ---------------------------------------------------------------------------------------------


def test_the_answer_is_the_same_with_and_without_a_challenger(make_shadow_api: ShadowApiFactory) -> None:
    alone = recommend(make_shadow_api())
    shadowed = recommend(make_shadow_api(challenger=ChallengerAlias()))
    assert shadowed["model_version"] == alone["model_version"] == CHAMPION
    assert shadowed["teams"] == alone["teams"]


def test_a_shadowed_request_stores_both_rankings_and_their_comparison(
    make_shadow_api: ShadowApiFactory,
) -> None:
    api = make_shadow_api(challenger=ChallengerAlias())
    body = recommend(api, opportunity={**request_body()["opportunity"], "opportunity_id": "opp-7"})
    [row] = shadow_rows(api)
    assert row["request_id"] == body["request_id"] and row["opportunity_id"] == "opp-7"
    assert (row["champion_version"], row["challenger_version"]) == (CHAMPION, CHALLENGER)
    # The challenger is the same trained model: it ranks exactly as the champion does.
    assert row["challenger_teams"] == row["champion_teams"]
    assert row["top1_agrees"] and row["overlap_at_k"] == 1.0
    assert row["challenger_ms"] > 0


def test_each_answered_item_of_a_batch_is_shadowed(make_shadow_api: ShadowApiFactory) -> None:
    api = make_shadow_api(challenger=ChallengerAlias())
    bad = request_body(constraints={"include": ["no-such-partner"]})
    body = {"requests": [request_body(), request_body(k=2), bad]}
    response = api.client.post("/v1/recommendations:batch", json=body, headers=api.read)
    assert [item["status"] for item in response.json()["results"]] == [200, 200, 404]
    assert len(shadow_rows(api)) == 2


def test_a_challenger_that_raises_does_not_break_the_request(make_shadow_api: ShadowApiFactory) -> None:
    api = make_shadow_api(challenger=ChallengerAlias())
    expected = recommend(make_shadow_api())
    holder = api.app.state.holder
    model: LoadedModel = holder.challenger.model
    holder.challenger = Serving(model=model, ranker=BrokenRanker(model.recommender))
    assert recommend(api)["teams"] == expected["teams"]
    assert shadow_rows(api) == []
    assert metric(api.client.get("/metrics").text, "pm_shadow_skipped_total", reason="error") == 1


def test_a_challenger_that_fails_to_load_is_ignored_and_the_champion_serves(
    make_shadow_api: ShadowApiFactory, served_model: ServedModel, tmp_path: Path
) -> None:
    broken = corrupt_copy(served_model.model_dir, tmp_path / "broken")

    def load(settings: Any, version: str | None = None) -> LoadedModel:
        return load_model_dir(broken, CHALLENGER) if version == CHALLENGER else served_model.model

    api = make_shadow_api(challenger=ChallengerAlias(), loader=load)
    assert api.client.get("/v1/model", headers=api.read).json()["challenger_version"] is None
    recommend(api)
    assert shadow_rows(api) == []


def test_the_model_route_names_the_challenger(make_shadow_api: ShadowApiFactory) -> None:
    api = make_shadow_api(challenger=ChallengerAlias())
    info = api.client.get("/v1/model", headers=api.read).json()
    assert (info["version"], info["challenger_version"]) == (CHAMPION, CHALLENGER)


def test_no_challenger_is_loaded_when_shadow_scoring_is_disabled(make_shadow_api: ShadowApiFactory) -> None:
    api = make_shadow_api(challenger=ChallengerAlias(), shadow_enabled=False)
    assert api.client.get("/v1/model", headers=api.read).json()["challenger_version"] is None
    recommend(api)
    assert shadow_rows(api) == []


def test_a_sample_rate_of_zero_shadows_no_request(make_shadow_api: ShadowApiFactory) -> None:
    api = make_shadow_api(challenger=ChallengerAlias(), shadow_sample_rate=0.0)
    recommend(api)
    assert shadow_rows(api) == []


def test_a_request_sampled_while_another_shadow_ranking_runs_is_skipped(
    make_shadow_api: ShadowApiFactory,
) -> None:
    api = make_shadow_api(challenger=ChallengerAlias())
    with api.app.state.shadow._busy:  # another request's shadow ranking is still running
        recommend(api)
    assert shadow_rows(api) == []
    assert metric(api.client.get("/metrics").text, "pm_shadow_skipped_total", reason="busy") == 1


def test_metrics_count_shadowed_requests_agreements_and_challenger_time(
    make_shadow_api: ShadowApiFactory,
) -> None:
    api = make_shadow_api(challenger=ChallengerAlias())
    recommend(api)
    recommend(api, k=2)
    text = api.client.get("/metrics").text
    pair = {"champion": CHAMPION, "challenger": CHALLENGER}
    assert metric(text, "pm_shadow_requests_total", **pair) == 2
    assert metric(text, "pm_shadow_top1_agreements_total", **pair) == 2
    assert metric(text, "pm_shadow_challenger_seconds_count", challenger=CHALLENGER) == 2


def test_a_reload_loads_a_challenger_set_since_the_start(make_shadow_api: ShadowApiFactory) -> None:
    alias = ChallengerAlias(None)
    api = make_shadow_api(challenger=alias)
    alias.version = CHALLENGER
    api.client.post("/v1/admin/reload", headers=api.admin)
    assert api.client.get("/v1/model", headers=api.read).json()["challenger_version"] == CHALLENGER
    recommend(api)
    assert len(shadow_rows(api)) == 1


def test_a_reload_drops_a_challenger_whose_alias_was_cleared(make_shadow_api: ShadowApiFactory) -> None:
    alias = ChallengerAlias()
    api = make_shadow_api(challenger=alias)
    alias.version = None
    api.client.post("/v1/admin/reload", headers=api.admin)
    assert api.client.get("/v1/model", headers=api.read).json()["challenger_version"] is None


def test_another_workers_reload_refreshes_this_workers_challenger(make_shadow_api: ShadowApiFactory) -> None:
    alias = ChallengerAlias(None)
    first = make_shadow_api(challenger=alias)
    second = make_shadow_api(challenger=alias, database=first)
    alias.version = CHALLENGER
    first.client.post("/v1/admin/reload", headers=first.admin)  # same champion, a new challenger
    assert second.app.state.events.poll_once() == 1
    assert second.app.state.holder.challenger_version == CHALLENGER


def test_a_sample_rate_above_one_is_refused() -> None:
    with pytest.raises(ValidationError, match="shadow_sample_rate"):
        ServingSettings(shadow_sample_rate=1.5)
