"""In a real browser: the gallery's select mode and bulk ZIP, its viewer from the keyboard, and
a downloaded PNG whose prompt Pillow reads back."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from django.contrib.auth.models import User
from PIL import Image as PILImage
from playwright.sync_api import expect

from tests.downloads.conftest import make_image

PASSWORD = "a long enough passphrase"
SIZES = [(64, 48), (48, 64), (96, 32), (50, 50), (80, 45), (45, 80)]

pytestmark = pytest.mark.e2e


@pytest.fixture
def gallery(transactional_db, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    alice = User.objects.create_user("alice", "alice@example.com", PASSWORD)
    images = [make_image(alice, f"picture {i}", size=size) for i, size in enumerate(SIZES)]
    return list(reversed(images))  # the gallery's order: newest first


def open_gallery(page, live_server) -> None:
    page.goto(f"{live_server.url}/accounts/login/?next=/gallery/")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", PASSWORD)
    page.click("main form button[type=submit]")
    page.wait_for_url("**/gallery/")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.tile img')].every(i => i.complete)"
    )


def test_select_mode_and_a_bulk_zip_of_the_selection(live_server, page, gallery):
    open_gallery(page, live_server)
    # Aspect-true tiles: each shows its whole image, no square crop.
    for box in page.eval_on_selector_all(
        ".tile img",
        "imgs => imgs.map(i => [i.clientWidth / i.clientHeight, i.naturalWidth / i.naturalHeight])",
    ):
        assert box[0] == pytest.approx(box[1], rel=0.05)
    checkboxes = page.locator(".tile-check")
    expect(checkboxes.first).to_be_hidden()  # outside select mode, a click opens the viewer

    page.click("#select-mode")
    tiles = page.locator(".tile-link")
    tiles.nth(1).click()
    tiles.nth(3).click(modifiers=["Shift"])  # a range: 1, 2, 3
    tiles.nth(5).focus()
    page.keyboard.press("Space")  # and one from the keyboard
    expect(page.locator("#selection-count")).to_have_text("4 selected")
    chosen = [gallery[i] for i in (1, 2, 3, 5)]

    with page.expect_download() as info:
        page.click("button[name=action][value=zip]")
    archive = zipfile.ZipFile(info.value.path())
    rows = json.loads(archive.read("manifest.json"))["images"]
    assert sorted(row["prompt"] for row in rows) == sorted(i.generation.prompt for i in chosen)
    expected = {f"studio-{i.generation_id}-1.png" for i in chosen}
    assert set(archive.namelist()) == expected | {"manifest.json", "manifest.csv"}
    for row in rows:
        image = PILImage.open(io.BytesIO(archive.read(row["file"])))
        assert image.text["prompt"] == row["prompt"]

    # Ctrl+A selects every tile; Escape leaves select mode and clears it.
    page.locator("main h1").click()
    page.keyboard.press("Control+a")
    expect(page.locator("#selection-count")).to_have_text("6 selected")
    page.keyboard.press("Escape")
    expect(checkboxes.first).to_be_hidden()
    assert page.csp_violations == []


def test_the_viewer_from_the_keyboard_and_a_png_that_carries_its_prompt(live_server, page, gallery):
    open_gallery(page, live_server)
    first = page.locator(".tile-link").first
    first.focus()
    expect(page.locator(".tile-info").first).to_be_visible()  # prompt, vendor, model, date
    expect(page.locator(".tile-info").first).to_have_css("opacity", "1")
    page.keyboard.press("Enter")
    viewer = page.locator("#viewer")
    expect(viewer).to_be_visible()
    image = page.locator("#viewer-image")
    expect(image).to_have_attribute("src", f"/images/{gallery[0].pk}/")
    expect(page.locator("#viewer-prompt")).to_have_text("picture 5")

    page.keyboard.press("ArrowRight")
    expect(image).to_have_attribute("src", f"/images/{gallery[1].pk}/")
    page.keyboard.press("ArrowRight")
    expect(page.locator("#viewer-prompt")).to_have_text("picture 3")
    page.keyboard.press("ArrowLeft")
    expect(image).to_have_attribute("src", f"/images/{gallery[1].pk}/")
    expect(page.locator("#viewer-again")).to_have_attribute(
        "href", f"/?from={gallery[1].generation_id}"
    )

    with page.expect_download() as info:
        page.click("#viewer-download")
    downloaded = PILImage.open(info.value.path())
    assert downloaded.text["prompt"] == "picture 4"
    assert downloaded.text["model"] == "demo-model"

    page.locator("#viewer-favourite button").click()
    expect(page.locator("#viewer-favourite button")).to_have_attribute("aria-pressed", "true")
    gallery[1].refresh_from_db()
    assert gallery[1].favourite

    page.keyboard.press("Escape")
    expect(viewer).to_be_hidden()
    # Back where the viewer was: the second tile has the focus. The dialog's close event,
    # which moves it there, is a task queued after the dialog hides, so wait for it (Chromium
    # first puts the focus back on the tile that opened the viewer).
    expect(page.locator(f'.tile-link[href="/gallery/{gallery[1].pk}/"]')).to_be_focused()
    assert page.csp_violations == []


def test_the_gallery_select_mode_and_viewer_fit_a_phone(live_server, page, gallery):
    page.set_viewport_size({"width": 390, "height": 844})
    open_gallery(page, live_server)
    page.click("#select-mode")
    page.locator(".tile-link").first.click()
    expect(page.locator("#selection-count")).to_have_text("1 selected")
    wide = "() => document.documentElement.scrollWidth > window.innerWidth"
    assert not page.evaluate(wide)
    page.click("#select-mode")
    page.locator(".tile-link").first.click()
    expect(page.locator("#viewer")).to_be_visible()
    box = page.locator("#viewer").bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390
    assert not page.evaluate(wide)
