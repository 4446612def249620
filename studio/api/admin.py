"""Admin views of API tokens and their trail, for support. Only a token's hash is stored and it
is never shown; a token can be revoked here, through the same function as the owner's button."""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from accounts.admin import ViewOnlyAdmin
from studio.api import services
from studio.api.models import ApiToken, ApiTokenEvent

TOKEN_FIELDS = (
    "owner",
    "name",
    "scope",
    "last4",
    "created_at",
    "expires_at",
    "revoked_at",
    "last_used_at",
)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("name", "owner", "scope", "last4", "expires_at", "revoked_at", "last_used_at")
    list_filter = ("scope",)
    search_fields = ("name", "owner__username")
    fields = readonly_fields = TOKEN_FIELDS
    actions = ["revoke"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.action(description=_("Revoke selected tokens"), permissions=["change"])
    def revoke(self, request, queryset):
        tokens = list(queryset.filter(revoked_at=None))
        for token in tokens:
            services.revoke_token(token, via="admin")
        self.message_user(request, _("Revoked %(count)d tokens.") % {"count": len(tokens)})


@admin.register(ApiTokenEvent)
class ApiTokenEventAdmin(ViewOnlyAdmin):
    list_display = ("created_at", "owner", "kind", "name", "last4", "detail")
    list_filter = ("kind",)
    search_fields = ("name", "owner__username")
    fields = ("created_at", "owner", "kind", "name", "last4", "detail")
