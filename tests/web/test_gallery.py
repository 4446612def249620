"""The gallery, an image's page, favourites, delete with undo, and use as reference."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from accounts.vault import add_credential
from studio.models import Generation, Image, ReferenceImage
from studio.web import gallery, search
from studio.web.search import FTS_TABLE
from tests.web.conftest import HTMX, make_image, make_job

S = Generation.Status


def shown(response) -> list[int]:
    return [image.pk for image in response.context["images"]]


def test_it_shows_my_images_newest_first(alice_client, alice, bob):
    first = make_image(alice, "first")
    second = make_image(alice, "second")
    make_image(bob, "bob's")
    r = alice_client.get("/gallery/")
    assert shown(r) == [second.pk, first.pk]
    assert b'loading="lazy"' in r.content
    assert f'srcset="/images/{second.pk}/thumbnail/ 512w, /images/{second.pk}/ 64w"'.encode() in (
        r.content
    )


@pytest.mark.parametrize("prefix", ["/", "/studio/"])
def test_each_tile_links_to_its_own_image(alice_client, alice, prefix):
    """The tiles' links are reversed once per kind and filled in per image: each must still be
    its own image's, under the site's path prefix too."""
    from django.urls import reverse, set_script_prefix

    images = [make_image(alice, f"picture {i}") for i in range(3)]
    set_script_prefix(prefix)  # as the WSGI handler does from SCRIPT_NAME
    try:
        r = alice_client.get("/gallery/")
        assert shown(r) == [image.pk for image in reversed(images)]
        page = r.content.decode()
        for image in images:
            # The tile's own <li>, up to the next tile's.
            tile = page.split(f'data-id="{image.pk}"', 1)[1].split("</li>", 1)[0]
            for view in gallery.TILE_LINKS.values():
                url = reverse(view, args=[image.pk])
                assert url.startswith(prefix) and f'"{url}' in tile
    finally:
        set_script_prefix("/")


def test_it_pages_by_cursor_without_gaps_or_repeats(alice_client, alice, monkeypatch):
    monkeypatch.setattr(gallery, "PAGE_SIZE", 3)
    job = make_job(alice, status=S.SUCCEEDED)
    same_time = timezone.now()
    images = [make_image(alice, job=job, index=i) for i in range(7)]
    # Ties on created_at are broken by id.
    Image.objects.filter(pk__in=[i.pk for i in images[:4]]).update(created_at=same_time)
    seen, query = [], ""
    while True:
        r = alice_client.get(f"/gallery/?{query}")
        seen += shown(r)
        query = r.context["next_query"]
        if not query:
            break
        assert "after=" in query
    assert sorted(seen) == sorted(i.pk for i in images) and len(seen) == 7


def test_load_more_with_htmx_appends_tiles(alice_client, alice, monkeypatch):
    monkeypatch.setattr(gallery, "PAGE_SIZE", 1)
    older, newer = make_image(alice, "older"), make_image(alice, "newer")
    r = alice_client.get("/gallery/")
    assert b'hx-target="#gallery-grid" hx-swap="beforeend"' in r.content
    r = alice_client.get(f"/gallery/?{r.context['next_query']}", **HTMX)
    assert b"<html" not in r.content
    assert f"/gallery/{older.pk}/".encode() in r.content
    assert f"/gallery/{newer.pk}/".encode() not in r.content
    assert b'id="gallery-more" hx-swap-oob="true"' in r.content


def test_a_broken_cursor_starts_at_the_newest(alice_client, alice):
    image = make_image(alice)
    for cursor in ("nonsense", "2026-01-01~x", "2026-01-01T00:00:00~5"):
        assert shown(alice_client.get(f"/gallery/?after={cursor}")) in ([image.pk], [])


def test_filters(alice_client, alice):
    credential = add_credential(alice, "lemondata", "lemon", "sk-lemon-0123456789")
    demo = make_image(alice, "demo one")
    lemon_job = make_job(
        alice,
        "lemon one",
        vendor="lemondata",
        model="flux-pro",
        credential=credential,
        status=S.SUCCEEDED,
    )
    lemon = make_image(alice, job=lemon_job)
    failed = make_image(alice, job=make_job(alice, "half", status=S.FAILED))
    Image.objects.filter(pk=demo.pk).update(
        favourite=True, created_at=timezone.now() - timedelta(days=3)
    )
    today = timezone.localdate()

    def only(**params):
        return shown(alice_client.get("/gallery/", params))

    assert only(vendor="lemondata") == [lemon.pk]
    assert only(model="demo") == [failed.pk, demo.pk]
    # No job status filter: a status parameter (old links) is ignored.
    assert only(status="failed") == [failed.pk, lemon.pk, demo.pk]
    assert only(favourites="on") == [demo.pk]
    assert only(start=today.isoformat()) == [failed.pk, lemon.pk]
    assert only(end=(today - timedelta(days=1)).isoformat()) == [demo.pk]
    assert only(start="not a date") == []
    r = alice_client.get("/gallery/")
    assert ("lemondata", "LemonData") in r.context["filters"].fields["vendor"].choices


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("lighthouse", ["a Lighthouse at dusk"]),
        ("LIGHT dusk", ["a Lighthouse at dusk"]),
        ("house", ["a Lighthouse at dusk"]),  # substrings too
        ("at", ["a Lighthouse at dusk", "cat on a mat"]),  # short terms
        ("猫", ["月光下的猫"]),
        ("月光下", ["月光下的猫"]),
        ("dusk cat", []),
        ('"quoted', []),
        ("nothing-like-it", []),
        ("νύχτα", ["Νύχτα στο λιμάνι"]),  # case folded beyond ASCII
    ],
)
# Common terms (as many matches as COMMON or more) are searched by LIKE on SQLite: with
# COMMON at 1 every term that matches anything is common, and the results must not change.
@pytest.mark.parametrize("common", [search.COMMON, 1])
def test_it_searches_prompts(alice_client, alice, bob, query, expected, common, monkeypatch):
    monkeypatch.setattr(search, "COMMON", common)
    for prompt in ("a Lighthouse at dusk", "cat on a mat", "月光下的猫", "Νύχτα στο λιμάνι"):
        make_image(alice, prompt)
    make_image(bob, "lighthouse of bob")
    r = alice_client.get("/gallery/", {"q": query})
    prompts = sorted(image.generation__prompt for image in r.context["images"])
    assert prompts == sorted(expected)


def test_the_search_index_follows_edits_and_deletes(alice):
    job = make_job(alice, "old words")
    Generation.objects.filter(pk=job.pk).update(prompt="new words")
    images = Image.objects.all()
    from studio.web.search import search_prompts

    assert not search_prompts(Generation.objects.all(), "old").exists()
    assert search_prompts(Generation.objects.all(), "new").get() == job
    job.delete()
    assert not search_prompts(Generation.objects.all(), "new").exists()
    assert not images.exists()


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's FTS5 triggers")
def test_the_fts_triggers_survive_every_migration(db):
    # A migration that rebuilds studio_generation on SQLite drops its triggers: it must
    # install them again (studio.web.search.install).
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        triggers = {row[0] for row in cursor.fetchall()}
    assert {f"{FTS_TABLE}_insert", f"{FTS_TABLE}_delete", f"{FTS_TABLE}_update"} <= triggers


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's trigram index")
def test_postgresql_has_the_trigram_index(db):
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE tablename = 'studio_generation'")
        definitions = " ".join(row[0] for row in cursor.fetchall())
    assert "gin_trgm_ops" in definitions


def test_the_image_page_has_everything(alice_client, alice):
    image = make_image(alice, "a lighthouse at dusk")
    sibling = make_image(alice, job=image.generation, index=1)
    r = alice_client.get(f"/gallery/{image.pk}/")
    content = r.content.decode()
    assert f'src="/images/{image.pk}/"' in content
    assert f'href="/images/{image.pk}/download/"' in content
    assert 'data-copy="#prompt-text"' in content
    assert f'href="/?from={image.generation_id}"' in content
    assert f'action="/gallery/{image.pk}/reference/"' in content
    assert f"/gallery/{sibling.pk}/" in content
    assert "Demo (offline, free)" in content
    assert "64×48 PNG" in content
    assert "Text to image" in content and "Number of images" not in content


def test_favourite_toggles(alice_client, alice):
    image = make_image(alice)
    r = alice_client.post(f"/gallery/{image.pk}/favourite/", {"favourite": "1"}, **HTMX)
    image.refresh_from_db()
    assert image.favourite
    assert b'aria-pressed="true"' in r.content and b"<html" not in r.content
    r = alice_client.post(f"/gallery/{image.pk}/favourite/", {"favourite": "0"})
    image.refresh_from_db()
    assert not image.favourite and r.status_code == 302


def test_delete_asks_first_then_hides_the_image_with_an_undo(alice_client, alice):
    image = make_image(alice)
    r = alice_client.get(f"/gallery/{image.pk}/delete/")
    assert b"You can undo it for ten minutes" in r.content
    image.refresh_from_db()
    assert image.deleted_at is None

    r = alice_client.post(f"/gallery/{image.pk}/delete/")
    assert r.url == f"/gallery/?deleted={image.pk}"
    r = alice_client.get(r.url)
    assert shown(r) == []
    assert f'action="/gallery/{image.pk}/restore/"'.encode() in r.content
    assert alice_client.get(f"/gallery/{image.pk}/").status_code == 404

    r = alice_client.post(f"/gallery/{image.pk}/restore/")
    assert r.url == f"/gallery/{image.pk}/"
    image.refresh_from_db()
    assert image.deleted_at is None


def test_the_purge_removes_rows_and_files_after_the_undo_window(alice):
    kept, recent, old = make_image(alice), make_image(alice), make_image(alice)
    now = timezone.now()
    Image.objects.filter(pk=recent.pk).update(deleted_at=now - timedelta(minutes=1))
    Image.objects.filter(pk=old.pk).update(deleted_at=now - timedelta(minutes=11))
    assert gallery.purge_deleted_images() == 1
    assert set(Image.objects.values_list("pk", flat=True)) == {kept.pk, recent.pk}
    storage = old.file.storage
    assert not storage.exists(old.file.name) and not storage.exists(old.thumbnail.name)
    assert storage.exists(kept.file.name)


def test_use_as_reference_prefills_the_form(alice_client, alice):
    image = make_image(alice)
    r = alice_client.post(f"/gallery/{image.pk}/reference/")
    reference = ReferenceImage.objects.get()
    assert reference.owner == alice and (reference.width, reference.height) == (64, 48)
    # No key takes references (the demo does not): the form opens as the job left it.
    assert r.url == f"/?from={image.generation_id}&reference={reference.pk}&scene=image-to-image"
    r = alice_client.get(r.url)
    assert f'name="reference" value="{reference.pk}"'.encode() in r.content
    assert f'src="/references/{reference.pk}/"'.encode() in r.content


def test_someone_elses_image_is_not_found(alice_client, bob):
    image = make_image(bob)
    assert alice_client.get(f"/gallery/{image.pk}/").status_code == 404
    for action in ("favourite", "reference", "delete", "restore"):
        assert alice_client.post(f"/gallery/{image.pk}/{action}/").status_code == 404
    image.refresh_from_db()
    assert image.deleted_at is None and not image.favourite
    assert not ReferenceImage.objects.exists()


def test_use_as_reference_keeps_the_current_key_if_it_takes_references(alice_client, alice):
    from accounts.vault import add_credential
    from studio.vendors import get_adapter

    key = add_credential(alice, "aioagi", "mine", "sk-aioagi-0123456789")
    model = next(m for m in get_adapter("aioagi").capabilities.models if m.max_references)
    make_job(alice, vendor="aioagi", credential=key, model=model.name)
    image = make_image(alice)  # made with the demo, before
    Generation.objects.filter(pk=image.generation_id).update(
        created_at=timezone.now() - timedelta(days=1)
    )
    r = alice_client.post(f"/gallery/{image.pk}/reference/")
    assert f"&key={key.pk}&model={model.name}" in r.url
    form = alice_client.get(r.url).context["form"]
    assert form.credential == key and form.takes_references


def test_use_as_reference_picks_the_default_key_that_takes_references(alice_client, alice):
    from accounts.vault import add_credential

    # GirlGeneratorAI fetches references from a public address, and this studio has none.
    current = add_credential(alice, "girlgenerator", "url only", "sk-girl-0123456789")
    default = add_credential(alice, "aioagi", "files", "sk-aioagi-0123456789")
    make_job(alice, vendor="girlgenerator", credential=current, model="default")
    image = make_image(alice)
    Generation.objects.filter(pk=image.generation_id).update(
        created_at=timezone.now() - timedelta(days=1)
    )
    r = alice_client.post(f"/gallery/{image.pk}/reference/")
    assert f"&key={default.pk}&" in r.url
    form = alice_client.get(r.url).context["form"]
    assert form.credential == default and form.takes_references


def test_tiles_keep_their_aspect_and_show_prompt_vendor_model_and_date(alice_client, alice):
    square, wide, tall = make_image(alice, "square"), make_image(alice, "wide"), make_image(alice)
    Image.objects.filter(pk=square.pk).update(width=1024, height=1024)
    Image.objects.filter(pk=wide.pk).update(width=1792, height=1024)
    Image.objects.filter(pk=tall.pk).update(width=10, height=1000)  # clamped at 1:4
    r = alice_client.get("/gallery/")
    html = r.content.decode()
    assert f'class="tile ar-20" data-id="{square.pk}"' in html
    assert f'class="tile ar-35" data-id="{wide.pk}"' in html
    assert f'class="tile ar-5" data-id="{tall.pk}"' in html
    assert 'width="1792" height="1024"' in html  # the box is reserved before the image loads
    assert '<span class="tile-prompt">wide</span>' in html
    assert "<span>Demo (offline, free) · demo</span>" in html


def test_the_gallery_has_no_job_status_filter_and_a_plain_bulk_form(alice_client, alice):
    image = make_image(alice)
    r = alice_client.get("/gallery/")
    assert "status" not in r.context["filters"].fields
    assert b'<form id="bulk-form" method="post" action="/gallery/bulk/"' in r.content
    assert f'name="image" value="{image.pk}" form="bulk-form"'.encode() in r.content
    assert b'name="action" value="zip"' in r.content
