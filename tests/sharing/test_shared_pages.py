"""Shared pages at /s/<token>/: what they show, to whom, with which headers, and how every bad
token looks the same."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from accounts import vault
from accounts.models import Membership
from studio.models import Image
from studio.sharing import services
from studio.sharing.models import ShareLink
from tests.sharing.conftest import client_for
from tests.sharing.images import make_image

SHARED_HEADERS = {
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
    "Cache-Control": "private, no-store",
}


def assert_shared_headers(response) -> None:
    for name, value in SHARED_HEADERS.items():
        assert response[name] == value, name


@pytest.fixture
def public(alice, collection) -> str:
    """A collection link for anyone; returns its path."""
    _link, token = services.create_link(
        alice, kind="collection", collection=collection, audience="anyone"
    )
    return f"/s/{token}/"


@pytest.fixture
def for_team(alice, collection, team) -> str:
    _link, token = services.create_link(
        alice, kind="collection", collection=collection, audience="team", team=team
    )
    return f"/s/{token}/"


# --- What a shared page shows ---------------------------------------------------------------


def test_anyone_sees_the_collections_images_and_prompts(client, public, images):
    r = client.get(public)
    assert r.status_code == 200
    text = r.content.decode()
    assert "Foxes and whales" in text
    assert text.index("a red fox in snow") < text.index("a blue whale")
    assert f"{public}i/{images[0].pk}/thumb/" in text
    assert f"{public}i/{images[0].pk}/download/" in text
    assert "a green forest" not in text  # not in the collection
    assert_shared_headers(r)


def test_it_shows_nothing_of_the_owner(client, alice, public):
    credential = vault.add_credential(alice, "aioagi", "alice's key", "sk-alice-SECRET-0123456789")
    text = client.get(public).content.decode()
    for leak in ("alice@example.com", "alice's key", credential.last4, credential.fingerprint):
        assert leak not in text
    assert "alice" not in text  # a public link does not even name its owner
    assert "/credits/" not in text and "/keys/" not in text  # anonymous: no studio nav


def test_it_loads_nothing_from_other_sites(client, public):
    text = client.get(public).content.decode()
    for url in re.findall(r'(?:src|href)="([^"]*)"', text):
        assert url.startswith(("/", "?", "#")), url
    assert "no-referrer" in client.get(public)["Referrer-Policy"]


def test_it_serves_the_images_checking_the_token_each_time(client, public, images):
    full = client.get(f"{public}i/{images[0].pk}/")
    assert full.status_code == 200
    assert full["Content-Type"] == "image/png"
    assert b"".join(full.streaming_content) == images[0].file.open("rb").read()
    assert_shared_headers(full)
    thumb = client.get(f"{public}i/{images[0].pk}/thumb/")
    assert thumb["Content-Type"] == "image/webp"
    assert_shared_headers(thumb)
    download = client.get(f"{public}i/{images[1].pk}/download/")
    assert download["Content-Disposition"].startswith("attachment;")
    assert_shared_headers(download)


def test_an_image_outside_the_target_is_a_404(client, public, images, bob):
    bobs = make_image(bob, "bob's")
    for image in (images[2], bobs):
        for suffix in ("", "thumb/", "download/"):
            r = client.get(f"{public}i/{image.pk}/{suffix}")
            assert r.status_code == 404
            assert_shared_headers(r)


def test_a_deleted_image_is_no_longer_shared(client, public, images):
    Image.objects.filter(pk=images[0].pk).update(deleted_at=timezone.now())
    assert "a red fox" not in client.get(public).content.decode()
    assert client.get(f"{public}i/{images[0].pk}/").status_code == 404


def test_an_image_removed_from_the_collection_stops_being_served(client, public, collection):
    item = collection.items.first()
    assert client.get(f"{public}i/{item.image_id}/").status_code == 200
    item.delete()
    assert client.get(f"{public}i/{item.image_id}/").status_code == 404


def test_a_single_image_link_shows_that_image_only(client, alice, images):
    _link, token = services.create_link(alice, kind="image", image=images[1], audience="anyone")
    r = client.get(f"/s/{token}/")
    text = r.content.decode()
    assert "a blue whale" in text
    assert f'src="/s/{token}/i/{images[1].pk}/"' in text  # full size
    assert "a red fox" not in text
    assert client.get(f"/s/{token}/i/{images[0].pk}/").status_code == 404


def test_a_gallery_view_link_shows_the_matching_images_made_before_it(client, alice, images):
    _link, token = services.create_link(
        alice, kind="gallery", filters={"q": "fox"}, audience="anyone"
    )
    later = make_image(alice, "another fox, later")
    text = client.get(f"/s/{token}/").content.decode()
    assert "Images: “fox”" in text
    assert "a red fox in snow" in text
    assert "a blue whale" not in text
    assert "another fox, later" not in text
    assert client.get(f"/s/{token}/i/{later.pk}/").status_code == 404
    assert client.get(f"/s/{token}/i/{images[1].pk}/").status_code == 404


def test_a_gallery_view_link_can_include_later_images(client, alice, images):
    _link, token = services.create_link(
        alice, kind="gallery", filters={"q": "fox"}, audience="anyone", include_later=True
    )
    later = make_image(alice, "another fox, later")
    assert "another fox, later" in client.get(f"/s/{token}/").content.decode()
    assert client.get(f"/s/{token}/i/{later.pk}/").status_code == 200


def test_it_pages_long_collections(client, alice, collection, public):
    for n in range(50):
        services.add_images(collection, Image.objects.filter(pk=make_image(alice, f"n{n}").pk))
    first = client.get(public).content.decode()
    assert "Page 1 of 2" in first
    second = client.get(f"{public}?page=2").content.decode()
    assert "n49" in second and "n49" not in first


def test_it_counts_views_but_not_the_owners(alice, public):
    visitor = Client()
    visitor.get(public)
    visitor.get(public)
    client_for(alice).get(public)
    link = ShareLink.objects.get()
    assert link.view_count == 2
    assert timezone.now() - link.last_viewed_at < timedelta(minutes=1)


def test_it_is_read_only(client, public):
    r = client.post(public)
    assert r.status_code == 405
    assert_shared_headers(r)


# --- Team links -----------------------------------------------------------------------------


def test_a_team_member_sees_a_team_link(bob, for_team, images):
    client = client_for(bob)
    r = client.get(for_team)
    assert r.status_code == 200
    assert "Shared by alice with Studio A." in r.content.decode()
    assert client.get(f"{for_team}i/{images[0].pk}/").status_code == 200
    assert_shared_headers(r)


def test_anonymous_visitors_of_a_team_link_sign_in_first(client, for_team, images):
    r = client.get(for_team)
    assert r.status_code == 302
    assert r.url == f"/accounts/login/?next={for_team}"
    assert_shared_headers(r)
    assert client.get(f"{for_team}i/{images[0].pk}/").status_code == 404


def test_someone_outside_the_team_gets_the_same_404_as_a_bad_token(carol, for_team, images):
    client = client_for(carol)
    r = client.get(for_team)
    assert r.status_code == 404
    assert r.content == client.get("/s/unknown-token/").content
    assert client.get(f"{for_team}i/{images[0].pk}/").status_code == 404


def test_a_removed_member_loses_access_at_once(bob, for_team, images):
    client = client_for(bob)
    assert client.get(for_team).status_code == 200
    Membership.objects.filter(user=bob).delete()
    assert client.get(for_team).status_code == 404
    assert client.get(f"{for_team}i/{images[0].pk}/").status_code == 404


def test_an_owner_who_left_the_team_no_longer_shares_with_it(alice, bob, for_team):
    Membership.objects.filter(user=bob).update(role="owner")
    Membership.objects.filter(user=alice).delete()
    assert client_for(bob).get(for_team).status_code == 404


# --- Bad tokens -----------------------------------------------------------------------------


def test_tampered_expired_revoked_and_unknown_tokens_look_the_same(
    alice, collection, images, django_assert_num_queries
):
    def token_for(**changes) -> str:
        link, token = services.create_link(
            alice, kind="collection", collection=collection, audience="anyone"
        )
        ShareLink.objects.filter(pk=link.pk).update(**changes)
        return token

    live = token_for()
    cases = {
        "tampered": live[:-1] + ("A" if live[-1] != "A" else "B"),
        "expired": token_for(expires_at=timezone.now() - timedelta(seconds=1)),
        "revoked": token_for(revoked_at=timezone.now()),
        "unknown": "x" * 43,
    }
    client = Client()
    answers = {}
    for name, token in cases.items():
        with django_assert_num_queries(1):  # one lookup by hash, whatever is wrong
            r = client.get(f"/s/{token}/")
        answers[name] = (r.status_code, r.content, {h: r[h] for h in SHARED_HEADERS})
        image = client.get(f"/s/{token}/i/{images[0].pk}/")
        assert (image.status_code, image.content) == (404, r.content), name
    assert len(set(map(repr, answers.values()))) == 1, answers.keys()
    status, body, headers = answers["unknown"]
    assert status == 404
    assert headers == SHARED_HEADERS
    assert b"This link does not work" in body
    assert client.get(f"/s/{live}/").status_code == 200


def test_revoking_stops_the_page_and_its_images(alice_client, public, images):
    client = Client()
    assert client.get(f"{public}i/{images[0].pk}/").status_code == 200
    link = ShareLink.objects.get()
    alice_client.post(f"/links/{link.pk}/revoke/")
    assert client.get(public).status_code == 404
    assert client.get(f"{public}i/{images[0].pk}/").status_code == 404
    assert client.get(f"{public}i/{images[0].pk}/thumb/").status_code == 404


def test_expiry_stops_the_page_and_its_images(client, public, images):
    ShareLink.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert client.get(public).status_code == 404
    assert client.get(f"{public}i/{images[0].pk}/download/").status_code == 404
