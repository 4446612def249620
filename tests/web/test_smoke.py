from __future__ import annotations

from tests.web.conftest import make_image, make_job


def test_it_renders_every_page(alice_client, alice):
    image = make_image(alice)
    job = make_job(alice)
    for path in (
        "/",
        "/gallery/",
        f"/gallery/{image.pk}/",
        "/credits/",
        f"/jobs/{job.pk}/",
        f"/gallery/{image.pk}/delete/",
        "/generate/form/?key=demo",
    ):
        r = alice_client.get(path)
        assert r.status_code == 200, (path, r.content[:2000])
