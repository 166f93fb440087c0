"""The sales-rep page in a real browser: sign-in, the form and its cards, what-if, partners, overview."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.serving.conftest import ServedModel
from tests.serving.web.conftest import PHONE, PageServer, screenshot, sign_in, start_server

pytestmark = [pytest.mark.integration, pytest.mark.slow]

NewPage = Callable[..., Page]


@pytest.fixture(scope="module")
def server(served_model: ServedModel, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PageServer]:
    yield from start_server(served_model, tmp_path_factory.mktemp("page-server"))


def describe(page: Page, deal_size: str = "250000", skills: str = "aws cloud migration") -> None:
    page.get_by_label("Customer industry").select_option("financial-services")
    page.get_by_label("Region", exact=True).select_option("emea-north")
    page.get_by_label("Deal size").fill(deal_size)
    page.get_by_label("Required skills").fill(skills)
    page.get_by_label("Description").fill("Bank wants to exit its datacentre to AWS")
    page.get_by_label("Teams to suggest").fill("3")


def test_signing_in_opens_the_form_and_signing_out_ends_the_session(
    server: PageServer, new_page: NewPage
) -> None:
    page = new_page()
    sign_in(page, server)
    expect(page.get_by_role("heading", name="Describe the opportunity")).to_be_visible()
    expect(page.get_by_text("Signed in as")).to_contain_text("rep")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("You are signed out.")).to_be_visible()
    page.goto(f"{server.url}/overview")
    expect(page.get_by_text("Sign in with your API key to use the page.")).to_be_visible()


def test_a_wrong_key_is_refused_next_to_the_field(server: PageServer, new_page: NewPage) -> None:
    page = new_page()
    sign_in_page = f"{server.url}/sign-in"
    page.goto(sign_in_page)
    page.get_by_label("API key").fill("pm_000000000000_not-a-real-secret")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#api_key-error")).to_have_text("This key is not valid or has been revoked.")
    expect(page.get_by_label("API key")).to_have_attribute("aria-invalid", "true")


def test_the_session_cookie_is_http_only_strict_and_never_holds_the_key(
    server: PageServer, new_page: NewPage
) -> None:
    page = new_page()
    sign_in(page, server)
    [cookie] = [c for c in page.context.cookies() if c["name"] == "pm_session"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    secret = server.rep_key.split("_", 2)[2]
    assert secret not in cookie["value"] and secret not in page.content()
    assert page.evaluate("document.cookie") == ""


def test_the_form_answers_with_team_cards(server: PageServer, new_page: NewPage) -> None:
    page = new_page()
    sign_in(page, server)
    describe(page)
    page.get_by_role("button", name="Find teams").click()
    cards = page.locator("article.team")
    expect(cards).to_have_count(3)
    first = cards.first
    expect(first.get_by_role("heading", name="Team 1")).to_be_visible()
    printed = first.locator("svg.meter text").text_content() or ""
    assert printed.endswith(" %")
    expect(first.locator("svg.meter")).to_have_attribute("aria-label", f"Team 1 win probability: {printed}")
    expect(first.locator(".facts")).to_contain_text("Expected value")
    expect(first.locator("li.member")).to_have_count(3)
    expect(first.locator("li.member .badge.role").first).to_be_visible()
    expect(first.locator("li.member .badge.tier").first).to_be_visible()
    expect(first.locator(".credit").first).to_contain_text("of the credit")
    expect(first.locator("ul.reasons li").first).to_be_visible()
    first.get_by_text("Why is team 1 above team 2?").click()
    expect(first.locator("details.why li").first).to_be_visible()
    screenshot(page, "results.png")


def test_an_invalid_deal_size_is_shown_next_to_its_field(server: PageServer, new_page: NewPage) -> None:
    page = new_page()
    sign_in(page, server)
    describe(page, deal_size="a lot")
    page.get_by_role("button", name="Find teams").click()
    expect(page.locator("#deal_size-error")).to_have_text("enter a number, e.g. 250000")
    expect(page.get_by_label("Deal size")).to_have_value("a lot")
    expect(page.get_by_label("Required skills")).to_have_value("aws cloud migration")
    expect(page.locator("article.team")).to_have_count(0)


def test_a_negative_deal_size_gets_the_api_rule_next_to_the_field(
    server: PageServer, new_page: NewPage
) -> None:
    page = new_page()
    sign_in(page, server)
    describe(page, deal_size="-5")
    page.get_by_role("button", name="Find teams").click()
    expect(page.locator("#deal_size-error")).to_contain_text("greater than or equal to 0")


def test_skills_are_suggested_as_you_type(server: PageServer, new_page: NewPage) -> None:
    page = new_page()
    sign_in(page, server)
    page.get_by_label("Required skills").press_sequentially("aw", delay=50)
    suggestion = page.locator("#skill-suggestions button").first
    expect(suggestion).to_be_visible()
    chosen = suggestion.inner_text()
    suggestion.click()
    expect(page.get_by_label("Required skills")).to_have_value(f"{chosen}, ")


def test_replacing_a_member_shows_the_best_replacements(server: PageServer, new_page: NewPage) -> None:
    page = new_page()
    sign_in(page, server)
    describe(page)
    page.get_by_role("button", name="Find teams").click()
    first = page.locator("article.team").first
    member = first.locator("li.member").first
    name = member.locator("a.name").inner_text()
    member.get_by_role("button", name=f"Replace {name}").click()
    expect(page.get_by_role("heading", name=f"Replace {name}")).to_be_visible()
    cards = page.locator("article.team")
    expect(cards.first).to_be_visible()
    assert name not in cards.first.locator("li.member a.name").all_inner_texts()
    expect(cards.first.locator(".delta")).to_contain_text("points vs the current team")


def test_best_teams_with_a_partner_all_include_it(server: PageServer, new_page: NewPage) -> None:
    page = new_page()
    sign_in(page, server)
    describe(page)
    page.get_by_role("button", name="Find teams").click()
    member = page.locator("article.team").nth(1).locator("li.member").last
    name = member.locator("a.name").inner_text()
    member.get_by_role("button", name=f"Best teams with {name}").click()
    expect(page.get_by_role("heading", name=f"Teams with {name}")).to_be_visible()
    for card in page.locator("article.team").all():
        assert name in card.locator("li.member a.name").all_inner_texts()


def test_accepting_a_team_records_feedback(server: PageServer, new_page: NewPage) -> None:
    page = new_page()
    sign_in(page, server)
    describe(page)
    page.get_by_role("button", name="Find teams").click()
    first = page.locator("article.team").first
    first.get_by_label("Feedback reason").select_option("good_fit")
    first.get_by_role("button", name="Accept team").click()
    expect(first.locator(".feedback-status")).to_contain_text("team accepted (good fit), recorded as #")


def test_a_read_only_key_is_told_it_cannot_send_feedback(server: PageServer, new_page: NewPage) -> None:
    page = new_page()
    sign_in(page, server, server.viewer_key)
    describe(page)
    page.get_by_role("button", name="Find teams").click()
    first = page.locator("article.team").first
    first.get_by_role("button", name="Reject team").click()
    expect(first.locator(".feedback-status")).to_have_text("your key lacks the 'write' scope needed here")


def test_partner_lookup_opens_a_profile(server: PageServer, new_page: NewPage) -> None:
    page = new_page()
    sign_in(page, server)
    page.get_by_role("link", name="Partners").click()
    page.get_by_label("Lists the skill").fill("aws cloud migration")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("heading", name="partners found")).to_be_visible()
    link = page.locator("table a").first
    name = link.inner_text()
    link.click()
    expect(page.get_by_role("heading", name=name)).to_be_visible()
    expect(page.get_by_role("heading", name="Certifications")).to_be_visible()
    expect(page.get_by_role("heading", name="Track record")).to_be_visible()
    expect(page.locator(".kv").first).to_contain_text("Capacity")
    screenshot(page, "profile.png")


def test_an_unknown_partner_profile_says_so(server: PageServer, new_page: NewPage) -> None:
    page = new_page()
    sign_in(page, server)
    page.goto(f"{server.url}/partners/NO-SUCH-PARTNER")
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    expect(page.get_by_role("alert")).to_have_text("no partner NO-SUCH-PARTNER")


def test_the_overview_draws_kpis_and_the_version_report_as_charts(
    server: PageServer, new_page: NewPage
) -> None:
    page = new_page()
    sign_in(page, server)
    describe(page)
    page.get_by_role("button", name="Find teams").click()
    expect(page.locator("article.team")).to_have_count(3)
    page.get_by_role("link", name="Overview").click()
    expect(page.locator("figure.chart svg")).not_to_have_count(0)
    for title in (
        "Win rate by partners on the deal",
        "Won revenue: partner-sourced against influenced",
        "Partner pairs that win together most",
        "Answers served per model version",
    ):
        chart = page.locator("figure.chart", has=page.get_by_text(title, exact=True))
        expect(chart.locator("rect.fill")).not_to_have_count(0)
    screenshot(page, "overview.png")


def test_the_results_fit_a_phone_screen(server: PageServer, new_page: NewPage) -> None:
    page = new_page(PHONE)
    sign_in(page, server)
    describe(page)
    page.get_by_role("button", name="Find teams").click()
    expect(page.locator("article.team")).to_have_count(3)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(page, "results-phone.png")


def test_the_form_can_be_submitted_from_the_keyboard(server: PageServer, new_page: NewPage) -> None:
    page = new_page()
    sign_in(page, server)
    describe(page)
    page.get_by_label("Description").focus()
    page.keyboard.press("Tab")  # the registered partner
    page.keyboard.press("Tab")  # the first role
    page.locator("#opportunity button.primary").focus()
    page.keyboard.press("Enter")
    expect(page.locator("article.team")).to_have_count(3)


def test_the_page_loads_nothing_from_other_origins(server: PageServer, new_page: NewPage) -> None:
    page = new_page()
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    sign_in(page, server)
    assert requested and all(url.startswith(server.url) for url in requested)


def test_screenshots_are_saved() -> None:
    folder = Path(__file__).resolve().parents[3] / "bench" / "results" / "screenshots"
    assert folder.is_dir()
