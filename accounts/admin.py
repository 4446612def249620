"""Admin views of the vault: for support, never a way to see or set a secret.

Ciphertexts are left out of every admin page; credentials change only through the vault's
functions (so that each change is in the audit trail), here through a "revoke" action.
"""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Count
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from accounts import vault
from accounts.models import Credential, CredentialEvent, Membership, Team, TeamInvite

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
        self.message_user(
            request,
            ngettext("Revoked %(count)d key.", "Revoked %(count)d keys.", revoked)
            % {"count": revoked},
        )


# The audit trail is append-only, and teams change only through accounts.membership (which
# keeps every team with an owner and every invite used at most once): these admin pages are
# for looking, not editing.
class ViewOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(CredentialEvent)
class CredentialEventAdmin(ViewOnlyAdmin):
    list_display = ("created_at", "owner", "vendor", "label", "kind", "fingerprint")
    list_filter = ("kind", "vendor")
    search_fields = ("owner__username", "label", "fingerprint")


class MembershipInline(admin.TabularInline):
    model = Membership
    fields = ("user", "role", "joined_at")
    readonly_fields = fields
    extra = 0

    has_add_permission = ViewOnlyAdmin.has_add_permission
    has_change_permission = ViewOnlyAdmin.has_change_permission
    has_delete_permission = ViewOnlyAdmin.has_delete_permission


@admin.register(Team)
class TeamAdmin(ViewOnlyAdmin):
    list_display = ("name", "requires", "member_count", "created_at")
    search_fields = ("name", "members__username")
    inlines = [MembershipInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(member_count=Count("memberships"))

    @admin.display(description=_("members"), ordering="member_count")
    def member_count(self, team: Team) -> int:
        return team.member_count


@admin.register(TeamInvite)
class TeamInviteAdmin(ViewOnlyAdmin):
    # token_hash is left out: it is not the token, but support has no use for it.
    fields = list_display = (
        "team",
        "created_by",
        "invitee",
        "created_at",
        "expires_at",
        "accepted_at",
        "declined_at",
    )
    list_filter = ("team",)
    search_fields = ("team__name", "created_by__username", "invitee__username")
