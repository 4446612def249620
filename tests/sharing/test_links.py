"""The owner's links: create (shown once, only a hash kept), list with views, revoke."""

from __future__ import annotations

import re
from datetime import timedelta

from django.utils import timezone

from accounts import membership as teams
from accounts.tokens import token_hash
from studio.sharing import services
from studio.sharing.models import ShareLink
from tests.sharing.conftest import client_for
from tests.sharing.images import make_image

HTMX = {"HTTP_HX_REQUEST": "true"}


def create(client, query: str, **data) -> str:
    """Creates a link through the form and returns its path, /s/<token>/."""
    r = client.post(f"/links/new/?{query}", {"expires": "7", **data})
    assert r.status_code == 200, r.content
    assert "no-store" in r["Cache-Control"]
    match = re.search(r'value="http://testserver(/s/[^"]+/)"', r.content.decode())
    assert match, r.content
    return match.group(1)


def test_the_form_defaults_to_the_team_and_a_week(alice_client, collection, team):
    r = alice_client.get(f"/links/new/?collection={collection.pk}")
    assert r.status_code == 200
    text = r.content.decode()
    assert 'value="team" required id="id_audience_0" checked' in text
    assert '<option value="7" selected>' in text
    assert f'<option value="{team.pk}" selected>' in text  # my only team
    assert "Foxes and whales" in text


def test_without_a_team_the_form_defaults_to_anyone(alice_client, collection):
    r = alice_client.get(f"/links/new/?collection={collection.pk}")
    assert 'value="anyone" required id="id_audience_1" checked' in r.content.decode()


def test_it_creates_a_team_link_and_keeps_only_the_tokens_hash(alice_client, collection, team):
    path = create(alice_client, f"collection={collection.pk}", audience="team", team=team.pk)
    token = path.split("/")[2]
    link = ShareLink.objects.get()
    assert len(token) == 43  # secrets.token_urlsafe(32): 256 bits
    assert link.token_hash == token_hash(token)
    assert token not in str(ShareLink.objects.values().get())
    assert (link.kind, link.collection, link.audience, link.team) == (
        "collection",
        collection,
        "team",
        team,
    )
    assert timedelta(days=6) < link.expires_at - timezone.now() <= timedelta(days=7)
    # The list never shows the address again.
    r = alice_client.get("/links/")
    assert token not in r.content.decode()
    assert "Members of Studio A" in r.content.decode()


def test_it_creates_a_link_for_anyone_that_never_expires(alice_client, images):
    create(alice_client, f"image={images[0].pk}", audience="anyone", expires="never")
    link = ShareLink.objects.get()
    assert (link.kind, link.image, link.audience, link.team, link.expires_at) == (
        "image",
        images[0],
        "anyone",
        None,
        None,
    )


def test_it_creates_a_gallery_view_link_from_the_gallerys_filters(alice_client, images):
    r = alice_client.get("/links/new/?gallery=1&q=fox&favourites=&after=x")
    assert "Search prompts: <strong>fox</strong>" in r.content.decode()
    create(alice_client, "gallery=1&q=fox", audience="anyone", include_later="on")
    link = ShareLink.objects.get()
    assert (link.kind, link.filters, link.include_later) == ("gallery", {"q": "fox"}, True)


def test_invalid_gallery_filters_are_a_404(alice_client, images):
    assert alice_client.get("/links/new/?gallery=1&start=yesterday").status_code == 404
    assert alice_client.get("/links/new/?gallery=1&vendor=nonesuch").status_code == 404


def test_no_target_is_a_404(alice_client):
    assert alice_client.get("/links/new/").status_code == 404
    assert alice_client.get("/links/new/?collection=abc").status_code == 404


def test_a_team_link_needs_a_team(alice_client, collection, team):
    r = alice_client.post(
        f"/links/new/?collection={collection.pk}", {"audience": "team", "expires": "7"}, **HTMX
    )
    assert r.status_code == 200
    assert "Choose the team to share with." in r.content.decode()
    assert b"<html" not in r.content
    assert not ShareLink.objects.exists()


def test_a_team_link_without_any_team_says_what_to_do(alice_client, collection):
    r = alice_client.post(
        f"/links/new/?collection={collection.pk}", {"audience": "team", "expires": "7"}
    )
    assert "create one on the Teams page" in r.content.decode()


def test_a_team_i_am_not_in_is_not_a_choice(alice_client, collection, carol):
    other = teams.create_team(carol, "Carol's")
    r = alice_client.post(
        f"/links/new/?collection={collection.pk}",
        {"audience": "team", "team": other.pk, "expires": "7"},
    )
    assert r.status_code == 200
    assert b"errorlist" in r.content
    assert not ShareLink.objects.exists()


def test_the_htmx_form_answers_with_the_new_link_only(alice_client, collection):
    r = alice_client.post(
        f"/links/new/?collection={collection.pk}", {"audience": "anyone", "expires": "1"}, **HTMX
    )
    assert r.status_code == 200
    assert b"<html" not in r.content
    assert b'id="share-url"' in r.content


def test_the_list_shows_views_and_status(alice_client, alice, collection):
    live, _ = services.create_link(
        alice, kind="collection", collection=collection, audience="anyone"
    )
    gone, _ = services.create_link(
        alice, kind="collection", collection=collection, audience="anyone"
    )
    services.revoke_link(gone)
    ShareLink.objects.filter(pk=live.pk).update(view_count=12, last_viewed_at=timezone.now())
    r = alice_client.get("/links/")
    assert "no-store" in r["Cache-Control"]
    text = r.content.decode()
    row = text[text.index(f'id="link-{live.pk}"') :]
    assert "<td>12</td>" in row[: row.index("</tr>")]
    assert "Revoked" in text[text.index(f'id="link-{gone.pk}"') :]


def test_the_list_shows_my_links_only(alice_client, bob, images):
    bobs = make_image(bob, "bob's")
    services.create_link(bob, kind="image", image=bobs, audience="anyone")
    assert b'id="link-' not in alice_client.get("/links/").content


def test_it_revokes(alice_client, alice, collection):
    link, _ = services.create_link(
        alice, kind="collection", collection=collection, audience="anyone"
    )
    r = alice_client.post(f"/links/{link.pk}/revoke/")
    assert r.status_code == 302
    link.refresh_from_db()
    assert link.revoked_at is not None
    assert alice_client.get(f"/links/{link.pk}/revoke/").status_code == 405


def test_another_users_link_is_a_404(alice, bob, collection):
    link, _ = services.create_link(
        alice, kind="collection", collection=collection, audience="anyone"
    )
    r = client_for(bob).post(f"/links/{link.pk}/revoke/")
    assert r.status_code == 404
    link.refresh_from_db()
    assert link.revoked_at is None
