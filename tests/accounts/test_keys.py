"""The /keys/ pages: add, replace, make default, revoke, delete; write-only throughout."""

from __future__ import annotations

import pytest

from accounts import vault
from accounts.models import Credential, CredentialEvent

KEY = "sk-alice-0123456789abcdefWXYZ"
HTMX = {"HTTP_HX_REQUEST": "true"}


def add(client, **fields):
    # Saving checks a key with its vendor; these tests are about the form, so they skip it
    # (tests/accounts/test_keys_verify_on_save.py is about the check).
    data = {"vendor": "aioagi", "label": "team key", "api_key": KEY, "skip_check": "on", **fields}
    return client.post("/keys/add/", data)


@pytest.fixture
def alice_key(alice):
    return vault.add_credential(alice, "aioagi", "team key", KEY)


@pytest.fixture
def bob_key(bob):
    return vault.add_credential(bob, "aioagi", "bob's key", "sk-bob-0123456789abcdef")


def test_it_lists_my_keys_only(alice_client, alice_key, bob_key):
    r = alice_client.get("/keys/")
    assert r.status_code == 200
    assert b"team key" in r.content
    assert b"\xe2\x80\xa6WXYZ" in r.content  # …WXYZ
    assert b"bob&#x27;s key" not in r.content
    assert KEY.encode() not in r.content
    assert alice_key.secret_ciphertext.encode() not in r.content


def test_the_pages_stay_out_of_caches(alice_client, alice_key):
    for path in ("/keys/", "/keys/add/", f"/keys/{alice_key.pk}/replace/"):
        r = alice_client.get(path)
        assert "no-store" in r["Cache-Control"], path
        assert b'hx-history="false"' in r.content, path
    r = alice_client.post(f"/keys/{alice_key.pk}/revoke/")
    assert "no-store" in r["Cache-Control"]


def test_it_adds_a_key(alice_client, alice):
    r = add(alice_client)
    credential = Credential.objects.get()
    assert r.status_code == 302
    assert r.url == f"/keys/#credential-{credential.pk}"
    assert (credential.owner, credential.vendor, credential.label) == (alice, "aioagi", "team key")
    assert credential.last4 == "WXYZ"
    assert credential.status == "unverified"
    assert credential.is_default  # the first key for a vendor
    assert credential.fingerprint == vault.fingerprint(KEY)
    assert KEY not in credential.secret_ciphertext
    assert vault.decrypt_credential(credential).api_key == KEY
    event = CredentialEvent.objects.get()
    assert (event.kind, event.credential, event.fingerprint) == (
        "created",
        credential,
        credential.fingerprint,
    )

    r = alice_client.get(r.url)
    assert "Saved AIOAGI · team key · …WXYZ." in r.content.decode()
    assert credential.fingerprint in r.content.decode()  # in the activity list


def test_it_strips_a_pasted_trailing_newline(alice_client, alice):
    add(alice_client, api_key=f"  {KEY}\r\n")
    assert vault.decrypt_credential(Credential.objects.get()).api_key == KEY


def test_a_lemondata_key_can_hold_a_management_token(alice_client, alice):
    add(alice_client, vendor="lemondata", extra_secret="mt-0123456789abcdef\n")
    credential = Credential.objects.get()
    assert credential.extra_secret_ciphertext.startswith("enc:fernet:")
    secrets = vault.decrypt_credential(credential)
    assert (secrets.api_key, secrets.extra_secret) == (KEY, "mt-0123456789abcdef")
    r = alice_client.get("/keys/")
    assert b"with management token" in r.content
    assert b"mt-0123456789abcdef" not in r.content


def test_aioagi_offers_its_mirror(alice_client, alice):
    r = alice_client.get("/keys/add/")
    assert b'<option value="aiearth.vip">' in r.content
    add(alice_client, mirror="aiearth.vip")
    assert Credential.objects.get().mirror == "aiearth.vip"


BAD_INPUT = [
    ({"api_key": ""}, "Paste the API key."),
    ({"api_key": " \n\t "}, "Paste the API key."),
    ({"api_key": "sk-abc def-0123456789"}, "no spaces or line breaks inside"),
    ({"api_key": "sk-abc\ndef-0123456789"}, "no spaces or line breaks inside"),
    ({"api_key": "sk-abc\u00a0def-0123456789"}, "no spaces or line breaks inside"),
    ({"api_key": "sk-" + "x" * 4094}, "too long to be an API key (over 4 KB)"),
    ({"api_key": "sk-clé-0123456789"}, "only ASCII letters, digits and punctuation"),
    ({"api_key": "sk-1"}, "too short to be an API key"),
    ({"vendor": "openai"}, "Choose one of the listed vendors."),
    ({"vendor": ""}, "This field is required."),
    ({"label": ""}, "This field is required."),
    ({"extra_secret": "mt-0123456789abcdef"}, "Only LemonData keys take a management token."),
    ({"vendor": "lemondata", "extra_secret": "mt 0123456789"}, "no spaces or line breaks"),
    ({"vendor": "girlgenerator", "mirror": "aiearth.vip"}, "This vendor has no such mirror."),
    ({"mirror": "https://evil.example.com"}, "Select a valid choice."),
]


@pytest.mark.parametrize("fields, error", BAD_INPUT)
def test_bad_input_is_a_form_error_and_nothing_is_stored(alice_client, fields, error):
    for headers in ({}, HTMX):
        r = alice_client.post(
            "/keys/add/",
            {"vendor": "aioagi", "label": "team key", "api_key": KEY, **fields},
            **headers,
        )
        assert r.status_code == 200
        assert error in r.content.decode()
        assert not Credential.objects.exists()
        assert not CredentialEvent.objects.exists()
        # The secret fields never come back filled in.
        assert b'name="api_key" value' not in r.content
        assert KEY.encode() not in r.content
        for name in ("api_key", "extra_secret"):
            typed = fields.get(name, "").strip()
            if len(typed) >= 8:
                assert typed.encode() not in r.content


def test_an_htmx_post_gets_the_form_alone_or_a_redirect(alice_client, alice):
    r = alice_client.post("/keys/add/", {"vendor": "aioagi", "label": "x", "api_key": ""}, **HTMX)
    assert r.status_code == 200
    assert r.content.lstrip().startswith(b"<form")
    assert b"<html" not in r.content
    r = alice_client.post(
        "/keys/add/",
        {"vendor": "aioagi", "label": "team key", "api_key": KEY, "skip_check": "on"},
        **HTMX,
    )
    credential = Credential.objects.get()
    assert r.status_code == 200
    assert r["HX-Redirect"] == f"/keys/#credential-{credential.pk}"


def test_it_refuses_a_duplicate_label_or_key(alice_client, alice_key):
    r = add(alice_client, api_key="sk-other-0123456789abcdef")
    assert "You already have a key with this label for this vendor." in r.content.decode()
    r = add(alice_client, label="personal")
    assert "This key is already stored as “team key”." in r.content.decode()
    assert Credential.objects.count() == 1
    # Another vendor, or a revoked key, does not count.
    add(alice_client, vendor="chatfire")
    vault.revoke_credential(alice_key)
    add(alice_client)
    assert Credential.objects.count() == 3


def test_one_default_per_vendor(alice_client, alice, alice_key):
    add(alice_client, label="personal", api_key="sk-personal-0123456789")
    personal = Credential.objects.get(label="personal")
    assert not personal.is_default
    r = alice_client.post(f"/keys/{personal.pk}/default/")
    assert r.status_code == 302
    alice_key.refresh_from_db()
    personal.refresh_from_db()
    assert (alice_key.is_default, personal.is_default) == (False, True)
    assert Credential.objects.default_for(alice, "aioagi") == personal

    add(alice_client, label="third", api_key="sk-third-0123456789", is_default="on")
    assert Credential.objects.default_for(alice, "aioagi").label == "third"
    assert Credential.objects.filter(is_default=True).count() == 1


def test_the_database_refuses_two_defaults(alice, alice_key):
    from django.db import IntegrityError

    other = vault.add_credential(alice, "aioagi", "personal", "sk-personal-0123456789")
    with pytest.raises(IntegrityError):
        Credential.objects.filter(pk=other.pk).update(is_default=True)


def test_it_replaces_a_key(alice_client, alice_key):
    vault._record_verification(alice_key, "valid", "Valid key.", None, None)
    old = alice_key.secret_ciphertext
    r = alice_client.get(f"/keys/{alice_key.pk}/replace/")
    assert b'value="team key"' in r.content
    assert b'name="api_key"' in r.content and b'name="vendor"' not in r.content

    r = alice_client.post(
        f"/keys/{alice_key.pk}/replace/",
        {"label": "team key", "api_key": "sk-new-key-0123456789-ABCD", "skip_check": "on"},
    )
    assert r.status_code == 302
    alice_key.refresh_from_db()
    assert alice_key.secret_ciphertext != old
    assert (alice_key.last4, alice_key.status, alice_key.verified_at) == (
        "ABCD",
        "unverified",
        None,
    )
    assert alice_key.is_default
    assert vault.decrypt_credential(alice_key).api_key == "sk-new-key-0123456789-ABCD"
    assert list(CredentialEvent.objects.values_list("kind", flat=True)) == [
        "replaced",
        "verified",
        "created",
    ]


def test_replacing_needs_the_key(alice_client, alice_key):
    r = alice_client.post(f"/keys/{alice_key.pk}/replace/", {"label": "renamed"})
    assert r.status_code == 200
    assert "Paste the API key." in r.content.decode()
    alice_key.refresh_from_db()
    assert alice_key.label == "team key"


def test_it_revokes_a_key(alice_client, alice_key):
    r = alice_client.post(f"/keys/{alice_key.pk}/revoke/")
    assert r.status_code == 302
    alice_key.refresh_from_db()
    assert alice_key.status == "revoked"
    assert not alice_key.is_default
    assert alice_key.secret_ciphertext == ""
    assert CredentialEvent.objects.filter(kind="revoked", credential=alice_key).exists()
    r = alice_client.get("/keys/")
    assert b"Revoked" in r.content
    assert f"/keys/{alice_key.pk}/verify/".encode() not in r.content
    # A revoked key is not checked; replacing it brings it back.
    r = alice_client.post(f"/keys/{alice_key.pk}/verify/", follow=True)
    assert b"A revoked key is not checked" in r.content
    alice_client.post(
        f"/keys/{alice_key.pk}/replace/",
        {"label": "team key", "api_key": "sk-fresh-0123456789", "skip_check": "on"},
    )
    alice_key.refresh_from_db()
    assert (alice_key.status, alice_key.revoked_at, alice_key.is_default) == (
        "unverified",
        None,
        True,
    )


def test_it_deletes_a_key_and_keeps_its_trail(alice_client, alice_key):
    r = alice_client.get(f"/keys/{alice_key.pk}/delete/")
    assert r.status_code == 200
    assert "Delete AIOAGI · team key · …WXYZ from the studio?" in r.content.decode()
    r = alice_client.post(f"/keys/{alice_key.pk}/delete/")
    assert r.status_code == 302
    assert not Credential.objects.exists()
    kinds = list(CredentialEvent.objects.values_list("kind", "credential", "label"))
    assert kinds == [("deleted", None, "team key"), ("created", None, "team key")]
    r = alice_client.get("/keys/")
    assert b"Deleted" in r.content and alice_key.fingerprint.encode() in r.content


MUTATING = ["verify", "default", "revoke", "delete", "replace"]


@pytest.mark.parametrize("action", MUTATING)
def test_another_users_key_is_not_found(alice_client, bob_key, action):
    before = Credential.objects.values().get()
    assert alice_client.post(f"/keys/{bob_key.pk}/{action}/").status_code == 404
    if action in ("delete", "replace"):
        assert alice_client.get(f"/keys/{bob_key.pk}/{action}/").status_code == 404
    assert Credential.objects.values().get() == before
    assert CredentialEvent.objects.filter(owner=bob_key.owner).count() == 1
    assert alice_client.post(f"/keys/999999/{action}/").status_code == 404


@pytest.mark.parametrize("action", ["verify", "default", "revoke"])
def test_actions_take_post_only(alice_client, alice_key, action):
    assert alice_client.get(f"/keys/{alice_key.pk}/{action}/").status_code == 405


@pytest.mark.parametrize("path", ["/keys/", "/keys/add/", "/keys/1/replace/", "/keys/1/delete/"])
def test_anonymous_users_are_sent_to_sign_in(client, db, path):
    r = client.get(path)
    assert r.status_code == 302
    assert r.url == f"/accounts/login/?next={path}"


@pytest.mark.parametrize("path", ["/keys/add/", "replace"])
def test_error_reports_hide_the_posted_secrets(alice_client, alice_key, path):
    from django.views.debug import SafeExceptionReporterFilter

    if path == "replace":
        path = f"/keys/{alice_key.pk}/replace/"
    r = alice_client.post(
        path, {"vendor": "lemondata", "label": "x", "api_key": "sk-x y", "extra_secret": "mt-z"}
    )
    posted = SafeExceptionReporterFilter().get_post_parameters(r.wsgi_request)
    assert posted["api_key"] == posted["extra_secret"] == "********************"
    assert posted["label"] == "x"


def test_an_admin_can_revoke_but_not_add_edit_or_delete(client, alice_key):
    from django.contrib.auth.models import User

    admin = User.objects.create_superuser("charlie", "charlie@example.com", "admin passphrase 1")
    client.force_login(admin, backend="django.contrib.auth.backends.ModelBackend")
    assert client.get("/admin/accounts/credential/add/").status_code == 403
    r = client.get(f"/admin/accounts/credential/{alice_key.pk}/change/")
    assert b'name="label"' not in r.content  # every field is read-only
    assert client.get(f"/admin/accounts/credential/{alice_key.pk}/delete/").status_code == 403
    r = client.post(
        "/admin/accounts/credential/",
        {"action": "revoke", "_selected_action": [alice_key.pk]},
    )
    assert r.status_code == 302
    alice_key.refresh_from_db()
    assert alice_key.status == "revoked"
    assert CredentialEvent.objects.filter(kind="revoked").count() == 1
