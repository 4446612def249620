"""Single sign-on against a real OpenID provider on loopback (tests/oidc_provider/): real HTTP
end to end, an HTTP client following every redirect between the studio (live_server) and the
provider, as a browser would. The first sign-in creates the account, the domain rule joins the
team, a wrong domain is refused with a sentence, and the client secret is never in the clear in
the database, the logs or the pages."""

from __future__ import annotations

import io
import logging
import re
import secrets
from html import unescape

import httpx
import pytest
from allauth.socialaccount.models import SocialAccount, SocialApp, SocialToken
from django.contrib.auth.models import User
from django.core.management import call_command

from accounts import membership as teams
from accounts import policy
from accounts.models import Membership, Team, TeamEvent
from tests.oidc_provider import LoopbackProvider, free_port

PASSWORD = "provider-pass-2931"
USERS = [
    {"username": "dana", "email": "dana@example.com", "groups": ["artists"]},
    {"username": "erin", "email": "erin@elsewhere.test", "groups": []},
]
SECRET = "client-secret-" + secrets.token_hex(12)


@pytest.fixture(scope="session")
def provider(tmp_path_factory):
    users = [{**u, "password": PASSWORD} for u in USERS]
    op = LoopbackProvider(
        tmp_path_factory.mktemp("oidc"), free_port(), "studio-test", SECRET, users
    ).start()
    yield op
    op.stop()


@pytest.fixture
def sso(settings, provider, alice):
    settings.SOCIALACCOUNT_PROVIDERS = {
        "openid_connect": {
            "APPS": [
                {
                    "provider_id": "testop",
                    "name": "Test provider",
                    "client_id": provider.client_id,
                    "secret": provider.secret,
                    "settings": {
                        "server_url": provider.url,
                        "oauth_pkce_enabled": True,
                        "groups_claim": "groups",
                    },
                }
            ]
        }
    }
    settings.STUDIO_SSO_PROVIDER_IDS = ["testop"]
    settings.STUDIO_SSO_ALLOWED_DOMAINS = ["example.com"]
    settings.STUDIO_SSO_TEAM_DOMAINS = {"example.com": "Example staff"}
    settings.STUDIO_SSO_TEAM_GROUPS = {"artists": "Artists"}
    return {
        "staff": teams.create_team(alice, "Example staff"),
        "artists": teams.create_team(alice, "Artists"),
    }


def form_fields(html: str) -> dict[str, str]:
    """The fields of the page's form in <main> (not the header's language switch)."""
    html = html.split("<main", 1)[-1].split("</main>", 1)[0]
    found = re.findall(r'<input[^>]*name="(\w+)"[^>]*value="([^"]*)"', html)
    return {name: unescape(value) for name, value in found}


def sign_in_with_sso(base: str, username: str, pages: list[httpx.Response]) -> httpx.Response:
    """What a browser does: the studio's SSO button, the provider's sign-in form, and back."""
    # The loopback address, which the provider accepts on any port (RFC 8252), not "localhost".
    base = base.replace("//localhost:", "//127.0.0.1:")
    with httpx.Client(follow_redirects=True, timeout=30) as browser:
        start = browser.get(f"{base}/accounts/oidc/testop/login/")
        pages.append(start)
        assert start.status_code == 200, start.text
        to_provider = browser.post(str(start.url), data=form_fields(start.text))
        pages.append(to_provider)
        # On the provider's own sign-in page now, on its own port.
        assert to_provider.url.port != httpx.URL(base).port, to_provider.url
        fields = form_fields(to_provider.text)
        fields.update(username=username, password=PASSWORD)
        back = browser.post(str(to_provider.url), data=fields)
        pages.append(back)
        for r in back.history:
            pages.append(r)
        return back


def test_first_sign_in_creates_the_account_and_joins_teams_by_domain_and_group(
    live_server, sso, alice, caplog
):
    caplog.set_level(logging.DEBUG)
    pages: list[httpx.Response] = []
    back = sign_in_with_sso(live_server.url, "dana", pages)
    assert back.status_code == 200, back.text
    assert httpx.URL(str(back.url)).path == "/"  # the studio's start page, signed in
    user = User.objects.get(email="dana@example.com")
    account = SocialAccount.objects.get(user=user)
    assert account.provider == "testop"
    assert {m.team.name for m in Membership.objects.filter(user=user)} == {
        "Example staff",
        "Artists",
    }
    assert set(TeamEvent.objects.filter(by=user).values_list("message", flat=True)) == {
        "dana joined through single sign-on (email domain example.com)",
        "dana joined through single sign-on (group artists)",
    }
    assert not user.has_usable_password()
    # A team that requires SSO: Dana meets it; Alice, with a password only, does not.
    sso["staff"].requires = Team.Requires.SSO
    assert policy.policy_problem(user, sso["staff"]) is None
    assert "single sign-on" in policy.policy_problem(alice, sso["staff"])

    # A second sign-in finds the same account: no new user, no second membership.
    sign_in_with_sso(live_server.url, "dana", pages)
    assert User.objects.filter(email="dana@example.com").count() == 1
    assert Membership.objects.filter(user=user).count() == 2

    # The client secret: never in the database, the logs or any page on the way.
    dump = io.StringIO()
    call_command("dumpdata", stdout=dump)
    assert SECRET not in dump.getvalue()
    assert not SocialApp.objects.exists() and not SocialToken.objects.exists()
    assert SECRET not in caplog.text
    for page in pages:
        assert SECRET not in page.text and SECRET not in str(page.url)


def test_an_address_outside_the_allowed_domains_is_refused_with_a_sentence(live_server, sso):
    pages: list[httpx.Response] = []
    back = sign_in_with_sso(live_server.url, "erin", pages)
    assert back.status_code == 403
    assert (
        "This studio lets only people with an address at example.com sign up, and you signed "
        "in as erin@elsewhere.test."
    ) in back.text
    assert not User.objects.filter(email="erin@elsewhere.test").exists()
    assert not SocialAccount.objects.exists()


def test_providers_come_from_the_environment_and_a_gap_is_named(monkeypatch):
    from django.core.exceptions import ImproperlyConfigured

    from studio.settings import oidc_apps

    monkeypatch.setenv("STUDIO_OIDC_PROVIDERS", "keycloak")
    monkeypatch.setenv("STUDIO_OIDC_KEYCLOAK_SERVER_URL", "https://id.example.com/realms/a/")
    monkeypatch.setenv("STUDIO_OIDC_KEYCLOAK_CLIENT_ID", "studio")
    with pytest.raises(ImproperlyConfigured, match="KEYCLOAK_CLIENT_SECRET must be set"):
        oidc_apps("STUDIO_OIDC_PROVIDERS")
    monkeypatch.setenv("STUDIO_OIDC_KEYCLOAK_CLIENT_SECRET", "from-the-environment")
    monkeypatch.setenv("STUDIO_OIDC_KEYCLOAK_NAME", "Company sign-in")
    monkeypatch.setenv("STUDIO_OIDC_KEYCLOAK_GROUPS_CLAIM", "groups")
    (app,) = oidc_apps("STUDIO_OIDC_PROVIDERS")
    assert app == {
        "provider_id": "keycloak",
        "name": "Company sign-in",
        "client_id": "studio",
        "secret": "from-the-environment",
        "settings": {
            "server_url": "https://id.example.com/realms/a",
            "oauth_pkce_enabled": True,
            "groups_claim": "groups",
        },
    }
    monkeypatch.setenv("STUDIO_OIDC_PROVIDERS", "Key Cloak")
    with pytest.raises(ImproperlyConfigured, match="lowercase letters"):
        oidc_apps("STUDIO_OIDC_PROVIDERS")


@pytest.fixture
def dead_provider(settings):
    from tests.test_authorization import with_sso_provider

    with_sso_provider(settings)  # "testop", on a closed port


def test_the_sign_in_page_offers_the_provider(client, db, dead_provider):
    page = client.get("/accounts/login/")
    assert 'href="/accounts/oidc/testop/login/' in page.text and "Test provider" in page.text
    assert 'name="password"' in page.text


def test_a_provider_that_does_not_answer_is_a_sentence_not_a_server_error(
    client, db, dead_provider
):
    client.get("/accounts/oidc/testop/login/")
    reply = client.post("/accounts/oidc/testop/login/")
    assert reply.status_code == 502
    assert "The single sign-on provider did not answer." in reply.text
    assert "walk-secret-not-real" not in reply.text


def test_password_sign_in_can_be_turned_off(client, alice, settings, dead_provider):
    settings.STUDIO_PASSWORD_LOGIN = False
    page = client.get("/accounts/login/")
    assert 'name="password"' not in page.text
    assert "This studio signs people in with single sign-on." in page.text
    assert 'href="/accounts/oidc/testop/login/' in page.text
    # A password posted anyway is refused with a sentence, and signs no one in.
    reply = client.post(
        "/accounts/login/", {"username": "alice", "password": "correct horse battery"}
    )
    assert "Password sign-in is turned off here: sign in with single sign-on." in reply.text
    assert "_auth_user_id" not in client.session
    # Nor can anyone sign up with a password.
    client.post(
        "/accounts/signup/",
        {
            "username": "mallory",
            "email": "mallory@example.com",
            "password1": "a long enough passphrase",
            "password2": "a long enough passphrase",
        },
    )
    assert not User.objects.filter(username="mallory").exists()


def test_a_signed_in_member_links_sso_and_then_meets_a_team_rule_requiring_it(
    live_server, sso, alice, bob
):
    """The sentence of a team that requires SSO sends the member to /accounts/security/,
    whose link connects their account at the provider; the sign-up domain rule does not
    apply to linking (Bob's provider address is outside it)."""
    team = sso["staff"]
    Membership.objects.create(team=team, user=bob)
    teams.set_rule(Membership.objects.get(team=team, user=alice), Team.Requires.SSO)
    team.refresh_from_db()
    assert "single sign-on" in policy.policy_problem(bob, team)
    base = live_server.url.replace("//localhost:", "//127.0.0.1:")
    with httpx.Client(follow_redirects=True, timeout=30) as browser:
        signin = browser.get(f"{base}/accounts/login/")
        fields = form_fields(signin.text)
        fields.update(username="bob", password="another good passphrase")
        browser.post(f"{base}/accounts/login/", data=fields)
        security = browser.get(f"{base}/accounts/security/")
        assert "No account at a sign-in provider is linked to this one." in security.text
        start = browser.get(f"{base}/accounts/oidc/testop/login/?process=connect")
        to_provider = browser.post(str(start.url), data=form_fields(start.text))
        fields = form_fields(to_provider.text)
        fields.update(username="erin", password=PASSWORD)
        back = browser.post(str(to_provider.url), data=fields)
        assert back.status_code == 200, back.text
        security = browser.get(f"{base}/accounts/security/")
        assert "An account at your sign-in provider is linked to this one." in security.text
    assert SocialAccount.objects.get(user=bob).provider == "testop"
    assert policy.policy_problem(bob, team) is None
    assert not User.objects.filter(email="erin@elsewhere.test").exists()
