"""Browser tests: Playwright for Python driving Debian's chromium against `live_server`, with
a real queue worker and fake vendors on this machine. Without /usr/bin/chromium every test here
is skipped, and says why."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

# Playwright's sync API runs an event loop in this thread; Django's guard would otherwise
# refuse the ORM calls the tests and live_server make.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
KEY = "sk-e2e-7f3a9c21d4b8e6"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        pytest.skip(
            "BROWSER TESTS SKIPPED: /usr/bin/chromium is missing. Install Debian's chromium "
            "(apt-get install chromium; `make test` does it when run as root)."
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=ARGS, headless=True
        )
        yield browser
        browser.close()


@pytest.fixture
def browser_locale() -> str:
    return "en-US"


@pytest.fixture
def page(browser, request, browser_locale):
    context = browser.new_context(locale=browser_locale, accept_downloads=True)
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.csp_violations = []
    page.on(
        "console",
        lambda message: (
            page.csp_violations.append(message.text)
            if "Content Security Policy" in message.text
            else None
        ),
    )
    yield page
    failed = any(
        getattr(request.node, f"report_{when}", None)
        and getattr(request.node, f"report_{when}").failed
        for when in ("setup", "call")
    )
    if failed:
        ARTIFACTS.mkdir(exist_ok=True)
        name = re.sub(r"[^\w.-]+", "_", request.node.nodeid)
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
        (ARTIFACTS / f"{name}.html").write_text(page.content())
    context.close()


@pytest.fixture
def fake_vendor(settings, tmp_path):
    """A fake GirlGeneratorAI on this machine; the web process reads the setting live and the
    worker gets it through its environment."""
    from studio.vendors.fakes import FakeVendor

    settings.MEDIA_ROOT = tmp_path / "media"
    settings.STUDIO_POLL_SCALE = 0.05
    fake = FakeVendor("girlgenerator").start()
    fake.add_key(KEY, credits=100)
    settings.STUDIO_VENDOR_URLS = {"girlgenerator": fake.url}
    yield fake
    fake.stop()
