"""API writes: out-of-range dates are 422 naming the field; idempotency keys are claimed atomically."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.serving.conftest import Api, request_body
from tests.serving.test_partners_and_feedback import PARTNER

FEEDBACK: dict[str, Any] = {"partner_id": "P1", "action": "accepted", "reason_code": "good_fit"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**PARTNER, "joined_at": "0001-01-01"}, "joined_at"),
        ({**PARTNER, "joined_at": "9999-12-31"}, "joined_at"),
        ({**PARTNER, "certifications": [{"certification": "c", "issued_at": "1500-01-01"}]}, "issued_at"),
        ({**PARTNER, "certifications": [{"certification": "c", "expires_at": "2999-01-01"}]}, "expires_at"),
    ],
    ids=["joined 0001", "joined 9999", "issued 1500", "expires 2999"],
)
def test_a_partner_date_outside_the_contract_range_is_422_naming_the_field(
    api: Api, body: dict[str, Any], field: str
) -> None:
    response = api.client.put("/v1/partners/DATE-1", json=body, headers=api.write)
    assert response.status_code == 422
    assert field in response.json()["detail"][0]["loc"]


def test_a_recommendation_as_of_a_date_far_ahead_is_422_naming_created_at(api: Api) -> None:
    body = request_body()
    body["opportunity"]["created_at"] = "2099-01-01"
    response = api.client.post("/v1/recommendations", json=body, headers=api.read)
    assert response.status_code == 422
    assert "created_at" in response.json()["detail"][0]["loc"]


def test_feedback_resent_with_other_whitespace_and_key_order_is_replayed(api: Api) -> None:
    headers = {**api.write, "Idempotency-Key": "same-json", "Content-Type": "application/json"}
    first = api.client.post("/v1/feedback", content=json.dumps(FEEDBACK), headers=headers)
    spaced = json.dumps(dict(reversed(FEEDBACK.items())), indent=3)
    again = api.client.post("/v1/feedback", content=spaced, headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json() and again.headers.get("Idempotent-Replayed") == "true"
    assert len(api.store.rows("feedback")) == 1


def test_eight_simultaneous_feedback_posts_with_one_key_add_one_record(api: Api) -> None:
    headers = {**api.write, "Idempotency-Key": "raced"}

    def post(n: int) -> int:
        body = {**FEEDBACK, "comment": f"body {n}"}
        return api.client.post("/v1/feedback", json=body, headers=headers).status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(post, range(8)))
    assert len(api.store.rows("feedback")) == 1
    assert sorted(statuses) == [201] + [422] * 7
