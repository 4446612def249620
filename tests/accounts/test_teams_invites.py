"""Invitations: by username (accept or decline on the Teams page) and by single-use link."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from accounts import membership as teams
from accounts.models import Membership, TeamInvite
from accounts.tokens import token_hash

HTMX = {"HTTP_HX_REQUEST": "true"}


def client_for(user) -> Client:
    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


@pytest.fixture
def team(alice):
    return teams.create_team(alice, "Studio A")


def invite_link(client, team) -> str:
    r = client.post(f"/teams/{team.pk}/invite-link/")
    assert r.status_code == 200
    assert "no-store" in r["Cache-Control"]
    text = r.content.decode()
    start = text.index("http://testserver/teams/join/")
    return text[start : text.index('"', start)].removeprefix("http://testserver")


# --- By username ---------------------------------------------------------------------------------


def test_the_owner_invites_by_username_and_the_invitee_accepts(alice_client, team, bob):
    r = alice_client.post(f"/teams/{team.pk}/invite/", {"username": "Bob"})
    assert r.status_code == 302
    invite = TeamInvite.objects.get()
    assert (invite.invitee, invite.token_hash) == (bob, None)

    bob_client = client_for(bob)
    r = bob_client.get("/teams/")
    assert b"invited you to" in r.content
    r = bob_client.post(f"/teams/invites/{invite.pk}/accept/")
    assert r.status_code == 302
    assert r.url == f"/teams/{team.pk}/"
    assert Membership.objects.get(team=team, user=bob).role == "member"
    invite.refresh_from_db()
    assert invite.accepted_at is not None
    assert invite.used_by == bob


def test_the_invitee_declines(alice_client, team, bob):
    invite = teams.invite_user(team, team.memberships.get().user, bob)
    r = client_for(bob).post(f"/teams/invites/{invite.pk}/decline/")
    assert r.status_code == 302
    invite.refresh_from_db()
    assert invite.declined_at is not None
    assert not Membership.objects.filter(user=bob).exists()
    # And it cannot be accepted afterwards.
    client_for(bob).post(f"/teams/invites/{invite.pk}/accept/")
    assert not Membership.objects.filter(user=bob).exists()


def test_an_unknown_username_is_a_form_error(alice_client, team):
    r = alice_client.post(f"/teams/{team.pk}/invite/", {"username": "nobody"}, **HTMX)
    assert r.status_code == 200
    assert "There is no user with this username." in r.content.decode()
    assert b"<html" not in r.content
    assert not TeamInvite.objects.exists()


def test_inviting_a_member_is_a_form_error(alice_client, team, alice):
    r = alice_client.post(f"/teams/{team.pk}/invite/", {"username": "alice"})
    assert r.status_code == 200
    assert "alice is already in this team." in r.content.decode()


def test_inviting_twice_keeps_one_invite(alice_client, team, bob):
    alice_client.post(f"/teams/{team.pk}/invite/", {"username": "bob"})
    alice_client.post(f"/teams/{team.pk}/invite/", {"username": "bob"})
    assert TeamInvite.objects.count() == 1


def test_someone_elses_invite_is_a_404(alice, team, bob, carol):
    invite = teams.invite_user(team, alice, bob)
    carol_client = client_for(carol)
    assert carol_client.post(f"/teams/invites/{invite.pk}/accept/").status_code == 404
    assert carol_client.post(f"/teams/invites/{invite.pk}/decline/").status_code == 404
    assert not Membership.objects.filter(user=carol).exists()
    invite.refresh_from_db()
    assert invite.is_open


def test_the_owner_withdraws_an_invite(alice_client, alice, team, bob):
    invite = teams.invite_user(team, alice, bob)
    alice_client.post(f"/teams/{team.pk}/invites/{invite.pk}/cancel/")
    bob_client = client_for(bob)
    r = bob_client.post(f"/teams/invites/{invite.pk}/accept/")
    assert not Membership.objects.filter(user=bob).exists()
    assert "withdrawn by the team" in bob_client.get(r.url).content.decode()
    invite.refresh_from_db()
    assert invite.canceled_at is not None


# --- By link -------------------------------------------------------------------------------------


def test_a_link_invite_stores_only_a_hash_and_expires_in_a_week(alice_client, team):
    path = invite_link(alice_client, team)
    token = path.split("/")[3]
    invite = TeamInvite.objects.get()
    assert len(token) >= 43  # 32 random bytes, url-safe base64
    assert invite.token_hash == token_hash(token)
    assert token not in str(TeamInvite.objects.values().get())
    assert timedelta(days=6) < invite.expires_at - timezone.now() <= timedelta(days=7)


def test_a_link_invite_joins_once(alice_client, team, bob, carol):
    path = invite_link(alice_client, team)
    bob_client = client_for(bob)
    r = bob_client.get(path)
    assert r.status_code == 200
    assert b"Studio A" in r.content
    r = bob_client.post(path, {"answer": "accept"})
    assert r.url == f"/teams/{team.pk}/"
    assert Membership.objects.filter(team=team, user=bob).exists()

    carol_client = client_for(carol)
    r = carol_client.get(path)
    assert r.status_code == 410
    assert "This invitation has already been used." in r.content.decode()
    r = carol_client.post(path, {"answer": "accept"})
    assert not Membership.objects.filter(user=carol).exists()
    assert "already been used" in carol_client.get(r.url).content.decode()


def test_an_expired_link_says_so(alice_client, team, bob):
    path = invite_link(alice_client, team)
    TeamInvite.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    r = client_for(bob).get(path)
    assert r.status_code == 410
    assert "This invitation has expired." in r.content.decode()
    client_for(bob).post(path, {"answer": "accept"})
    assert not Membership.objects.filter(user=bob).exists()


def test_a_declined_link_cannot_be_used(alice_client, team, bob, carol):
    path = invite_link(alice_client, team)
    client_for(bob).post(path, {"answer": "decline"})
    r = client_for(carol).get(path)
    assert r.status_code == 410
    assert "declined" in r.content.decode()


def test_a_member_opening_a_link_does_not_use_it(alice_client, alice, team, bob):
    path = invite_link(alice_client, team)
    r = alice_client.get(path)
    assert b"You are already in" in r.content
    r = alice_client.post(path, {"answer": "accept"})
    assert TeamInvite.objects.get().is_open
    client_for(bob).post(path, {"answer": "accept"})
    assert Membership.objects.filter(team=team, user=bob).exists()


def test_unknown_and_tampered_links_are_404(alice_client, team, bob):
    path = invite_link(alice_client, team)
    client = client_for(bob)
    assert client.get("/teams/join/not-a-token/").status_code == 404
    assert client.get(path[:-2] + "x/").status_code == 404
    assert client.post("/teams/join/not-a-token/", {"answer": "accept"}).status_code == 404


def test_anonymous_visitors_sign_in_first(alice_client, team, client):
    path = invite_link(alice_client, team)
    client.logout()
    r = Client().get(path)
    assert r.status_code == 302
    assert r.url.startswith("/accounts/login/?next=/teams/join/")


def test_a_lost_race_for_a_link_does_not_join(alice, team, bob, carol):
    invite, token = teams.create_invite_link(team, alice)
    stale = teams.invite_by_token(token)
    teams.accept_invite(invite, bob)
    with pytest.raises(teams.TeamRuleBroken):
        # A second request that read the invite before the first one claimed it.
        stale.accepted_at = None
        teams.accept_invite(stale, carol)
    assert not Membership.objects.filter(user=carol).exists()
