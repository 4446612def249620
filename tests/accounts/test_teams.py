"""The /teams/ pages: create, view, leave, remove members, name owners."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts import membership as teams
from accounts.models import Membership, Team

HTMX = {"HTTP_HX_REQUEST": "true"}


def client_for(user) -> Client:
    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


@pytest.fixture
def team(alice, bob):
    """Alice owns "Studio A"; Bob is a member."""
    team = teams.create_team(alice, "Studio A")
    Membership.objects.create(team=team, user=bob)
    return team


def test_it_creates_a_team_with_me_as_owner(alice_client, alice):
    r = alice_client.post("/teams/", {"name": "  Illustrators "})
    team = Team.objects.get()
    assert r.status_code == 302
    assert r.url == f"/teams/{team.pk}/"
    assert team.name == "Illustrators"
    assert Membership.objects.get(team=team).user == alice
    assert Membership.objects.get(team=team).role == "owner"
    r = alice_client.get(r.url)
    assert "Created the team Illustrators." in r.content.decode()


def test_a_blank_name_rerenders_the_form_for_htmx(alice_client):
    r = alice_client.post("/teams/", {"name": "   "}, **HTMX)
    assert r.status_code == 200
    assert b"errorlist" in r.content
    assert b"<html" not in r.content
    assert not Team.objects.exists()


def test_the_list_shows_my_teams_only(alice_client, team, carol):
    other = teams.create_team(carol, "Carol's corner")
    r = alice_client.get("/teams/")
    assert b"Studio A" in r.content
    assert b"corner" not in r.content
    assert other.pk


def test_a_user_can_be_in_several_teams(alice, bob, team):
    second = teams.create_team(bob, "Second")
    Membership.objects.create(team=second, user=alice)
    r = client_for(alice).get("/teams/")
    assert b"Studio A" in r.content
    assert b"Second" in r.content


def test_a_member_sees_the_team_but_not_owner_controls(bob, team):
    r = client_for(bob).get(f"/teams/{team.pk}/")
    assert r.status_code == 200
    assert b"alice" in r.content
    assert b"Invite someone" not in r.content
    assert b"/remove/" not in r.content


def test_an_owner_sees_invite_and_member_controls(alice_client, team):
    r = alice_client.get(f"/teams/{team.pk}/")
    assert b"Invite someone" in r.content
    assert b"/remove/" in r.content


def test_another_users_team_is_a_404_everywhere(carol, team, bob):
    bob_membership = Membership.objects.get(user=bob)
    client = client_for(carol)
    assert client.get(f"/teams/{team.pk}/").status_code == 404
    for path in (
        f"/teams/{team.pk}/invite/",
        f"/teams/{team.pk}/invite-link/",
        f"/teams/{team.pk}/leave/",
        f"/teams/{team.pk}/members/{bob_membership.pk}/remove/",
        f"/teams/{team.pk}/members/{bob_membership.pk}/owner/",
    ):
        assert client.post(path, {"username": "carol"}).status_code == 404, path
    assert Membership.objects.filter(team=team).count() == 2


def test_a_member_cannot_use_owner_actions(bob, alice, team):
    alice_membership = Membership.objects.get(user=alice)
    client = client_for(bob)
    for path in (
        f"/teams/{team.pk}/invite/",
        f"/teams/{team.pk}/invite-link/",
        f"/teams/{team.pk}/members/{alice_membership.pk}/remove/",
        f"/teams/{team.pk}/members/{alice_membership.pk}/owner/",
    ):
        assert client.post(path, {"username": "carol"}).status_code == 404, path
    assert Membership.objects.get(user=alice).role == "owner"


def test_anonymous_users_are_sent_to_sign_in(client, team):
    r = client.get(f"/teams/{team.pk}/")
    assert r.status_code == 302
    assert r.url.startswith("/accounts/login/")


def test_the_owner_removes_a_member(alice_client, bob, team):
    member = Membership.objects.get(user=bob)
    r = alice_client.post(f"/teams/{team.pk}/members/{member.pk}/remove/")
    assert r.status_code == 302
    assert not Membership.objects.filter(user=bob).exists()
    assert "Removed bob from the team." in alice_client.get(r.url).content.decode()


def test_an_owner_cannot_remove_themselves(alice_client, alice, team):
    me = Membership.objects.get(user=alice)
    alice_client.post(f"/teams/{team.pk}/members/{me.pk}/remove/")
    assert Membership.objects.filter(pk=me.pk).exists()


def test_a_membership_of_another_team_is_a_404(alice_client, alice, carol, team):
    other = teams.create_team(carol, "Other")
    Membership.objects.create(team=other, user=alice, role="owner")
    carols = Membership.objects.get(team=other, user=carol)
    r = alice_client.post(f"/teams/{team.pk}/members/{carols.pk}/remove/")
    assert r.status_code == 404
    assert Membership.objects.filter(pk=carols.pk).exists()


def test_the_owner_names_another_owner(alice_client, bob, team):
    member = Membership.objects.get(user=bob)
    alice_client.post(f"/teams/{team.pk}/members/{member.pk}/owner/")
    member.refresh_from_db()
    assert member.role == "owner"


def test_a_member_leaves(bob, team):
    client = client_for(bob)
    r = client.post(f"/teams/{team.pk}/leave/")
    assert r.status_code == 302
    assert r.url == "/teams/"
    assert not Membership.objects.filter(user=bob).exists()
    assert client.get(f"/teams/{team.pk}/").status_code == 404


def test_the_only_owner_cannot_leave_while_others_stay(alice_client, alice, team):
    r = alice_client.post(f"/teams/{team.pk}/leave/")
    assert Membership.objects.filter(user=alice, team=team).exists()
    assert "only owner" in alice_client.get(r.url).content.decode()


def test_an_owner_can_leave_once_another_owner_exists(alice_client, alice, bob, team):
    Membership.objects.filter(user=bob).update(role="owner")
    alice_client.post(f"/teams/{team.pk}/leave/")
    assert not Membership.objects.filter(user=alice, team=team).exists()


def test_the_last_member_leaving_deletes_the_team(alice_client, alice):
    team = teams.create_team(alice, "Solo")
    alice_client.post(f"/teams/{team.pk}/leave/")
    assert not Team.objects.filter(pk=team.pk).exists()


def test_leave_and_remove_need_post(alice_client, bob, team):
    member = Membership.objects.get(user=bob)
    assert alice_client.get(f"/teams/{team.pk}/leave/").status_code == 405
    assert alice_client.get(f"/teams/{team.pk}/members/{member.pk}/remove/").status_code == 405
