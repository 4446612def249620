"""The teams and sharing pages in Simplified Chinese."""

from __future__ import annotations

from django.test import Client

from studio.sharing import services

ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}


def test_the_owners_pages_are_translated(alice_client, collection, team):
    pages = {
        "/teams/": "您的团队",
        f"/teams/{team.pk}/": "成员",
        "/collections/": "您的合集",
        f"/collections/{collection.pk}/": "删除合集",
        f"/links/new/?collection={collection.pk}": "谁可以打开",
        "/links/": "您的分享链接",
        "/shared/": "与我分享",
    }
    for path, text in pages.items():
        r = alice_client.get(path, **ZH)
        assert r.status_code == 200, path
        assert text in r.content.decode(), path


def test_shared_pages_and_their_404_are_translated(alice, collection):
    _link, token = services.create_link(
        alice, kind="collection", collection=collection, audience="anyone"
    )
    client = Client()
    assert "分享给任何拥有链接的人。" in client.get(f"/s/{token}/", **ZH).content.decode()
    r = client.get("/s/nothing/", **ZH)
    assert r.status_code == 404
    assert '<html lang="zh-hans">' in r.content.decode()
    assert "此链接无效" in r.content.decode()
