"""STUDIO_EMAIL_VERIFICATION: none, optional (the default) or mandatory; joining a team and
sharing a key with a team need a verified address."""

from __future__ import annotations

import re

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth.models import User
from django.core import mail

from accounts import membership as teams
from accounts.models import Membership
from accounts.vault import add_credential

SIGNUP = {
    "username": "dora",
    "email": "dora@example.com",
    "password1": "correct horse battery",
    "password2": "correct horse battery",
}
BANNER = b"Please verify your email address"


@pytest.fixture
def verification(settings):
    def set_to(value: str):
        settings.STUDIO_EMAIL_VERIFICATION = value
        settings.ACCOUNT_EMAIL_VERIFICATION = value

    return set_to


def confirm_link() -> str:
    (message,) = mail.outbox
    link = re.search(r"http://testserver(/accounts/confirm-email/\S+/)", message.body)
    assert link, message.body
    return link.group(1)


def test_optional_lets_a_new_user_start_at_once_and_asks_to_verify(client, db):
    r = client.post("/accounts/signup/", SIGNUP)
    assert r.status_code == 302 and r.url == "/"
    page = client.get("/")
    assert page.status_code == 200 and BANNER in page.content
    assert b'href="/accounts/email/"' in page.content
    assert mail.outbox[0].to == ["dora@example.com"]

    link = confirm_link()
    assert client.get(link).status_code == 200  # a page with a button: a GET changes nothing
    assert not EmailAddress.objects.get(email="dora@example.com").verified
    r = client.post(link)
    assert r.status_code == 302
    assert EmailAddress.objects.get(email="dora@example.com").verified
    assert BANNER not in client.get("/").content


def test_mandatory_waits_for_the_address(client, db, verification):
    verification("mandatory")
    r = client.post("/accounts/signup/", SIGNUP)
    assert r.status_code == 302 and r.url == "/accounts/confirm-email/"
    assert "_auth_user_id" not in client.session
    r = client.post("/accounts/login/", {"username": "dora", "password": SIGNUP["password1"]})
    assert "_auth_user_id" not in client.session
    client.post(confirm_link())
    r = client.post("/accounts/login/", {"username": "dora", "password": SIGNUP["password1"]})
    assert client.session["_auth_user_id"] == str(User.objects.get(username="dora").pk)


def test_none_sends_nothing_and_asks_nothing(client, db, verification):
    verification("none")
    client.post("/accounts/signup/", SIGNUP)
    assert mail.outbox == []
    assert BANNER not in client.get("/").content


def test_an_existing_account_is_asked_to_verify_its_address(client, db):
    # Accounts from before allauth got an unverified EmailAddress (migration 0006).
    User.objects.create_user("old", "old@example.com", "correct horse battery")
    client.post("/accounts/login/", {"username": "old", "password": "correct horse battery"})
    assert BANNER in client.get("/").content


@pytest.fixture
def newcomer(db) -> User:
    user = User.objects.create_user("newcomer", "new@example.com", "correct horse battery")
    EmailAddress.objects.create(user=user, email=user.email, primary=True, verified=False)
    return user


def test_joining_a_team_needs_a_verified_address(client, newcomer, alice):
    team = teams.create_team(alice, "Studio A")
    invite = teams.invite_user(team, alice, newcomer)
    _link_invite, token = teams.create_invite_link(team, alice)
    client.force_login(newcomer, backend="django.contrib.auth.backends.ModelBackend")

    r = client.post(f"/teams/invites/{invite.pk}/accept/", follow=True)
    assert b"Joining a team needs a verified email address." in r.content
    assert b'<a href="/accounts/email/">Verify your email address</a>' in r.content
    r = client.get(f"/teams/join/{token}/")
    assert b"Joining a team needs a verified email address." in r.content
    assert b'value="accept"' not in r.content
    client.post(f"/teams/join/{token}/", {"answer": "accept"})
    assert not Membership.objects.filter(team=team, user=newcomer).exists()

    EmailAddress.objects.filter(user=newcomer).update(verified=True)
    client.post(f"/teams/invites/{invite.pk}/accept/")
    assert Membership.objects.filter(team=team, user=newcomer).exists()


def test_sharing_a_key_with_a_team_needs_a_verified_address(client, newcomer):
    team = teams.create_team(newcomer, "Studio N")
    key = add_credential(newcomer, "aioagi", "key", "sk-aioagi-0123456789abcdef")
    client.force_login(newcomer, backend="django.contrib.auth.backends.ModelBackend")
    r = client.post("/money/shares/", {"credential": key.pk, "team": team.pk})
    assert r.status_code == 200
    assert b"Sharing a key with a team needs a verified email address." in r.content
    from studio.money.models import KeyShare

    assert not KeyShare.objects.filter(team=team).exists()
    EmailAddress.objects.filter(user=newcomer).update(verified=True)
    r = client.post("/money/shares/", {"credential": key.pk, "team": team.pk})
    assert r.status_code == 302
    assert KeyShare.objects.filter(team=team).exists()
