"""A prompt full of HTML and htmx attributes is text everywhere it appears."""

from __future__ import annotations

from django.conf import settings

from tests.web.conftest import HTMX, make_image

HOSTILE = (
    '"><script>alert(1)</script><img src=x onerror=alert(2)>'
    '<div hx-get="/keys/" hx-trigger="load" hx-on:click="alert(3)">{{ 7|add:1 }}</div>\''
)


def assert_inert(content: bytes) -> None:
    text = content.decode()
    for raw in ("<script>alert", "<img src=x", "<div hx-get", 'hx-trigger="load"', 'hx-on:click="'):
        assert raw not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "{{ 7|add:1 }}" in text  # not evaluated as a template either


def test_the_prompt_is_escaped_on_every_page(alice_client, alice):
    image = make_image(alice, HOSTILE)
    job = image.generation
    pages = [
        ("/", {}),
        (f"/?from={job.pk}", {}),
        (f"/jobs/{job.pk}/", HTMX),
        (f"/jobs/{job.pk}/", {}),
        ("/gallery/", {}),
        (f"/gallery/{image.pk}/", {}),
        (f"/gallery/{image.pk}/delete/", {}),
    ]
    for path, headers in pages:
        r = alice_client.get(path, **headers)
        assert r.status_code == 200, path
        assert_inert(r.content)


def test_the_submitted_prompt_comes_back_escaped(alice_client):
    data = {"key": "demo", "model": "demo", "scene": "text-to-image", "prompt": HOSTILE}
    r = alice_client.post("/", data, **HTMX)
    assert_inert(r.content)


def test_the_policy_allows_no_inline_script_and_no_eval(alice_client):
    r = alice_client.get("/")
    policy = r["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert '"allowEval": false' in r.content.decode()
    # No inline script and no inline handlers in our templates.
    for folder in ("templates",):
        for path in (settings.BASE_DIR / folder).rglob("*.html"):
            text = path.read_text()
            assert "<script>" not in text and " on" + "click=" not in text, path
            assert "hx-on" not in text and "js:" not in text, path


def test_a_hostile_unit_is_text_in_the_credits_charts(alice_client, alice):
    """The charts' bars are written as SVG in Python: a unit name a vendor reported, which the
    bars' titles carry, is escaped there too."""
    from studio.models import CreditEntry

    job = make_image(alice, "spent").generation
    unit = "<i>x</i>&amp;"  # a unit has 16 characters at most
    CreditEntry.objects.create(
        owner=alice, generation=job, vendor="demo", kind="credits", amount=2, unit=unit
    )
    content = alice_client.get("/credits/").content.decode()
    assert "<rect " in content and "<i>x" not in content
    assert "<title>" in content and "&lt;i&gt;x&lt;/i&gt;&amp;amp;" in content


def test_a_hostile_model_name_is_text_on_the_gallery_tile(alice_client, alice):
    """A tile escapes each of its texts, not only the prompt (gallery.tiles_html)."""
    from studio.models import Generation

    image = make_image(alice, "a calm sea")
    hostile = '"><script>alert(1)</script><img src=x onerror=alert(2)>'
    Generation.objects.filter(pk=image.generation_id).update(model=hostile)
    text = alice_client.get("/gallery/").content.decode()
    assert "<script>alert" not in text and "<img src=x" not in text
    assert "&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in text
