"""In a real browser: Alice shares a collection with her team; Bob (a member) opens it, Carol
(not a member) cannot; Alice revokes it, and Bob's next requests for the page and its images
are 404s.

The browser is conftest's (Debian's chromium; skipped loudly without it). This test drives three
people at once, so it takes its own screenshots of every open page into test-artifacts/ when
it fails.
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from accounts import membership as teams
from accounts.models import Membership
from studio.models import Image
from studio.sharing import services
from studio.sharing.models import Collection, ShareLink
from tests.conftest import verified_user
from tests.sharing.images import make_image

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PASSWORD = "a long enough passphrase"

pytestmark = pytest.mark.e2e


@contextlib.contextmanager
def screenshots_on_failure(name: str, pages: dict):
    try:
        yield
    except BaseException:
        ARTIFACTS.mkdir(exist_ok=True)
        for who, page in pages.items():
            with contextlib.suppress(Exception):
                page.screenshot(path=str(ARTIFACTS / f"{name}-{who}.png"), full_page=True)
        raise


def sign_in(page, username: str) -> None:
    """Fills the sign-in form the page is on."""
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("main form button[type=submit]")


def images_loaded(page) -> list[bool]:
    # Images finish loading after the "load" event on a busy machine: wait until every image
    # has settled (loaded or broken), then report which ones show.
    page.wait_for_function(
        "() => [...document.querySelectorAll('.shared-grid img')].every(i => i.complete)"
    )
    return page.eval_on_selector_all(
        ".shared-grid img", "imgs => imgs.map(i => i.complete && i.naturalWidth > 0)"
    )


@pytest.fixture
def world(transactional_db, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    alice, bob, carol = (
        verified_user(name, f"{name}@example.com", PASSWORD) for name in ("alice", "bob", "carol")
    )
    team = teams.create_team(alice, "Studio A")
    Membership.objects.create(team=team, user=bob)
    collection = Collection.objects.create(owner=alice, name="Harbour series")
    shared = [make_image(alice, "a harbour at dawn", "orange"), make_image(alice, "gulls", "grey")]
    make_image(alice, "alice's unshared sketch", "black")
    services.add_images(collection, Image.objects.filter(pk__in=[i.pk for i in shared]))
    return {"collection": collection, "images": shared}


def test_a_team_link_from_sharing_to_revocation(live_server, browser, world):
    collection, images = world["collection"], world["images"]
    contexts = {who: browser.new_context() for who in ("alice", "bob", "carol")}
    pages = {who: context.new_page() for who, context in contexts.items()}
    csp_violations = []
    for page in pages.values():
        page.set_default_timeout(10_000)
        page.on(
            "console",
            lambda m: (
                csp_violations.append(m.text) if "Content Security Policy" in m.text else None
            ),
        )
    alice, bob, carol = pages["alice"], pages["bob"], pages["carol"]
    with screenshots_on_failure("sharing", pages):
        # Alice shares the collection with her team (the form's default audience).
        alice.goto(f"{live_server.url}/accounts/login/")
        sign_in(alice, "alice")
        alice.goto(f"{live_server.url}/collections/{collection.pk}/")
        alice.click("text=Share…")
        assert alice.is_checked("input[name=audience][value=team]")
        alice.click("button:has-text('Create link')")
        url = alice.input_value("#share-url")
        assert re.fullmatch(rf"{re.escape(live_server.url)}/s/[A-Za-z0-9_-]{{43}}/", url)
        # The link is shown once: its copy button puts the whole address on the clipboard.
        contexts["alice"].grant_permissions(["clipboard-read", "clipboard-write"])
        alice.get_by_role("button", name="Copy link").click()
        expect(alice.get_by_role("button", name="Copied")).to_be_visible()
        assert alice.evaluate("navigator.clipboard.readText()") == url
        path = url.removeprefix(live_server.url)

        # Bob follows the link, is asked to sign in, and lands on the shared collection.
        response = bob.goto(url)
        assert "/accounts/login/" in bob.url
        sign_in(bob, "bob")
        bob.wait_for_url(url)
        assert bob.locator("h1").inner_text() == "Harbour series"
        assert "a harbour at dawn" in bob.content() and "gulls" in bob.content()
        assert "unshared sketch" not in bob.content()
        bob.wait_for_load_state("load")
        assert images_loaded(bob) == [True, True]
        image_url = f"{url}i/{images[0].pk}/"
        response = bob.request.get(image_url)
        assert response.status == 200
        assert response.headers["cache-control"] == "private, no-store"
        assert response.headers["referrer-policy"] == "no-referrer"
        # It is on his "Shared with me" page too.
        bob.goto(f"{live_server.url}/shared/")
        assert "Harbour series" in bob.content()

        # Carol is not in the team: after signing in she gets the same 404 as a bad link.
        response = carol.goto(url)
        assert "/accounts/login/" in carol.url
        sign_in(carol, "carol")
        carol.wait_for_load_state()
        assert "This link does not work" in carol.content()
        assert carol.request.get(url).status == 404
        assert carol.request.get(image_url).status == 404

        # Alice revokes the link from her list of links.
        alice.goto(f"{live_server.url}/links/")
        link = ShareLink.objects.get()
        assert link.view_count >= 1
        alice.click(f"#link-{link.pk} button:has-text('Revoke')")
        alice.wait_for_url(re.compile(r".*/links/.*"))
        link.refresh_from_db()
        assert link.revoked_at is not None

        # Bob's next requests for the page and for its images are 404s.
        response = bob.goto(url)
        assert response.status == 404
        assert "This link does not work" in bob.content()
        for suffix in ("", "thumb/", "download/"):
            assert bob.request.get(f"{url}i/{images[0].pk}/{suffix}").status == 404
        assert bob.request.get(f"{live_server.url}/shared/{link.pk}/").status == 404
        assert path not in bob.content()
        assert csp_violations == []
    for context in contexts.values():
        context.close()
