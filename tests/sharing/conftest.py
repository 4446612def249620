from __future__ import annotations

import pytest
from django.test import Client

from accounts import membership as teams
from accounts.models import Membership
from studio.models import Image
from studio.sharing import services
from studio.sharing.models import Collection
from tests.sharing.images import make_image


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def client_for(user) -> Client:
    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


@pytest.fixture
def team(alice, bob):
    """Alice owns "Studio A"; Bob is a member; Carol is in no team."""
    team = teams.create_team(alice, "Studio A")
    Membership.objects.create(team=team, user=bob)
    return team


@pytest.fixture
def images(alice):
    return [
        make_image(alice, "a red fox in snow", "red"),
        make_image(alice, "a blue whale", "blue"),
        make_image(alice, "a green forest", "green"),
    ]


@pytest.fixture
def collection(alice, images):
    """The fox and the whale, in that order; the forest is not in it."""
    collection = Collection.objects.create(owner=alice, name="Foxes and whales")
    for image in images[:2]:
        services.add_images(collection, Image.objects.filter(pk=image.pk))
    return collection
