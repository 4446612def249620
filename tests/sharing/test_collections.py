"""Collections: create, add from the gallery and the image page, reorder, remove, rename, delete."""

from __future__ import annotations

from django.utils import timezone

from studio.models import Image
from studio.sharing import services
from studio.sharing.models import Collection, CollectionItem, ShareLink
from tests.sharing.conftest import client_for
from tests.sharing.images import make_image

HTMX = {"HTTP_HX_REQUEST": "true"}


def order(collection) -> list[str]:
    return [item.image.generation.prompt for item in services.collection_items(collection)]


def test_it_creates_a_collection(alice_client, alice):
    r = alice_client.post("/collections/", {"name": " Best of May "})
    collection = Collection.objects.get()
    assert r.status_code == 302
    assert r.url == f"/collections/{collection.pk}/"
    assert (collection.owner, collection.name) == (alice, "Best of May")


def test_a_blank_name_rerenders_the_form_for_htmx(alice_client):
    r = alice_client.post("/collections/", {"name": "  "}, **HTMX)
    assert r.status_code == 200
    assert b"errorlist" in r.content
    assert b"<html" not in r.content
    assert not Collection.objects.exists()


def test_the_list_shows_my_collections_with_their_sizes(alice_client, alice, collection, bob):
    Collection.objects.create(owner=bob, name="Bob's secret set")
    deleted = make_image(alice, "deleted")
    services.add_images(collection, Image.objects.filter(pk=deleted.pk))
    Image.objects.filter(pk=deleted.pk).update(deleted_at=timezone.now())
    r = alice_client.get("/collections/")
    assert b"Foxes and whales" in r.content
    assert b"secret set" not in r.content
    assert b"<td>2</td>" in r.content


def test_the_collection_page_lists_its_images_in_order(alice_client, collection, images):
    r = alice_client.get(f"/collections/{collection.pk}/")
    text = r.content.decode()
    assert text.index("a red fox in snow") < text.index("a blue whale")
    assert "a green forest" not in text
    assert f"/images/{images[0].pk}/thumbnail/" in text


def test_another_users_collection_is_a_404_everywhere(bob, collection):
    item = collection.items.first()
    client = client_for(bob)
    base = f"/collections/{collection.pk}"
    assert client.get(f"{base}/").status_code == 404
    assert client.get(f"{base}/delete/").status_code == 404
    assert client.get(f"/links/new/?collection={collection.pk}").status_code == 404
    for path in (
        f"{base}/",
        f"{base}/delete/",
        f"{base}/items/{item.pk}/move/",
        f"{base}/items/{item.pk}/remove/",
    ):
        assert client.post(path, {"name": "mine", "direction": "up"}).status_code == 404, path
    collection.refresh_from_db()
    assert collection.name == "Foxes and whales"
    assert collection.items.count() == 2


def test_an_item_of_another_collection_is_a_404(alice_client, alice, collection):
    other = Collection.objects.create(owner=alice, name="Other")
    item = collection.items.first()
    r = alice_client.post(f"/collections/{other.pk}/items/{item.pk}/remove/")
    assert r.status_code == 404
    assert CollectionItem.objects.filter(pk=item.pk).exists()


# --- Adding --------------------------------------------------------------------------------------


def test_the_image_page_has_the_add_and_share_controls(alice_client, images, collection):
    r = alice_client.get(f"/gallery/{images[2].pk}/")
    text = r.content.decode()
    assert 'action="/collections/add/"' in text
    assert f'name="image" value="{images[2].pk}"' in text
    assert "Foxes and whales" in text  # one of the choices
    assert f"/links/new/?image={images[2].pk}" in text


def test_the_gallery_links_each_image_to_the_add_page(alice_client, images):
    r = alice_client.get("/gallery/?q=forest")
    text = r.content.decode()
    assert f"/collections/add/?image={images[2].pk}" in text
    assert "/links/new/?gallery=1&amp;q=forest" in text


def test_it_adds_an_image_from_the_image_page(alice_client, collection, images):
    r = alice_client.post(
        "/collections/add/",
        {"image": images[2].pk, "collection": collection.pk, "next": f"/gallery/{images[2].pk}/"},
    )
    assert r.status_code == 302
    assert r.url == f"/gallery/{images[2].pk}/"
    assert order(collection) == ["a red fox in snow", "a blue whale", "a green forest"]
    assert "Added to Foxes and whales." in alice_client.get(r.url).content.decode()


def test_it_adds_to_a_new_collection(alice_client, alice, images):
    r = alice_client.post(
        "/collections/add/", {"image": [images[0].pk, images[1].pk], "name": "New"}
    )
    collection = Collection.objects.get(name="New")
    assert collection.owner == alice
    assert r.url == f"/collections/{collection.pk}/"
    assert collection.items.count() == 2


def test_the_htmx_form_answers_with_itself(alice_client, collection, images):
    data = {"image": images[2].pk, "collection": collection.pk}
    r = alice_client.post("/collections/add/", data, **HTMX)
    assert r.status_code == 200
    assert b"<html" not in r.content
    assert "Added to Foxes and whales." in r.content.decode()
    r = alice_client.post("/collections/add/", data, **HTMX)
    assert "Already in Foxes and whales." in r.content.decode()
    assert collection.items.count() == 3


def test_no_collection_and_no_name_is_a_form_error(alice_client, images):
    r = alice_client.post("/collections/add/", {"image": images[0].pk}, **HTMX)
    assert r.status_code == 200
    assert "Choose a collection or name a new one." in r.content.decode()


def test_an_image_can_be_in_several_collections(alice_client, alice, collection, images):
    other = Collection.objects.create(owner=alice, name="Other")
    alice_client.post("/collections/add/", {"image": images[0].pk, "collection": other.pk})
    assert CollectionItem.objects.filter(image=images[0]).count() == 2


def test_another_users_image_is_a_404(alice_client, collection, bob):
    bobs = make_image(bob, "bob's private thing")
    r = alice_client.post("/collections/add/", {"image": bobs.pk, "collection": collection.pk})
    assert r.status_code == 404
    assert alice_client.get(f"/collections/add/?image={bobs.pk}").status_code == 404
    assert alice_client.get(f"/links/new/?image={bobs.pk}").status_code == 404
    assert not CollectionItem.objects.filter(image=bobs).exists()


def test_another_users_collection_is_not_a_choice(collection, bob):
    bobs = make_image(bob, "bob's thing")
    client = client_for(bob)
    r = client.post("/collections/add/", {"image": bobs.pk, "collection": collection.pk}, **HTMX)
    assert r.status_code == 200
    assert b"errorlist" in r.content
    assert not CollectionItem.objects.filter(image=bobs).exists()


def test_the_add_page_works_without_javascript(alice_client, collection, images):
    r = alice_client.get(f"/collections/add/?image={images[2].pk}&next=/gallery/")
    assert r.status_code == 200
    assert b'name="next" value="/gallery/"' in r.content
    r = alice_client.post(
        "/collections/add/",
        {"image": images[2].pk, "collection": collection.pk, "next": "https://evil.example/"},
    )
    assert r.url == f"/collections/{collection.pk}/"


def test_a_deleted_image_cannot_be_added_and_leaves_collections(alice_client, collection, images):
    Image.objects.filter(pk=images[0].pk).update(deleted_at=timezone.now())
    r = alice_client.post("/collections/add/", {"image": images[0].pk, "name": "x"})
    assert r.status_code == 404
    assert order(collection) == ["a blue whale"]


# --- Reordering, removing, renaming, deleting ---------------------------------------------------


def test_it_moves_items_up_and_down(alice_client, collection, images):
    services.add_images(collection, Image.objects.filter(pk=images[2].pk))
    fox, whale, forest = services.collection_items(collection)
    r = alice_client.post(
        f"/collections/{collection.pk}/items/{forest.pk}/move/", {"direction": "up"}
    )
    assert r.status_code == 302
    assert order(collection) == ["a red fox in snow", "a green forest", "a blue whale"]
    r = alice_client.post(
        f"/collections/{collection.pk}/items/{fox.pk}/move/", {"direction": "down"}, **HTMX
    )
    assert r.status_code == 200
    assert b"<html" not in r.content
    assert order(collection) == ["a green forest", "a red fox in snow", "a blue whale"]
    # The ends stay put.
    alice_client.post(f"/collections/{collection.pk}/items/{forest.pk}/move/", {"direction": "up"})
    assert order(collection)[0] == "a green forest"


def test_a_bad_direction_is_a_404(alice_client, collection):
    item = collection.items.first()
    r = alice_client.post(f"/collections/{collection.pk}/items/{item.pk}/move/", {"direction": "x"})
    assert r.status_code == 404


def test_it_removes_an_item_but_keeps_the_image(alice_client, collection, images):
    item = collection.items.get(image=images[0])
    r = alice_client.post(f"/collections/{collection.pk}/items/{item.pk}/remove/", **HTMX)
    assert r.status_code == 200
    assert order(collection) == ["a blue whale"]
    assert Image.objects.filter(pk=images[0].pk).exists()


def test_it_renames(alice_client, collection):
    r = alice_client.post(f"/collections/{collection.pk}/", {"name": "Animals"})
    assert r.status_code == 302
    collection.refresh_from_db()
    assert collection.name == "Animals"


def test_deleting_a_collection_deletes_its_links(alice_client, alice, collection):
    services.create_link(alice, kind="collection", collection=collection, audience="anyone")
    assert alice_client.get(f"/collections/{collection.pk}/delete/").status_code == 200
    r = alice_client.post(f"/collections/{collection.pk}/delete/")
    assert r.url == "/collections/"
    assert not Collection.objects.exists()
    assert not ShareLink.objects.exists()
    assert Image.objects.count() == 3


def test_the_collection_page_counts_its_live_links(alice_client, alice, collection):
    for _ in range(3):
        services.create_link(alice, kind="collection", collection=collection, audience="anyone")
    first, second = ShareLink.objects.all()[:2]
    services.revoke_link(first)
    ShareLink.objects.filter(pk=second.pk).update(expires_at=timezone.now())
    r = alice_client.get(f"/collections/{collection.pk}/")
    assert "1 link shares this collection." in r.content.decode()
