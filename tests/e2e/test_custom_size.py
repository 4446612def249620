"""A custom size on a 390 px phone: chosen, refused by the model's size rule in words, then
accepted and generated at exactly that size; and the same without JavaScript."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from accounts.vault import add_credential
from studio.models import Generation, Image
from tests.e2e.conftest import KEY
from tests.e2e.test_studio import reshape, sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def aioagi(settings, tmp_path):
    from studio.vendors.fakes import FakeVendor

    settings.MEDIA_ROOT = tmp_path / "media"
    settings.STUDIO_POLL_SCALE = 0.05
    with FakeVendor("aioagi") as fake:
        fake.add_key(KEY, credits=100)
        settings.STUDIO_VENDOR_URLS = {"aioagi": fake.url}
        yield fake


def fits_the_screen(page: Page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_a_custom_size_is_refused_then_accepted(
    browser, page: Page, live_server, aioagi, worker, alice
):
    add_credential(alice, "aioagi", "phone key", KEY)  # the only key: the form's default
    page.set_viewport_size(PHONE)
    sign_in(page, live_server.url, alice)
    expect(page.locator("#id_model")).to_have_value("gpt-image-2")
    expect(page.locator("#id_width")).to_have_count(0)

    reshape(page, "#id_size", "custom")
    width, height = page.locator("#id_width"), page.locator("#id_height")
    expect(width).to_be_visible()
    expect(height).to_be_visible()
    expect(page.locator("#size-rules")).to_contain_text("Multiples of 16")
    assert fits_the_screen(page)
    box = width.bounding_box()
    assert box and box["width"] >= 100 and box["x"] + box["width"] <= PHONE["width"]

    page.fill("#id_prompt", "a harbour at dawn, wide")
    width.fill("2000")
    height.fill("1000")
    page.click("#generate-submit")
    errors = page.locator(".custom-size .errorlist")
    expect(errors).to_have_text("Width and height must be multiples of 16.")
    expect(page.locator("#id_width")).to_have_attribute("aria-invalid", "true")
    assert not Generation.objects.exists()
    assert fits_the_screen(page)

    worker.start()
    page.locator("#id_width").fill("2048")
    page.locator("#id_height").fill("1152")
    page.click("#generate-submit")
    card = page.locator("#jobs article.job").first
    expect(card.locator(".badge")).to_have_text("Done", timeout=60_000)
    job = Generation.objects.get()
    assert job.params["size"] == "2048x1152"
    assert aioagi.bodies[-1][1]["size"] == "2048x1152"
    image = Image.objects.get(generation=job)
    assert (image.width, image.height) == (2048, 1152)
    # The form keeps the custom size for the next job.
    expect(page.locator("#id_size")).to_have_value("custom")
    expect(page.locator("#id_width")).to_have_value("2048")
    assert page.csp_violations == []

    # Without JavaScript: choosing "Custom size…" and generating brings the inputs back.
    context = browser.new_context(java_script_enabled=False, viewport=PHONE)
    try:
        nojs = context.new_page()
        sign_in(nojs, live_server.url, alice)
        nojs.select_option("#id_size", "custom")
        nojs.fill("#id_prompt", "a harbour at dusk")
        nojs.click("#generate-submit")
        expect(nojs.locator(".custom-size .errorlist")).to_have_text(
            "Enter a width and a height for the custom size."
        )
        nojs.fill("#id_width", "1024")
        nojs.fill("#id_height", "3840")  # 1:3.75
        nojs.click("#generate-submit")
        expect(nojs.locator(".custom-size .errorlist")).to_have_text(
            "The long side can be at most 3 times the short side."
        )
        nojs.fill("#id_height", "3072")
        nojs.click("#generate-submit")
        expect(nojs.locator(".message-success")).to_be_visible()
        assert Generation.objects.latest("pk").params["size"] == "1024x3072"
    finally:
        context.close()
