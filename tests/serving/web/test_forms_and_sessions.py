"""The page without a browser: auth disabled, CSRF refusals, cookie flags, and readable errors."""

from __future__ import annotations

import re

from tests.serving.conftest import ApiFactory

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def test_with_auth_disabled_the_form_needs_no_sign_in(make_api: ApiFactory) -> None:
    api = make_api(auth_disabled=True)
    answer = api.client.get("/")
    assert answer.status_code == 200
    assert "Describe the opportunity" in answer.text and "Sign out" not in answer.text


def test_a_form_without_the_csrf_token_is_refused(make_api: ApiFactory) -> None:
    api = make_api(auth_disabled=True)
    api.client.get("/")
    answer = api.client.post("/teams", data={"deal_size": "1000", "roles": "services"})
    assert answer.status_code == 403
    assert "This form is out of date or came from another site" in answer.text


def test_a_form_with_the_token_is_answered_with_cards(make_api: ApiFactory) -> None:
    api = make_api(auth_disabled=True)
    token = CSRF.search(api.client.get("/").text).group(1)  # type: ignore[union-attr]
    answer = api.client.post(
        "/teams", data={"csrf_token": token, "deal_size": "1000", "roles": "services", "k": "2"}
    )
    assert answer.status_code == 200
    assert answer.text.count('class="team"') == 2


def test_the_session_cookie_is_http_only_and_strict(make_api: ApiFactory) -> None:
    api = make_api()
    answer = api.client.get("/sign-in")
    cookie = answer.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "max-age=" in cookie


def test_a_key_without_read_scope_is_told_so(make_api: ApiFactory) -> None:
    api = make_api()
    token = CSRF.search(api.client.get("/sign-in").text).group(1)  # type: ignore[union-attr]
    signed = api.client.post("/sign-in", data={"csrf_token": token, "api_key": api.write["X-API-Key"]})
    assert signed.status_code == 200  # followed to the form
    answer = api.client.get("/overview")
    assert answer.status_code == 403
    assert "your key lacks the &#39;read&#39; scope needed here" in answer.text


def test_an_invalid_query_is_a_page_not_a_trace(make_api: ApiFactory) -> None:
    api = make_api(auth_disabled=True)
    answer = api.client.get("/partners", params={"q": "x" * 500})
    assert answer.status_code == 422
    assert "Invalid request" in answer.text and "Traceback" not in answer.text


def test_no_model_loaded_is_said_on_the_page(make_api: ApiFactory) -> None:
    def no_model(settings: object, version: str | None = None) -> object:
        raise FileNotFoundError("no champion registered")

    api = make_api(loader=no_model, auth_disabled=True)
    token = CSRF.search(api.client.get("/").text).group(1)  # type: ignore[union-attr]
    answer = api.client.post("/teams", data={"csrf_token": token, "roles": "services"})
    assert answer.status_code == 503
    assert "no model is loaded yet; retry in a few seconds" in answer.text
