"""The key vault: how users' vendor keys are sealed, used, checked and rotated.

A stored secret is `enc:fernet:<key id>:<token>`: a Fernet token (authenticated encryption)
under the newest of settings.STUDIO_VAULT_KEYS, whose short id tells rotation which key made
it. Fernet has no associated data, so the owner id, vendor and field are sealed inside the
payload and checked on decrypt: a ciphertext copied to another row does not decrypt.

Secrets leave this module only through `decrypt_credential`, called at the moment of a vendor
call. Functions that hold a plaintext are marked with `sensitive_variables` so that Django's
error reports do not show their locals; nothing here logs or raises a secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache

import httpx
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.debug import sensitive_variables

from accounts.models import Credential, CredentialEvent, record_event
from studio import vendors
from studio.vendors import catalogue
from studio.vendors.base import Connection, Verification
from studio.vendors.base import scrub as vendor_scrub

logger = logging.getLogger(__name__)

PREFIX = "enc:fernet:"
API_KEY = "api_key"
EXTRA_SECRET = "extra_secret"
# Short enough to fail fast when a vendor is down; verification is one small request.
VERIFY_TIMEOUT = httpx.Timeout(15.0, connect=5.0)


class VaultError(Exception):
    """A stored secret cannot be used. The message is safe to show and names no secret."""


class CredentialRevoked(VaultError):
    pass


@dataclass(frozen=True, repr=False)
class VendorSecrets:
    """A credential's plaintext secrets, for the one vendor call that needs them."""

    api_key: str
    extra_secret: str | None = None

    def __repr__(self) -> str:
        extra = "None" if self.extra_secret is None else "<hidden>"
        return f"VendorSecrets(api_key=<hidden>, extra_secret={extra})"

    __str__ = __repr__


# --- Keys --------------------------------------------------------------------------------------


def key_id(key: str) -> str:
    """A short public name for a vault key: the first 8 hex digits of its SHA-256."""
    return hashlib.sha256(key.encode()).hexdigest()[:8]


@lru_cache(maxsize=4)
def _keyring(keys: tuple[str, ...]) -> tuple[list[str], MultiFernet, bytes]:
    if not keys:
        raise VaultError(_("No vault key is configured (STUDIO_VAULT_KEYS)."))
    ids = [key_id(k) for k in keys]
    fernets = MultiFernet([Fernet(k) for k in keys])
    # Fingerprints use a key derived from the newest vault key, never the vault key itself.
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"studio vault fingerprint")
    fingerprint_key = hkdf.derive(base64.urlsafe_b64decode(keys[0]))
    return ids, fernets, fingerprint_key


def keyring() -> tuple[list[str], MultiFernet, bytes]:
    """(key ids newest first, MultiFernet, fingerprint key) for the configured keys.

    Read from settings on every call (cheaply, cached by value), so a changed setting applies
    at once.
    """
    return _keyring(tuple(settings.STUDIO_VAULT_KEYS))


def current_key_id() -> str:
    return keyring()[0][0]


def ciphertext_key_id(ciphertext: str) -> str:
    if not ciphertext.startswith(PREFIX) or ciphertext.count(":") < 3:
        raise VaultError(_("This secret is not in the vault's format."))
    return ciphertext.split(":", 3)[2]


# --- Sealing -----------------------------------------------------------------------------------


@sensitive_variables()
def encrypt_secret(value: str, owner_id: int, vendor: str, *, field: str = API_KEY) -> str:
    """Seals `value` for one owner, vendor and field under the newest vault key."""
    ids, fernets, _fp = keyring()
    payload = {"v": 1, "owner": owner_id, "vendor": vendor, "field": field, "secret": value}
    token = fernets.encrypt(json.dumps(payload, separators=(",", ":")).encode())
    return f"{PREFIX}{ids[0]}:{token.decode()}"


@sensitive_variables()
def decrypt_secret(ciphertext: str, owner_id: int, vendor: str, *, field: str = API_KEY) -> str:
    """Opens a sealed value, checking that it was sealed for this owner, vendor and field."""
    kid = ciphertext_key_id(ciphertext)
    ids, fernets, _fp = keyring()
    try:
        data = json.loads(fernets.decrypt(ciphertext.split(":", 3)[3].encode()))
    except InvalidToken:
        if kid not in ids:
            raise VaultError(
                _(
                    "This secret was encrypted with vault key %(id)s, which is no longer "
                    "configured in STUDIO_VAULT_KEYS."
                )
                % {"id": kid}
            ) from None
        raise VaultError(_("This secret does not decrypt: it was altered.")) from None
    sealed_for = (data.get("owner"), data.get("vendor"), data.get("field"))
    if sealed_for != (owner_id, vendor, field):
        raise VaultError(
            _(
                "This secret was sealed for another account, vendor or field and cannot be "
                "used here."
            )
        )
    return data["secret"]


@sensitive_variables()
def fingerprint(api_key: str) -> str:
    """12 hex digits of an HMAC-SHA256 under a vault-derived key: names a key, reveals nothing."""
    return hmac.new(keyring()[2], api_key.encode(), hashlib.sha256).hexdigest()[:12]


@sensitive_variables()
def decrypt_credential(credential: Credential) -> VendorSecrets:
    """A credential's secrets, read from its current row, for a vendor call about to be made.

    Raises CredentialRevoked (and records `used_after_revocation`) for a revoked credential,
    VaultError for one that is gone or cannot be decrypted.
    """
    row = (
        Credential.objects.filter(pk=credential.pk)
        .values("owner_id", "vendor", "status", "secret_ciphertext", "extra_secret_ciphertext")
        .first()
    )
    if row is None:
        raise VaultError(_("This key was deleted."))
    if row["status"] == Credential.Status.REVOKED:
        record_event(
            credential,
            CredentialEvent.Kind.USED_AFTER_REVOCATION,
            _("A use of this revoked key was refused."),
        )
        raise CredentialRevoked(_("This key was revoked."))
    owner_id, vendor = row["owner_id"], row["vendor"]
    api_key = decrypt_secret(row["secret_ciphertext"], owner_id, vendor, field=API_KEY)
    extra_secret = None
    if row["extra_secret_ciphertext"]:
        extra_secret = decrypt_secret(
            row["extra_secret_ciphertext"], owner_id, vendor, field=EXTRA_SECRET
        )
    return VendorSecrets(api_key=api_key, extra_secret=extra_secret)


@sensitive_variables()
def scrub(text: str, secrets: VendorSecrets | None) -> str:
    """`text` (e.g. a vendor's error message) without the secrets, even partly echoed, by the
    same rule as every other vendor text (studio.vendors.base.scrub), then cut to size."""
    text = (text or "").strip()
    if secrets is not None:
        text = vendor_scrub(text, (secrets.api_key, secrets.extra_secret))
    return text[:250]


# --- The credential lifecycle ------------------------------------------------------------------


@sensitive_variables()
def _seal(credential: Credential, api_key: str, extra_secret: str | None) -> None:
    credential.secret_ciphertext = encrypt_secret(
        api_key, credential.owner_id, credential.vendor, field=API_KEY
    )
    credential.extra_secret_ciphertext = (
        encrypt_secret(extra_secret, credential.owner_id, credential.vendor, field=EXTRA_SECRET)
        if extra_secret
        else ""
    )
    credential.fingerprint = fingerprint(api_key)
    credential.last4 = api_key[-4:]


def _clear_default(owner_id: int, vendor: str) -> None:
    Credential.objects.filter(owner_id=owner_id, vendor=vendor, is_default=True).update(
        is_default=False
    )


@sensitive_variables()
@transaction.atomic
def add_credential(
    owner,
    vendor: str,
    label: str,
    api_key: str,
    extra_secret: str | None = None,
    mirror: str = "",
    make_default: bool = False,
) -> Credential:
    """Stores a new key. The first usable key for a vendor becomes its default."""
    credential = Credential(owner=owner, vendor=vendor, label=label, mirror=mirror)
    _seal(credential, api_key, extra_secret)
    first = not Credential.objects.usable().filter(owner=owner, vendor=vendor).exists()
    if make_default or first:
        _clear_default(owner.pk, vendor)
        credential.is_default = True
    credential.save()
    record_event(credential, CredentialEvent.Kind.CREATED)
    return credential


@sensitive_variables()
@transaction.atomic
def replace_secrets(
    credential: Credential,
    api_key: str,
    extra_secret: str | None = None,
    label: str | None = None,
    mirror: str | None = None,
) -> Credential:
    """Puts a new key (and management token) into an existing credential, even a revoked one."""
    if label is not None:
        credential.label = label
    if mirror is not None:
        credential.mirror = mirror
    _seal(credential, api_key, extra_secret)
    if (
        credential.is_revoked
        and not Credential.objects.usable()
        .filter(owner_id=credential.owner_id, vendor=credential.vendor)
        .exists()
    ):
        credential.is_default = True
    credential.status = Credential.Status.UNVERIFIED
    credential.status_message = ""
    credential.checked_at = credential.verified_at = credential.revoked_at = None
    credential.balance, credential.balance_unit = None, ""
    credential.discovered_models = []  # the new key may see other models
    credential.save()
    record_event(credential, CredentialEvent.Kind.REPLACED)
    return credential


@transaction.atomic
def revoke_credential(credential: Credential) -> None:
    """Stops all use of a key at once. Its secrets are erased; its row and trail stay."""
    credential.status = Credential.Status.REVOKED
    credential.revoked_at = timezone.now()
    credential.is_default = False
    credential.secret_ciphertext = credential.extra_secret_ciphertext = ""
    credential.balance, credential.balance_unit = None, ""
    credential.save()
    record_event(credential, CredentialEvent.Kind.REVOKED)


@transaction.atomic
def delete_credential(credential: Credential) -> None:
    record_event(credential, CredentialEvent.Kind.DELETED)
    credential.delete()


@transaction.atomic
def make_default(credential: Credential) -> None:
    if credential.is_revoked:
        return
    _clear_default(credential.owner_id, credential.vendor)
    Credential.objects.filter(pk=credential.pk).update(is_default=True)
    credential.is_default = True


# --- Verification ------------------------------------------------------------------------------

VERDICTS = {
    "valid": gettext_lazy("Valid key."),
    "invalid_key": gettext_lazy("Invalid key: the vendor refused it."),
    "no_credits": gettext_lazy("Valid key, but the account has no credits left."),
    "unreachable": gettext_lazy("Vendor unreachable."),
    "unknown": gettext_lazy("Unexpected answer from the vendor."),
}


def _verification(status: str, message: str, balance=None, unit=None) -> Verification:
    return Verification(status=status, message=message, balance=balance, unit=unit)


@sensitive_variables()
def verify_credential(credential: Credential) -> Verification:
    """Asks the vendor whether the key works, with its cheapest call that spends no credits.

    Updates the credential's status and records an event. Never raises for a vendor's or the
    vault's failure: the answer says what happened, in words, without the key.
    """
    try:
        secrets = decrypt_credential(credential)
    except CredentialRevoked as exc:
        return _verification("unknown", str(exc))
    except VaultError as exc:
        result = _verification("invalid_key", str(exc))
        check = KeyCheck(result.status, str(VERDICTS["invalid_key"]) + f" {exc}", result)
    else:
        check = check_secrets(credential.vendor, credential.mirror, secrets)
    return record_check(credential, check)


@dataclass(frozen=True)
class KeyCheck:
    """What the vendor said of a key, before or after it is stored."""

    status: str
    message: str  # the verdict and the vendor's detail, in words, without the key
    result: Verification
    listed: list[str] | None = None

    @property
    def accepted(self) -> bool:
        return self.status in ("valid", "no_credits")

    @property
    def inconclusive(self) -> bool:
        """The vendor could not be asked, or answered something that says nothing of the key."""
        return self.status in ("unreachable", "unknown")


@sensitive_variables()
def check_secrets(vendor: str, mirror: str, secrets: VendorSecrets) -> KeyCheck:
    """Asks `vendor` whether these secrets work, storing nothing: a key is checked before it
    is saved. Never raises for a vendor's failure."""
    listed: list[str] | None = None
    try:
        base_url = vendors.base_url_for(vendor, mirror=mirror or None)
        if not base_url:
            result = _verification(
                "unknown", _("The operator has not configured this vendor's address.")
            )
        else:
            adapter = vendors.get_adapter(vendor)
            with httpx.Client(trust_env=False, timeout=VERIFY_TIMEOUT) as client:
                conn = Connection(
                    base_url=base_url,
                    api_key=secrets.api_key,
                    extra_secret=secrets.extra_secret,
                    client=client,
                    options={},
                )
                result = adapter.verify(conn)
                if result.status in ("valid", "no_credits") and vendors.discovery_enabled():
                    listed = catalogue.listed_image_models(adapter, conn)
    except (httpx.TimeoutException, httpx.TransportError) as exc:
        result = _verification(
            "unreachable", _("No answer (%(error)s).") % {"error": type(exc).__name__}
        )
    except Exception as exc:
        # The exception's text may quote a vendor reply that echoed the key: log its type only.
        logger.warning("Verifying a %s key failed with %s", vendor, type(exc).__name__)
        result = _verification(
            "unknown", _("The check failed (%(error)s).") % {"error": type(exc).__name__}
        )

    status = result.status if result.status in VERDICTS else "unknown"
    detail = scrub(result.message, secrets)
    message = str(VERDICTS[status]) + (f" {detail}" if detail else "")
    if listed:
        message += " " + _discovered_sentence(vendor, listed)
    return KeyCheck(status, message, result, listed)


def record_check(credential: Credential, check: KeyCheck) -> Verification:
    """Writes a check's verdict on the stored credential (status, balance, models, an event)."""
    result = check.result
    _record_verification(
        credential, check.status, check.message, result.balance, result.unit, check.listed
    )
    return _verification(check.status, check.message, result.balance, result.unit)


def _discovered_sentence(vendor: str, listed: list[str]) -> str:
    known = {m.name for m in vendors.get_adapter(vendor).capabilities.models}
    extra = [name for name in listed if name not in known]
    if not extra:
        return _("It lists no image model beyond the studio's own.")
    return ngettext(
        "It lists %(count)s more image model, now offered with this key: %(names)s.",
        "It lists %(count)s more image models, now offered with this key: %(names)s.",
        len(extra),
    ) % {"count": len(extra), "names": ", ".join(extra[:5]) + (" …" if len(extra) > 5 else "")}


def _record_verification(
    credential: Credential,
    status: str,
    message: str,
    balance: Decimal | None,
    unit: str | None,
    listed: list[str] | None = None,
) -> None:
    now = timezone.now()
    fields: dict = {"status_message": message[:300], "checked_at": now}
    if status in ("valid", "no_credits"):
        fields.update(status=Credential.Status.VERIFIED, verified_at=now)
        if balance is not None:
            fields.update(balance=balance, balance_unit=(unit or "")[:40], balance_at=now)
        if listed is not None:
            fields.update(discovered_models=listed)
    elif status == "invalid_key":
        fields.update(status=Credential.Status.FAILED, balance=None, balance_unit="")
    # "unreachable" and "unknown" say nothing about the key: its status stays.

    # Only the secret that was checked: a key replaced or revoked meanwhile keeps its new state.
    updated = (
        Credential.objects.filter(pk=credential.pk, secret_ciphertext=credential.secret_ciphertext)
        .exclude(status=Credential.Status.REVOKED)
        .update(**fields, updated_at=now)
    )
    if not updated:
        return
    for name, value in fields.items():
        setattr(credential, name, value)
    kind = (
        CredentialEvent.Kind.VERIFIED
        if status in ("valid", "no_credits")
        else CredentialEvent.Kind.VERIFY_FAILED
    )
    record_event(credential, kind, message)


# --- Rotation ----------------------------------------------------------------------------------


@sensitive_variables()
def rotate_credential(credential: Credential) -> str:
    """Re-seals a credential's secrets under the newest vault key.

    Returns "rotated", "current" (nothing to do) or "changed" (replaced or revoked while we
    worked: left alone); raises VaultError when a secret cannot be decrypted. The fingerprint
    follows the newest key, so it is recomputed too.
    """
    newest = current_key_id()
    old = (credential.secret_ciphertext, credential.extra_secret_ciphertext)
    if all(ciphertext_key_id(c) == newest for c in old if c):
        return "current"
    owner_id, vendor = credential.owner_id, credential.vendor
    fields = {}
    for name, field, ciphertext in (
        ("secret_ciphertext", API_KEY, old[0]),
        ("extra_secret_ciphertext", EXTRA_SECRET, old[1]),
    ):
        if ciphertext:
            value = decrypt_secret(ciphertext, owner_id, vendor, field=field)
            fields[name] = encrypt_secret(value, owner_id, vendor, field=field)
            if field == API_KEY:
                fields["fingerprint"] = fingerprint(value)
    # Conditional: a key replaced while we worked keeps its new value.
    updated = Credential.objects.filter(
        pk=credential.pk, secret_ciphertext=old[0], extra_secret_ciphertext=old[1]
    ).update(**fields)
    return "rotated" if updated else "changed"
