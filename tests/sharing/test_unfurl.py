"""OpenGraph and Twitter-card tags: on links for anyone only, showing what the page shows."""

from __future__ import annotations

import re

from studio.models import Image
from studio.sharing import services
from studio.sharing.models import Collection
from tests.sharing.conftest import client_for
from tests.sharing.images import make_image


def meta(content: bytes) -> dict[str, str]:
    return dict(
        re.findall(
            r'<meta (?:property|name)="((?:og|twitter):[\w:]+)" content="([^"]*)"', content.decode()
        )
    )


def test_a_link_for_anyone_unfurls_with_its_first_thumbnail(client, alice):
    wide = make_image(alice, "a wide fox")
    wide.width, wide.height = 2048, 1024  # the thumbnail keeps the ratio within 512 × 512
    wide.save()
    collection = Collection.objects.create(owner=alice, name="Foxes & <friends>")
    services.add_images(collection, Image.objects.filter(pk=wide.pk))
    _link, token = services.create_link(
        alice, kind="collection", collection=collection, audience="anyone"
    )
    r = client.get(f"/s/{token}/")
    tags = meta(r.content)
    assert tags["og:title"] == "Foxes &amp; &lt;friends&gt;"
    assert tags["og:image"] == f"http://testserver/s/{token}/i/{wide.pk}/thumb/"
    assert (tags["og:image:width"], tags["og:image:height"]) == ("512", "256")
    assert tags["twitter:card"] == "summary_large_image"
    assert "a wide fox" not in str(tags)
    # The image it names is served to anyone holding the link, as the page's own.
    assert client.get(f"/s/{token}/i/{wide.pk}/thumb/").status_code == 200


def test_team_links_and_the_members_door_carry_none(alice, bob, team):
    image = make_image(alice)
    link, token = services.create_link(alice, kind="image", image=image, audience="team", team=team)
    bobs = client_for(bob)
    assert meta(bobs.get(f"/s/{token}/").content) == {}
    assert meta(bobs.get(f"/shared/{link.pk}/").content) == {}
    anyone, _token = services.create_link(alice, kind="image", image=image, audience="anyone")
    assert meta(client_for(alice).get(f"/shared/{anyone.pk}/").content) == {}
