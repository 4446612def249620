"""The studio's adapters for django-allauth: its words, its client-address rule, and sealing of
two-step sign-in secrets with the vault's keys."""

from __future__ import annotations

import json

from allauth.account.adapter import DefaultAccountAdapter
from allauth.mfa.adapter import DefaultMFAAdapter
from axes.handlers.proxy import AxesProxyHandler
from cryptography.fernet import InvalidToken
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_variables

from accounts import vault
from accounts.client_ip import client_ip

# Sealed two-step secrets look like the vault's (`enc:fernet:<key id>:<token>`), so that a
# reader of the database sees at once which vault key made them; the payload names its use.
MFA_FIELD = "mfa"


class AccountAdapter(DefaultAccountAdapter):
    error_messages = {
        **DefaultAccountAdapter.error_messages,
        # The studio's sentences from before allauth, which users (and tests) know.
        "email_taken": _("An account with this email already exists."),
        "username_password_mismatch": _(
            "Please enter a correct username and password. Note that both fields may be "
            "case-sensitive."
        ),
        "email_password_mismatch": _(
            "Please enter a correct username and password. Note that both fields may be "
            "case-sensitive."
        ),
    }

    def pre_authenticate(self, request, **credentials) -> None:
        # django-axes' lockout answers first, with its page (429, and how long it lasts);
        # allauth's own limit on failed sign-ins (per address, and per account) stays on top.
        if AxesProxyHandler.is_locked(request, credentials):
            self._login_failed_rl_usage = None
            return
        super().pre_authenticate(request, **credentials)

    def get_client_ip(self, request) -> str:
        # The same rule as django-axes' (STUDIO_CLIENT_IP_HEADER), so that rate limits, the
        # lockout and the sign-in history agree on who the client is.
        return client_ip(request) or "0.0.0.0"


def seal(text: str) -> str:
    ids, fernets, _fp = vault.keyring()
    payload = json.dumps({"v": 1, "field": MFA_FIELD, "secret": text}, separators=(",", ":"))
    return f"{vault.PREFIX}{ids[0]}:{fernets.encrypt(payload.encode()).decode()}"


def unseal(sealed: str) -> str:
    kid = vault.ciphertext_key_id(sealed)
    ids, fernets, _fp = vault.keyring()
    try:
        data = json.loads(fernets.decrypt(sealed.split(":", 3)[3].encode()))
    except InvalidToken:
        if kid not in ids:
            raise vault.VaultError(
                _(
                    "A two-step sign-in secret was sealed with vault key %(id)s, which is no "
                    "longer configured."
                )
                % {"id": kid}
            ) from None
        raise vault.VaultError(_("A two-step sign-in secret does not decrypt.")) from None
    if data.get("field") != MFA_FIELD:
        raise vault.VaultError(_("This secret was not sealed for two-step sign-in."))
    return data["secret"]


class MFAAdapter(DefaultMFAAdapter):
    """TOTP secrets and recovery-code seeds are stored sealed with the vault's keys
    (MultiFernet: the newest key seals, every configured key opens, so keys rotate)."""

    @sensitive_variables()
    def encrypt(self, text: str) -> str:
        return seal(text)

    @sensitive_variables()
    def decrypt(self, encrypted_text: str) -> str:
        return unseal(encrypted_text)


@sensitive_variables()
def rotate_authenticator(authenticator) -> str:
    """Re-seals a two-step factor's secrets under the newest vault key: "rotated" or "current".
    Raises VaultError when one does not open (its key is no longer configured)."""
    newest = vault.current_key_id()
    data = dict(authenticator.data)
    changed = False
    for field in ("secret", "seed"):
        value = data.get(field)
        if value and vault.ciphertext_key_id(value) != newest:
            data[field] = seal(unseal(value))
            changed = True
    codes = data.get("migrated_codes")
    if codes and any(vault.ciphertext_key_id(code) != newest for code in codes):
        data["migrated_codes"] = [seal(unseal(code)) for code in codes]
        changed = True
    if not changed:
        return "current"
    authenticator.data = data
    authenticator.save(update_fields=["data"])
    return "rotated"
