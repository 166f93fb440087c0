"""Idempotency-Key on partner writes: one write per key, replays for repeats, whitespace does not matter."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tests.serving.conftest import Api
from tests.serving.test_partners_and_feedback import PARTNER

KEY = {"Idempotency-Key": "sync-42"}


def _put(api: Api, body: bytes, key: dict[str, str] = KEY) -> Any:
    headers = {**api.write, **key, "Content-Type": "application/json"}
    return api.client.put("/v1/partners/IDEM-1", content=body, headers=headers)


def test_a_repeated_partner_put_is_replayed_not_written_again(fresh_api: Api) -> None:
    body = json.dumps(PARTNER).encode()
    first, again = _put(fresh_api, body), _put(fresh_api, body)
    assert first.status_code == again.status_code == 200
    assert again.headers.get("Idempotent-Replayed") == "true" and again.json() == first.json()


def test_the_same_json_with_other_whitespace_and_key_order_is_the_same_request(fresh_api: Api) -> None:
    _put(fresh_api, json.dumps(PARTNER).encode())
    spaced = json.dumps(dict(reversed(list(PARTNER.items()))), indent=3).encode()
    assert _put(fresh_api, spaced).headers.get("Idempotent-Replayed") == "true"


def test_a_key_reused_with_another_partner_body_is_422(fresh_api: Api) -> None:
    _put(fresh_api, json.dumps(PARTNER).encode())
    other = _put(fresh_api, json.dumps({**PARTNER, "name": "Other"}).encode())
    assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused"


def test_simultaneous_puts_with_one_key_write_the_partner_once(fresh_api: Api) -> None:
    bodies = [json.dumps({**PARTNER, "name": f"Name {n}"}).encode() for n in range(8)]
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda body: _put(fresh_api, body), bodies))
    written = [a for a in answers if a.status_code == 200 and a.headers.get("Idempotent-Replayed") is None]
    assert len(written) == 1
    assert {a.status_code for a in answers} <= {200, 409, 422}
    stored = fresh_api.client.get("/v1/partners/IDEM-1", headers=fresh_api.read).json()["name"]
    assert stored == json.loads(bodies[answers.index(written[0])])["name"]


def test_a_failed_write_gives_its_key_back(fresh_api: Api) -> None:
    missing = fresh_api.client.delete("/v1/partners/NOBODY", headers={**fresh_api.write, **KEY})
    assert missing.status_code == 404
    put = _put(fresh_api, json.dumps(PARTNER).encode())
    assert put.status_code == 200 and put.headers.get("Idempotent-Replayed") is None
