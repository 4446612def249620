"""From the keyboard: the focus lands on the first invalid field after an error (a page posted
without htmx and a form swapped in by htmx), and the gallery's tiles and "More images" work
with Tab and Enter, the focus moving to the first new tile."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client
from playwright.sync_api import expect

from studio.web.gallery import PAGE_SIZE
from tests.web.conftest import make_image

pytestmark = pytest.mark.e2e


@pytest.fixture
def alice(live_server, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return User.objects.create_user("alice", "alice@example.com", "correct horse battery")


def sign_in(page, base: str, user) -> None:
    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    page.context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": base}])


def focused_id(page) -> str:
    return page.evaluate("() => document.activeElement && document.activeElement.id")


def test_the_focus_moves_to_the_first_invalid_field(page, live_server, alice):
    base = live_server.url
    # A whole page posted back with errors: sign-up with passwords that differ.
    page.goto(base + "/accounts/signup/")
    page.fill("#id_username", "newcomer")
    page.fill("#id_email", "newcomer@example.com")
    page.fill("#id_password1", "a long enough passphrase 42")
    page.fill("#id_password2", "a different passphrase 42")
    page.press("#id_password2", "Enter")
    expect(page.locator("#id_password2")).to_have_attribute("aria-invalid", "true")
    assert focused_id(page) == "id_password2"

    # A form swapped in by htmx: the generate form sent without a prompt.
    sign_in(page, base, alice)
    page.goto(base + "/")
    page.focus("#generate-submit")
    with page.expect_response(lambda r: r.request.method == "POST"):
        page.keyboard.press("Enter")
    expect(page.locator("#id_prompt")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#id_prompt")).to_be_focused()


def test_the_gallery_works_from_the_keyboard(page, live_server, alice):
    base = live_server.url
    images = [make_image(alice, f"tile {i}") for i in range(PAGE_SIZE + 2)]
    sign_in(page, base, alice)
    page.goto(base + "/gallery/")
    tile = ".gallery-grid .tile > a:not(.tile-add)"
    tiles = page.locator(tile)
    expect(tiles).to_have_count(PAGE_SIZE)

    # Tab reaches the first tile, with a visible focus ring.
    for _ in range(200):
        page.keyboard.press("Tab")
        if page.evaluate("(tile) => document.activeElement.matches(tile)", tile):
            break
    else:
        pytest.fail("Tab never reached a tile")
    outline = page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"
    box = page.evaluate("() => document.activeElement.getBoundingClientRect().height")
    assert box > 50  # the link wraps the whole tile, so its ring does too
    # Enter opens the tile's image in the viewer; Escape closes it, back on the tile.
    page.keyboard.press("Enter")
    expect(page.locator("#viewer")).to_be_visible()
    expect(page.locator("#viewer-prompt")).to_have_text(images[-1].generation.prompt)
    page.keyboard.press("Escape")
    expect(page.locator("#viewer")).to_be_hidden()
    expect(tiles.first).to_be_focused()

    # "More images" from the keyboard appends the next page and focuses its first tile.
    more = page.locator("#gallery-more a")
    more.focus()
    page.keyboard.press("Enter")
    expect(tiles).to_have_count(PAGE_SIZE + 2)
    expect(tiles.nth(PAGE_SIZE)).to_be_focused()


def test_a_phone_menu_and_the_language_buttons_work_from_the_keyboard(page, live_server, alice):
    base = live_server.url
    sign_in(page, base, alice)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(base + "/gallery/")
    gallery_link = page.locator(".nav-links a[href='/gallery/']")
    expect(gallery_link).to_be_hidden()  # folded into the menu
    summary = page.locator(".nav-menu > summary")
    summary.focus()
    page.keyboard.press("Enter")
    expect(gallery_link).to_be_visible()

    chinese = page.locator("button[name=language][value=zh-hans]")
    for _ in range(30):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.matches('button[name=language]')"):
            break
    expect(chinese).to_be_focused()
    # Reaching the choice changes nothing (WCAG 3.2.2); pressing it does, on the same page.
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.keyboard.press("Enter")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    expect(page).to_have_url(base + "/gallery/")
    expect(page.locator("button[name=language][value=en]")).to_have_text("English")
