"""Image files go only to their owner, through views, never from MEDIA_ROOT directly."""

from __future__ import annotations

from django.test import Client
from django.utils import timezone

from studio.engine.references import save_reference
from tests.web.conftest import make_image, png


def body(response) -> bytes:
    return b"".join(response.streaming_content)


def test_the_owner_gets_the_original_and_the_thumbnail(alice_client, alice):
    image = make_image(alice)
    r = alice_client.get(f"/images/{image.pk}/")
    assert r.status_code == 200
    assert r["Content-Type"] == "image/png"
    assert r["Cache-Control"] == "private, max-age=3600"
    assert "attachment" not in r.get("Content-Disposition", "")
    assert body(r).startswith(b"\x89PNG")
    r = alice_client.get(f"/images/{image.pk}/thumbnail/")
    assert r["Content-Type"] == "image/webp"
    assert body(r)[8:12] == b"WEBP"


def test_download_is_an_attachment_with_a_useful_name(alice_client, alice):
    image = make_image(alice)
    r = alice_client.get(f"/images/{image.pk}/download/")
    assert r["Content-Disposition"] == (
        f'attachment; filename="studio-{image.generation_id}-1.png"'
    )
    assert "private" in r["Cache-Control"]


def test_nobody_else_gets_them(alice, bob):
    client = Client()
    image = make_image(alice)
    paths = [
        f"/images/{image.pk}/",
        f"/images/{image.pk}/thumbnail/",
        f"/images/{image.pk}/download/",
    ]
    for path in paths:
        assert client.get(path).status_code == 302  # to sign-in
    client.force_login(bob, backend="django.contrib.auth.backends.ModelBackend")
    for path in paths:
        assert client.get(path).status_code == 404


def test_a_deleted_image_is_not_served(alice_client, alice):
    image = make_image(alice)
    image.deleted_at = timezone.now()
    image.save()
    assert alice_client.get(f"/images/{image.pk}/").status_code == 404


def test_reference_images_are_served_to_their_owner_only(alice_client, alice, bob):
    mine = save_reference(alice, png())
    theirs = save_reference(bob, png())
    r = alice_client.get(f"/references/{mine.pk}/")
    assert r.status_code == 200 and body(r).startswith(b"\x89PNG")
    assert alice_client.get(f"/references/{theirs.pk}/").status_code == 404


def test_media_root_is_not_served(alice_client, alice):
    image = make_image(alice)
    assert alice_client.get(f"/media/{image.file.name}").status_code == 404
