"""Admin views of collections and share links, for support. Only a link's fingerprint is
stored and none is shown; a link can be revoked here, through the same function as the
owner's button."""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from accounts.admin import ViewOnlyAdmin
from studio.sharing import services
from studio.sharing.models import Collection, ShareLink

LINK_FIELDS = (
    "owner",
    "kind",
    "collection",
    "image",
    "comparison",
    "filters",
    "include_later",
    "audience",
    "team",
    "created_at",
    "expires_at",
    "revoked_at",
    "view_count",
    "last_viewed_at",
)


@admin.register(Collection)
class CollectionAdmin(ViewOnlyAdmin):
    list_display = ("name", "owner", "created_at", "updated_at")
    fields = ("owner", "name", "created_at", "updated_at")
    search_fields = ("name", "owner__username")


@admin.register(ShareLink)
class ShareLinkAdmin(admin.ModelAdmin):
    list_display = ("pk", "owner", "kind", "audience", "team", "expires_at", "revoked_at")
    list_filter = ("kind", "audience")
    search_fields = ("owner__username", "team__name", "collection__name")
    fields = readonly_fields = LINK_FIELDS
    actions = ["revoke"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.action(description=_("Revoke selected links"), permissions=["change"])
    def revoke(self, request, queryset):
        links = list(queryset.filter(revoked_at=None))
        for link in links:
            services.revoke_link(link)
        self.message_user(
            request,
            ngettext("Revoked %(count)d link.", "Revoked %(count)d links.", len(links))
            % {"count": len(links)},
        )
