"""An object deleted between the view's check and its write (a link's target, a collection, a
team, a key): a 404 or a form that says so, never a 500.

The database runs in autocommit here, as in production, so a foreign key to a deleted row fails
as it would for real (SQLite and PostgreSQL check them when the transaction commits).
"""

from __future__ import annotations

from contextlib import contextmanager
from unittest import mock

import pytest
from django.db import connection
from django.utils import timezone

from accounts import membership as teams
from accounts.models import Credential, Team
from accounts.vault import add_credential
from studio.models import Generation, Image
from studio.sharing import services
from studio.sharing.models import Collection, CollectionItem, ShareLink
from tests.sharing.conftest import client_for
from tests.sharing.images import make_image

HTMX = {"HTTP_HX_REQUEST": "true"}
pytestmark = pytest.mark.django_db(transaction=True)


@contextmanager
def gone_after_first_look(table: str, delete):
    """Runs `delete` right after the first query that reads `table`: the view has seen the row,
    and another request removes it before this one writes."""
    done = False

    def wrapper(execute, sql, params, many, context):
        nonlocal done
        result = execute(sql, params, many, context)
        if not done and sql.startswith("SELECT") and f'"{table}"' in sql.partition("WHERE")[0]:
            done = True
            delete()
        return result

    with connection.execute_wrapper(wrapper):
        yield


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def image(alice):
    return make_image(alice, "a red fox in snow")


@pytest.fixture
def collection(alice, image):
    collection = Collection.objects.create(owner=alice, name="Foxes")
    services.add_images(collection, Image.objects.filter(pk=image.pk))
    return collection


@pytest.mark.parametrize("headers", [{}, HTMX])
def test_an_image_deleted_before_its_link_is_made_is_a_404(alice, image, headers):
    def delete():  # what the gallery's delete button does
        Image.objects.filter(pk=image.pk).update(deleted_at=timezone.now())

    with gone_after_first_look("studio_image", delete):
        r = client_for(alice).post(
            f"/links/new/?image={image.pk}", {"audience": "anyone", "expires": "7"}, **headers
        )
    assert r.status_code == 404
    assert not ShareLink.objects.exists()


@pytest.mark.parametrize("headers", [{}, HTMX])
def test_a_collection_deleted_before_its_link_is_made_is_a_404(alice, collection, headers):
    def delete():
        Collection.objects.filter(pk=collection.pk).delete()

    with gone_after_first_look("sharing_collection", delete):
        r = client_for(alice).post(
            f"/links/new/?collection={collection.pk}",
            {"audience": "anyone", "expires": "7"},
            **headers,
        )
    assert r.status_code == 404
    assert not ShareLink.objects.exists()


def test_a_team_deleted_before_the_link_is_made_is_a_form_error(alice, collection):
    team = teams.create_team(alice, "Studio A")
    real_new_token = services.new_token

    def new_token():  # the link is about to be written: the team goes first
        Team.objects.filter(pk=team.pk).delete()
        return real_new_token()

    with mock.patch.object(services, "new_token", new_token):
        r = client_for(alice).post(
            f"/links/new/?collection={collection.pk}",
            {"audience": "team", "team": team.pk, "expires": "7"},
            **HTMX,
        )
    assert r.status_code == 200
    assert "You are no longer in this team" in r.content.decode()
    assert not ShareLink.objects.exists()


@pytest.mark.parametrize("headers", [{}, HTMX])
def test_a_collection_deleted_while_adding_to_it_is_a_form_error(alice, headers):
    image = make_image(alice)
    collection = Collection.objects.create(owner=alice, name="Foxes")

    def delete():
        Collection.objects.filter(pk=collection.pk).delete()

    with gone_after_first_look("sharing_collection", delete):
        r = client_for(alice).post(
            "/collections/add/", {"image": image.pk, "collection": collection.pk}, **headers
        )
    assert r.status_code == 200
    assert "This collection was just deleted" in r.content.decode()
    assert not CollectionItem.objects.exists()


def test_the_services_refuse_a_stale_collection(alice, collection, image):
    Collection.objects.filter(pk=collection.pk).delete()  # `collection` is now stale
    with pytest.raises(Collection.DoesNotExist):
        services.create_link(alice, kind="collection", collection=collection, audience="anyone")
    with pytest.raises(Collection.DoesNotExist):
        services.add_images(collection, Image.objects.filter(pk=image.pk))
    assert not ShareLink.objects.exists()
    assert not CollectionItem.objects.exists()


@pytest.mark.parametrize("headers", [{}, HTMX])
def test_a_key_deleted_while_submitting_a_job_is_a_form_error(alice, headers):
    key = add_credential(alice, "aioagi", "key", "sk-aioagi-0123456789abcdef")

    def delete():  # what "Delete" on /keys/ does, in another tab
        Credential.objects.filter(pk=key.pk).delete()

    form = {"key": key.pk, "model": "gpt-image-2", "scene": "text-to-image", "prompt": "a fox"}
    with gone_after_first_look("accounts_credential", delete):
        r = client_for(alice).post("/", form, **headers)
    assert r.status_code == 200
    assert "This key was just deleted or revoked." in r.content.decode()
    assert not Generation.objects.exists()
