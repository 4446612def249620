"""Every page of the studio in Chromium: none scrolls sideways on a 390 px phone, and axe-core
finds no accessibility violation in the light or the dark theme.

The page list is `tests/test_authorization.py`'s ROUTES (its GET routes, filled with the objects
that walk creates), so a page added there is covered here too. One browser page visits them
all, which keeps the walk to a few seconds.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from accounts.vault import add_credential
from studio.models import CreditEntry
from studio.sharing import services as sharing
from studio.sharing.models import Collection
from tests.conftest import verified_user
from tests.test_authorization import ROUTES, objects, url_for, with_sso_provider

pytestmark = pytest.mark.e2e

# axe-core from the npm registry, pinned; `make axe` (part of `make test`) fetches it into var/.
AXE_VERSION = "4.14.1"
AXE = Path(settings.BASE_DIR) / "var" / f"axe-core-{AXE_VERSION}" / "axe.min.js"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
# Pages a signed-out visitor sees; the rest are visited signed in.
SIGNED_OUT = {
    "accounts/login/",
    "accounts/signup/",
    "accounts/password/reset/",
    "accounts/oidc/<str:provider_id>/login/",
}


@pytest.fixture
def axe_source() -> str:
    if not AXE.exists():
        pytest.skip(
            f"AXE TESTS SKIPPED: {AXE} is missing. `make axe` fetches axe-core {AXE_VERSION} "
            "from the npm registry (`make test` does it)."
        )
    return AXE.read_text()


@pytest.fixture
def studio(live_server, settings, tmp_path):
    """Alice's studio with something on every page, as the authorization walk makes it, plus
    what makes the widest rows: long labels, several keys, ledger rows, a public link."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.STUDIO_VENDOR_URLS = dict.fromkeys(("aioagi", "lemondata"), "http://127.0.0.1:9")
    with_sso_provider(settings)  # the sign-in page with its SSO button, and the SSO page
    alice = verified_user("alice", "alice@example.com", "correct horse battery")
    made = objects(alice)
    for vendor in ("girlgenerator", "chatfire", "chatbp"):
        add_credential(
            alice, vendor, f"{vendor} key for the studio team", f"sk-{vendor}-0123456789"
        )
    for i, (vendor, kind, unit) in enumerate(
        [("girlgenerator", "credits", "credits"), ("aioagi", "tokens", "tokens")] * 3
    ):
        CreditEntry.objects.create(
            owner=alice,
            vendor=vendor,
            kind=kind,
            amount=Decimal("12345.678") + i,
            unit=unit,
            balance_after=Decimal("987654.321"),
        )
    collection = Collection.objects.create(owner=alice, name="Lighthouses at dusk, the long set")
    sharing.create_link(alice, kind="collection", collection=collection, audience="anyone")
    client = Client()
    client.force_login(alice, backend="django.contrib.auth.backends.ModelBackend")
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    # The HTML pages among the GET routes: not images, CSV, redirects or htmx fragments.
    pages = []
    for route_path, route in sorted(ROUTES.items()):
        if route.method != "GET":
            continue
        path = url_for(route_path, made.get(route.resource) if route.resource else None)
        r = (Client() if route_path in SIGNED_OUT else client).get(path)
        html = r.status_code == 200 and r["Content-Type"].startswith("text/html")
        if html and b"<main" in r.content:
            pages.append((route_path, path))
    return pages, cookie


def html_pages(page, base: str, pages, cookie: str):
    """Opens each page and yields its route: signed-out pages first, then signed in."""
    page.goto(base + "/accounts/login/")
    for route_path, path in pages:
        if route_path in SIGNED_OUT:
            page.goto(base + path)
            yield route_path
    page.context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": base}])
    for route_path, path in pages:
        if route_path not in SIGNED_OUT:
            page.goto(base + path)
            yield route_path


# What a theme changes is colour: the other rules give the same answer in both, so the dark
# theme is checked with these alone (about half the time of a full run).
COLOUR_RULES = ["color-contrast", "link-in-text-block"]


def axe_violations(page, rules: list[str] | None = None) -> list[str]:
    options = {"resultTypes": ["violations"]}
    if rules:
        options["runOnly"] = {"type": "rule", "values": rules}
    results = page.evaluate("async (options) => await axe.run(document, options)", options)
    return [
        f"{v['id']}: {v['help']} ({', '.join(json.dumps(n['target']) for n in v['nodes'][:3])})"
        for v in results["violations"]
    ]


def test_no_page_scrolls_sideways_on_a_phone_and_axe_finds_nothing_there(
    page, live_server, studio, axe_source
):
    pages, cookie = studio
    # Injected by the browser into every page before its own scripts, outside the page's CSP.
    page.context.add_init_script(axe_source)
    page.set_viewport_size(PHONE)
    seen, wide, found = [], {}, {}
    for route_path in html_pages(page, live_server.url, pages, cookie):
        seen.append(route_path)
        width = page.evaluate("() => document.documentElement.scrollWidth")
        if width > PHONE["width"]:
            wide[route_path] = width
        # The phone layout (folded menu, tables as cards) in the light theme; the colours are
        # the desktop's, checked in both themes below.
        if violations := axe_violations(page):
            found[route_path or "/"] = violations
    assert wide == {}, f"pages wider than {PHONE['width']} px: {wide}"
    assert found == {}, json.dumps(found, indent=1, ensure_ascii=False)
    # The walk reached the pages that were too wide before, and the others.
    assert {"links/", "keys/", "credits/", "gallery/", ""} <= set(seen)
    assert len(seen) >= 30, seen


def test_axe_finds_no_violation_on_any_page_in_either_theme(page, live_server, studio, axe_source):
    pages, cookie = studio
    page.context.add_init_script(axe_source)
    page.set_viewport_size(DESKTOP)
    found, seen = {}, []
    for route_path in html_pages(page, live_server.url, pages, cookie):
        seen.append(route_path)
        for theme, rules in (("light", None), ("dark", COLOUR_RULES)):
            page.emulate_media(color_scheme=theme)
            if violations := axe_violations(page, rules):
                found[f"{route_path or '/'} ({theme})"] = violations
        page.emulate_media(color_scheme="light")
    assert found == {}, json.dumps(found, indent=1, ensure_ascii=False)
    assert len(seen) >= 30, seen
