""" "Shared with me": what teammates shared with my teams, opened by id at /shared/<pk>/."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from accounts import membership as teams
from accounts.models import Membership
from studio.sharing import services
from studio.sharing.models import ShareLink
from tests.sharing.conftest import client_for
from tests.sharing.images import make_image


@pytest.fixture
def team_link(alice, collection, team) -> ShareLink:
    link, _token = services.create_link(
        alice, kind="collection", collection=collection, audience="team", team=team
    )
    return link


def test_it_lists_what_teammates_shared_with_my_teams(bob, team_link):
    r = client_for(bob).get("/shared/")
    text = r.content.decode()
    assert f'href="/shared/{team_link.pk}/"' in text
    assert "Foxes and whales" in text
    assert "alice" in text and "Studio A" in text


def test_it_leaves_out_what_is_not_for_me(alice, bob, carol, collection, team, team_link, images):
    public, _ = services.create_link(
        alice, kind="collection", collection=collection, audience="anyone"
    )
    revoked, _ = services.create_link(
        alice, kind="image", image=images[0], audience="team", team=team
    )
    services.revoke_link(revoked)
    expired, _ = services.create_link(
        alice,
        kind="image",
        image=images[1],
        audience="team",
        team=team,
        expires_at=timezone.now() - timedelta(seconds=1),
    )
    other_team = teams.create_team(carol, "Carol's")
    carols, _ = services.create_link(
        carol, kind="image", image=make_image(carol, "c"), audience="team", team=other_team
    )
    mine, _ = services.create_link(
        bob, kind="image", image=make_image(bob, "b"), audience="team", team=team
    )
    listed = set(services.shared_with(bob).values_list("pk", flat=True))
    assert listed == {team_link.pk}
    text = client_for(bob).get("/shared/").content.decode()
    for link in (public, revoked, expired, carols, mine):
        assert f"/shared/{link.pk}/" not in text


def test_a_link_from_someone_who_left_the_team_is_not_listed(alice, bob, team, team_link):
    Membership.objects.filter(user=bob).update(role="owner")
    Membership.objects.filter(user=alice).delete()
    assert not services.shared_with(bob).exists()


def test_a_member_opens_it_and_its_images_by_id(bob, team_link, images):
    client = client_for(bob)
    r = client.get(f"/shared/{team_link.pk}/")
    assert r.status_code == 200
    assert f"/shared/{team_link.pk}/i/{images[0].pk}/thumb/" in r.content.decode()
    assert r["Referrer-Policy"] == "no-referrer"
    assert r["Cache-Control"] == "private, no-store"
    image = client.get(f"/shared/{team_link.pk}/i/{images[0].pk}/")
    assert image.status_code == 200
    assert image["Cache-Control"] == "private, no-store"
    assert client.get(f"/shared/{team_link.pk}/i/{images[2].pk}/").status_code == 404
    assert ShareLink.objects.get().view_count == 1


def test_others_get_a_404_and_anonymous_visitors_sign_in(carol, team_link, images):
    client = client_for(carol)
    assert client.get(f"/shared/{team_link.pk}/").status_code == 404
    assert client.get(f"/shared/{team_link.pk}/i/{images[0].pk}/").status_code == 404
    r = Client().get(f"/shared/{team_link.pk}/")
    assert r.status_code == 302
    assert r.url.startswith("/accounts/login/")


def test_an_anyone_link_cannot_be_opened_by_id(alice, bob, team, collection):
    link, _ = services.create_link(
        alice, kind="collection", collection=collection, audience="anyone"
    )
    assert client_for(bob).get(f"/shared/{link.pk}/").status_code == 404


def test_the_owner_previews_their_own_link(alice_client, alice, collection, images):
    link, _ = services.create_link(
        alice, kind="collection", collection=collection, audience="anyone"
    )
    assert alice_client.get(f"/shared/{link.pk}/").status_code == 200
    services.revoke_link(link)
    assert alice_client.get(f"/shared/{link.pk}/").status_code == 404


def test_revoking_closes_the_door_by_id_too(bob, team_link, images):
    client = client_for(bob)
    services.revoke_link(team_link)
    assert client.get(f"/shared/{team_link.pk}/").status_code == 404
    assert client.get(f"/shared/{team_link.pk}/i/{images[0].pk}/").status_code == 404
