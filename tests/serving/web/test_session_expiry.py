"""An expired page session: the next request asks to sign in again, whether a form or the script sent it."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.serving.conftest import ServedModel
from tests.serving.web.conftest import PageServer, sign_in, start_server

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SESSION_SECONDS = 3


@pytest.fixture(scope="module")
def server(served_model: ServedModel, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PageServer]:
    minutes = str(SESSION_SECONDS / 60)
    yield from start_server(
        served_model, tmp_path_factory.mktemp("expiry-server"), PM_SESSION_MINUTES=minutes
    )


def test_a_form_sent_after_the_session_expired_asks_to_sign_in_again(
    server: PageServer, new_page: Callable[..., Page]
) -> None:
    page = new_page()
    sign_in(page, server)
    page.get_by_label("Deal size").fill("250000")
    time.sleep(SESSION_SECONDS + 1)
    page.get_by_role("button", name="Find teams").click()
    expect(page.get_by_text("Your session expired. Sign in again to continue.")).to_be_visible()
    sign_in(page, server)
    expect(page.get_by_role("heading", name="Describe the opportunity")).to_be_visible()


def test_a_suggestion_fetched_after_the_session_expired_says_so(
    server: PageServer, new_page: Callable[..., Page]
) -> None:
    page = new_page()
    sign_in(page, server)
    time.sleep(SESSION_SECONDS + 1)
    page.get_by_label("Required skills").press_sequentially("aw", delay=50)
    expect(page.locator("#status")).to_contain_text("Your session expired. Sign in again to continue.")
    expect(page.locator("#status a")).to_have_attribute("href", "/sign-in?reason=expired")
