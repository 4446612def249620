"""The generate page built around results (issue 17): references by drag-and-drop and paste,
the title count for a job that ends in a background tab, the jobs page, and keys checked when
they are saved."""

from __future__ import annotations

import base64
import io
import re
import socket

import pytest
from PIL import Image as PILImage
from playwright.sync_api import Page, expect

from accounts.models import Credential
from studio.models import Generation
from tests.e2e.conftest import KEY
from tests.e2e.test_studio import reshape, sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def png_base64(width: int, height: int) -> str:
    out = io.BytesIO()
    PILImage.new("RGB", (width, height), "orange").save(out, "PNG")
    return base64.b64encode(out.getvalue()).decode()


MAKE_TRANSFER = """([name, data]) => {
  const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
  const transfer = new DataTransfer();
  transfer.items.add(new File([bytes], name, { type: "image/png" }));
  return transfer;
}"""


def drop_image(page: Page, name: str, width: int, height: int) -> None:
    transfer = page.evaluate_handle(MAKE_TRANSFER, [name, png_base64(width, height)])
    page.dispatch_event(".dropzone", "dragover", {"dataTransfer": transfer})
    page.dispatch_event(".dropzone", "drop", {"dataTransfer": transfer})


def paste_image(page: Page, name: str, width: int, height: int) -> None:
    """What Ctrl+V with an image on the clipboard sends to the focused prompt."""
    page.evaluate(
        f"""([name, data]) => {{
          const transfer = ({MAKE_TRANSFER})([name, data]);
          const event = new ClipboardEvent("paste", {{ clipboardData: transfer, bubbles: true,
                                                      cancelable: true }});
          document.getElementById("id_prompt").dispatchEvent(event);
        }}""",
        [name, png_base64(width, height)],
    )


def test_references_by_drag_and_drop_and_paste(page: Page, live_server, alice, settings, tmp_path):
    from accounts.vault import add_credential

    settings.MEDIA_ROOT = tmp_path / "media"
    add_credential(alice, "aioagi", "files", "sk-aioagi-e2e-0123456789")
    sign_in(page, live_server.url, alice)
    reshape(page, "#id_scene", "image-to-image")
    previews = page.locator(".upload-previews li")

    drop_image(page, "dropped.png", 40, 30)
    expect(previews).to_have_count(1)
    expect(previews.first.locator("img")).to_have_attribute("alt", re.compile("dropped.png"))
    paste_image(page, "pasted.png", 50, 20)
    expect(previews).to_have_count(2)
    # Reshaping the form (another model) keeps the images waiting to be sent.
    reshape(page, "#id_model", "gpt-image-2-4k")
    expect(previews).to_have_count(2)
    assert page.eval_on_selector("#id_upload", "input => input.files.length") == 2
    previews.first.get_by_role("button", name="Remove dropped.png").click()
    expect(previews).to_have_count(1)
    assert page.eval_on_selector("#id_upload", "input => input.files[0].name") == "pasted.png"

    page.fill("#id_prompt", "the pasted image, redrawn")
    page.click("#generate-submit")
    expect(page.locator("#jobs article.job")).to_have_count(1)
    job = Generation.objects.get()
    assert [(r.width, r.height) for r in job.references.all()] == [(50, 20)]
    # The form that comes back carries the reference, and it can be taken off again.
    expect(page.locator(".reference-list img[src^='/references/']")).to_have_count(1)
    expect(previews).to_have_count(0)
    page.get_by_role("button", name="Remove reference image 1").click()
    expect(page.locator("input[name=reference]")).to_have_count(0)
    assert page.csp_violations == []


def hide(page: Page) -> None:
    """Sends the tab to the background, as switching to another tab does."""
    page.evaluate(
        """() => {
          window.__hidden = true;
          document.dispatchEvent(new Event("visibilitychange"));
        }"""
    )


HIDEABLE = """
Object.defineProperty(document, "visibilityState", {
  configurable: true, get: () => (window.__hidden ? "hidden" : "visible"),
});
// Headless chromium shows no notifications: record the ones the page makes instead. The
// permission starts unasked, as in a fresh browser, and the user grants it when asked.
window.__notifications = [];
window.Notification = class {
  // A browser remembers a granted permission for the site.
  static permission = localStorage.getItem("test.permission") || "default";
  static async requestPermission() {
    localStorage.setItem("test.permission", "granted");
    window.Notification.permission = "granted";
    return "granted";
  }
  constructor(title, options) {
    window.__notifications.push([title, options.body]);
  }
};
"""


def test_the_title_counts_jobs_that_end_in_a_background_tab(page: Page, live_server, worker, alice):
    # Headless chromium keeps every tab "visible"; this makes the page's own visibility
    # switchable, and the page's script sees it as it would see a tab switch.
    page.add_init_script(HIDEABLE)
    worker.start()
    sign_in(page, live_server.url, alice)
    title = page.title()
    toggle = page.get_by_role("button", name="Notify me when jobs finish")
    toggle.click()  # the opt-in: permission is asked only now
    expect(page.locator("#notify-toggle")).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#notify-toggle")).to_have_text("Notifications on")
    page.fill("#id_prompt", "a job that ends unseen")
    page.click("#generate-submit")
    card = page.locator("#jobs article.job").first
    expect(card).to_have_attribute("hx-trigger", "every 2s")
    hide(page)
    expect(card.locator(".badge")).to_have_text("Done", timeout=60_000)
    expect(page).to_have_title(f"(1) {title}")
    assert Generation.objects.get().status == "succeeded"
    notes = page.evaluate("window.__notifications")
    assert notes == [["Your images are ready.", "a job that ends unseen"]]
    # Coming back to the tab clears the count.
    page.evaluate(
        "() => { window.__hidden = false; document.dispatchEvent(new Event('visibilitychange')); }"
    )
    expect(page).to_have_title(title)
    # A job seen ending in the foreground counts nothing.
    page.fill("#id_prompt", "a job that ends in view")
    page.click("#generate-submit")
    expect(page.locator("#jobs article.job .badge").first).to_have_text("Done", timeout=60_000)
    page.wait_for_timeout(300)
    expect(page).to_have_title(title)
    assert len(page.evaluate("window.__notifications")) == 1
    # Switched off, and remembered across a reload.
    page.reload()
    expect(page.locator("#notify-toggle")).to_have_attribute("aria-pressed", "true")
    page.locator("#notify-toggle").click()
    expect(page.locator("#notify-toggle")).to_have_attribute("aria-pressed", "false")
    expect(page.locator("#notify-toggle")).to_have_text("Notify me when jobs finish")
    assert page.csp_violations == []


def test_the_jobs_page_filters_pages_and_retries(page: Page, live_server, alice):
    from datetime import timedelta

    from django.utils import timezone

    from tests.web.conftest import make_job

    now = timezone.now()
    failed = [
        make_job(
            alice,
            f"failed job {i}",
            status="failed",
            error_code="content_policy",
            created_at=now - timedelta(minutes=i),
        )
        for i in range(27)
    ]
    make_job(alice, "a job that worked", status="succeeded")
    sign_in(page, live_server.url, alice)
    page.get_by_role("link", name="All jobs").click()
    expect(page).to_have_url(f"{live_server.url}/jobs/")
    expect(page.locator("article.job")).to_have_count(25)

    page.select_option("#id_status", "failed")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("article.job")).to_have_count(25)
    expect(page.locator("article.job .prompt").first).to_have_text("failed job 0")
    page.get_by_role("link", name="Older jobs").click()
    expect(page.locator("article.job")).to_have_count(2)
    expect(page.locator("#id_status")).to_have_value("failed")
    expect(page.get_by_role("link", name="Older jobs")).to_have_count(0)

    last = page.locator(f"#job-{failed[-1].pk}")
    with page.expect_response(lambda r: r.url.endswith("/retry/")):
        last.get_by_role("button", name="Retry").click()
    retried = Generation.objects.get(retry_of=failed[-1])
    expect(page.locator(f"#job-{retried.pk}")).to_be_visible()
    expect(page.locator(f"#job-{retried.pk} .job-sentence")).to_contain_text("Waiting")
    page.locator(f"#job-{failed[-2].pk}").get_by_role("button", name="Dismiss").click()
    expect(page.locator(f"#job-{failed[-2].pk}")).to_contain_text("Dismissed from Generate.")
    assert page.csp_violations == []


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fill_key(page: Page, base: str, key: str) -> None:
    page.goto(base + "/keys/add/")
    page.select_option("#id_vendor", "girlgenerator")
    page.fill("#id_label", "e2e key")
    page.fill("#id_api_key", key)
    page.click("form button[type=submit].primary")


def test_saving_a_key_checks_it(page: Page, live_server, fake_vendor, alice, settings):
    sign_in(page, live_server.url, alice)
    fill_key(page, live_server.url, "sk-a-typo-0123456789")
    expect(page.locator("#id_api_key_error, .errorlist").first).to_contain_text(
        "Invalid key: the vendor refused it."
    )
    assert not Credential.objects.exists()

    fill_key(page, live_server.url, KEY)
    expect(page).to_have_url(re.compile(r"/keys/#credential-\d+$"))
    expect(page.locator("table").first).to_contain_text("Verified")
    assert Credential.objects.get().status == "verified"

    # The vendor is down: the form says so and offers to save the key unchecked.
    settings.STUDIO_VENDOR_URLS = {"girlgenerator": f"http://127.0.0.1:{closed_port()}"}
    page.goto(live_server.url + "/keys/add/")
    page.select_option("#id_vendor", "girlgenerator")
    page.fill("#id_label", "second")
    page.fill("#id_api_key", "sk-second-key-0123456789")
    page.click("form button[type=submit].primary")
    expect(page.get_by_text("The key could not be checked")).to_be_visible()
    page.fill("#id_api_key", "sk-second-key-0123456789")  # never sent back to the page
    page.get_by_label("Save it without checking").check()
    page.click("form button[type=submit].primary")
    expect(page.locator("table").first).to_contain_text("second")
    assert Credential.objects.get(label="second").status == "unverified"
    assert page.csp_violations == []


def test_results_are_the_hero_on_a_desktop_and_reachable_on_a_phone(
    page: Page, live_server, alice, settings, tmp_path
):
    from tests.web.conftest import make_image

    settings.MEDIA_ROOT = tmp_path / "media"
    images = [make_image(alice, f"finished job {i}") for i in range(4)]
    page.set_viewport_size({"width": 1280, "height": 900})
    sign_in(page, live_server.url, alice)
    form = page.locator("#generate-form").bounding_box()
    cards = page.locator("#jobs article.job")
    expect(cards).to_have_count(4)
    expect(cards.first.locator(".prompt")).to_have_text("finished job 3")  # latest first
    boxes = [cards.nth(i).bounding_box() for i in range(4)]
    # At least two columns of results, beside a narrower form.
    assert len({round(b["x"]) for b in boxes}) >= 2
    assert all(b["x"] > form["x"] + form["width"] for b in boxes)
    assert form["width"] < boxes[0]["width"] * 2
    # Images at a useful size, in their own shape (64×48 here), not 128 px squares.
    shown = cards.first.locator(".thumbs img").bounding_box()
    assert shown["width"] >= 200
    assert abs(shown["width"] / shown["height"] - 64 / 48) < 0.05
    assert images

    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    skip = page.get_by_role("link", name="Skip to the results")
    expect(skip).to_be_in_viewport()
    skip.click()
    expect(page.locator("#jobs-heading")).to_be_in_viewport()
    expect(cards.first).to_be_in_viewport()
    page.goto(live_server.url + "/jobs/")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert page.csp_violations == []
