"""In a real browser: Alice makes an API token at /tokens/, copies it from the page that shows
it once, a script uses it, she revokes it and the script's next call is refused. The pages fit
a 390 px phone."""

from __future__ import annotations

import httpx
import pytest
from django.contrib.auth.models import User
from playwright.sync_api import expect

from studio.api.models import ApiToken

pytestmark = pytest.mark.e2e
PASSWORD = "a long enough passphrase"


def test_make_copy_use_and_revoke_a_token(page, live_server):
    User.objects.create_user("alice", "alice@example.com", PASSWORD)
    page.goto(f"{live_server.url}/accounts/login/?next=/tokens/")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", PASSWORD)
    page.click("main form button[type=submit]")
    expect(page.get_by_role("heading", name="API tokens", exact=True)).to_be_visible()

    page.get_by_label("Name").fill("my script")
    page.get_by_label("Read only").check()
    page.get_by_role("button", name="Create token").click()
    field = page.get_by_label("API token")
    secret = field.input_value()
    assert secret.startswith("sk-studio-")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.get_by_role("button", name="Copy token").click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == secret

    headers = {"Authorization": f"Bearer {secret}"}
    models = httpx.get(f"{live_server.url}/v1/models", headers=headers)
    assert models.status_code == 200 and models.json()["data"][0]["id"] == "demo/demo"
    assert ApiToken.objects.get().scope == "read"

    page.get_by_role("link", name="Your API tokens").click()
    row = page.locator("tr", has_text="my script")
    expect(row).to_contain_text("Read only")
    row.get_by_role("button", name="Revoke my script").click()
    expect(page.locator("tr", has_text="my script")).to_contain_text("Revoked")
    assert httpx.get(f"{live_server.url}/v1/models", headers=headers).status_code == 401
    page.reload()
    expect(page.locator(".events")).to_contain_text("Refused")

    page.set_viewport_size({"width": 390, "height": 844})
    for path in ("/tokens/", "/api/"):
        page.goto(f"{live_server.url}{path}")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, (path, width)
    assert page.csp_violations == []
