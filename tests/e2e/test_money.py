"""Issue 15 in a browser: an owner shares a key with a team member under a 2-image budget and
a price of her own; the member generates 2 images, the third job is refused before any paid
POST (the fake vendor's request log), and the owner sees the member's spend in money."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from accounts import membership as teams
from accounts.models import Membership
from accounts.vault import add_credential
from studio.models import CreditEntry, Generation
from studio.money.services import money
from tests.e2e.conftest import KEY

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


PASSWORDS = {"alice": "correct horse battery", "bob": "another good passphrase"}


def sign_in(page: Page, base: str, user) -> None:
    page.goto(base + "/accounts/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORDS[user.username])
    page.click("form button[type=submit].primary")
    expect(page).to_have_url(base + "/")


def paid_posts(fake) -> int:
    return len([r for r in fake.requests if r.method == "POST"])


def generate(page: Page, prompt: str) -> None:
    page.fill("#id_prompt", prompt)
    page.click("#generate-submit")


def test_a_team_key_with_a_two_image_budget(
    page: Page, browser, live_server, fake_vendor, worker, alice, bob
):
    base = live_server.url
    team = teams.create_team(alice, "Studio A")
    Membership.objects.create(team=team, user=bob)
    key = add_credential(alice, "girlgenerator", "studio key", KEY)
    worker.start()

    # Alice shares her key, gives each member 2 images a month, and sets her own price.
    sign_in(page, base, alice)
    page.goto(base + "/money/")
    page.select_option("#share-form #id_credential", str(key.pk))
    page.select_option("#share-form #id_team", str(team.pk))
    page.click("#share-form button[type=submit]")
    expect(page.locator("main")).to_contain_text("is shared with Studio A")
    page.select_option("#budget-form #id_scope", "member")
    page.select_option("#budget-form #id_credential", str(key.pk))
    page.select_option("#budget-form #id_measure", "images")
    page.fill("#budget-form #id_limit", "2")
    page.click("#budget-form button[type=submit]")
    expect(page.locator("[role=region][aria-labelledby=budgets-heading] table")).to_contain_text(
        "The limit for each member on the team key “studio key” (2 images a calendar month)"
    )
    page.select_option("#price-form #id_credential", str(key.pk))
    page.select_option("#price-form #id_per", "credits")
    page.fill("#price-form #id_amount", "0.15")
    page.fill("#price-form #id_currency", "cny")
    page.fill("#price-form #id_valid_from", timezone.localdate().isoformat())
    page.click("#price-form button[type=submit]")
    expect(page.locator("[role=region][aria-label='Your prices'] table")).to_contain_text("¥0.15")

    # Bob generates with it: he sees whose key it is, never its last characters.
    bob_context = browser.new_context(locale="en-US")
    bob_page = bob_context.new_page()
    bob_page.set_default_timeout(15_000)
    try:
        sign_in(bob_page, base, bob)
        option = bob_page.locator(f"#id_key option[value='{key.pk}']")
        expect(option).to_have_text("GirlGeneratorAI · studio key (team key of alice)")
        assert KEY[-4:] not in bob_page.content()
        with bob_page.expect_response(lambda r: "/generate/form/" in r.url):
            bob_page.select_option("#id_key", str(key.pk))
        expect(bob_page.locator(".htmx-settling, .htmx-request, .htmx-swapping")).to_have_count(0)
        for n in (1, 2):
            generate(bob_page, f"lighthouse number {n}")
            card = bob_page.locator("#jobs article.job").first
            expect(card.locator(".prompt")).to_have_text(f"lighthouse number {n}")
            expect(card.locator(".badge")).to_have_text("Done", timeout=60_000)
        assert paid_posts(fake_vendor) == 2

        generate(bob_page, "lighthouse number 3")
        alert = bob_page.locator("[role=alert]").first
        expect(alert).to_contain_text("Refused by a budget")
        expect(alert).to_contain_text("each member on the team key “studio key”")
        expect(alert).to_contain_text("0 images left until it resets on")
        bob_page.wait_for_timeout(1000)  # a worker would have sent it by now
        assert paid_posts(fake_vendor) == 2
        assert Generation.objects.filter(owner=bob).count() == 2
        assert set(Generation.objects.values_list("credential", flat=True)) == {key.pk}
    finally:
        bob_context.close()

    # Alice sees Bob's spend in money on her credits page.
    spent = sum(e.amount for e in CreditEntry.objects.filter(owner=bob, kind="credits"))
    expected = money(spent * Decimal("0.15"), "CNY")
    page.goto(base + "/credits/")
    by_member = page.locator("table", has=page.locator("caption", has_text="By member"))
    expect(by_member).to_contain_text("bob")
    expect(by_member).to_contain_text(expected)
    expect(page.locator("svg.money-chart rect.vendor-girlgenerator")).to_have_count(1)
    page.goto(base + "/money/")
    expect(page.locator("[role=region][aria-labelledby=budgets-heading] table")).to_contain_text(
        "100 %"
    )
    expect(page.locator(".budget-warning")).to_be_visible()
    assert page.csp_violations == []


def test_the_money_page_fits_a_phone(page: Page, live_server, alice, bob):
    team = teams.create_team(alice, "Studio A")
    Membership.objects.create(team=team, user=bob)
    key = add_credential(alice, "girlgenerator", "a key with a rather long label", KEY)
    from studio.money import services
    from studio.money.models import Budget

    services.share_key(key, team, alice)
    services.set_budget(Budget(scope="member", credential=key, measure="images", limit=2), alice)
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, live_server.url, alice)
    for path in ("/money/", "/credits/"):
        page.goto(live_server.url + path)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        wide = page.evaluate(
            "[...document.querySelectorAll('main *')].filter(e => e.getBoundingClientRect().right"
            " > window.innerWidth).slice(0, 8).map(e => e.tagName + '#' + e.id + '.' +"
            " e.className + ' ' + Math.round(e.getBoundingClientRect().right))"
        )
        assert overflow <= 0, (path, overflow, wide)
    expect(page.locator("main")).to_be_visible()
    assert page.csp_violations == []
