"""Partner search and vocabularies: over the tiny ecosystem's snapshot by hand, then through the API.

Active partners (tests/features/snapshot_fixtures.py): S1 Skyway [aws, cloud migration], S2 Ledger
[sap s/4hana, finance], S3 Cloudhop [aws, managed cloud], I1 Compass [cloud strategy], I2 Finwise
[finance transformation], R1 Marketly [aws marketplace], R2 Boxmover [distribution]; S4 Oldco [aws] is
inactive. Only S3 has no closed deal (cold start).
"""

from __future__ import annotations

from typing import Any

import pytest

from features import schema as s
from features.embeddings import HashingEmbedder
from features.snapshot import FeatureSnapshot
from serving.ecosystem import industries, regions, search_partners, skill_vocabulary
from tests.features.snapshot_fixtures import tables
from tests.serving.conftest import Api


@pytest.fixture(scope="module")
def snapshot() -> FeatureSnapshot:
    return FeatureSnapshot.build(tables(), HashingEmbedder())


def _found(snapshot: FeatureSnapshot, **query: Any) -> list[tuple[str, str]]:
    return [(hit.partner_id, hit.matched_on) for hit in search_partners(snapshot, **query).partners]


def test_a_search_finds_names_first_then_skill_tags_each_by_name(snapshot: FeatureSnapshot) -> None:
    assert _found(snapshot, q="CLOUD") == [("S3", "name"), ("I1", "skill"), ("S1", "skill")]


def test_a_name_starting_with_the_text_comes_before_one_containing_it(snapshot: FeatureSnapshot) -> None:
    assert _found(snapshot, q="fin") == [("I2", "name"), ("S2", "skill")]


def test_a_skill_filter_matches_whole_tags_case_insensitively(snapshot: FeatureSnapshot) -> None:
    assert _found(snapshot, skill="AWS") == [("S3", "filter"), ("S1", "filter")]


def test_inactive_partners_are_found_only_when_asked_and_then_last(snapshot: FeatureSnapshot) -> None:
    assert _found(snapshot, skill="aws", include_inactive=True)[-1] == ("S4", "filter")


def test_a_role_filter_keeps_partners_of_that_role(snapshot: FeatureSnapshot) -> None:
    assert _found(snapshot, role=s.INFLUENCE) == [("I1", "filter"), ("I2", "filter")]


def test_the_limit_cuts_the_hits_but_not_the_total(snapshot: FeatureSnapshot) -> None:
    result = search_partners(snapshot, q="cloud", limit=1)
    assert (result.total, [h.partner_id for h in result.partners]) == (3, ["S3"])


def test_a_hit_says_whether_the_partner_is_a_cold_start(snapshot: FeatureSnapshot) -> None:
    cold = {h.partner_id: h.cold_start for h in search_partners(snapshot, skill="aws").partners}
    assert cold == {"S3": True, "S1": False}


def test_skill_vocabulary_counts_active_partners_per_tag_for_a_prefix(snapshot: FeatureSnapshot) -> None:
    values = skill_vocabulary(snapshot, prefix="A").values
    assert [(v.value, v.partners) for v in values] == [("aws", 2), ("aws marketplace", 1)]


def test_regions_and_industries_count_active_partners_most_first(snapshot: FeatureSnapshot) -> None:
    assert [(v.value, v.partners) for v in regions(snapshot).values] == [("emea", 4), ("north-america", 2)]
    assert [(v.value, v.partners) for v in industries(snapshot).values] == [("retail", 3), ("banking", 2)]


def _served(api: Api) -> FeatureSnapshot:
    current = api.app.state.holder.current
    assert current is not None
    snapshot: FeatureSnapshot = current.ranker.snapshot
    return snapshot


def test_the_api_finds_a_served_partner_by_its_name(api: Api) -> None:
    catalog = _served(api).catalog
    row = int(catalog.active.argmax())
    name = str(catalog.partners[s.NAME].iloc[row])
    body = api.client.get("/v1/partners", params={"q": name}, headers=api.read).json()
    assert body["partners"][0]["name"] == name


def test_a_skills_count_is_what_a_search_by_that_skill_finds(api: Api) -> None:
    [top] = api.client.get("/v1/vocabulary/skills?limit=1", headers=api.read).json()["values"]
    found = api.client.get("/v1/partners", params={"skill": top["value"]}, headers=api.read).json()
    assert found["total"] == top["partners"]


def test_a_partner_synced_through_the_api_is_found_at_once(fresh_api: Api) -> None:
    partner = {"name": "Zebulon Quantum Works", "partner_type": s.SERVICES, "skills": ["quantum annealing"]}
    fresh_api.client.put("/v1/partners/ZQ-1", json=partner, headers=fresh_api.write)
    body = fresh_api.client.get("/v1/partners?q=zebulon", headers=fresh_api.read).json()
    assert [(h["partner_id"], h["cold_start"]) for h in body["partners"]] == [("ZQ-1", True)]


def test_regions_come_most_covered_first(api: Api) -> None:
    values = api.client.get("/v1/vocabulary/regions", headers=api.read).json()["values"]
    counts = [v["partners"] for v in values]
    assert counts and counts == sorted(counts, reverse=True)


@pytest.mark.parametrize("query", ["q=" + "x" * 101, "limit=0", "limit=51"])
def test_a_search_refuses_a_query_out_of_bounds(api: Api, query: str) -> None:
    assert api.client.get(f"/v1/partners?{query}", headers=api.read).status_code == 422


def test_a_search_needs_a_key(api: Api) -> None:
    assert api.client.get("/v1/partners?q=a").status_code == 401


def test_vocabularies_need_the_read_scope(api: Api) -> None:
    assert api.client.get("/v1/vocabulary/industries", headers=api.write).status_code == 403
