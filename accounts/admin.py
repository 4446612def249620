"""Admin views of the vault: for support, never a way to see or set a secret.

Ciphertexts are left out of every admin page; credentials change only through the vault's
functions (so that each change is in the audit trail), here through a "revoke" action.
"""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from accounts import vault
from accounts.models import Credential, CredentialEvent

CREDENTIAL_FIELDS = (
    "owner",
    "vendor",
    "label",
    "last4",
    "fingerprint",
    "mirror",
    "is_default",
    "status",
    "status_message",
    "checked_at",
    "verified_at",
    "revoked_at",
    "balance",
    "balance_unit",
    "created_at",
    "updated_at",
)


@admin.register(Credential)
class CredentialAdmin(admin.ModelAdmin):
    list_display = ("owner", "vendor", "label", "last4", "status", "is_default", "created_at")
    list_filter = ("vendor", "status")
    search_fields = ("owner__username", "label", "fingerprint")
    fields = CREDENTIAL_FIELDS
    readonly_fields = CREDENTIAL_FIELDS
    actions = ["revoke"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.action(description=_("Revoke selected keys"), permissions=["change"])
    def revoke(self, request, queryset):
        revoked = 0
        for credential in queryset.usable():
            vault.revoke_credential(credential)
            revoked += 1
        self.message_user(request, _("Revoked %(count)d keys.") % {"count": revoked})


@admin.register(CredentialEvent)
class CredentialEventAdmin(admin.ModelAdmin):
    list_display = ("created_at", "owner", "vendor", "label", "kind", "fingerprint")
    list_filter = ("kind", "vendor")
    search_fields = ("owner__username", "label", "fingerprint")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
