"""The HTTP contract: strict JSON types, documented error statuses, security headers and CORS."""

from __future__ import annotations

from typing import Any

import pytest

from tests.serving.conftest import OPPORTUNITY, Api, ApiFactory, request_body

URL = "/v1/recommendations"


@pytest.mark.parametrize(
    "body",
    [
        request_body(k="5"),
        request_body(k=True),
        request_body(explain=0),
        request_body(explain="true"),
        request_body(opportunity={**OPPORTUNITY, "created_at": 0}),
        request_body(opportunity={**OPPORTUNITY, "created_at": "2024-01-01T00:00:00"}),
        request_body(opportunity={**OPPORTUNITY, "deal_size": "250000"}),
        request_body(constraints={"region_must_match": 1}),
    ],
    ids=["k-string", "k-bool", "explain-0", "explain-string", "date-0", "date-time", "size-string", "flag-1"],
)
def test_a_value_of_the_wrong_json_type_is_refused(api: Api, body: dict[str, Any]) -> None:
    assert api.client.post(URL, json=body, headers=api.read).status_code == 422


def test_a_date_written_yyyy_mm_dd_is_accepted(api: Api) -> None:
    body = request_body(opportunity={**OPPORTUNITY, "created_at": "2024-06-01"})
    assert api.client.post(URL, json=body, headers=api.read).status_code == 200


def test_every_v1_operation_documents_its_error_statuses(api: Api) -> None:
    paths = api.client.get("/openapi.json").json()["paths"]
    missing = [
        f"{method.upper()} {path} {status}"
        for path, operations in paths.items()
        if path.startswith("/v1/")
        for method, operation in operations.items()
        for status in ("400", "401", "422", "429", "503")
        if status not in operation["responses"]
    ]
    assert missing == []


def test_every_response_carries_the_security_headers(api: Api) -> None:
    headers = api.client.get("/health/live").headers
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Content-Security-Policy"] == "frame-ancestors 'none'"
    assert headers["Referrer-Policy"] == "no-referrer"


def test_v1_answers_are_never_cached(api: Api) -> None:
    assert api.client.post(URL, json=request_body(), headers=api.read).headers["Cache-Control"] == "no-store"


def _preflight(api: Api, origin: str) -> Any:
    return api.client.options(
        URL,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "x-api-key,content-type",
        },
    )


def test_no_browser_origin_is_allowed_by_default(api: Api) -> None:
    response = _preflight(api, "https://prm.example.com")
    assert "access-control-allow-origin" not in response.headers


def test_a_configured_origin_may_call_from_a_browser(make_api: ApiFactory) -> None:
    api = make_api(cors_origins=["https://prm.example.com"])
    response = _preflight(api, "https://prm.example.com")
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "https://prm.example.com"
