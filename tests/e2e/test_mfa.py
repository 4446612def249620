"""Issue 19 in Chromium: sign up and verify the address from the outbox; TOTP on, then a
sign-in with a code computed from the secret; a recovery code works once and only once; a
passkey registered and used to sign in without a password (the DevTools protocol's virtual
authenticator)."""

from __future__ import annotations

import re
import time

import pyotp
import pytest
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from django.core import mail
from playwright.sync_api import Page, expect

from accounts.models import SecurityEvent
from tests.conftest import verified_user

pytestmark = [pytest.mark.e2e]

PASSWORD = "correct horse battery"


def sign_in(page: Page, base: str, username: str) -> None:
    page.goto(base + "/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("form button[type=submit].primary")


def sign_out(page: Page, base: str) -> None:
    page.goto(base + "/accounts/logout/")  # allauth's page: "Are you sure?" and a button
    page.locator("main form button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/accounts/login/"))


@pytest.fixture
def phone(page: Page) -> Page:
    page.set_viewport_size({"width": 390, "height": 844})
    return page


def test_sign_up_then_verify_the_address_from_the_outbox(phone: Page, live_server):
    page, base = phone, live_server.url
    page.goto(base + "/accounts/signup/")
    page.fill("#id_username", "dora")
    page.fill("#id_email", "dora@example.com")
    page.fill("#id_password1", PASSWORD)
    page.fill("#id_password2", PASSWORD)
    page.click("form button[type=submit].primary")
    expect(page).to_have_url(base + "/")
    expect(page.get_by_text("Please verify your email address")).to_be_visible()

    (message,) = mail.outbox
    link = re.search(r"https?://[^/\s]+(/accounts/confirm-email/\S+/)", message.body).group(1)
    page.goto(base + link)
    page.get_by_role("button", name="Confirm").click()
    assert EmailAddress.objects.get(email="dora@example.com").verified
    page.goto(base + "/")
    expect(page.get_by_text("Please verify your email address")).to_have_count(0)
    assert page.csp_violations == []


def confirm_password(page: Page) -> None:
    """Adding a factor asks for the password again (allauth's reauthentication)."""
    expect(page).to_have_url(re.compile(r"/accounts/reauthenticate/"))
    page.fill("#id_password", PASSWORD)
    page.locator("main form button[type=submit]").first.click()


def activate_totp(page: Page, base: str) -> str:
    page.goto(base + "/accounts/2fa/totp/activate/")
    confirm_password(page)
    secret = page.input_value("#authenticator_secret")
    expect(page.locator("img[src^='data:image/svg+xml']")).to_be_visible()  # the QR code
    page.fill("#id_code", pyotp.TOTP(secret).now())
    page.locator("main form button[type=submit]").last.click()
    expect(page).not_to_have_url(re.compile(r"/totp/activate/"))
    return secret


def fresh_code(secret: str, used: str) -> str:
    # allauth refuses a code used before: wait for the next 30-second window.
    while (code := pyotp.TOTP(secret).now()) == used:
        time.sleep(1)
    return code


def test_totp_then_sign_in_with_a_code_and_a_recovery_code_works_once(phone: Page, live_server):
    page, base = phone, live_server.url
    user = verified_user("erin", "erin@example.com", PASSWORD)
    sign_in(page, base, "erin")
    expect(page).to_have_url(base + "/")
    secret = activate_totp(page, base)
    used = pyotp.TOTP(secret).now()
    totp = Authenticator.objects.get(user=user, type="totp")
    assert secret not in str(totp.data)  # sealed at rest

    page.goto(base + "/accounts/2fa/recovery-codes/")
    codes = page.input_value("#recovery_codes").split()
    assert len(codes) == 10 and all(len(code) == 8 for code in codes), codes
    sign_out(page, base)

    # A password alone is not enough now: the code from the secret is asked for.
    sign_in(page, base, "erin")
    expect(page).to_have_url(re.compile(r"/accounts/2fa/authenticate/"))
    page.fill("#id_code", fresh_code(secret, used))
    page.locator("main form button[type=submit]").first.click()
    expect(page).to_have_url(base + "/")
    sign_out(page, base)

    # A recovery code opens the account once...
    sign_in(page, base, "erin")
    page.fill("#id_code", codes[0])
    page.locator("main form button[type=submit]").first.click()
    expect(page).to_have_url(base + "/")
    sign_out(page, base)
    # ...and only once.
    sign_in(page, base, "erin")
    page.fill("#id_code", codes[0])
    page.locator("main form button[type=submit]").first.click()
    expect(page.get_by_text("Incorrect code.")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/accounts/2fa/authenticate/"))

    kinds = set(SecurityEvent.objects.filter(user=user).values_list("kind", flat=True))
    assert {"factor_added", "recovery_code_used", "signed_in"} <= kinds
    # Neither the secret nor a code was ever in a page the security page shows.
    page.fill("#id_code", codes[1])
    page.locator("main form button[type=submit]").first.click()
    page.goto(base + "/accounts/security/")
    content = page.content()
    assert secret not in content and not any(code in content for code in codes)
    assert page.csp_violations == []


def test_a_passkey_is_registered_and_signs_in_without_a_password(page: Page, live_server):
    base = live_server.url
    user = verified_user("fay", "fay@example.com", PASSWORD)
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
            }
        },
    )
    sign_in(page, base, "fay")
    expect(page).to_have_url(base + "/")
    page.goto(base + "/accounts/2fa/webauthn/add/")
    confirm_password(page)
    page.fill("#id_name", "laptop")
    page.check("#id_passwordless")
    page.click("#mfa_webauthn_add")
    expect(page).not_to_have_url(re.compile(r"/webauthn/add/"))
    passkey = Authenticator.objects.get(user=user, type="webauthn")
    assert passkey.wrap().name == "laptop"
    sign_out(page, base)

    page.goto(base + "/accounts/login/")
    page.click("#passkey_login")
    expect(page).to_have_url(base + "/")
    assert (
        page.evaluate("document.querySelector('details.account-menu summary').textContent") == "fay"
    )
    assert page.csp_violations == []
