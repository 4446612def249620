"""Bulk actions on the gallery's selection, and ZIPs of a selection, a collection, a link."""

from __future__ import annotations

import csv
import hashlib
import io
import json

from django.utils import timezone
from PIL import Image as PILImage

from studio.models import Image
from studio.sharing import services as sharing
from studio.sharing.models import Collection
from tests.downloads.conftest import make_image, read_zip
from tests.sharing.conftest import client_for


def bulk(client, action, images, **extra):
    data = {"action": action, "image": [str(i.pk) for i in images], **extra}
    return client.post("/gallery/bulk/", data)


def test_the_zip_holds_exactly_the_selection_and_a_manifest_that_matches(alice_client, alice, bob):
    fox = make_image(alice, "a fox", fmt="PNG")
    whale = make_image(alice, "a whale", fmt="JPEG", size=(30, 60))
    left_out = make_image(alice, "not selected")
    bobs = make_image(bob, "bob's")
    r = bulk(alice_client, "zip", [fox, whale, bobs])
    assert r.status_code == 200 and r["Content-Type"] == "application/zip"
    assert "attachment" in r["Content-Disposition"]
    assert not r.has_header("Content-Length")  # streamed, never built whole first
    archive = read_zip(r)
    names = archive.namelist()
    expected = {f"studio-{fox.generation_id}-1.png", f"studio-{whale.generation_id}-1.jpg"}
    assert set(names) == expected | {"manifest.json", "manifest.csv"}
    assert f"studio-{left_out.generation_id}-1.png" not in names

    rows = json.loads(archive.read("manifest.json"))["images"]
    assert {row["file"] for row in rows} == expected
    for row in rows:
        data = archive.read(row["file"])
        assert row["sha256"] == hashlib.sha256(data).hexdigest()
        assert row["vendor"] == "demo" and row["model"] == "demo-model"
        assert set(row) == {"file", "prompt", "vendor", "model", "parameters", "created", "sha256"}
    by_file = {row["file"]: row for row in rows}
    assert by_file[f"studio-{fox.generation_id}-1.png"]["prompt"] == "a fox"
    # Each file carries its own metadata too.
    png = PILImage.open(io.BytesIO(archive.read(f"studio-{fox.generation_id}-1.png")))
    assert png.text["prompt"] == "a fox"

    table = list(csv.DictReader(io.StringIO(archive.read("manifest.csv").decode())))
    assert [dict(row) for row in table] == rows


def test_bulk_favourite_collections_and_only_my_images(alice_client, alice, bob):
    mine = [make_image(alice, f"mine {i}") for i in range(3)]
    bobs = make_image(bob)
    r = bulk(alice_client, "favourite", [*mine[:2], bobs])
    assert r.status_code == 302 and r.url == "/gallery/"
    assert set(Image.objects.filter(favourite=True)) == set(mine[:2])

    collection = Collection.objects.create(owner=alice, name="best")
    bulk(alice_client, "add", [*mine, bobs], collection=collection.pk)
    assert set(collection.images.all()) == set(mine)
    bulk(alice_client, "remove", mine[:2], collection=collection.pk, next="/gallery/?q=x")
    assert list(collection.images.all()) == [mine[2]]

    bulk(alice_client, "unfavourite", mine)
    assert not Image.objects.filter(favourite=True).exists()


def test_someone_elses_collection_is_refused(alice_client, alice, bob):
    image = make_image(alice)
    bobs_collection = Collection.objects.create(owner=bob, name="bob's")
    r = bulk(alice_client, "add", [image], collection=bobs_collection.pk)
    assert r.status_code == 302
    assert not bobs_collection.items.exists()


def test_mistakes_come_back_as_messages(alice_client, alice):
    image = make_image(alice)
    r = alice_client.post("/gallery/bulk/", {"action": "favourite"}, follow=True)
    assert b"Select at least one image." in r.content
    r = bulk(alice_client, "add", [image])
    r = alice_client.get("/gallery/")
    assert b"Choose a collection for this action." in r.content
    r = bulk(alice_client, "favourite", [image], next="https://evil.example/")
    assert r.url == "/gallery/"


def test_bulk_delete_hides_the_selection_with_one_undo(alice_client, alice, bob):
    images = [make_image(alice, f"img {i}") for i in range(3)]
    bobs = make_image(bob)
    r = bulk(alice_client, "delete", [*images[:2], bobs])
    assert r.status_code == 302
    page = alice_client.get(r.url)
    assert [i.pk for i in page.context["images"]] == [images[2].pk]
    assert b"2 images were deleted" in page.content
    assert b'action="/gallery/restore/"' in page.content
    bobs.refresh_from_db()
    assert bobs.deleted_at is None

    # Bob cannot bring back Alice's images.
    client_for(bob).post("/gallery/restore/", {"image": [str(i.pk) for i in images]})
    assert Image.objects.visible().filter(owner=alice).count() == 1

    r = alice_client.post("/gallery/restore/", {"image": [str(i.pk) for i in images[:2]]})
    assert r.status_code == 302
    assert Image.objects.visible().filter(owner=alice).count() == 3


def test_an_image_past_its_undo_window_stays_deleted(alice_client, alice):
    image = make_image(alice)
    Image.objects.filter(pk=image.pk).update(
        deleted_at=timezone.now() - timezone.timedelta(hours=1)
    )
    alice_client.post("/gallery/restore/", {"image": [str(image.pk)]})
    image.refresh_from_db()
    assert image.deleted_at is not None


def test_a_collection_downloads_as_a_zip_in_its_order(alice_client, alice):
    first, second = make_image(alice, "first"), make_image(alice, "second")
    collection = Collection.objects.create(owner=alice, name="set")
    sharing.add_images(collection, Image.objects.filter(pk=second.pk))
    sharing.add_images(collection, Image.objects.filter(pk=first.pk))
    assert b"/download/" in alice_client.get(f"/collections/{collection.pk}/").content
    archive = read_zip(alice_client.get(f"/collections/{collection.pk}/download/"))
    rows = json.loads(archive.read("manifest.json"))["images"]
    assert [row["prompt"] for row in rows] == ["second", "first"]


def test_a_share_links_zip_shows_no_more_than_the_link(client, alice, bob):
    image = make_image(alice, "shared fox", quality="high")
    make_image(alice, "private")
    link, token = sharing.create_link(alice, kind="image", image=image, audience="anyone")
    page = client.get(f"/s/{token}/")
    assert f'href="/s/{token}/download/"'.encode() in page.content
    r = client.get(f"/s/{token}/download/")
    assert r["Cache-Control"] == "private, no-store"
    archive = read_zip(r)
    assert len(archive.namelist()) == 3
    rows = json.loads(archive.read("manifest.json"))["images"]
    assert [set(row) for row in rows] == [{"file", "prompt", "created", "sha256"}]
    assert rows[0]["prompt"] == "shared fox"
    data = archive.read(rows[0]["file"])
    assert "parameters" not in PILImage.open(io.BytesIO(data)).info  # the file stays bare

    sharing.revoke_link(link)
    assert client.get(f"/s/{token}/download/").status_code == 404
