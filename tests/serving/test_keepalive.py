"""A 500 under real uvicorn: a JSON body, and the keep-alive connection stays open for the next request."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from tests.serving.conftest import Api, ApiFactory

pytestmark = pytest.mark.integration


def _boom() -> None:
    raise RuntimeError("secret internals")


@pytest.fixture()
def live(make_api: ApiFactory) -> Iterator[str]:
    """The app, plus one route that always fails, served by uvicorn on a free port in this process."""
    api: Api = make_api()
    app: FastAPI = api.app
    app.add_api_route("/boom", _boom)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            pytest.fail("uvicorn did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _client_address(response: httpx.Response) -> object:
    return response.extensions["network_stream"].get_extra_info("client_addr")


def test_an_unhandled_error_is_a_json_500(live: str) -> None:
    with httpx.Client(base_url=live, timeout=10) as client:
        response = client.get("/boom")
    assert response.status_code == 500
    assert response.json()["code"] == "internal_error" and "secret" not in response.text


def test_a_500_keeps_the_connection_open_for_the_next_request(live: str) -> None:
    with httpx.Client(base_url=live, timeout=10) as client:
        first = _client_address(client.get("/boom"))
        after = client.get("/health/live")
        second = _client_address(after)
    assert after.status_code == 200 and second == first
