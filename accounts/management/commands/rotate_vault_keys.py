"""Re-encrypts every stored secret under the newest vault key.

Rotation, step by step: put a new key first in STUDIO_VAULT_KEYS (keeping the old ones after
it), restart, run this command, and remove the old keys once it reports no failure.
"""

from __future__ import annotations

from allauth.mfa.models import Authenticator
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts import vault
from accounts.adapters import rotate_authenticator
from accounts.models import Credential


class Command(BaseCommand):
    help = "Re-encrypts every stored vendor key under the newest key in STUDIO_VAULT_KEYS."

    def handle(self, *args, **options) -> None:
        newest = vault.current_key_id()
        counts = {"rotated": 0, "current": 0, "changed": 0}
        failures: list[str] = []
        credentials = Credential.objects.exclude(secret_ciphertext="", extra_secret_ciphertext="")
        for credential in credentials.order_by("pk").iterator(chunk_size=500):
            try:
                counts[vault.rotate_credential(credential)] += 1
            except vault.VaultError as exc:
                failures.append(f"credential {credential.pk}: {exc}")
        # Two-step sign-in secrets (TOTP secrets, recovery-code seeds) are sealed by the same
        # keys (accounts/adapters.py).
        factors = {"rotated": 0, "current": 0}
        with transaction.atomic():
            for authenticator in Authenticator.objects.select_for_update().exclude(
                type=Authenticator.Type.WEBAUTHN
            ):
                try:
                    factors[rotate_authenticator(authenticator)] += 1
                except vault.VaultError as exc:
                    failures.append(f"two-step factor {authenticator.pk}: {exc}")
        self.stdout.write(
            f"Newest vault key: {newest}. Re-encrypted {counts['rotated']} credentials, "
            f"{counts['current']} already current, {counts['changed']} changed meanwhile "
            f"(left alone), {len(failures)} failed. Two-step factors: {factors['rotated']} "
            f"re-encrypted, {factors['current']} already current."
        )
        for failure in failures:
            self.stderr.write(failure)
        if failures:
            raise CommandError(
                f"{len(failures)} credentials could not be decrypted: keep the old vault keys "
                "configured until they are replaced or deleted."
            )
