"""The whole studio in a browser: sign up, add a key, generate, watch the job, find the image,
download it, see the spend; in English and in Chinese."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from accounts.models import Credential
from studio.models import CreditEntry, Generation
from tests.e2e.conftest import KEY

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

TEXTS = {
    "en-US": {
        "lang": "en",
        "gallery": "Gallery",
        "done": "Done",
        "vendor": "GirlGeneratorAI",
        "aspect": "Aspect ratio",
        "cost": "1–3 credits per image",
        "balance": "Last known balance",
    },
    "zh-CN": {
        "lang": "zh-hans",
        "gallery": "图库",
        "done": "完成",
        "vendor": "GirlGeneratorAI",
        "aspect": "宽高比",
        "cost": "每张图片 1–3 额度",
        "balance": "最近已知余额",
    },
}


def sign_up(page: Page, base: str, username: str) -> None:
    page.goto(base + "/accounts/signup/")
    page.fill("#id_username", username)
    page.fill("#id_email", f"{username}@example.com")
    page.fill("#id_password1", "a long enough passphrase 42")
    page.fill("#id_password2", "a long enough passphrase 42")
    page.click("form button[type=submit].primary")
    expect(page).to_have_url(base + "/")


def reshape(page: Page, select: str, value: str) -> None:
    """Changes a choice that reshapes the form, and waits until the new form is in place."""
    with page.expect_response(lambda r: "/generate/form/" in r.url):
        page.select_option(select, value)
    # htmx binds the new fragment's controls as it settles (20 ms).
    expect(page.locator(".htmx-settling, .htmx-request, .htmx-swapping")).to_have_count(0)
    page.wait_for_timeout(50)


def add_key(page: Page, base: str) -> None:
    page.goto(base + "/keys/add/")
    page.select_option("#id_vendor", "girlgenerator")
    page.fill("#id_label", "e2e key")
    page.fill("#id_api_key", KEY)
    page.click("form button[type=submit].primary")
    expect(page.locator("table").first).to_contain_text("e2e key")


@pytest.mark.parametrize("browser_locale", ["en-US", "zh-CN"])
def test_the_whole_flow(page: Page, live_server, fake_vendor, worker, browser_locale):
    texts = TEXTS[browser_locale]
    base = live_server.url
    worker.start()
    sign_up(page, base, f"painter-{texts['lang']}")
    expect(page.locator("html")).to_have_attribute("lang", texts["lang"])
    add_key(page, base)

    # The form follows the key: the vendor's aspect ratios and its published price.
    page.goto(base + "/")
    expect(page.locator("#id_key option:checked")).to_contain_text("e2e key")
    expect(page.locator("label[for=id_aspect_ratio]")).to_have_text(texts["aspect"])
    expect(page.locator(".cost-hint")).to_contain_text(texts["cost"])
    # Switching to the demo reshapes the form without a reload (sizes instead of ratios).
    reshape(page, "#id_key", "demo")
    expect(page.locator("#id_size")).to_be_visible()
    expect(page.locator("#id_aspect_ratio")).to_have_count(0)
    reshape(page, "#id_key", str(Credential.objects.get().pk))
    expect(page.locator("#id_aspect_ratio")).to_be_visible()

    prompt = f"a glass lighthouse {texts['lang']} <b>not bold</b>"
    page.fill("#id_prompt", prompt)
    expect(page.locator("#prompt-counter")).to_have_text(f"{len(prompt)} / 2000")
    page.select_option("#id_aspect_ratio", "16:9")
    page.locator("#id_prompt").press("Control+Enter")

    # The card appears at once (no reload) and updates itself until the job is done.
    card = page.locator("#jobs article.job").first
    expect(card).to_be_visible()
    expect(card.locator(".prompt")).to_have_text(prompt)
    expect(card.locator(".badge")).to_have_text(texts["done"], timeout=60_000)
    expect(card.locator(".thumbs img")).to_have_count(1)
    job = Generation.objects.get()
    assert job.status == "succeeded" and job.params == {"aspect_ratio": "16:9"}

    # The gallery finds it by its prompt.
    page.click(f"nav >> text={texts['gallery']}")
    page.fill("#id_q", "glass lighthouse")
    page.locator("#id_q").press("Enter")
    tiles = page.locator(".gallery-grid .tile")
    expect(tiles).to_have_count(1)
    tiles.first.locator("a[href^='/gallery/']").click()  # not the tile's "add to collection"
    # A click opens the viewer; its "Details" is the image's own page.
    expect(page.locator("#viewer-prompt")).to_have_text(prompt)
    page.click("#viewer-page")
    expect(page.locator("#prompt-text")).to_have_text(prompt)
    expect(page.locator(".image-full img")).to_have_attribute("alt", prompt)

    with page.expect_download() as download_info:
        page.click("a[href$='/download/']")
    download = download_info.value
    assert re.fullmatch(rf"studio-{job.pk}-1\.(png|jpg|webp)", download.suggested_filename)
    with open(download.path(), "rb") as f:
        head = f.read(12)
    assert head.startswith(b"\x89PNG") or head.startswith(b"\xff\xd8") or head[8:12] == b"WEBP"

    # The spend and the vendor's balance are on the credits page.
    page.goto(base + "/credits/")
    entry = CreditEntry.objects.get(kind="credits")
    expect(page.locator("table.ledger")).to_contain_text(texts["vendor"])
    expect(page.locator("table.ledger")).to_contain_text(f"#{job.pk}")
    expect(page.get_by_text(texts["balance"])).to_be_visible()
    expect(page.locator(".chart-svg rect.bar")).to_have_count(30)
    assert entry.amount > 0 and entry.balance_after is not None
    assert page.csp_violations == []


def test_the_language_switch_in_the_header(page: Page, live_server):
    page.goto(live_server.url + "/accounts/login/")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    # One button per language, no select: nothing changes until one is pressed (WCAG 3.2.2).
    page.locator("form.language button[value=zh-hans]").click()
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    expect(page.locator("h1")).to_have_text("登录")
    assert page.csp_violations == []


def sign_in(page: Page, base: str, user) -> None:
    page.goto(base + "/accounts/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", "correct horse battery")
    page.click("form button[type=submit].primary")
    expect(page).to_have_url(base + "/")


def test_an_unknown_outcome_is_sent_again_only_when_asked(
    page: Page, live_server, fake_vendor, worker, alice
):
    from accounts.vault import add_credential

    add_credential(alice, "girlgenerator", "e2e key", KEY)
    fake_vendor.next_submit = "500"  # the vendor may or may not have started the job
    worker.start()
    sign_in(page, live_server.url, alice)
    page.fill("#id_prompt", "a lighthouse that may cost twice")
    page.click("#generate-submit")
    card = page.locator("#jobs article.job").first
    expect(card).to_have_class(re.compile("job-unknown_outcome"), timeout=60_000)
    expect(card).to_contain_text("you may pay twice")
    assert len([r for r in fake_vendor.requests if r.method == "POST"]) == 1

    card.get_by_role("button", name="Submit again (may pay twice)").click()
    new = page.locator("#jobs article.job").first
    expect(new.locator(".badge")).to_have_text("Done", timeout=60_000)
    assert len([r for r in fake_vendor.requests if r.method == "POST"]) == 2
    assert Generation.objects.get(status="succeeded").retry_of.status == "unknown_outcome"
    assert page.csp_violations == []


def test_image_page_actions(page: Page, live_server, alice, settings, tmp_path):
    from tests.web.conftest import make_image

    settings.MEDIA_ROOT = tmp_path / "media"
    image = make_image(alice, "a <i>copyable</i> prompt")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    sign_in(page, live_server.url, alice)
    page.goto(f"{live_server.url}/gallery/{image.pk}/")

    page.get_by_role("button", name="Copy prompt").click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == "a <i>copyable</i> prompt"

    page.get_by_role("button", name="Add to favourites").click()
    expect(page.locator("#favourite-form button")).to_have_attribute("aria-pressed", "true")
    image.refresh_from_db()
    assert image.favourite

    page.get_by_role("link", name="Delete").click()
    page.locator("form button.danger").click()
    expect(page.locator(".gallery-grid .tile")).to_have_count(0)
    page.get_by_role("button", name="Undo").click()
    expect(page.locator("#prompt-text")).to_have_text("a <i>copyable</i> prompt")
    image.refresh_from_db()
    assert image.deleted_at is None
    assert page.csp_violations == []


def test_it_works_without_javascript(browser, live_server, worker, alice):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        worker.start()
        sign_in(page, live_server.url, alice)
        # Without JavaScript the form is reshaped by a button.
        page.select_option("#id_n", "2")
        page.fill("#id_prompt", "a fox without scripts")
        page.click("#generate-submit")
        job = Generation.objects.get()
        expect(page).to_have_url(f"{live_server.url}/?from={job.pk}#job-{job.pk}")
        expect(page.locator(f"#job-{job.pk}")).to_be_visible()
        expect(page.locator("#id_prompt")).to_have_value("a fox without scripts")
        for _ in range(60):
            job.refresh_from_db()
            if job.status in Generation.ENDED:
                break
            page.wait_for_timeout(500)
        page.reload()
        expect(page.locator(f"#job-{job.pk} .thumbs img")).to_have_count(2)
        page.get_by_role("button", name="Update the options").click()
        expect(page.locator("#id_prompt")).to_have_value("a fox without scripts")
    finally:
        context.close()


def test_reshaping_the_form_keeps_to_the_csp(page: Page, live_server, alice):
    """htmx's default settling copies a swapped element's old style attribute onto the new
    one with setAttribute, which the CSP refuses. A user who resized the prompt box gives it
    such an attribute; base.html's htmx-config leaves style out of attributesToSettle."""
    from accounts.vault import add_credential

    key = add_credential(alice, "girlgenerator", "e2e key", KEY)
    sign_in(page, live_server.url, alice)
    page.locator("#id_prompt").fill("a prompt that survives the reshape")
    # What dragging the textarea's corner does: CSSOM, which the CSP allows.
    page.eval_on_selector("#id_prompt", "box => { box.style.height = '240px'; }")
    reshape(page, "#id_key", str(key.pk))
    expect(page.locator("#id_aspect_ratio")).to_be_visible()
    expect(page.locator("#id_prompt")).to_have_value("a prompt that survives the reshape")
    assert page.csp_violations == []
