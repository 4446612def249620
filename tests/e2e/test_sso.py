"""Single sign-on in Chromium, as a person follows it: the sign-in page's provider button, the
studio's "continue" page, the real loopback OpenID provider's own sign-in form (tests/
oidc_provider/), and back to the studio signed in, a member of the team their email domain
names. An address outside the allowed domains ends on a sentence, with no account made."""

from __future__ import annotations

import re

import pytest
from allauth.socialaccount.models import SocialAccount
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect

from tests.accounts.test_sso import PASSWORD, provider, sso  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.e2e]


def sign_in_with_the_provider(page: Page, base: str, username: str) -> None:
    page.goto(base + "/accounts/login/")
    page.get_by_role("link", name="Test provider").click()
    # allauth asks before leaving the studio (a POST, so a link alone cannot start it).
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_title("Test provider sign-in")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.get_by_role("button", name="Sign in to the provider").click()


def test_the_first_sso_sign_in_makes_the_account_and_joins_the_domains_team(
    page: Page,
    live_server,
    sso,  # noqa: F811
):
    # The loopback address, which the provider accepts on any port (RFC 8252).
    base = live_server.url.replace("//localhost:", "//127.0.0.1:")
    sign_in_with_the_provider(page, base, "dana")
    expect(page).to_have_url(re.compile(r"^" + re.escape(base) + r"/$"))
    user = User.objects.get(email="dana@example.com")
    assert SocialAccount.objects.get(user=user).provider == "testop"

    page.goto(base + "/teams/")
    expect(page.locator("main")).to_contain_text("Example staff")
    page.goto(base + "/accounts/security/")
    expect(page.locator("main")).to_contain_text(
        "An account at your sign-in provider is linked to this one."
    )
    assert page.csp_violations == []


def test_an_address_outside_the_allowed_domains_gets_a_sentence(
    page: Page,
    live_server,
    sso,  # noqa: F811
):
    base = live_server.url.replace("//localhost:", "//127.0.0.1:")
    sign_in_with_the_provider(page, base, "erin")
    expect(page.locator("main")).to_contain_text(
        "This studio lets only people with an address at example.com sign up, and you signed "
        "in as erin@elsewhere.test."
    )
    assert not User.objects.filter(email="erin@elsewhere.test").exists()


def sign_in(page: Page, base: str, username: str, password: str) -> None:
    page.goto(base + "/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("form button[type=submit].primary")
    expect(page).to_have_url(re.compile(r"^" + re.escape(base) + r"/$"))


def test_an_owner_requires_two_step_sign_in_and_a_member_is_sent_to_set_it_up(
    browser, live_server, alice, bob
):
    """The team rule as the two people meet it: the owner picks it on the team page; the
    member, without a second factor, reads the sentence and follows its link."""
    from accounts import membership as teams
    from accounts.models import Membership, Team

    team = teams.create_team(alice, "Studio A")
    Membership.objects.create(team=team, user=bob)
    base = live_server.url
    owner = browser.new_context().new_page()
    sign_in(owner, base, "alice", "correct horse battery")
    owner.goto(f"{base}/teams/{team.pk}/")
    owner.get_by_label("Two-step sign-in").check()
    owner.get_by_role("button", name="Save the rule").click()
    expect(owner.locator("#sign-in-rule")).to_contain_text(
        "Only members with two-step sign-in can use the keys shared with this team."
    )
    team.refresh_from_db()
    assert team.requires == Team.Requires.TWO_STEP

    member = browser.new_context().new_page()
    sign_in(member, base, "bob", "another good passphrase")
    member.goto(f"{base}/teams/{team.pk}/")
    note = member.locator("#rule-problem")
    expect(note).to_contain_text("You cannot use this team's keys until you turn on two-step")
    note.get_by_role("link", name="account security").click()
    expect(member).to_have_url(base + "/accounts/security/")
    owner.context.close()
    member.context.close()
