"""Batches cost what their items cost: rate limits count opportunities, and batches queue apart."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from tests.serving.conftest import ApiFactory, request_body

BATCH = "/v1/recommendations:batch"


def test_a_batch_spends_one_unit_of_the_rate_limit_per_opportunity(make_api: ApiFactory) -> None:
    api = make_api(rate_limit_per_minute=5)
    batch = {"requests": [request_body(k=1)] * 3}
    assert api.client.post(BATCH, json=batch, headers=api.read).status_code == 200
    refused = api.client.post(BATCH, json=batch, headers=api.read)
    assert refused.status_code == 429 and refused.headers["Retry-After"]


def test_plain_requests_and_a_batch_share_one_budget(make_api: ApiFactory) -> None:
    api = make_api(rate_limit_per_minute=4)
    batch = {"requests": [request_body(k=1)] * 4}
    assert api.client.post(BATCH, json=batch, headers=api.read).status_code == 200
    assert api.client.post("/v1/recommendations", json=request_body(), headers=api.read).status_code == 429


def test_a_plain_request_does_not_wait_for_a_batch_slot(make_api: ApiFactory) -> None:
    api = make_api()
    slots: threading.BoundedSemaphore = api.app.state.batch_slots
    slots.acquire()  # every batch slot is taken, as by a long batch in progress
    with ThreadPoolExecutor(1) as pool:
        try:
            waiting = pool.submit(
                api.client.post, BATCH, json={"requests": [request_body(k=1)]}, headers=api.read
            )
            plain = api.client.post("/v1/recommendations", json=request_body(), headers=api.read)
            assert plain.status_code == 200 and not waiting.done()
        finally:
            slots.release()
        assert waiting.result(timeout=60).status_code == 200
