"""Verifying a key against the fake vendor servers, over real HTTP."""

from __future__ import annotations

import logging
import socket
from decimal import Decimal

import pytest

from accounts import vault
from accounts.models import Credential, CredentialEvent
from studio.vendors.aioagi import Aioagi
from studio.vendors.fakes import FakeVendor

KEY = "sk-verify-0123456789abcdefWXYZ"
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def fake(request, settings):
    """A running fake of the vendor named by the test's `vendor` parameter (default aioagi)."""
    vendor = getattr(request, "param", "aioagi")
    with FakeVendor(vendor) as server:
        settings.STUDIO_VENDOR_URLS = {vendor: server.url}
        yield server


def credential_for(owner, fake, **kwargs) -> Credential:
    return vault.add_credential(owner, fake.vendor, "team key", KEY, **kwargs)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize(
    "fake", ["girlgenerator", "aioagi", "lemondata", "chatbp", "chatfire"], indirect=True
)
def test_it_verifies_a_good_key_with_every_vendor(alice_client, alice, fake):
    fake.add_key(KEY, credits=50)
    credential = credential_for(alice, fake)
    r = alice_client.post(f"/keys/{credential.pk}/verify/", **HTMX)
    assert r.status_code == 200
    assert r.content.lstrip().startswith(f'<tr id="credential-{credential.pk}">'.encode())
    assert b"Verified" in r.content
    credential.refresh_from_db()
    assert credential.status == "verified"
    assert credential.verified_at is not None
    assert credential.status_message.startswith("Valid key.")
    event = CredentialEvent.objects.get(kind="verified")
    assert (event.credential, event.fingerprint) == (credential, credential.fingerprint)
    # A check never spends credits, and never submits anything.
    assert fake.balance(KEY) == 50
    assert not fake.bodies
    assert fake.requests and all(r.method == "GET" for r in fake.requests)


def test_it_works_without_javascript(alice_client, alice, fake):
    fake.add_key(KEY)
    credential = credential_for(alice, fake)
    r = alice_client.post(f"/keys/{credential.pk}/verify/")
    assert r.status_code == 302
    assert r.url == f"/keys/#credential-{credential.pk}"
    r = alice_client.get(r.url)
    assert "AIOAGI · team key · …WXYZ: Valid key." in r.content.decode()


def test_it_shows_the_balance_when_the_vendor_reports_one(alice_client, alice, fake):
    fake.add_key(KEY, credits="12.5")
    credential = credential_for(alice, fake)
    r = alice_client.post(f"/keys/{credential.pk}/verify/", **HTMX)
    credential.refresh_from_db()
    assert credential.balance is not None
    assert f"{credential.balance.normalize()} {credential.balance_unit}" in r.content.decode()


@pytest.mark.parametrize("fake", ["lemondata"], indirect=True)
def test_lemondata_reads_the_balance_with_the_management_token(alice_client, alice, fake):
    fake.add_key(KEY, credits="7.25", management_token="mt-0123456789abcdef")
    credential = credential_for(alice, fake, extra_secret="mt-0123456789abcdef")
    alice_client.post(f"/keys/{credential.pk}/verify/", **HTMX)
    credential.refresh_from_db()
    assert (credential.status, credential.balance) == ("verified", Decimal("7.25"))


@pytest.mark.parametrize("fake", ["lemondata"], indirect=True)
def test_it_says_when_there_are_no_credits(alice_client, alice, fake):
    fake.add_key(KEY, credits=0, management_token="mt-0123456789abcdef")
    credential = credential_for(alice, fake, extra_secret="mt-0123456789abcdef")
    r = alice_client.post(f"/keys/{credential.pk}/verify/", **HTMX)
    assert "Valid key, but the account has no credits left." in r.content.decode()
    credential.refresh_from_db()
    assert credential.status == "verified"


@pytest.mark.parametrize("fake", ["aioagi", "chatbp"], indirect=True)
def test_a_used_up_relay_key_is_out_of_credits_not_invalid(alice_client, alice, fake):
    # new-api refuses a used-up key with HTTP 401 "该令牌额度已用尽" on every route.
    fake.set(variant="newapi_401_exhausted")
    fake.add_key(KEY, credits=0)
    credential = credential_for(alice, fake)
    r = alice_client.post(f"/keys/{credential.pk}/verify/", **HTMX)
    page = r.content.decode()
    assert "Valid key, but the account has no credits left." in page
    assert "Invalid key" not in page
    credential.refresh_from_db()
    assert credential.status == "verified"


@pytest.mark.parametrize("fake", ["aioagi", "chatbp"], indirect=True)
def test_an_unlimited_relay_key_shows_no_balance(alice_client, alice, fake):
    fake.add_key(KEY, credits=0, unlimited=True)
    credential = credential_for(alice, fake)
    r = alice_client.post(f"/keys/{credential.pk}/verify/", **HTMX)
    page = r.content.decode()
    assert "Unlimited: no balance reported" in page
    assert "99999" not in page and "100000000" not in page
    credential.refresh_from_db()
    assert (credential.status, credential.balance) == ("verified", None)


def test_it_says_when_the_key_is_invalid(alice_client, alice, fake):
    credential = credential_for(alice, fake)  # the fake does not know the key
    r = alice_client.post(f"/keys/{credential.pk}/verify/", **HTMX)
    assert "Invalid key: the vendor refused it." in r.content.decode()
    assert b"Failed" in r.content
    credential.refresh_from_db()
    assert (credential.status, credential.verified_at) == ("failed", None)
    assert CredentialEvent.objects.filter(kind="verify_failed").exists()


def test_it_says_when_the_vendor_is_unreachable(alice_client, alice, settings):
    settings.STUDIO_VENDOR_URLS = {"aioagi": f"http://127.0.0.1:{closed_port()}"}
    credential = vault.add_credential(alice, "aioagi", "team key", KEY)
    vault._record_verification(credential, "valid", "Valid key.", None, None)
    r = alice_client.post(f"/keys/{credential.pk}/verify/", **HTMX)
    assert r.status_code == 200
    assert "Vendor unreachable." in r.content.decode()
    credential.refresh_from_db()
    # Nothing was learnt about the key: it stays verified.
    assert credential.status == "verified"
    assert credential.status_message.startswith("Vendor unreachable.")


def test_chatbp_needs_an_operator_address(alice_client, alice, settings):
    settings.STUDIO_VENDOR_URLS = {}
    credential = vault.add_credential(alice, "chatbp", "team key", KEY)
    r = alice_client.post(f"/keys/{credential.pk}/verify/", **HTMX)
    assert "The operator has not configured this vendor&#x27;s address." in r.content.decode()


def test_the_aioagi_mirror_is_used_when_chosen(alice_client, alice, settings, monkeypatch):
    with FakeVendor("aioagi") as mirror:
        mirror.add_key(KEY)
        settings.STUDIO_VENDOR_URLS = {}
        monkeypatch.setitem(Aioagi.mirrors, "aiearth.vip", mirror.url)
        credential = vault.add_credential(alice, "aioagi", "team key", KEY, mirror="aiearth.vip")
        alice_client.post(f"/keys/{credential.pk}/verify/", **HTMX)
        assert mirror.requests
    credential.refresh_from_db()
    assert credential.status == "verified"


def test_proxy_variables_are_ignored(alice_client, alice, fake, monkeypatch):
    fake.add_key(KEY)
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "all_proxy"):
        monkeypatch.setenv(name, f"http://127.0.0.1:{closed_port()}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    credential = credential_for(alice, fake)
    alice_client.post(f"/keys/{credential.pk}/verify/", **HTMX)
    credential.refresh_from_db()
    assert credential.status == "verified"


def test_a_ciphertext_copied_to_another_users_row_does_not_decrypt(
    alice_client, alice, bob, client, fake
):
    fake.add_key(KEY)
    alices = credential_for(alice, fake)
    bobs = vault.add_credential(bob, "aioagi", "bob's key", "sk-bob-0123456789abcdef")
    # Someone with write access to the database copies Alice's sealed key into Bob's row.
    Credential.objects.filter(pk=bobs.pk).update(secret_ciphertext=alices.secret_ciphertext)
    with pytest.raises(vault.VaultError, match="sealed for another account"):
        vault.decrypt_credential(bobs)

    client.force_login(bob, backend="django.contrib.auth.backends.ModelBackend")
    r = client.post(f"/keys/{bobs.pk}/verify/", **HTMX)
    assert r.status_code == 200
    assert "sealed for another account, vendor or field" in r.content.decode()
    bobs.refresh_from_db()
    assert bobs.status == "failed"
    assert not fake.requests  # nothing was sent with the wrong key
    r = client.get("/keys/")
    assert r.status_code == 200
    assert "sealed for another account" in r.content.decode()


def test_a_result_for_a_key_replaced_meanwhile_is_dropped(alice, fake, monkeypatch):
    fake.add_key(KEY)
    credential = credential_for(alice, fake)
    stale = Credential.objects.get(pk=credential.pk)
    vault.replace_secrets(credential, "sk-replaced-0123456789")
    vault.verify_credential(stale)
    credential.refresh_from_db()
    assert credential.status == "unverified"
    assert not CredentialEvent.objects.filter(kind__startswith="verif").exists()


def test_debug_logging_during_a_verify_captures_no_key(alice_client, alice, fake, caplog):
    fake.add_key(KEY, management_token="mt-0123456789abcdef")
    credential = credential_for(alice, fake)
    caplog.set_level(logging.DEBUG)  # the root logger, as the settings leave httpx at WARNING
    alice_client.post(f"/keys/{credential.pk}/verify/", **HTMX)
    fake.next_verify = "echo_auth"
    alice_client.post(f"/keys/{credential.pk}/verify/", **HTMX)
    # Even with httpx and httpcore turned up to DEBUG, nothing prints the key.
    for name in ("httpx", "httpcore"):
        caplog.set_level(logging.DEBUG, logger=name)
    alice_client.post(f"/keys/{credential.pk}/verify/", **HTMX)
    fake.next_verify = "echo_auth"
    alice_client.post(f"/keys/{credential.pk}/verify/", **HTMX)
    assert any(r.name.startswith("httpcore") for r in caplog.records)  # the capture worked
    for record in caplog.records:
        text = record.getMessage() + repr(record.args) + repr(record.__dict__)
        assert KEY not in text, record.name
        assert KEY[-12:] not in text, record.name


def test_a_relay_balance_is_labelled_in_the_readers_language(alice_client, alice, fake):
    # The fake relay has no /api/status, so its unit is not named: "relay units".
    fake.add_key(KEY, credits=7)
    credential = credential_for(alice, fake)
    alice_client.post(f"/keys/{credential.pk}/verify/", **HTMX)
    credential.refresh_from_db()
    assert (credential.balance, credential.balance_unit) == (7, "relay units")

    english = alice_client.get("/keys/").content.decode()
    chinese = alice_client.get("/keys/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()

    assert "7 relay units" in english
    assert "中转站单位" in chinese and "USD" not in english


# --- models a key's vendor lists (STUDIO_DISCOVER_MODELS) -----------------------------------


def test_without_discovery_a_check_stores_no_models(alice_client, alice, fake):
    fake.add_key(KEY)
    fake.extra_models = ["flux-2-pro"]
    credential = credential_for(alice, fake)
    alice_client.post(f"/keys/{credential.pk}/verify/", **HTMX)
    credential.refresh_from_db()
    assert credential.status == "verified"
    assert credential.discovered_models == []
    assert "/v1/models" not in [r.path for r in fake.requests]  # the billing routes answered


@pytest.mark.parametrize("fake", ["aioagi", "chatfire"], indirect=True)
def test_with_discovery_a_check_stores_the_listed_image_models(alice_client, alice, fake, settings):
    settings.STUDIO_DISCOVER_MODELS = True
    fake.add_key(KEY)
    fake.extra_models = ["flux-2-pro"]
    credential = credential_for(alice, fake)
    r = alice_client.post(f"/keys/{credential.pk}/verify/", **HTMX)
    credential.refresh_from_db()
    # The relay's chat models are left out; the studio's own models keep their specs.
    assert credential.discovered_models == [*fake.models, "flux-2-pro"]
    assert "flux-2-pro" in credential.status_message
    assert "now offered with this key" in r.content.decode()
    assert fake.balance(KEY) == 100 and not fake.bodies  # still a free check

    r = alice_client.get("/generate/form/", {"key": credential.pk}, **HTMX)
    assert "flux-2-pro" in dict(r.context["form"].fields["model"].choices)


def test_a_failed_check_keeps_the_models_and_a_new_key_forgets_them(
    alice_client, alice, fake, settings
):
    settings.STUDIO_DISCOVER_MODELS = True
    fake.add_key(KEY)
    credential = credential_for(alice, fake)
    alice_client.post(f"/keys/{credential.pk}/verify/", **HTMX)
    fake.next_verify = "500"
    alice_client.post(f"/keys/{credential.pk}/verify/", **HTMX)
    credential.refresh_from_db()
    assert credential.discovered_models == ["gpt-image-2", "gpt-image-2-4k", "gpt-image-1"]
    assert (
        "It lists 1 more image model" in CredentialEvent.objects.filter(kind="verified")[0].message
    )

    vault.replace_secrets(credential, "sk-replaced-0123456789")
    credential.refresh_from_db()
    assert credential.discovered_models == []
