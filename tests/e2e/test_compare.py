"""Compare in a real browser, with a real worker: one prompt to four targets (three fake vendors
and the demo), the four columns filling in, a winner, a collection, and the comparison's share
link opened by someone else. Each target costs exactly one paid POST."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from accounts.vault import add_credential
from studio.compare.models import Comparison
from studio.models import Generation
from studio.sharing.models import Collection
from tests.e2e.conftest import KEY
from tests.e2e.test_studio import sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

VENDORS = {
    # vendor: (model, path of its paid POST)
    "girlgenerator": ("default", "/api/v1/generate"),
    "lemondata": ("dall-e-3", "/v1/images/generations"),
    "chatfire": ("seedream-3.0", "/v1/images/generations"),
}


@pytest.fixture
def fakes(settings, tmp_path):
    from studio.vendors.fakes import FakeVendor

    settings.MEDIA_ROOT = tmp_path / "media"
    settings.STUDIO_POLL_SCALE = 0.05
    started = {vendor: FakeVendor(vendor).start() for vendor in VENDORS}
    for fake in started.values():
        fake.add_key(KEY, credits=100)
    settings.STUDIO_VENDOR_URLS = {vendor: fake.url for vendor, fake in started.items()}
    yield started
    for fake in started.values():
        fake.stop()


def changed(page: Page, action) -> None:
    """Does `action` on the compare form and waits for its automatic check to come back."""
    with page.expect_response(lambda r: "/compare/new/" in r.url and r.request.method == "POST"):
        action()
    expect(page.locator(".htmx-settling, .htmx-request, .htmx-swapping")).to_have_count(0)
    page.wait_for_timeout(50)


def test_one_prompt_on_four_targets(page: Page, browser, live_server, fakes, worker, alice, bob):
    keys = {v: add_credential(alice, v, f"e2e {v}", KEY) for v in VENDORS}
    worker.start()
    base = live_server.url
    sign_in(page, base, alice)

    page.get_by_role("link", name="Compare vendors").click()
    expect(page).to_have_url(base + "/compare/new/")
    page.fill("#id_prompt", "a red kite over a grey sea")
    changed(page, lambda: page.select_option("#id_aspect_ratio", "16:9"))
    targets = ["demo:demo"] + [f"{keys[v].pk}:{model}" for v, (model, _p) in VENDORS.items()]
    for i, value in enumerate(targets):
        changed(page, lambda i=i, value=value: page.select_option(f"#id_target_{i}", value))
    # Before submit, each target says what it will get.
    expect(page.locator("#target-A .target-plan")).to_contain_text("768x512")
    expect(page.locator("#target-B .target-plan")).to_contain_text("16:9")
    expect(page.locator("#target-C .target-plan")).to_contain_text("1792x1024")
    page.click("#compare-submit")

    comparison = Comparison.objects.get()
    expect(page).to_have_url(f"{base}/compare/{comparison.pk}/")
    columns = page.locator(".compare-grid article.column")
    expect(columns).to_have_count(4)
    # The columns fill in by themselves as each vendor finishes.
    for i in range(4):
        expect(columns.nth(i).locator(".badge").first).to_have_text("Done", timeout=60_000)
        expect(columns.nth(i).locator(".thumbs img").first).to_be_visible()
    expect(columns.nth(0)).to_contain_text("Time to image")

    # Exactly one paid POST per target; no job (the demo's included) was sent a second time.
    for vendor, (_model, path) in VENDORS.items():
        posts = [r for r in fakes[vendor].requests if r.method == "POST" and r.path == path]
        assert len(posts) == 1, (vendor, fakes[vendor].requests)
    jobs = Generation.objects.filter(owner=alice)
    assert jobs.count() == 4 and {j.submit_attempts for j in jobs} == {0}
    assert all(j.submitted_at for j in jobs)

    # The lemondata column wins.
    winner = page.locator("article.column", has_text="LemonData")
    winner.get_by_label(re.compile("is a winner")).check()
    page.fill("#verdict-note", "the sharpest kite")
    page.click("#verdict-submit")
    expect(page.locator("article.column.winner")).to_have_count(1)
    expect(page.locator("article.column.winner")).to_contain_text("LemonData")

    # The winner goes to a new collection (sharing's own "add to collection" page).
    page.click("#collect-winners")
    page.fill("#id_name", "Kites")
    page.locator("main form button[type=submit]").click()
    expect(page.locator("main [role=status]")).to_contain_text("Added to Kites.")
    lemondata = comparison.columns.get(vendor="lemondata").generation
    assert list(Collection.objects.get(name="Kites").images.all()) == list(lemondata.images.all())

    # Shared with anyone who has the link; Bob opens it.
    page.goto(f"{base}/compare/{comparison.pk}/")
    page.click("#share-comparison")
    page.check("input[name=audience][value=anyone]")
    page.locator("main form button[type=submit]").click()
    url = page.locator("#share-url").input_value()
    assert url.startswith(f"{base}/s/")

    context = browser.new_context()
    other = context.new_page()
    try:
        other.goto(base + "/accounts/login/")
        other.fill("#id_username", bob.username)
        other.fill("#id_password", "another good passphrase")
        other.click("form button[type=submit].primary")
        expect(other).to_have_url(base + "/")
        other.goto(url)
        expect(other.locator("article.column")).to_have_count(4)
        expect(other.locator("article.column.winner")).to_contain_text("LemonData")
        expect(other.locator(".compare-prompt")).to_have_text("a red kite over a grey sea")
        other.wait_for_function(
            "() => [...document.querySelectorAll('.thumbs img')].every(i => i.complete)"
        )
        loaded = other.eval_on_selector_all(".thumbs img", "imgs => imgs.map(i => i.naturalWidth)")
        assert len(loaded) >= 4 and all(loaded)
        assert "e2e lemondata" not in other.content()  # no key names on a shared page
    finally:
        context.close()
    assert page.csp_violations == []


def test_compare_works_without_javascript(browser, live_server, fakes, worker, alice):
    key = add_credential(alice, "lemondata", "e2e lemondata", KEY)
    worker.start()
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        base = live_server.url
        sign_in(page, base, alice)
        page.goto(base + "/compare/new/")
        page.fill("#id_prompt", "a kite without scripts")
        page.select_option("#id_aspect_ratio", "9:16")
        page.select_option("#id_target_0", "demo:demo")
        page.select_option("#id_target_1", f"{key.pk}:dall-e-3")
        # "Check the targets" posts the form and shows each target's plan.
        page.get_by_role("button", name="Check the targets").click()
        expect(page.locator("#target-A .target-plan")).to_contain_text("512x768")
        expect(page.locator("#target-B .target-plan")).to_contain_text("1024x1792")
        expect(page.locator("#id_prompt")).to_have_value("a kite without scripts")
        page.click("#compare-submit")
        comparison = Comparison.objects.get()
        expect(page).to_have_url(f"{base}/compare/{comparison.pk}/")
        for _ in range(60):
            if not any(c.generation.in_flight for c in comparison.columns.all()):
                break
            page.wait_for_timeout(500)
        page.reload()
        expect(page.locator("article.column .thumbs img")).to_have_count(2)
        page.locator("article.column").first.get_by_label(re.compile("is a winner")).check()
        page.click("#verdict-submit")
        expect(page.locator("article.column.winner")).to_have_count(1)
        comparison.refresh_from_db()
        assert comparison.decided_at is not None
    finally:
        context.close()


def test_the_compare_pages_fit_a_phone(page: Page, live_server, alice, settings, tmp_path):
    from tests.compare.conftest import finish, start, targets_of

    settings.MEDIA_ROOT = tmp_path / "media"
    keys = {v: add_credential(alice, v, f"phone {v}", KEY) for v in VENDORS}
    comparison = start(
        alice,
        targets_of(alice, "demo:demo", *(f"{keys[v].pk}:{m}" for v, (m, _p) in VENDORS.items())),
    )
    for column in comparison.columns.all():
        finish(column, seconds=12, raw={"data": [{"revised_prompt": "a longer rewritten prompt"}]})
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, live_server.url, alice)
    for path in ("/compare/new/", f"/compare/{comparison.pk}/", "/compare/", "/vendors/"):
        page.goto(live_server.url + path)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, (path, width)
    page.goto(live_server.url + "/compare/new/")
    page.screenshot(path=str(tmp_path / "compare-new.png"), full_page=True)
    assert page.csp_violations == []
