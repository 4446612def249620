"""Saving a key checks it with its vendor at once (issue 17, item 9): a refused key is not
saved, and when the vendor cannot be asked the form offers to save it unchecked."""

from __future__ import annotations

import socket

import pytest

from accounts import vault
from accounts.models import Credential, CredentialEvent
from studio.vendors.fakes import FakeVendor

KEY = "sk-onsave-0123456789abcdefWXYZ"
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def fake(settings):
    with FakeVendor("aioagi") as server:
        settings.STUDIO_VENDOR_URLS = {"aioagi": server.url}
        yield server


def add(client, api_key=KEY, **fields):
    data = {"vendor": "aioagi", "label": "team key", "api_key": api_key, **fields}
    return client.post("/keys/add/", data)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_good_key_is_saved_verified(alice_client, alice, fake):
    fake.add_key(KEY, credits=50)
    r = add(alice_client)
    assert r.status_code == 302
    credential = Credential.objects.get()
    assert credential.status == "verified" and credential.verified_at is not None
    assert credential.status_message.startswith("Valid key.")
    kinds = set(CredentialEvent.objects.values_list("kind", flat=True))
    assert kinds == {"created", "verified"}
    r = alice_client.get(r.url)
    assert "Saved AIOAGI · team key · …WXYZ. Valid key." in r.content.decode()
    assert fake.balance(KEY) == 50 and not fake.bodies  # the check spends nothing


def test_a_refused_key_is_not_saved(alice_client, alice, fake):
    for headers in ({}, HTMX):
        r = alice_client.post(
            "/keys/add/",
            {"vendor": "aioagi", "label": "team key", "api_key": "sk-wrong-0123456789"},
            **headers,
        )
        assert r.status_code == 200
        assert "Invalid key: the vendor refused it." in r.content.decode()
        assert b"sk-wrong-0123456789" not in r.content
        assert b'name="skip_check" value' not in r.content  # no way round a refusal
    assert not Credential.objects.exists()
    assert not CredentialEvent.objects.exists()


def test_a_vendor_that_is_down_can_be_skipped(alice_client, alice, settings):
    settings.STUDIO_VENDOR_URLS = {"aioagi": f"http://127.0.0.1:{closed_port()}"}
    r = add(alice_client)
    assert r.status_code == 200
    text = r.content.decode()
    assert "The key could not be checked: Vendor unreachable." in text
    assert 'type="checkbox" name="skip_check"' in text
    assert not Credential.objects.exists()
    r = add(alice_client, skip_check="on")
    assert r.status_code == 302
    credential = Credential.objects.get()
    assert credential.status == "unverified"
    r = alice_client.get(r.url)
    assert "It was not checked: verify it before use." in r.content.decode()


def test_replacing_with_a_refused_key_keeps_the_old_one(alice_client, alice, fake):
    fake.add_key(KEY)
    credential = vault.add_credential(alice, "aioagi", "team key", KEY)
    r = alice_client.post(
        f"/keys/{credential.pk}/replace/", {"label": "team key", "api_key": "sk-typo-0123456789"}
    )
    assert r.status_code == 200
    assert "Invalid key: the vendor refused it." in r.content.decode()
    credential.refresh_from_db()
    assert vault.decrypt_credential(credential).api_key == KEY
    fake.add_key("sk-fresh-0123456789")
    r = alice_client.post(
        f"/keys/{credential.pk}/replace/", {"label": "team key", "api_key": "sk-fresh-0123456789"}
    )
    assert r.status_code == 302
    credential.refresh_from_db()
    assert credential.status == "verified" and credential.last4 == "6789"
