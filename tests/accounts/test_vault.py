"""The vault's cryptography: sealed, bound to a row, rotatable, never printed."""

from __future__ import annotations

import hashlib
import sys
from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.core.management.base import CommandError
from django.views.debug import ExceptionReporter

from accounts import vault
from accounts.models import Credential, CredentialEvent

K1 = Fernet.generate_key().decode()
K2 = Fernet.generate_key().decode()
KEY = "sk-live-0123456789abcdefWXYZ"


@pytest.fixture
def k1(settings):
    settings.STUDIO_VAULT_KEYS = [K1]
    return settings


def test_it_round_trips_and_names_the_key(k1):
    ciphertext = vault.encrypt_secret(KEY, 7, "aioagi")
    assert ciphertext.startswith(f"enc:fernet:{vault.key_id(K1)}:")
    assert KEY not in ciphertext
    assert vault.decrypt_secret(ciphertext, 7, "aioagi") == KEY
    # Fernet is randomized: the same key never gives the same ciphertext twice.
    assert vault.encrypt_secret(KEY, 7, "aioagi") != ciphertext


@pytest.mark.parametrize(
    "owner_id, vendor, field",
    [(8, "aioagi", "api_key"), (7, "chatfire", "api_key"), (7, "aioagi", "extra_secret")],
)
def test_a_ciphertext_only_opens_for_its_owner_vendor_and_field(k1, owner_id, vendor, field):
    ciphertext = vault.encrypt_secret(KEY, 7, "aioagi")
    with pytest.raises(vault.VaultError, match="sealed for another account, vendor or field"):
        vault.decrypt_secret(ciphertext, owner_id, vendor, field=field)


def test_an_altered_ciphertext_does_not_open(k1):
    ciphertext = vault.encrypt_secret(KEY, 7, "aioagi")
    altered = ciphertext[:-6] + ("A" if ciphertext[-6] != "A" else "B") + ciphertext[-5:]
    with pytest.raises(vault.VaultError, match="altered"):
        vault.decrypt_secret(altered, 7, "aioagi")
    with pytest.raises(vault.VaultError, match="not in the vault's format"):
        vault.decrypt_secret("sk-plain-text-key", 7, "aioagi")


def test_a_missing_key_is_named_by_its_id(k1, settings):
    ciphertext = vault.encrypt_secret(KEY, 7, "aioagi")
    settings.STUDIO_VAULT_KEYS = [K2]
    with pytest.raises(vault.VaultError) as exc:
        vault.decrypt_secret(ciphertext, 7, "aioagi")
    assert f"vault key {vault.key_id(K1)}, which is no longer configured" in str(exc.value)
    assert K1 not in str(exc.value)


def test_the_fingerprint_is_keyed_not_a_plain_hash(k1, settings):
    fp = vault.fingerprint(KEY)
    assert len(fp) == 12
    assert fp == vault.fingerprint(KEY)
    assert fp not in (
        hashlib.sha256(KEY.encode()).hexdigest(),
        hashlib.md5(KEY.encode()).hexdigest(),
    )
    assert not hashlib.sha256(KEY.encode()).hexdigest().startswith(fp)
    settings.STUDIO_VAULT_KEYS = [K2]
    assert vault.fingerprint(KEY) != fp


def test_secrets_do_not_print():
    secrets = vault.VendorSecrets(api_key=KEY, extra_secret="mt-management-0123456789")
    for text in (repr(secrets), str(secrets), f"{secrets}", repr([secrets])):
        assert KEY not in text
        assert "mt-management" not in text
    assert repr(vault.VendorSecrets(api_key=KEY)) == (
        "VendorSecrets(api_key=<hidden>, extra_secret=None)"
    )


def test_error_reports_hide_the_locals_of_decrypting_code(k1, settings):
    settings.DEBUG = False
    ciphertext = vault.encrypt_secret(KEY, 7, "aioagi")
    try:
        vault.decrypt_secret(ciphertext, 8, "aioagi")  # fails after the payload is open
    except vault.VaultError:
        reporter = ExceptionReporter(None, *sys.exc_info())
        frames = reporter.get_traceback_data()["frames"]
        text = reporter.get_traceback_text()
    frame = next(f for f in frames if f["function"] == "decrypt_secret")
    assert dict(frame["vars"])["data"] == "'********************'"
    assert KEY not in text
    assert KEY not in reporter.get_traceback_html()


def test_decrypt_credential_reads_the_current_row(k1, alice):
    credential = vault.add_credential(
        alice, "lemondata", "team", KEY, extra_secret="mt-management-0123456789"
    )
    secrets = vault.decrypt_credential(credential)
    assert (secrets.api_key, secrets.extra_secret) == (KEY, "mt-management-0123456789")

    stale = Credential.objects.get(pk=credential.pk)
    vault.revoke_credential(credential)
    with pytest.raises(vault.CredentialRevoked):
        vault.decrypt_credential(stale)
    event = CredentialEvent.objects.get(kind="used_after_revocation")
    assert (event.credential, event.fingerprint) == (credential, credential.fingerprint)


def test_a_revoked_credential_keeps_no_secret(k1, alice):
    credential = vault.add_credential(alice, "aioagi", "team", KEY)
    vault.revoke_credential(credential)
    credential.refresh_from_db()
    assert (credential.secret_ciphertext, credential.extra_secret_ciphertext) == ("", "")
    assert credential.status == "revoked"
    assert credential.revoked_at is not None
    assert not Credential.objects.usable().exists()


def test_scrub_removes_whole_and_partial_echoes():
    secrets = vault.VendorSecrets(api_key=KEY)
    assert vault.scrub(f"bad key {KEY} here", secrets) == "bad key [redacted] here"
    # The same rule as for every vendor text: any run of 12 characters of the key goes.
    assert vault.scrub(f"bad key {KEY[:15]}…", secrets) == "bad key [redacted]…"
    assert vault.scrub(f"bad key …{KEY[-12:]}.", secrets) == "bad key …[redacted]."
    assert vault.scrub(f"ends {KEY[-11:]}", secrets) == f"ends {KEY[-11:]}"  # 11: under the rule
    assert vault.scrub("plain message", secrets) == "plain message"


def test_rotation_moves_everything_to_the_newest_key(settings, alice, bob):
    settings.STUDIO_VAULT_KEYS = [K1]
    first = vault.add_credential(alice, "aioagi", "team", KEY)
    second = vault.add_credential(
        bob, "lemondata", "personal", "sk-bob-key-0123456789", extra_secret="mt-bob-0123456789"
    )
    revoked = vault.add_credential(alice, "chatfire", "old", "sk-old-key-0123456789")
    vault.revoke_credential(revoked)

    settings.STUDIO_VAULT_KEYS = [K2, K1]
    out = StringIO()
    call_command("rotate_vault_keys", stdout=out)
    assert f"Newest vault key: {vault.key_id(K2)}" in out.getvalue()
    assert "Re-encrypted 2 credentials, 0 already current" in out.getvalue()
    assert "0 failed" in out.getvalue()

    settings.STUDIO_VAULT_KEYS = [K2]
    for credential in Credential.objects.exclude(pk=revoked.pk):
        assert credential.secret_ciphertext.startswith(f"enc:fernet:{vault.key_id(K2)}:")
    assert vault.decrypt_credential(first).api_key == KEY
    secrets = vault.decrypt_credential(second)
    assert (secrets.api_key, secrets.extra_secret) == ("sk-bob-key-0123456789", "mt-bob-0123456789")
    # The fingerprint follows the newest key.
    first.refresh_from_db()
    assert first.fingerprint == vault.fingerprint(KEY)

    out = StringIO()
    call_command("rotate_vault_keys", stdout=out)
    assert "Re-encrypted 0 credentials, 2 already current" in out.getvalue()


def test_rotation_reports_what_it_cannot_decrypt(settings, alice, bob):
    settings.STUDIO_VAULT_KEYS = [K1]
    credential = vault.add_credential(alice, "aioagi", "team", KEY)
    vault.add_credential(bob, "aioagi", "team", "sk-bob-key-0123456789")
    settings.STUDIO_VAULT_KEYS = [K2]  # K1 dropped before rotating: a mistake
    out, err = StringIO(), StringIO()
    with pytest.raises(CommandError, match="2 credentials could not be decrypted"):
        call_command("rotate_vault_keys", stdout=out, stderr=err)
    assert "Re-encrypted 0 credentials" in out.getvalue()
    assert f"credential {credential.pk}: This secret was encrypted with vault key" in err.getvalue()
    credential.refresh_from_db()
    assert credential.secret_ciphertext.startswith(f"enc:fernet:{vault.key_id(K1)}:")
