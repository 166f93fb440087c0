"""API keys and scopes, rate limits (in-process and Redis), body size limit and Idempotency-Key."""

from __future__ import annotations

import uuid

import pytest
import redis
from sqlalchemy import select

from features import tables as t
from serving.auth import create_key, hash_secret, parse_key
from serving.limits import RedisRateLimiter
from tests.serving.conftest import Api, ApiFactory, request_body

URL = "/v1/recommendations"
REDIS_URL = "redis://127.0.0.1:6379/15"
FEEDBACK = {"partner_id": "P000001", "action": "rejected", "reason_code": "channel_conflict"}


def test_a_request_without_a_key_is_401(api: Api) -> None:
    response = api.client.post(URL, json=request_body())
    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized"


def test_a_request_with_a_wrong_secret_is_401(api: Api) -> None:
    key_id, _ = parse_key(api.read["X-API-Key"]) or ("", "")
    response = api.client.post(URL, json=request_body(), headers={"X-API-Key": f"pm_{key_id}_not-the-secret"})
    assert response.status_code == 401


def test_a_revoked_key_is_401(api: Api) -> None:
    key_id, _ = parse_key(api.read["X-API-Key"]) or ("", "")
    assert api.store.revoke_key(key_id)
    assert api.client.post(URL, json=request_body(), headers=api.read).status_code == 401


def test_a_key_without_the_route_scope_is_403(api: Api) -> None:
    response = api.client.post("/v1/feedback", json=FEEDBACK, headers=api.read)
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"


def test_a_write_key_cannot_read(api: Api) -> None:
    assert api.client.post(URL, json=request_body(), headers=api.write).status_code == 403


def test_only_the_hash_of_a_key_secret_is_stored(api: Api) -> None:
    record, key = create_key(api.store, "audit", ["read"])
    _, secret = parse_key(key) or ("", "")
    with api.store.engine.connect() as conn:
        row = conn.execute(select(t.api_keys).where(t.api_keys.c.key_id == record.key_id)).mappings().one()
    assert secret not in str(dict(row)) and row["secret_sha256"] == hash_secret(secret)


def test_a_malformed_key_does_not_parse() -> None:
    assert parse_key("Bearer abc") is None and parse_key("pm__secret") is None


def test_auth_can_be_disabled_explicitly_for_local_use(make_api: ApiFactory) -> None:
    api = make_api(auth_disabled=True)
    assert api.client.post(URL, json=request_body()).status_code == 200


def test_the_rate_limit_answers_429_with_retry_after(make_api: ApiFactory) -> None:
    api = make_api(rate_limit_per_minute=2)
    statuses = [api.client.get("/v1/model", headers=api.read).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    limited = api.client.get("/v1/model", headers=api.read)
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert limited.json()["code"] == "rate_limited"


def test_the_rate_limit_is_per_key(make_api: ApiFactory) -> None:
    api = make_api(rate_limit_per_minute=1)
    assert api.client.get("/v1/model", headers=api.read).status_code == 200
    assert api.client.get("/v1/model", headers=api.all).status_code == 200


@pytest.fixture()
def redis_url() -> str:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError as exc:
        pytest.skip(f"Redis not reachable at {REDIS_URL}: {exc}")
    return REDIS_URL


def test_the_redis_limit_is_shared_by_every_limiter_using_it(redis_url: str) -> None:
    prefix = f"pm-test:{uuid.uuid4().hex}"
    worker_a = RedisRateLimiter(redis_url, per_minute=3, prefix=prefix)
    worker_b = RedisRateLimiter(redis_url, per_minute=3, prefix=prefix)
    allowed = [limiter.hit("key:k1").allowed for limiter in (worker_a, worker_b, worker_a, worker_b)]
    assert allowed == [True, True, True, False]


def test_the_api_uses_redis_when_a_url_is_set(make_api: ApiFactory, redis_url: str) -> None:
    api = make_api(redis_url=redis_url, rate_limit_per_minute=1)
    assert isinstance(api.app.state.rate_limiter, RedisRateLimiter)
    assert api.client.get("/v1/model", headers=api.read).status_code == 200
    assert api.client.get("/v1/model", headers=api.read).status_code == 429


def test_a_body_over_the_limit_is_413(make_api: ApiFactory) -> None:
    api = make_api(max_body_bytes=2048)
    big = request_body()
    big["opportunity"]["description"] = "x" * 4000
    response = api.client.post(URL, json=big, headers=api.read)
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"


def test_a_replayed_idempotency_key_returns_the_first_response_and_writes_once(api: Api) -> None:
    headers = {**api.write, "Idempotency-Key": "fb-1"}
    first = api.client.post("/v1/feedback", json=FEEDBACK, headers=headers)
    again = api.client.post("/v1/feedback", json=FEEDBACK, headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    assert len(api.store.rows("feedback")) == 1


def test_an_idempotency_key_reused_with_another_body_is_422(api: Api) -> None:
    headers = {**api.write, "Idempotency-Key": "fb-2"}
    api.client.post("/v1/feedback", json=FEEDBACK, headers=headers)
    response = api.client.post("/v1/feedback", json={**FEEDBACK, "action": "accepted"}, headers=headers)
    assert response.status_code == 422
    assert response.json()["code"] == "idempotency_key_reused"
